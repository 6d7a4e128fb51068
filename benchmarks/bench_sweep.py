"""Benchmark of pvopt.studies.sweep.run_sweep: 16 scenarios serially in-process vs on a 2-worker LocalCluster.

The grid is 4 certificate prices x 4 capex scales on the example portfolio
sites/lead (one plan takes ~1.5-2.5 s). The yield and the LP inputs are built
once, outside the timings. The parallel time includes starting the
LocalCluster and the workers' first imports are timed separately (one-off per
cluster); the sweep times include shipping the inputs to the workers (scatter),
writing every result and the index. A second, synthetic case (10 sites x 12
years with export, ~1.3 s a plan) shows the speed-up on heavier plans.

Run: python benchmarks/bench_sweep.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pvopt.studies import sweep as sw  # noqa: E402

VARY = {"certificate_price": [2.0, 20.0, 50.0, 100.0], "capex_scale": [0.7, 0.9, 1.1, 1.3]}
N_WORKERS = 2


def _warm() -> None:
    """Import the optimiser stack on a worker (a one-off cost per worker process)."""
    import pvopt.lp.model  # noqa: F401
    import pvopt.lp.solution  # noqa: F401
    from pyomo.contrib.solver.solvers.highs import Highs

    Highs().available()


def _spin(n: int = 5_000_000) -> float:
    """Seconds of a pure-Python loop: a CPU-availability probe."""
    t = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - t


def bench(label: str, inputs, client, tmp: Path) -> None:
    import numpy as np

    n = int(np.prod([len(v) for v in VARY.values()]))
    print(f"\n== {label}: {n} scenarios ({' x '.join(f'{len(v)} {k}' for k, v in VARY.items())}), "
          f"{inputs.nbytes / 1e6:.1f} MB of LP inputs")
    t = time.perf_counter()
    ser = sw.run_sweep(inputs, VARY, tmp / f"{label}-serial", n_workers=0)
    t_ser = time.perf_counter() - t
    assert ser.complete and ser.n_ok == n, ser.index
    t = time.perf_counter()
    par = sw.run_sweep(inputs, VARY, tmp / f"{label}-parallel", client=client)
    t_par = time.perf_counter() - t
    assert par.complete and par.n_ok == n, par.index
    a = ser.index.set_index("scenario_id")["npc"].sort_index().to_numpy()
    b = par.index.set_index("scenario_id")["npc"].sort_index().to_numpy()
    per = ser.index["seconds"]
    print(f"per scenario (serial): mean {per.mean():.2f} s (min {per.min():.2f}, max {per.max():.2f})")
    print(f"serial, in-process:      {t_ser:6.1f} s")
    print(f"{N_WORKERS} workers:               {t_par:6.1f} s   speed-up {t_ser / t_par:.2f}x")
    busy = float(par.index["seconds"].sum())
    print(f"sum of scenario times on the workers {busy:.1f} s = {busy / t_par:.2f} scenarios running at once on average "
          f"(serial sum {float(per.sum()):.1f} s; a larger sum on the workers means they shared CPUs with other load)")
    print(f"largest relative NPC difference serial vs parallel: {float(np.max(np.abs(a - b) / np.abs(a))):.1e}")


def main() -> None:
    from distributed import Client, LocalCluster

    from pvopt.testing import small_inputs

    print(f"{os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="pvopt-bench-sweep-") as tmp:
        t = time.perf_counter()
        lead = sw.sweep_inputs(REPO / "sites" / "lead", tmp)
        print(f"example portfolio: yield + LP inputs, once: {time.perf_counter() - t:.1f} s")
        synthetic = small_inputs(n_sites=10, n_years=12, export=True)

        t = time.perf_counter()
        cluster = LocalCluster(n_workers=N_WORKERS, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40)
        client = Client(cluster)
        t_start = time.perf_counter() - t
        t = time.perf_counter()
        client.run(_warm)
        t_warm = time.perf_counter() - t
        print(f"LocalCluster start {t_start:.1f} s; worker imports (pyomo, HiGHS) {t_warm:.1f} s: one-off, not in the times below")
        alone = _spin()
        both = max(client.run(_spin).values())
        print(f"CPU probe: a loop takes {alone:.2f} s alone and {both:.2f} s on each of {N_WORKERS} workers at once: "
              f"the machine gives ~{N_WORKERS * alone / both:.1f} cores now (other load lowers it; the speed-up cannot exceed it)")
        try:
            bench("sites/lead", lead, client, Path(tmp))
            bench("synthetic 10 sites x 12 years", synthetic, client, Path(tmp))
        finally:
            client.close()
            cluster.close()


if __name__ == "__main__":
    main()
