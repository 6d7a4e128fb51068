"""A corpus of command and runtime faults, each run through the real command line (issue 15, items 3-5).

Classes: bad options (exit 2), the one overwrite rule (exit 5 without --force), outputs that cannot be
written (exit 5), run folders read as input that are missing or damaged (exit 2), corrupt caches
(rebuilt with a warning, exit 0), interruptions (exit 130, one line) and two runs into one folder (the
second refused at once, exit 5). Every case checks the exit code, the message (file or option, and the
fix) and that no traceback reaches the user. ``CORPUS_COUNTS`` is the size of each class.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import xarray as xr

from conftest import mini_portfolio
from pvopt.errors import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OUTPUT

REPO = Path(__file__).resolve().parents[2]
LOCK_REFUSAL_MAX_S = 20.0  #: a run refused by the lock answers before any computing (the mini plan alone takes longer on a busy machine)


def _flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def _no_traceback(r) -> None:
    assert "Traceback" not in r.output and "Traceback" not in (r.stderr or ""), r.output


@pytest.fixture(scope="module")
def mini(tmp_path_factory) -> Path:
    return mini_portfolio(tmp_path_factory.mktemp("corpus") / "pf")


@pytest.fixture(scope="module")
def run_dir(mini, tmp_path_factory) -> Path:
    """A complete run of the mini portfolio (plan.nc with hourly dispatch, summary.csv, yield.nc); copied before use."""
    from typer.testing import CliRunner

    from pvopt.cli import app

    out = tmp_path_factory.mktemp("corpus-run") / "run"
    r = CliRunner().invoke(app, ["plan", str(mini), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def _copy(run_dir: Path, tmp_path: Path, name: str = "run") -> Path:
    dst = tmp_path / name
    shutil.copytree(run_dir, dst, ignore=shutil.ignore_patterns(".*"))
    return dst


# --------------------------------------------------------------------------- #
# 1. bad options: exit 2, naming the option; nothing is written
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class OptionCase:
    id: str
    args: tuple[str, ...]  #: after the command; {pf} and {out} are filled in
    expect: tuple[str, ...]


OPTION_CASES = [
    OptionCase("plan-time-limit-negative", ("plan", "{pf}", "--out", "{out}", "--time-limit", "-1"), ("--time-limit", "greater than 0", "-1")),
    OptionCase("plan-time-limit-nan", ("plan", "{pf}", "--out", "{out}", "--time-limit", "nan"), ("--time-limit", "greater than 0", "nan")),
    OptionCase("plan-time-limit-inf", ("plan", "{pf}", "--out", "{out}", "--time-limit", "inf"), ("--time-limit", "finite", "inf")),
    OptionCase("plan-time-limit-zero", ("plan", "{pf}", "--out", "{out}", "--time-limit", "0"), ("--time-limit", "greater than 0")),
    OptionCase("plan-gap-nan", ("plan", "{pf}", "--out", "{out}", "--gap", "nan"), ("--gap", "between 0 and 1")),
    OptionCase("plan-workers-negative", ("plan", "{pf}", "--out", "{out}", "--workers", "-2"), ("--workers", "greater than or equal to 0")),
    OptionCase("plan-report-no-hourly", ("plan", "{pf}", "--out", "{out}", "--report", "--no-hourly"), ("--report", "drop --no-hourly")),
    OptionCase("plan-solver-unknown", ("plan", "{pf}", "--out", "{out}", "--solver", "magic"), ("--solver", "magic")),
    OptionCase("sweep-time-limit-nan", ("sweep", "{pf}", "--vary", "capex_scale=1", "--out", "{out}", "--time-limit", "nan"), ("--time-limit", "nan")),
    OptionCase("sweep-time-limit-negative", ("sweep", "{pf}", "--vary", "capex_scale=1", "--out", "{out}", "--time-limit", "-5"), ("--time-limit",)),
    OptionCase("sweep-discount-rate-negative", ("sweep", "{pf}", "--vary", "discount_rate=-5", "--out", "{out}"),
               ("discount_rate=-5", "between 0 and 0.5", "portfolio.yaml")),
    OptionCase("sweep-discount-rate-40", ("sweep", "{pf}", "--vary", "discount_rate=0.05,40", "--out", "{out}"), ("discount_rate", "between 0 and 0.5", "'40'")),
    OptionCase("sweep-capex-scale-negative", ("sweep", "{pf}", "--vary", "capex_scale=-1", "--out", "{out}"), ("capex_scale", ">= 0")),
    OptionCase("sweep-price-inf", ("sweep", "{pf}", "--vary", "certificate_price=inf", "--out", "{out}"), ("certificate_price", "not finite")),
    OptionCase("sweep-price-nan", ("sweep", "{pf}", "--vary", "offset_price=nan", "--out", "{out}"), ("offset_price", "not finite")),
    OptionCase("sweep-workers-negative", ("sweep", "{pf}", "--vary", "capex_scale=1", "--out", "{out}", "--workers", "-1"), ("--workers",)),
    OptionCase("risk-seed-negative", ("risk", "{pf}", "--out", "{out}", "--seed", "-1"), ("--seed", "greater than or equal to 0")),
    OptionCase("risk-years-zero", ("risk", "{pf}", "--out", "{out}", "--years", "0"), ("--years",)),
    OptionCase("risk-design-unknown", ("risk", "{pf}", "--out", "{out}", "--design", "p75"), ("--design", "p75")),
    OptionCase("actuals-neither-plan-nor-out", ("actuals", "{pf}", "{pf}/meter.csv"), ("--plan", "--out")),
]


@pytest.mark.parametrize("case", OPTION_CASES, ids=[c.id for c in OPTION_CASES])
def test_bad_options_exit_2_naming_the_option(case, mini, tmp_path, cli):
    out = tmp_path / "out"
    r = cli(*(a.format(pf=mini, out=out) for a in case.args))
    assert r.exit_code == EXIT_INPUT, r.output
    msg = _flat(r.output)
    for e in case.expect:
        assert e in msg, f"{e!r} not in {msg!r}"
    _no_traceback(r)
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")], "work was done"


# --------------------------------------------------------------------------- #
# 2. one overwrite rule: an existing output needs --force (exit 5), checked before any work
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class OverwriteCase:
    id: str
    existing: tuple[str, ...]  #: files made in the run folder first
    args: tuple[str, ...]


OVERWRITE_CASES = [
    OverwriteCase("plan", ("plan.nc",), ("plan", "{pf}", "--out", "{out}")),
    OverwriteCase("plan-summary-only", ("summary.csv",), ("plan", "{pf}", "--out", "{out}")),
    OverwriteCase("plan-report", ("report.html",), ("plan", "{pf}", "--out", "{out}", "--report")),
    OverwriteCase("yield", ("yield.nc",), ("yield", "{pf}", "--out", "{out}")),
    OverwriteCase("compare-solves", ("plan.nc",), ("compare", "{pf}", "--out", "{out}")),
    OverwriteCase("compare-macc", ("figures/macc.png",), ("compare", "{pf}", "--plan", "{run}/plan.nc", "--out", "{out}")),
    OverwriteCase("report", ("plan.nc", "report.html"), ("report", "{out}")),
    OverwriteCase("report-xlsx", ("plan.nc", "report.xlsx"), ("report", "{out}")),
    OverwriteCase("risk", ("risk.csv",), ("risk", "{pf}", "--years", "1", "--out", "{out}")),
    OverwriteCase("actuals", ("actuals.csv",), ("actuals", "{pf}", "{pf}/meter.csv", "--plan", "{run}/plan.nc", "--out", "{out}")),
    OverwriteCase("actuals-figure", ("figures/actuals.png",), ("actuals", "{pf}", "{pf}/meter.csv", "--plan", "{run}/plan.nc", "--out", "{out}")),
    OverwriteCase("actuals-solves", ("plan.nc",), ("actuals", "{pf}", "{pf}/meter.csv", "--out", "{out}")),
]


@pytest.mark.parametrize("case", OVERWRITE_CASES, ids=[c.id for c in OVERWRITE_CASES])
def test_an_existing_output_needs_force(case, mini, run_dir, tmp_path, cli):
    out = tmp_path / "out"
    for name in case.existing:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(f"someone's {name}\n")
    t0 = time.perf_counter()
    r = cli(*(a.format(pf=mini, out=out, run=run_dir) for a in case.args))
    assert r.exit_code == EXIT_OUTPUT, r.output
    msg = _flat(r.stderr)
    assert "exists" in msg and "--force" in msg and str(out) in msg, msg
    _no_traceback(r)
    for name in case.existing:
        assert (out / name).read_text() == f"someone's {name}\n", f"{name} was changed"
    assert not (out / "yield.nc").exists() or "yield.nc" in case.existing, "work was done before the refusal"
    assert time.perf_counter() - t0 < LOCK_REFUSAL_MAX_S


def test_sweep_store_of_another_sweep_needs_force(mini, tmp_path, cli):
    out = tmp_path / "s"
    assert cli("sweep", mini, "--vary", "capex_scale=1", "--out", out, "--workers", "0").exit_code == 0
    r = cli("sweep", mini, "--vary", "capex_scale=2", "--out", out, "--workers", "0")
    assert r.exit_code == EXIT_OUTPUT and "holds a different sweep" in _flat(r.stderr) and "--force" in r.stderr
    _no_traceback(r)


# --------------------------------------------------------------------------- #
# 3. outputs that cannot be written: exit 5 naming the path and the fix
# --------------------------------------------------------------------------- #
OUT_COMMANDS = {
    "plan": ("plan", "{pf}", "--out", "{out}"),
    "yield": ("yield", "{pf}", "--out", "{out}"),
    "compare": ("compare", "{pf}", "--plan", "{run}/plan.nc", "--out", "{out}"),
    "risk": ("risk", "{pf}", "--years", "1", "--out", "{out}"),
    "sweep": ("sweep", "{pf}", "--vary", "capex_scale=1", "--out", "{out}", "--workers", "0"),
    "actuals": ("actuals", "{pf}", "{pf}/meter.csv", "--plan", "{run}/plan.nc", "--out", "{out}"),
}


@pytest.mark.parametrize("where", ["is-a-file", "inside-a-file"])
@pytest.mark.parametrize("command", list(OUT_COMMANDS))
def test_out_that_is_a_file(command, where, mini, run_dir, tmp_path, cli):
    f = tmp_path / "taken"
    f.write_text("not a folder\n")
    out = f if where == "is-a-file" else f / "sub"
    r = cli(*(a.format(pf=mini, out=out, run=run_dir) for a in OUT_COMMANDS[command]))
    assert r.exit_code == EXIT_OUTPUT, r.output
    msg = _flat(r.stderr)
    assert f"--out {out}" in msg and "not a folder" in msg and "choose a folder for --out" in msg, msg
    assert msg.count("error:") == 1
    _no_traceback(r)
    assert f.read_text() == "not a folder\n"


@pytest.mark.parametrize("command", ["plan", "yield", "risk", "sweep"])
def test_out_in_a_folder_that_cannot_be_written(command, mini, run_dir, tmp_path, cli, monkeypatch):
    """Permission denied when pvopt probes the folder (simulated: the tests may run as root, who may write anywhere)."""
    import tempfile

    import pvopt.io

    real = tempfile.mkstemp
    ro = tmp_path / "ro"

    def mkstemp(*a, **k):
        if str(k.get("dir", "")).startswith(str(ro)):
            raise PermissionError(13, "Permission denied")
        return real(*a, **k)

    monkeypatch.setattr(pvopt.io.tempfile, "mkstemp", mkstemp)
    out = ro / "out"
    r = cli(*(a.format(pf=mini, out=out, run=run_dir) for a in OUT_COMMANDS[command]))
    assert r.exit_code == EXIT_OUTPUT, r.output
    msg = _flat(r.stderr)
    assert f"cannot write {out}" in msg and "Permission denied" in msg and "choose a writable --out" in msg, msg
    _no_traceback(r)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_out_in_a_read_only_folder(mini, tmp_path, cli):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        r = cli("plan", mini, "--out", ro / "out")
    finally:
        ro.chmod(0o755)
    assert r.exit_code == EXIT_OUTPUT, r.output
    assert "choose a writable --out" in _flat(r.stderr)
    _no_traceback(r)


# --------------------------------------------------------------------------- #
# 4. run folders read as input: missing or damaged plan.nc -> exit 2 naming the file and the fix
# --------------------------------------------------------------------------- #
def _truncate(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


RUN_INPUT_CASES: dict[str, tuple[Callable[[Path], object], tuple[str, ...], str]] = {
    # id: (break the copied run folder, command args, the words the message must hold)
    "report-no-folder": (lambda d: shutil.rmtree(d), ("report", "{run}"), "does not exist"),
    "report-folder-is-a-file": (lambda d: (shutil.rmtree(d), d.write_text("x")), ("report", "{run}"), "is a file"),
    "report-no-plan": (lambda d: (d / "plan.nc").unlink(), ("report", "{run}"), "not found: the folder holds no plan"),
    "report-truncated-plan": (lambda d: _truncate(d / "plan.nc"), ("report", "{run}"), "truncated or damaged"),
    "report-text-plan": (lambda d: (d / "plan.nc").write_text("plan\n"), ("report", "{run}"), "cannot be read as a plan"),
    "report-empty-plan": (lambda d: (d / "plan.nc").write_bytes(b""), ("report", "{run}"), "cannot be read as a plan"),
    "report-yield-as-plan": (lambda d: shutil.copy(d / "yield.nc", d / "plan.nc"), ("report", "{run}"), "is not a plan of pvopt"),
    "compare-missing-plan": (lambda d: (d / "plan.nc").unlink(), ("compare", "{pf}", "--plan", "{run}/plan.nc", "--out", "{out}"), "does not exist"),
    "compare-truncated-plan": (lambda d: _truncate(d / "plan.nc"), ("compare", "{pf}", "--plan", "{run}/plan.nc", "--out", "{out}"),
                               "truncated or damaged"),
    "compare-plan-is-a-folder": (lambda d: None, ("compare", "{pf}", "--plan", "{run}", "--out", "{out}"), "is a folder"),
    "actuals-truncated-plan": (lambda d: _truncate(d / "plan.nc"), ("actuals", "{pf}", "{pf}/meter.csv", "--plan", "{run}/plan.nc", "--out", "{out}"),
                               "truncated or damaged"),
    "actuals-missing-plan": (lambda d: (d / "plan.nc").unlink(), ("actuals", "{pf}", "{pf}/meter.csv", "--plan", "{run}/plan.nc", "--out", "{out}"),
                             "does not exist"),
}


@pytest.mark.parametrize("case", list(RUN_INPUT_CASES))
def test_missing_or_damaged_plan_exits_2_naming_the_file(case, mini, run_dir, tmp_path, cli):
    breaker, args, words = RUN_INPUT_CASES[case]
    d = _copy(run_dir, tmp_path)
    _meter(mini, run_dir)
    breaker(d)
    r = cli(*(a.format(pf=mini, run=d, out=tmp_path / "o") for a in args))
    assert r.exit_code == EXIT_INPUT, r.output
    msg = _flat(r.stderr)
    assert words in msg and str(d) in msg and "pvopt plan" in msg, msg
    assert msg.count("error:") == 1
    _no_traceback(r)


def _meter(pf: Path, run: Path) -> Path:
    """A one-day meter of the mini site (the plan's own hourly PV and load), in the portfolio folder."""
    p = pf / "meter.csv"
    if not p.exists():
        import pandas as pd

        with xr.open_dataset(run / "plan.nc", engine="h5netcdf") as ds:
            pv = ds["pv_generated_kw"].sel(site="alpha", year=2025).values[:24].astype(float)
            ld = ds["load_after_measures_kw"].sel(site="alpha", year=2025).values[:24].astype(float)
        stamps = pd.date_range("2025-01-01", periods=24, freq="h", tz="Asia/Shanghai")
        p.write_text("timestamp,site,pv_kwh,load_kwh\n" + "".join(f"{t.isoformat()},alpha,{a},{b}\n" for t, a, b in zip(stamps, pv, ld)))
    return p


@pytest.fixture(autouse=True)
def _meter_file(request):
    if {"mini", "run_dir"} <= set(request.fixturenames):
        _meter(request.getfixturevalue("mini"), request.getfixturevalue("run_dir"))


# --------------------------------------------------------------------------- #
# 5. corrupt caches: yield.nc is rebuilt with a warning naming it
# --------------------------------------------------------------------------- #
def _edit_values(p: Path) -> None:
    with xr.open_dataset(p, engine="h5netcdf") as ds:
        d = ds.load()
    name = next(k for k in d.data_vars if d[k].dtype.kind == "f" and d[k].size > 100)
    d[name] = d[name] * 1.5  # attributes (fingerprint, checksum) kept: the data no longer match them
    p.unlink()
    d.to_netcdf(p, engine="h5netcdf")


CACHE_CASES: dict[str, tuple[Callable[[Path], object], str | None]] = {
    "truncated": (_truncate, "cannot be read"),
    "text": (lambda p: p.write_text("not netCDF\n"), "cannot be read"),
    "empty": (lambda p: p.write_bytes(b""), "cannot be read"),
    "edited-values": (_edit_values, "fail their checksum"),
}


@pytest.mark.parametrize("command", ["plan", "sweep"])
@pytest.mark.parametrize("case", list(CACHE_CASES))
def test_corrupt_yield_cache_is_rebuilt_with_a_warning(case, command, mini, run_dir, tmp_path, cli):
    breaker, words = CACHE_CASES[case]
    d = _copy(run_dir, tmp_path)
    breaker(d / "yield.nc")
    args = (["plan", mini, "--out", d, "--force", "--no-hourly"] if command == "plan"
            else ["sweep", mini, "--vary", "capex_scale=1", "--out", d, "--workers", "0"])
    r = cli(*args)
    assert r.exit_code == 0, r.output
    msg = _flat(r.stderr)
    assert f"warning: {d / 'yield.nc'}: corrupt yield cache" in msg and words in msg and "computed again" in msg, msg
    _no_traceback(r)
    from pvopt.io import content_digest

    with xr.open_dataset(d / "yield.nc", engine="h5netcdf") as y:
        assert y.attrs["content_sha256"] == content_digest(y.load()), "the rebuilt cache must pass its own checksum"


def test_a_cache_of_other_inputs_is_replaced_without_a_warning(mini, run_dir, tmp_path, cli):
    d = _copy(run_dir, tmp_path)
    with xr.open_dataset(d / "yield.nc", engine="h5netcdf") as ds:
        y = ds.load()
    y.attrs["yield_fingerprint"] = "another-portfolio"
    (d / "yield.nc").unlink()
    y.to_netcdf(d / "yield.nc", engine="h5netcdf")
    r = cli("plan", mini, "--out", d, "--force", "--no-hourly")
    assert r.exit_code == 0 and "warning" not in r.stderr, r.output


# --------------------------------------------------------------------------- #
# 6. interruptions: exit 130, one line, the old result whole, the folder free for the next run
# --------------------------------------------------------------------------- #
def test_ctrl_c_during_a_plan_is_one_line_and_exit_130(mini, run_dir, tmp_path, cli, monkeypatch):
    from pvopt import pipeline

    d = _copy(run_dir, tmp_path)
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "plan_portfolio", interrupted)
    r = cli("plan", mini, "--out", d, "--force")
    assert r.exit_code == EXIT_INTERRUPTED, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == ["interrupted (Ctrl-C): no new result was written (an old one stays whole); run the same command again"]
    _no_traceback(r)
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.is_file() and p.name in before} == before
    monkeypatch.undo()
    again = cli("plan", mini, "--out", d, "--force", "--no-hourly")  # the lock went with the interrupted run
    assert again.exit_code == 0, again.output


