"""Scenario sweeps (pvopt.studies.sweep, `pvopt sweep`): grid, scenario transforms, store, restart, dask clusters.

Clusters used here: a 2-worker LocalCluster shared by the module, and real
`dask scheduler` / `dask worker` processes on 127.0.0.1 started per test and
killed in teardown. Scenarios use :func:`pvopt.testing.small_inputs` (one
site, two years: ~0.1 s per solve); the ``_sleep_s`` testing knob makes them
slow on purpose where a worker must be killed mid-sweep.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pvopt.studies import sweep as sw
from pvopt.testing import small_inputs

NPC_RTOL = 1e-7  #: relative slack on "NPC never falls when a price rises" (solver tolerance)
SWEEP_TIMEOUT_S = 120.0  #: every sweep in this file is bounded; a hung cluster fails the test instead of hanging it
PROC_START_TIMEOUT_S = 30.0

#: build at most 500 kWp a year; 800 kWp by 2025 is feasible, by 2024 it is not.
MILESTONES = [
    {"name": "rate", "type": "build_rate", "kwp_per_year": 500.0},
    {"name": "pv-min", "type": "min_portfolio_kwp", "year": 2025, "kwp": 800.0},
    {"name": "certs", "type": "min_certificates_mwh", "year": 2025, "mwh": 1000.0},
]


@pytest.fixture(scope="module")
def base() -> xr.Dataset:
    return small_inputs(n_sites=1, n_years=2, milestones=MILESTONES)


@pytest.fixture(scope="module")
def local_client():
    """A LocalCluster with two single-threaded worker processes, shared by the module."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close(timeout=10)
        cluster.close(timeout=10)


def _stored_ids(out: Path) -> list[str]:
    return sorted(p.name.split(".")[0] for p in (out / "scenarios").iterdir() if not p.name.startswith("."))


def _assert_exactly_once(out: Path, vary) -> None:
    """Every scenario of the grid is in the index and the store exactly once; no temporary file is left."""
    grid = {s.id for s in sw.scenario_grid(vary)}
    idx = sw.read_index(out)
    assert sorted(idx["scenario_id"]) == sorted(grid)
    assert idx["scenario_id"].is_unique
    stored = _stored_ids(out)
    assert sorted(stored) == sorted(grid)
    assert not [p for p in (out / "scenarios").iterdir() if p.name.startswith(".")]


# --------------------------------------------------------------------------- #
# grid and scenario transforms
# --------------------------------------------------------------------------- #
def test_parse_vary_values_and_order():
    got = sw.parse_vary(["capex_scale=0.8, 1,1.2", "milestone_year:pv-min=2024,2025", "discount_rate=0.05"])
    assert list(got) == ["capex_scale", "milestone_year:pv-min", "discount_rate"]
    assert got["capex_scale"] == [0.8, 1.0, 1.2]
    assert got["milestone_year:pv-min"] == [2024, 2025]
    assert all(isinstance(v, int) for v in got["milestone_year:pv-min"])


@pytest.mark.parametrize(
    "arg, fragment",
    [
        ("capex=1,2", "unknown input 'capex'; expected one of: certificate_price"),
        ("capex_scale=1,x", "value 'x' of capex_scale is not a number"),
        ("capex_scale", "expected NAME=V1,V2"),
        ("capex_scale=", "comma-separated list"),
        ("capex_scale=1,,2", "comma-separated list"),
        ("capex_scale=-1", "must be >= 0"),
        ("capex_scale=1,1", "repeated"),
        ("milestone_year:pv-min=2024.5", "whole years"),
        ("discount_rate=-1", "must be between 0 and 0.5"),
        ("discount_rate=40", "must be between 0 and 0.5"),
    ],
)
def test_parse_vary_errors_name_the_argument(arg, fragment):
    with pytest.raises(sw.VaryError) as exc:
        sw.parse_vary([arg])
    assert fragment in str(exc.value)
    assert repr(arg) in str(exc.value)


