"""Benders decomposition (pvopt.lp.decompose) against the monolithic LP on small cases.

Each case has one battery site (site 0) whose site-years become subproblems; the
decomposed optimum must match the monolithic one within ``OBJ_RTOL`` (the
default stopping gap), and the battery sizes within ``CAP_RTOL`` of the
larger of the two (an LP may have several optimal plans; the objective is what
must agree).
"""

from __future__ import annotations

import numpy as np
import pytest

from pvopt.lp.decompose import choose_decomposition, decomposable_site_years, solve_decomposed
from pvopt.lp.model import SolveOptions, solve_plan
from pvopt.testing import small_inputs

#: Decomposed vs monolithic objective, relative (the stopping gap is 1e-5; the incumbent is feasible).
OBJ_RTOL = 1.5e-5
#: Total battery energy [kWh] over the years, decomposed vs monolithic, relative to the larger (alternative optima).
CAP_RTOL = 0.05
#: Total PV [kWp] built, likewise.
PV_RTOL = 0.05

MONO = SolveOptions(decompose="never", milestone_costs="none", solver="ipm")
BENDERS = SolveOptions(decompose="always", workers=0, milestone_costs="none", gap=1e-5)

CASES = {
    "battery": dict(battery_sites=(0,)),
    "battery_demand_charge": dict(battery_sites=(0,), demand_charge_per_kw_month=40.0),
    "battery_import_limit": dict(battery_sites=(0,), import_limit_kw=900.0),
    "battery_measures_milestones": dict(battery_sites=(0,), measures=True, milestones=[
        {"name": "peak", "type": "emissions_peak", "year": 2024},
        {"name": "onsite", "type": "min_pv_onsite_mwh", "year": 2025, "mwh": 800.0},
        {"name": "zero", "type": "neutrality", "year": 2025},
    ]),
}


def _inputs(kw):
    return small_inputs(n_sites=2, n_years=2, **kw)


def _compare(d, opts=BENDERS, **kw):
    _, mono, _ = solve_plan(d, MONO)
    pm, sol, _ = solve_decomposed(d, opts, **kw)
    assert sol.benders is not None
    assert sol.benders.gap <= opts.gap
    assert sol.objective == pytest.approx(mono.objective, rel=OBJ_RTOL)
    assert sol.benders.lower_bound <= mono.objective * (1 + 1e-9) + 1.0
    return pm, sol, mono


@pytest.mark.parametrize("case", list(CASES))
def test_decomposed_objective_matches_monolithic(case):
    d = _inputs(CASES[case])
    pm, sol, mono = _compare(d)
    m = pm.model
    bE = sum(m.bE[0, j].value for j in m.Y)
    pm_mono, _, _ = solve_plan(d, MONO)
    bE_mono = sum(pm_mono.model.bE[0, j].value for j in pm_mono.model.Y)
    assert bE == pytest.approx(bE_mono, rel=CAP_RTOL, abs=1.0)
    pv = sum(m.build[a, j].value for a in m.A for j in m.Y)
    pv_mono = sum(pm_mono.model.build[a, j].value for a in pm_mono.model.A for j in pm_mono.model.Y)
    assert pv == pytest.approx(pv_mono, rel=PV_RTOL, abs=1.0)


def test_plan_dataset_of_a_decomposed_solve_has_hourly_battery_and_bounds():
    from pvopt.lp.solution import plan_dataset

    d = _inputs(CASES["battery_demand_charge"])
    pm, sol, res = solve_decomposed(d, BENDERS)
    plan = plan_dataset(pm, sol, res, BENDERS)
    for name in ("battery_charge_kw", "battery_discharge_kw", "battery_soc_kwh", "grid_import_kw", "peak_import_kw"):
        assert name in plan
    assert float(plan["npc"]) == pytest.approx(sol.objective, rel=OBJ_RTOL)
    assert plan.attrs["solve_method"] == "benders"
    assert plan.attrs["lower_bound"] <= plan.attrs["upper_bound"]
    assert plan.attrs["relative_gap"] <= BENDERS.gap
    # the monthly peak is the largest hourly import of its month
    grid = plan["grid_import_kw"].values[0, 0]
    month = d["hour_month"].values if "hour_month" in d else np.repeat(np.arange(1, 13), 730)
    peak = plan["peak_import_kw"].values[0, 0]
    for mo in range(12):
        assert peak[mo] == pytest.approx(grid[month == mo + 1].max(), rel=1e-4, abs=1e-2)


def test_auto_decomposes_only_large_battery_plans():
    small = _inputs(CASES["battery"])
    assert decomposable_site_years(small) == {(0, 0), (0, 1)}
    assert choose_decomposition(small, SolveOptions()) == frozenset()  # two site-years: monolithic
    assert choose_decomposition(small, SolveOptions(decompose="always")) == {(0, 0), (0, 1)}
    assert choose_decomposition(small, SolveOptions(decompose="never")) == frozenset()
    assert choose_decomposition(_inputs({}), SolveOptions(decompose="always")) == frozenset()


def test_decomposition_on_a_dask_cluster_with_two_workers():
    from distributed import Client, LocalCluster

    d = _inputs(CASES["battery"])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40) as cluster, Client(cluster) as client:
        _, sol, _ = _compare(d, client=client)
        assert "2 workers" in sol.termination
