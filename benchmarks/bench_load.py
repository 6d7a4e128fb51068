"""Load: many plans at once on one machine finish with nothing lost, bounded memory and every output complete.

Runs (1) N concurrent ``pvopt plan PORTFOLIO --out DIR/i`` processes (default eight, on ``sites/lead``)
into different folders and (2) one ``pvopt sweep`` of 64 scenarios (8 capex scales x 8 certificate
prices) on a dask LocalCluster, and reports the wall time, the peak resident memory (RSS) of every
process (the sweep's dask workers included, sampled every 0.2 s with psutil) and checks every output:
each ``plan.nc`` is readable, optimal and pairs with its ``summary.csv`` (SHA-256), no temporary file is
left visible, and the sweep's index holds every scenario exactly once with a readable result each.

    python benchmarks/bench_load.py                    # 8 plans of sites/lead + a sweep of 64 scenarios
    python benchmarks/bench_load.py --plans 3 --scenarios 0 --portfolio PATH

The machine may be shared: the wall times are loaded times. ``tests/system/test_load.py`` is the small
version of this benchmark (three concurrent plans of a one-site portfolio).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POLL_S = 0.2  #: RSS sampling interval [s]
MIB = 1024 * 1024


@dataclass
class Run:
    """One command started by :func:`run_concurrent`: exit code, wall time and the peak RSS of each of its processes."""

    cmd: list[str]
    returncode: int = -1
    wall_s: float = 0.0
    peak_rss_mib: dict[str, float] = field(default_factory=dict)  #: "pid name" -> peak RSS [MiB], the command and its children
    stderr: str = ""

    @property
    def own_peak_mib(self) -> float:
        """Peak RSS of the command's own process [MiB]."""
        return next(iter(self.peak_rss_mib.values()), 0.0)


def _sample(procs: dict[int, "Run"], peaks: dict[int, dict[int, tuple[str, float]]]) -> None:
    import psutil

    for pid in procs:
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for p in tree:
            try:
                rss = p.memory_info().rss / MIB
                name = " ".join(p.cmdline()[1:4])[:60] or p.name()
            except psutil.Error:
                continue
            old = peaks[pid].get(p.pid)
            if old is None or rss > old[1]:
                peaks[pid][p.pid] = (name, rss)


def run_concurrent(cmds: list[list[str]], env: dict[str, str] | None = None, timeout_s: float = 3600.0) -> list[Run]:
    """Start every command at once, sample the RSS of each process tree until all end, return one :class:`Run` each."""
    env = {**os.environ, **(env or {})}
    t0 = time.perf_counter()
    popen = {}
    runs: dict[int, Run] = {}
    for c in cmds:
        p = subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        popen[p.pid] = p
        runs[p.pid] = Run(c)
    peaks: dict[int, dict[int, tuple[str, float]]] = {pid: {} for pid in popen}
    errs = {pid: [] for pid in popen}
    import threading

    def drain(pid: int) -> None:
        errs[pid].append(popen[pid].stderr.read())  # type: ignore[union-attr]

    threads = [threading.Thread(target=drain, args=(pid,), daemon=True) for pid in popen]
    for t in threads:
        t.start()
    live = dict(runs)
    while live and time.perf_counter() - t0 < timeout_s:
        _sample(live, peaks)
        for pid in list(live):
            if popen[pid].poll() is not None:
                live[pid].returncode = popen[pid].returncode
                live[pid].wall_s = time.perf_counter() - t0
                del live[pid]
        time.sleep(POLL_S)
    for pid in live:
        popen[pid].kill()
    for t in threads:
        t.join(timeout=10)
    for pid, r in runs.items():
        r.peak_rss_mib = {f"{q} {name}": rss for q, (name, rss) in sorted(peaks[pid].items(), key=lambda kv: kv[0] != pid)}
        r.stderr = "".join(errs[pid])
    return list(runs.values())