def test_ctrl_c_in_the_commit_waits_for_it(mini, run_dir, tmp_path, cli, monkeypatch):
    """A SIGINT between the two renames is held back: the new pair is committed, then exit 130."""
    import signal

    from pvopt import pipeline

    d = _copy(run_dir, tmp_path)
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith("summary.csv"):
            os.kill(os.getpid(), signal.SIGINT)
        return real(src, dst)

    monkeypatch.setattr(pipeline.os, "replace", replace)
    r = cli("plan", mini, "--out", d, "--force", "--no-hourly")
    assert r.exit_code == EXIT_INTERRUPTED, r.output
    import hashlib

    with xr.open_dataset(d / "plan.nc", engine="h5netcdf") as ds:
        assert "pv_generated_kw" not in ds, "the new plan (--no-hourly) is in place"
        assert ds.attrs["summary_csv_sha256"] == hashlib.sha256((d / "summary.csv").read_bytes()).hexdigest()
    assert not (d / pipeline.SUMMARY_BACKUP).exists()


SIGINT_CHILD = r"""
import os, signal, subprocess, sys, time
from pathlib import Path
out = Path(sys.argv[1])
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
deadline = time.monotonic() + 240
while time.monotonic() < deadline and p.poll() is None:
    if (out / "scenarios").exists() and any(not q.name.startswith(".") for q in (out / "scenarios").iterdir()):
        break
    time.sleep(0.2)
time.sleep(1.0)
os.killpg(p.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole foreground group, the dask workers too
o, e = p.communicate(timeout=120)
sys.stdout.write(f"{p.returncode}\n")
sys.stderr.write(e)
"""


