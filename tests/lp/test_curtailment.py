"""Curtailment that could pay, found by the duals of the small model (pvopt.lp.curtailment): exact and small."""

from __future__ import annotations

import pytest

from pvopt.lp.model import SolveOptions, build_model, solve_model, solve_plan
from pvopt.testing import small_inputs

#: relative tolerance between the checked small model and the full hourly model
OBJ_RTOL = 1e-7

LOCATION_PEAK = {"name": "peak", "type": "emissions_peak", "year": 2024, "scope2": "location"}
CASES = {
    "location peak": dict(milestones=[LOCATION_PEAK]),
    "location peak, profitable export": dict(milestones=[LOCATION_PEAK], export=True, export_price=0.3),
    "market peak + certificates": dict(milestones=[{"name": "peak", "type": "emissions_peak", "year": 2025},
                                                  {"name": "c", "type": "min_certificates_mwh", "year": 2024, "mwh": 50.0}]),
    "location peak + neutrality, PV below load": dict(milestones=[LOCATION_PEAK, {"name": "n", "type": "neutrality", "year": 2026}], pv_to_load=0.8),
    "location peak, demand charge and import limit": dict(milestones=[LOCATION_PEAK], demand_charge_per_kw_month=30.0, import_limit_kw=4000.0),
    "market peak + certificates, demand charge, measures": dict(milestones=[{"name": "peak", "type": "emissions_peak", "year": 2025},
                                                                         {"name": "c", "type": "min_certificates_mwh", "year": 2024, "mwh": 50.0}],
                                                             demand_charge_per_kw_month=30.0, measures=True),
}


#: cases whose full hourly model takes longest: run by the slow suite; their small-model behaviour is checked in CI below
SLOW_CASES = {"location peak", "location peak, profitable export"}


@pytest.mark.parametrize("name", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_CASES else c for c in sorted(CASES)])
def test_checked_small_model_equals_full_model(name):
    d = small_inputs(**CASES[name])
    pm, sol, _ = solve_plan(d, SolveOptions())
    full = build_model(d, reduce=False)
    sol_full, _ = solve_model(full, SolveOptions(reduce=False))
    assert sol.objective == pytest.approx(sol_full.objective, rel=OBJ_RTOL)
    assert pm.n_hourly_vars <= full.n_hourly_vars


def test_duals_find_paying_curtailment_and_contest_those_years():
    """With profitable export next to a location-based peak, the first small model is not optimal for the
    full one: the check contests the failing site-years and solves again."""
    d = small_inputs(**CASES["location peak, profitable export"])
    pm, sol, _ = solve_plan(d, SolveOptions())
    assert getattr(pm, "curtailment_rounds", 0) >= 2


def test_small_model_when_no_curtailment_pays():
    """A location-based peak with no reason to curtail: one round, and far fewer hourly variables than
    the always-exact model that contests every peak year."""
    d = small_inputs(**CASES["location peak"])
    pm, _, _ = solve_plan(d, SolveOptions())
    always = build_model(d)
    assert getattr(pm, "curtailment_rounds", 0) == 1
    assert pm.n_hourly_vars * 5 < always.n_hourly_vars