def check_plan_folder(out: Path) -> list[str]:
    """Problems of a finished plan folder (empty when complete): plan.nc readable and optimal, summary.csv its pair, no temporary files."""
    import xarray as xr

    probs = []
    plan, summary = out / "plan.nc", out / "summary.csv"
    if not plan.exists() or not summary.exists():
        return [f"{out}: plan.nc or summary.csv missing"]
    try:
        with xr.open_dataset(plan, engine="h5netcdf") as ds:
            ok = ds.attrs.get("solver_status") == "optimal" and float(ds["npc"]) == float(ds["npc"])
            want = ds.attrs.get("summary_csv_sha256")
    except Exception as e:  # noqa: BLE001
        return [f"{plan}: unreadable ({e})"]
    if not ok:
        probs.append(f"{plan}: not an optimal plan")
    if hashlib.sha256(summary.read_bytes()).hexdigest() != want:
        probs.append(f"{summary}: does not belong to plan.nc")
    left = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    if left:
        probs.append(f"{out}: temporary files left: {left}")
    return probs


def check_sweep_store(out: Path, n: int) -> list[str]:
    """Problems of a finished sweep store: every scenario in the index exactly once, each result readable."""
    import xarray as xr

    sys.path.insert(0, str(REPO))
    from pvopt.studies.sweep import read_index

    idx = read_index(out)
    probs = []
    if len(idx) != n or not idx["scenario_id"].is_unique:
        probs.append(f"{out}/index.csv: {len(idx)} rows ({idx['scenario_id'].nunique()} unique) for {n} scenarios")
    for sid, status in zip(idx["scenario_id"], idx["status"]):
        if status == "ok":
            try:
                with xr.open_dataset(out / "scenarios" / f"{sid}.nc", engine="h5netcdf") as ds:
                    float(ds["npc"])
            except Exception as e:  # noqa: BLE001
                probs.append(f"{sid}: unreadable result ({e})")
    return probs


def pvopt_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pvopt", *args]


def bench_plans(portfolio: Path, n: int, root: Path) -> dict:
    cmds = [pvopt_cmd("-q", "plan", str(portfolio), "--out", str(root / f"plan-{i}")) for i in range(n)]
    t0 = time.perf_counter()
    runs = run_concurrent(cmds, env={"PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - t0
    probs = [p for i in range(n) for p in check_plan_folder(root / f"plan-{i}")]
    probs += [f"plan-{i}: exit {r.returncode}: {r.stderr[-300:]}" for i, r in enumerate(runs) if r.returncode != 0]
    return {"plans": n, "wall_s": round(wall, 1), "per_plan_wall_s": [round(r.wall_s, 1) for r in runs],
            "peak_rss_mib_per_process": [round(r.own_peak_mib) for r in runs], "problems": probs}


def bench_sweep(portfolio: Path, n: int, root: Path) -> dict:
    k = int(round(n ** 0.5))
    capex = ",".join(f"{0.8 + 0.05 * i:.2f}" for i in range(k))
    cert = ",".join(f"{2 + 4 * i}" for i in range(n // k))
    out = root / "sweep"
    cmd = pvopt_cmd("-q", "sweep", str(portfolio), "--vary", f"capex_scale={capex}", "--vary", f"certificate_price={cert}", "--out", str(out))
    run = run_concurrent([cmd], env={"PYTHONPATH": str(REPO)})[0]
    probs = check_sweep_store(out, k * (n // k)) if run.returncode == 0 else [f"sweep: exit {run.returncode}: {run.stderr[-300:]}"]
    children = list(run.peak_rss_mib.values())[1:]  # dask workers and multiprocessing's resource tracker
    return {"scenarios": k * (n // k), "wall_s": round(run.wall_s, 1), "peak_rss_mib_parent": round(run.own_peak_mib),
            "peak_rss_mib_children": sorted((round(v) for v in children), reverse=True),
            "peak_rss_mib_all_processes": round(sum(run.peak_rss_mib.values())), "problems": probs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portfolio", type=Path, default=REPO / "sites" / "lead")
    ap.add_argument("--plans", type=int, default=8)
    ap.add_argument("--scenarios", type=int, default=64)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pvopt-load-") as tmp:
        root = Path(tmp)
        res = {"cores": os.cpu_count(), "portfolio": str(a.portfolio)}
        if a.plans:
            res["concurrent_plans"] = bench_plans(a.portfolio, a.plans, root)
        if a.scenarios:
            res["sweep"] = bench_sweep(a.portfolio, a.scenarios, root)
    print(json.dumps(res, indent=1))
    bad = [p for k in ("concurrent_plans", "sweep") for p in res.get(k, {}).get("problems", [])]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