def test_parse_vary_rejects_a_name_given_twice():
    with pytest.raises(sw.VaryError, match="varied twice"):
        sw.parse_vary(["capex_scale=1", "capex_scale=2"])


def test_scenario_grid_is_the_product_with_stable_ids():
    grid = sw.scenario_grid({"capex_scale": [1.0, 2.0], "tariff_scale": [0.5, 1.0, 1.5]})
    assert len(grid) == 6
    assert len({s.id for s in grid}) == 6
    assert [dict(s.values) for s in grid[:2]] == [{"capex_scale": 1.0, "tariff_scale": 0.5}, {"capex_scale": 1.0, "tariff_scale": 1.0}]
    swapped = sw.scenario_grid({"tariff_scale": [0.5, 1.0, 1.5], "capex_scale": [1.0, 2.0]})
    assert {s.id for s in swapped} == {s.id for s in grid}


def test_validate_grid_checks_names_against_the_inputs(base):
    with pytest.raises(sw.VaryError, match="no milestone 'nope'; milestones: rate, pv-min, certs"):
        sw.validate_grid(base, {"milestone_year:nope": [2024]})
    with pytest.raises(sw.VaryError, match="has no year to move"):
        sw.validate_grid(base, {"milestone_year:rate": [2024]})
    with pytest.raises(sw.VaryError, match="no certificate instruments"):
        sw.validate_grid(small_inputs(n_sites=1, n_years=2, certificates=False), {"certificate_price": [1.0]})
    with pytest.raises(sw.VaryError, match="allows no offsets"):
        sw.validate_grid(small_inputs(n_sites=1, n_years=2, offsets=False), {"offset_price": [1.0]})


def test_apply_scenario_scales_and_sets(base):
    before = base.copy(deep=True)
    s = sw.apply_scenario(base, {"capex_scale": 2.0, "grid_factor_scale": 0.5, "tariff_scale": 1.5,
                                 "certificate_price": 40.0, "discount_rate": 0.1, "offset_price": 90.0})
    np.testing.assert_allclose(s["capex_per_kwp"].values, 2.0 * base["capex_per_kwp"].values)
    np.testing.assert_allclose(s["grid_ef_t_per_mwh"].values, 0.5 * base["grid_ef_t_per_mwh"].values)
    np.testing.assert_allclose(s["residual_ef_t_per_mwh"].values, 0.5 * base["residual_ef_t_per_mwh"].values)
    np.testing.assert_allclose(s["import_price_per_kwh"].values, 1.5 * base["import_price_per_kwh"].values)
    assert (s["certificate_price_per_mwh"].values == 40.0).all()
    assert (s["certificate_available"].values == base["certificate_available"].values).all()
    assert (s["offset_price_per_tco2e"].values == 90.0).all()
    assert s.attrs["discount_rate"] == 0.1
    # untouched: the baseline, export prices, O&M; and the base Dataset itself
    np.testing.assert_array_equal(s["baseline_scope2_location_tco2e"].values, base["baseline_scope2_location_tco2e"].values)
    np.testing.assert_array_equal(s["export_price_per_kwh"].values, base["export_price_per_kwh"].values)
    np.testing.assert_array_equal(s["om_per_kwp_year"].values, base["om_per_kwp_year"].values)
    xr.testing.assert_identical(base, before)
    assert s["capex_per_kwp"].attrs == base["capex_per_kwp"].attrs


def test_apply_scenario_certificate_price_scale(base):
    s = sw.apply_scenario(base, {"certificate_price_scale": 3.0})
    np.testing.assert_allclose(s["certificate_price_per_mwh"].values, 3.0 * base["certificate_price_per_mwh"].values)


