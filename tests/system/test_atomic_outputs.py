"""Outputs are atomic: a whole result or none, never overwritten without --force, inputs untouched.

``plan.nc`` is the commit marker (pvopt.pipeline.write_plan_atomic): it is moved
into place last, and records the SHA-256 of the ``summary.csv`` written with it.
Kills are made deterministic by running the real CLI in a child process that
SIGKILLs itself at a chosen point of the write sequence.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import xarray as xr

from conftest import LEAD_DIR, edit_yaml, tree_digest
from pvopt import pipeline
from pvopt.errors import EXIT_OUTPUT

CHILD_TIMEOUT_S = 180


def assert_whole_or_none(out: Path) -> bool:
    """``out`` holds a complete, self-consistent result, or no plan.nc at all; returns whether a result is there."""
    visible_tmp = [p.name for p in out.glob("*") if p.name.endswith(".tmp") and not p.name.startswith(".")]
    assert not visible_tmp, f"temporary files presented as results: {visible_tmp}"
    plan = out / "plan.nc"
    if not plan.exists():
        return False
    with xr.open_dataset(plan, engine="h5netcdf") as ds:
        assert "npc" in ds and "build_kwp" in ds and "net_tco2e" in ds
        assert ds.attrs["solver_status"] == "optimal"
        want = ds.attrs["summary_csv_sha256"]
        float(ds["npc"])
    summary = out / "summary.csv"
    assert summary.exists(), "plan.nc without its summary.csv"
    assert hashlib.sha256(summary.read_bytes()).hexdigest() == want, "summary.csv does not belong to plan.nc"
    return True


@pytest.fixture
def planned(mini_copy, tmp_path, cli):
    """A mini portfolio with a complete result in ``tmp_path/out``."""
    out = tmp_path / "out"
    r = cli("plan", mini_copy, "--out", out)
    assert r.exit_code == 0, r.stderr
    assert assert_whole_or_none(out)
    return mini_copy, out


# --------------------------------------------------------------------------- #
# --force
# --------------------------------------------------------------------------- #
def test_existing_plan_is_not_overwritten_without_force(planned, cli):
    pf, out = planned
    before = tree_digest(out)
    r = cli("plan", pf, "--out", out)
    assert r.exit_code == EXIT_OUTPUT
    assert "plan.nc exists" in " ".join(r.stderr.split()) and "--force" in r.stderr
    assert "Traceback" not in r.output
    assert tree_digest(out) == before  # byte for byte


def test_existing_summary_alone_blocks_too(mini_copy, tmp_path, cli):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.csv").write_text("someone else's table\n")
    r = cli("plan", mini_copy, "--out", out)
    assert r.exit_code == EXIT_OUTPUT
    assert (out / "summary.csv").read_text() == "someone else's table\n"
    assert not (out / "plan.nc").exists()


def test_force_replaces_the_result(planned, cli):
    pf, out = planned
    (out / "plan.nc").write_bytes(b"old plan")
    (out / "summary.csv").write_text("old summary\n")
    r = cli("plan", pf, "--out", out, "--force")
    assert r.exit_code == 0, r.stderr
    assert assert_whole_or_none(out)


def test_existing_yield_not_overwritten_without_force(planned, cli):
    pf, out = planned
    before = (out / "yield.nc").read_bytes()
    r = cli("yield", pf, "--out", out)
    assert r.exit_code == EXIT_OUTPUT
    assert (out / "yield.nc").read_bytes() == before


def test_outputs_are_readable_by_group_and_others(planned):
    _, out = planned
    umask = os.umask(0)
    os.umask(umask)
    for name in ("plan.nc", "summary.csv", "yield.nc"):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


# --------------------------------------------------------------------------- #
# inputs are never modified
# --------------------------------------------------------------------------- #
def _unchanged(pf: Path, run) -> None:
    before = tree_digest(pf)
    names = sorted(p.name for p in pf.iterdir())
    mtimes = {p: p.stat().st_mtime_ns for p in pf.rglob("*")}
    run()
    assert tree_digest(pf) == before
    assert {p: p.stat().st_mtime_ns for p in pf.rglob("*")} == mtimes
    assert sorted(p.name for p in pf.iterdir()) == names


def test_plan_never_modifies_inputs(mini_copy, tmp_path, cli):
    (mini_copy / "load.csv").write_text("load_kw\n" + "100\n" * 8760)
    edit_yaml(mini_copy / "alpha.yaml", lambda s: s["load"].__setitem__("profile", {"type": "csv", "path": "load.csv"}))
    _unchanged(mini_copy, lambda: _ok(cli("plan", mini_copy, "--out", tmp_path / "out")))


def test_lead_inputs_never_modified(tmp_path, cli):
    """The example portfolio: validate and the yield study only read it (the full lead plan is left to test_example.py)."""
    pf = tmp_path / "lead"
    shutil.copytree(LEAD_DIR, pf)
    _unchanged(pf, lambda: (_ok(cli("validate", pf)), _ok(cli("yield", pf, "--out", tmp_path / "out"))))


def _ok(r):
    assert r.exit_code == 0, r.stderr
    return r


# --------------------------------------------------------------------------- #
# failures while writing, in-process
# --------------------------------------------------------------------------- #
def _failing_to_netcdf(orig):
    def to_netcdf(self, path=None, *args, **kwargs):
        if path is not None and ".plan.nc." in str(path):
            Path(path).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 4096)  # half a file
            raise OSError(28, "No space left on device")
        return orig(self, path, *args, **kwargs)

    return to_netcdf


def test_writer_failing_midway_leaves_no_result_and_no_temp(mini_copy, tmp_path, monkeypatch, cli):
    out = tmp_path / "out"
    monkeypatch.setattr(xr.Dataset, "to_netcdf", _failing_to_netcdf(xr.Dataset.to_netcdf))
    r = cli("plan", mini_copy, "--out", out)
    assert r.exit_code != 0
    assert "No space left on device" in r.stderr
    assert not (out / "plan.nc").exists() and not (out / "summary.csv").exists()
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def test_writer_failing_midway_keeps_the_old_result(planned, monkeypatch, cli):
    pf, out = planned
    before = tree_digest(out)
    monkeypatch.setattr(xr.Dataset, "to_netcdf", _failing_to_netcdf(xr.Dataset.to_netcdf))
    r = cli("plan", pf, "--out", out, "--force")
    assert r.exit_code != 0
    assert tree_digest(out) == before
    assert assert_whole_or_none(out)


def test_failure_between_the_two_moves_leaves_no_plan(mini_copy, tmp_path, monkeypatch, cli):
    out = tmp_path / "out"
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith("plan.nc"):
            raise OSError(5, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(pipeline.os, "replace", replace)
    r = cli("plan", mini_copy, "--out", out)
    assert r.exit_code != 0
    assert not (out / "plan.nc").exists()
    assert assert_whole_or_none(out) is False
    assert not list(out.glob(".plan.nc.*.tmp"))


# --------------------------------------------------------------------------- #
# SIGKILL at chosen points, in a real child process
# --------------------------------------------------------------------------- #
CHILD = textwrap.dedent(
    r"""
    import os, signal, sys
    import xarray as xr

    point = os.environ["PVOPT_TEST_KILL_AT"]
    die = lambda: os.kill(os.getpid(), signal.SIGKILL)
    orig_to_netcdf = xr.Dataset.to_netcdf

    def to_netcdf(self, path=None, *a, **k):
        if point == "during-plan-write" and ".plan.nc." in str(path):
            with open(path, "wb") as f:
                f.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 4096)
            die()
        if point == "during-yield-write" and ".yield.nc." in str(path):
            with open(path, "wb") as f:
                f.write(b"\x89HDF\r\n\x1a\n")
            die()
        return orig_to_netcdf(self, path, *a, **k)

    orig_replace = os.replace

    def replace(src, dst):
        if point == "before-plan-move" and str(dst).endswith("plan.nc"):
            die()
        r = orig_replace(src, dst)
        if point == "after-summary-move" and str(dst).endswith("summary.csv"):
            die()
        if point == "after-plan-move" and str(dst).endswith("plan.nc"):
            die()
        return r

    xr.Dataset.to_netcdf = to_netcdf
    os.replace = replace
    from pvopt.cli import app
    sys.exit(app())
    """
)


def _child(args: list[str], kill_at: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PVOPT_TEST_KILL_AT": kill_at, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


KILL_POINTS: dict[bool, list] = {  # point -> a complete result expected afterwards
    False: [("during-yield-write", False), ("during-plan-write", False), ("after-summary-move", False), ("after-plan-move", True)],
    # over an old result (yield cached): the old or the new result, never none
    True: [("during-plan-write", "old"), ("after-summary-move", "old"), ("before-plan-move", "old"), ("after-plan-move", "new")],
}


def _results(out: Path) -> dict[str, str]:
    """Digest of the result files (the lock file and hidden temporaries are not results)."""
    return {k: v for k, v in tree_digest(out).items() if not Path(k).name.startswith(".")}


@pytest.mark.parametrize("force", [False, True], ids=["fresh", "over-old-result"])
def test_sigkill_at_every_write_step_leaves_whole_or_none(planned, tmp_path, force):
    pf, base = planned
    old = _results(base)
    children = []
    for point, complete in KILL_POINTS[force]:  # all children at once
        out = tmp_path / f"out-{point}"
        if force:
            shutil.copytree(base, out)  # an old, complete result (and its yield cache)
        args = ["plan", str(pf), "--out", str(out)] + (["--force"] if force else [])
        children.append((point, complete, out, _child(args, point, tmp_path)))
    for point, complete, out, p in children:
        _, err = p.communicate(timeout=CHILD_TIMEOUT_S)
        assert p.returncode == -signal.SIGKILL, f"{point}: not killed (exit {p.returncode}): {err}"
        if not force:
            has = assert_whole_or_none(out)
            assert has == complete, f"{point}: a result {'should' if complete else 'should not'} be there"
            continue
        assert (out / "plan.nc").exists(), f"{point}: replacing a result passed through a state without plan.nc"
        pipeline.recover_run(out)  # what every command does first in a run folder
        assert assert_whole_or_none(out), f"{point}: the result is not whole after recovery"
        if complete == "old":
            assert _results(out) == old, f"{point}: the old result must survive a kill before the commit"
        assert not (out / pipeline.SUMMARY_BACKUP).exists()


def test_a_command_in_a_half_replaced_folder_restores_the_old_pair(planned, cli, tmp_path):
    """Killed between the two renames: old plan.nc, new summary.csv and the backup; `report` (any command) repairs it."""
    pf, out = planned
    old = _results(out)
    os.link(out / "summary.csv", out / pipeline.SUMMARY_BACKUP)
    (out / "summary.csv").unlink()
    (out / "summary.csv").write_text("the new summary, whose plan.nc never arrived\n")
    r = cli("report", out)
    assert r.exit_code == 0, r.stderr
    assert {k: v for k, v in _results(out).items() if k in old} == old
    assert assert_whole_or_none(out)


@pytest.mark.parametrize("delay_s", [0.5, 2.5])
def test_timed_sigkill_leaves_whole_or_none(mini_copy, tmp_path, delay_s):
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "pvopt", "plan", str(mini_copy), "--out", str(out)],
                         cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay_s)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=CHILD_TIMEOUT_S)
    if out.exists():
        assert_whole_or_none(out)