@pytest.mark.slow
def test_ctrl_c_during_a_sweep_on_a_local_cluster(mini, tmp_path):
    """One line, exit 130, no worker tracebacks; the restart solves only the rest, each scenario once."""
    from pvopt.studies import sweep as sw

    out = tmp_path / "s"
    vary = ["--vary", "capex_scale=0.8,0.9,1.0,1.1,1.2,1.3", "--vary", "_sleep_s=2"]
    cmd = [sys.executable, "-m", "pvopt", "sweep", str(mini), *vary, "--out", str(out), "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-c", SIGINT_CHILD, str(out), *cmd], capture_output=True, text=True, env=env, timeout=400)
    assert p.stdout.strip() == str(EXIT_INTERRUPTED), p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted (Ctrl-C): finished scenarios are stored in"), p.stderr
    assert "run the same command again" in lines[0]
    first = {q.name for q in (out / "scenarios").iterdir() if not q.name.startswith(".")}
    assert 1 <= len(first) < 6
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=400)
    assert r.returncode == 0, r.stderr
    assert f"solved now {6 - len(first)}, already stored {len(first)}" in r.stdout
    idx = sw.read_index(out)
    assert idx["scenario_id"].is_unique and len(idx) == 6 and (idx["status"] == "ok").all()


# --------------------------------------------------------------------------- #
# 7. two runs into one folder: the second is refused at the start
# --------------------------------------------------------------------------- #
HOLD_LOCK = r"""
import fcntl, os, sys, time
from pathlib import Path
d = Path(sys.argv[1]); d.mkdir(parents=True, exist_ok=True)
f = open(d / ".pvopt.lock", "a+")
fcntl.flock(f.fileno(), fcntl.LOCK_EX)
f.seek(0); f.truncate(); f.write(f"pvopt process {os.getpid()} (plan)\n"); f.flush()
print("locked", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("command", ["plan", "sweep", "report"])
def test_a_second_run_into_a_busy_folder_is_refused_at_once(command, mini, run_dir, tmp_path, cli):
    out = _copy(run_dir, tmp_path) if command == "report" else tmp_path / "busy"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        t0 = time.perf_counter()
        args = {"plan": ("plan", mini, "--out", out), "sweep": ("sweep", mini, "--vary", "capex_scale=1", "--out", out, "--workers", "0"),
                "report": ("report", out)}[command]
        r = cli(*args)
        took = time.perf_counter() - t0
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert r.exit_code == EXIT_OUTPUT, r.output
    msg = _flat(r.stderr)
    assert f"{out} is being written by pvopt process {holder.pid} (plan)" in msg and "choose another --out" in msg, msg
    _no_traceback(r)
    assert took < LOCK_REFUSAL_MAX_S
    if command != "report":
        assert not (out / "yield.nc").exists(), "the refused run computed before it was refused"
    # the holder is gone: the lock is free again, no stale lock blocks the next run
    assert cli(*args[:1], *args[1:], *(["--force"] if command == "report" else [])).exit_code == 0


def test_lock_is_reentrant_in_one_process_and_released(tmp_path):
    from pvopt.errors import RunLockedError
    from pvopt.io import LOCK_NAME, run_lock

    with run_lock(tmp_path / "o", "a"):
        with run_lock(tmp_path / "o", "b"):
            pass
        with open(tmp_path / "o" / LOCK_NAME) as f:  # still held by the outer block
            with pytest.raises(BlockingIOError):
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(tmp_path / "o" / LOCK_NAME) as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released
    assert issubclass(RunLockedError, Exception)


CORPUS_COUNTS = {
    "options": len(OPTION_CASES),
    "overwrite": len(OVERWRITE_CASES) + 1,
    "outputs": 2 * len(OUT_COMMANDS) + 4 + 1,
    "run folder inputs": len(RUN_INPUT_CASES),
    "caches": 2 * len(CACHE_CASES) + 1,
    "interruptions": 3,
    "races": 3 + 1,
}
"""Cases per class of this corpus (quoted in the closing note of issue 15)."""