def test_apply_scenario_moves_a_milestone_and_refuses_years_outside_the_horizon(base):
    s = sw.apply_scenario(base, {"milestone_year:pv-min": 2024})
    ms = {m["name"]: m for m in json.loads(s.attrs["milestones_json"])}
    assert ms["pv-min"]["year"] == 2024
    assert ms["certs"]["year"] == 2025
    assert json.loads(base.attrs["milestones_json"])[1]["year"] == 2025
    with pytest.raises(sw.ScenarioError, match="2031 is outside the planning horizon 2024-2025"):
        sw.apply_scenario(base, {"milestone_year:pv-min": 2031})


def test_inputs_fingerprint_sees_a_changed_value(base):
    fp = sw.inputs_fingerprint(base)
    assert fp == sw.inputs_fingerprint(base.copy(deep=True))
    assert fp != sw.inputs_fingerprint(sw.apply_scenario(base, {"capex_scale": 1.01}))


# --------------------------------------------------------------------------- #
# sweeps on a LocalCluster
# --------------------------------------------------------------------------- #
def test_sweep_on_local_cluster_results_failures_and_open_sweep(base, local_client, tmp_path):
    vary = {"certificate_price": [0.0, 5.0, 50.0], "capex_scale": [0.8, 1.2], "milestone_year:pv-min": [2024, 2025]}
    seen = []
    res = sw.run_sweep(base, vary, tmp_path / "s", client=local_client, progress=lambda d, t: seen.append((d, t)),
                       timeout_s=SWEEP_TIMEOUT_S)
    assert res.complete and not res.not_computed
    assert (res.n_scenarios, res.n_ok, res.n_failed, res.n_computed) == (12, 6, 6, 12)
    assert seen[0] == (0, 12) and seen[-1] == (12, 12)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    _assert_exactly_once(tmp_path / "s", vary)

    idx = sw.read_index(tmp_path / "s")
    failed = idx[idx["status"] == "failed"]
    assert set(failed["milestone_year:pv-min"]) == {2024}
    assert failed["reason"].str.contains("InfeasiblePlanError").all()
    assert failed["reason"].str.contains("rate: short by 300.0 kWp").all()
    rec = json.loads(next((tmp_path / "s" / "scenarios").glob("*.failed.json")).read_text())
    assert rec["status"] == "failed" and "cannot all be met" in rec["reason"]
    assert set(idx["worker"]) <= set(f"{socket.gethostname()}:{p}" for p in local_client.run(os.getpid).values())

    ds = sw.open_sweep(tmp_path / "s")
    assert ds.sizes["scenario"] == 12
    for name in vary:
        assert ds[name].dims == ("scenario",)
    assert (ds["status"] == "ok").sum() == 6
    assert ds["npc"].where(ds["status"] == "failed").isnull().all()
    assert ds["installed_kwp_by_kind"].dims == ("scenario", "kind", "year")
    assert "hour" not in ds.dims
    assert ds["npc"].attrs["units"] == "CNY"
    ok = ds.where(ds["milestone_year:pv-min"] == 2025, drop=True)
    grid = ok["npc"].set_index(scenario=["certificate_price", "capex_scale"]).unstack("scenario")
    assert grid.shape == (3, 2)
    npc = grid.transpose("certificate_price", "capex_scale").values
    # a higher certificate price or capex never lowers the least net present cost
    assert (np.diff(npc, axis=0) >= -NPC_RTOL * np.abs(npc[:-1])).all()
    assert (np.diff(npc, axis=1) >= -NPC_RTOL * np.abs(npc[:, :-1])).all()
    assert npc[-1, 0] > npc[0, 0] * (1 + 1e-6)  # 1,000 MWh of certificates at 50/MWh costs something
    # the milestones were met in every solved scenario
    assert (ok["milestone_met"] == 1).all()


