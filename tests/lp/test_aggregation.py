"""Runs of identical hours on full-hour sites (pvopt.lp.reductions.identical_hour_runs).

A battery site keeps every hour, but consecutive hours with the same load, yields,
measure changes, prices and month are modelled once, with a weight. The tests
check that the aggregated model has the same optimum as the hour-by-hour one,
that it is smaller, and that the dispatch read back hour by hour obeys every
hourly row (state of charge, power, energy, balance, monthly peak).
"""

from __future__ import annotations

import numpy as np
import pytest

from pvopt.lp.build import build_model
from pvopt.lp.model import SolveOptions
from pvopt.lp.reductions import expand_runs, expand_soc, identical_hour_runs, run_hours
from pvopt.lp.solution import hourly_dispatch
from pvopt.lp.solve import solve_model
from pvopt.testing import small_inputs

#: Aggregated vs hour-by-hour optimum, relative (the same LP optimum up to solver round-off).
OBJ_RTOL = 1e-8
#: Hourly identities on the expanded dispatch [kW or kWh], absolute.
ROW_ATOL = 1e-5
#: The aggregated case must model at most this share of the hour-by-hour hourly variables.
MAX_SHARE = 0.8

CASES = {
    "battery": dict(battery_sites=(0,)),
    "battery_demand_charge": dict(battery_sites=(0,), demand_charge_per_kw_month=40.0),
    "battery_import_limit_measures": dict(battery_sites=(0,), import_limit_kw=2500.0, measures=True),
}


def _stepped(d, step_h: int = 4):
    """``d`` with load, measure changes and prices held constant over blocks of ``step_h`` hours (as a shift profile and TOU tariff are)."""
    d = d.copy(deep=True)
    for name in ("load_kw", "measure_delta_kw", "import_price_per_kwh", "export_price_per_kwh"):
        if name not in d or d[name].size == 0:
            continue
        a = d[name].values
        n = a.shape[-1] // step_h * step_h
        a[..., :n] = np.repeat(a[..., :n].reshape(*a.shape[:-1], -1, step_h).mean(axis=-1), step_h, axis=-1)
        d[name].values[...] = a
    return d


def test_runs_partition_the_hours_and_hold_identical_data():
    d = _stepped(small_inputs(n_sites=1, n_years=1, battery_sites=(0,), measures=True))
    hours = np.arange(d.sizes["hour"])
    first, length = identical_hour_runs(d, 0, 0, hours)
    assert length.sum() == len(hours)
    assert np.array_equal(run_hours(first, length), hours)
    assert len(first) < 0.8 * len(hours)  # night hours of a 4-hour step load fold
    load = d["load_kw"].values[0, 0]
    y = d["yield_kw_per_kwp"].values
    for t, w in zip(first, length):
        assert np.all(load[t : t + w] == load[t])
        assert np.all(y[:, t : t + w] == y[:, [t]])


def test_soc_expansion_is_linear_within_a_run_and_cyclic():
    soc_end = np.array([10.0, 4.0, 7.0])
    w = np.array([2, 3, 1])
    soc = expand_soc(soc_end, w)
    assert np.allclose(soc, [8.5, 10.0, 8.0, 6.0, 4.0, 7.0])  # starts from the last run's end (cyclic)
    assert np.array_equal(expand_runs(np.array([1.0, 2.0, 3.0]), w), [1, 1, 2, 2, 2, 3])


@pytest.mark.parametrize("case", list(CASES))
def test_aggregated_battery_plan_equals_hour_by_hour(case):
    d = _stepped(small_inputs(n_sites=2, n_years=1, **CASES[case]))
    opts = SolveOptions(decompose="never", milestone_costs="none")
    pm_a = build_model(d)
    sol_a, _ = solve_model(pm_a, opts)
    pm_h = build_model(d, aggregate=False)
    sol_h, _ = solve_model(pm_h, opts)
    assert sol_a.objective == pytest.approx(sol_h.objective, rel=OBJ_RTOL)
    assert pm_a.n_hourly_vars <= MAX_SHARE * pm_h.n_hourly_vars

    disp = hourly_dispatch(pm_a)
    i, j = 0, 0
    b = pm_a.blocks[(i, j)]
    assert b.weight is not None and b.weight.max() > 1
    eta = float(np.sqrt(d["battery_round_trip_efficiency"].values[0]))
    bc, bd = disp["battery_charge_kw"][i, j], disp["battery_discharge_kw"][i, j]
    soc = disp["battery_soc_kwh"][i, j]
    e_kwh = float(pm_a.model.bE[0, j].value)
    p_kw = float(pm_a.model.bP[0, j].value)
    assert np.allclose(soc - np.roll(soc, 1), eta * bc - bd / eta, atol=ROW_ATOL)
    assert soc.min() >= -ROW_ATOL and soc.max() <= e_kwh + ROW_ATOL
    assert (bc + bd).max() <= p_kw + ROW_ATOL
    grid = disp["grid_import_kw"][i, j]
    net_load = disp["load_kw"][i, j]  # after measures
    assert np.allclose(disp["pv_onsite_kw"][i, j] + grid + bd - bc, net_load, atol=ROW_ATOL)
    assert np.all(disp["pv_onsite_kw"][i, j] <= disp["pv_generated_kw"][i, j] + ROW_ATOL)
    lim = CASES[case].get("import_limit_kw")
    if lim is not None:
        assert grid.max() <= lim + ROW_ATOL
    if CASES[case].get("demand_charge_per_kw_month"):
        month = d["hour_month"].values
        for mo in range(1, 13):
            peak = float(pm_a.model.peak[(i, j, mo - 1)].value)
            assert grid[month == mo].max() <= peak + ROW_ATOL


def test_decomposed_subproblems_use_the_runs_too():
    from pvopt.lp.decompose import solve_decomposed
    from pvopt.lp.model import solve_plan

    d = _stepped(small_inputs(n_sites=2, n_years=1, battery_sites=(0,)))
    _, mono, _ = solve_plan(d, SolveOptions(decompose="never", milestone_costs="none"))
    pm, sol, _ = solve_decomposed(d, SolveOptions(decompose="always", workers=0, milestone_costs="none", gap=1e-5))
    assert sol.objective == pytest.approx(mono.objective, rel=1.5e-5)
    b = pm.blocks[(0, 0)]
    assert b.weight is not None and len(b.contested) < MAX_SHARE * d.sizes["hour"]
    soc = hourly_dispatch(pm)["battery_soc_kwh"][0, 0]
    assert soc.shape == (d.sizes["hour"],) and soc.min() >= -ROW_ATOL