def test_default_local_cluster_matches_serial(base, tmp_path):
    vary = {"tariff_scale": [0.8, 1.2], "discount_rate": [0.03, 0.08]}
    par = sw.run_sweep(base, vary, tmp_path / "par", n_workers=2, timeout_s=SWEEP_TIMEOUT_S)
    ser = sw.run_sweep(base, vary, tmp_path / "ser", n_workers=0)
    assert par.complete and ser.complete, (par.not_computed, ser.not_computed)
    assert (par.n_ok, ser.n_ok) == (4, 4), (par.index.to_dict("records"), ser.index.to_dict("records"))
    a = par.index.set_index("scenario_id")["npc"].sort_index()
    b = ser.index.set_index("scenario_id")["npc"].sort_index()
    np.testing.assert_allclose(a.values, b.values, rtol=NPC_RTOL)


def test_interrupted_sweep_restarts_with_only_the_missing(base, local_client, tmp_path):
    vary = {"certificate_price": [1.0, 2.0, 3.0, 4.0], "capex_scale": [0.9, 1.1]}
    out = tmp_path / "s"

    def ctrl_c_after_three(done, total):
        if done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sw.run_sweep(base, vary, out, client=local_client, progress=ctrl_c_after_three, timeout_s=SWEEP_TIMEOUT_S)
    first = _stored_ids(out)
    assert len(first) == 3
    assert len(sw.read_index(out)) == 3
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "scenarios").iterdir()}

    res = sw.run_sweep(base, vary, out, client=local_client, timeout_s=SWEEP_TIMEOUT_S)
    assert (res.n_skipped, res.n_computed) == (3, 5)
    assert res.complete
    _assert_exactly_once(out, vary)
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())  # nothing written twice

    again = sw.run_sweep(base, vary, out, client=local_client, timeout_s=SWEEP_TIMEOUT_S)
    assert (again.n_skipped, again.n_computed) == (8, 0)


def test_retry_failed_and_different_spec_needs_force(base, tmp_path):
    out = tmp_path / "s"
    vary = {"milestone_year:pv-min": [2024, 2025]}
    r1 = sw.run_sweep(base, vary, out, n_workers=0)
    assert (r1.n_ok, r1.n_failed) == (1, 1)
    r2 = sw.run_sweep(base, vary, out, n_workers=0, retry_failed=True)
    assert (r2.n_computed, r2.n_ok, r2.n_failed) == (1, 1, 1)
    with pytest.raises(sw.SweepSpecError, match="varied values differ"):
        sw.run_sweep(base, {"milestone_year:pv-min": [2025]}, out, n_workers=0)
    with pytest.raises(sw.SweepSpecError, match="base inputs differ"):
        sw.run_sweep(sw.apply_scenario(base, {"capex_scale": 1.5}), vary, out, n_workers=0)
    r3 = sw.run_sweep(base, {"milestone_year:pv-min": [2025]}, out, n_workers=0, force=True)
    assert (r3.n_scenarios, r3.n_computed, r3.n_skipped) == (1, 1, 0)
    _assert_exactly_once(out, {"milestone_year:pv-min": [2025]})


# --------------------------------------------------------------------------- #
# real `dask scheduler` and `dask worker` processes on 127.0.0.1
# --------------------------------------------------------------------------- #
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask_cmd(sub: str) -> list[str]:
    script = Path(sys.executable).parent / "dask"
    if script.exists():
        return [str(script), sub]
    return [sys.executable, "-m", f"distributed.cli.dask_{sub}"]


class DaskProcesses:
    """A `dask scheduler` and N `dask worker` processes (no nanny: a killed worker stays dead)."""

    def __init__(self, workdir: Path, n_workers: int):
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.logs = []
        env = dict(os.environ)
        self.scheduler = self._start(_dask_cmd("scheduler") + ["--host", "127.0.0.1", "--port", str(self.port),
                                                               "--no-dashboard"], workdir / "scheduler.log", env)
        self._wait_port()
        self.workers = [
            self._start(_dask_cmd("worker") + [self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                               "--host", "127.0.0.1", "--local-directory", str(workdir / f"w{i}")],
                        workdir / f"worker{i}.log", env)
            for i in range(n_workers)
        ]

    def _start(self, cmd, log: Path, env) -> subprocess.Popen:
        f = open(log, "wb")
        self.logs.append(f)
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        self.procs.append(p)
        return p

    def _wait_port(self) -> None:
        deadline = time.monotonic() + PROC_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.scheduler.poll() is not None:
                raise RuntimeError("dask scheduler exited at start")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"dask scheduler did not listen on {self.address} within {PROC_START_TIMEOUT_S} s")

    def client(self, n_workers: int):
        from distributed import Client

        c = Client(self.address, timeout="20s")
        c.wait_for_workers(n_workers, timeout=PROC_START_TIMEOUT_S)
        return c

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                p.kill()
        for f in self.logs:
            f.close()


@pytest.fixture
def dask_procs(tmp_path):
    (tmp_path / "dask").mkdir()
    procs = DaskProcesses(tmp_path / "dask", 2)
    try:
        yield procs
    finally:
        procs.close()


def test_sweep_against_a_running_scheduler(base, dask_procs, tmp_path):
    with dask_procs.client(2) as c:  # wait until both workers are up
        workers = c.run(os.getpid)
    vary = {"certificate_price": [0.0, 50.0], "grid_factor_scale": [0.5, 1.0]}
    res = sw.run_sweep(base, vary, tmp_path / "s", scheduler=dask_procs.address, timeout_s=SWEEP_TIMEOUT_S)
    assert res.complete and res.n_ok == 4 and not res.not_computed
    _assert_exactly_once(tmp_path / "s", vary)
    used = {int(w.rsplit(":", 1)[1]) for w in res.index["worker"]}
    assert used <= set(workers.values())
    assert os.getpid() not in used


def test_sweep_survives_a_killed_worker(base, dask_procs, tmp_path):
    with dask_procs.client(2):
        pass
    victim = dask_procs.workers[1]
    vary = {"certificate_price": [0.0, 1.0, 2.0, 3.0], "capex_scale": [0.9, 1.1], sw.TEST_SLEEP: [0.8]}
    killed = []

    def kill_after_first(done, total):
        if done >= 1 and not killed:
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
            killed.append(time.monotonic())

    res = sw.run_sweep(base, vary, tmp_path / "s", scheduler=dask_procs.address, progress=kill_after_first,
                       timeout_s=SWEEP_TIMEOUT_S)
    assert killed and victim.poll() is not None
    assert res.complete and not res.not_computed
    assert (res.n_ok, res.n_computed) == (8, 8)
    _assert_exactly_once(tmp_path / "s", vary)
    # the surviving worker finished what the dead one held
    survivor = {w for w in sw.read_index(tmp_path / "s")["worker"] if not w.endswith(f":{victim.pid}")}
    assert len(survivor) == 1


# --------------------------------------------------------------------------- #
# command line
# --------------------------------------------------------------------------- #
def test_cli_rejects_an_unknown_input_before_any_work(tmp_path):
    from typer.testing import CliRunner

    from pvopt.cli import app

    r = CliRunner().invoke(app, ["sweep", "sites/lead", "--vary", "capex=1,2", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "unknown input 'capex'" in r.output
    assert not (tmp_path / "o").exists()


def test_cli_sweep_on_the_example_portfolio(tmp_path):
    """Yield once, store, table, restart; the scenario fails before solving (a plan of the example takes minutes)."""
    from typer.testing import CliRunner

    from pvopt.cli import app

    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "o"
    args = ["sweep", str(repo / "sites" / "lead"), "--vary", "milestone_year:pv-8.8MWp-2025=2040", "--out", str(out), "--workers", "0"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "1 scenarios: 0 ok, 1 failed; solved now 1" in r.output
    assert "outside the planning horizon" in r.output
    assert (out / "yield.nc").exists()
    r2 = CliRunner().invoke(app, ["-q", *args])
    assert r2.exit_code == 0, r2.output
    assert "solved now 0, already stored 1" in r2.output
