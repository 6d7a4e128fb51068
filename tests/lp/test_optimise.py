"""The planning LP: exactness of the reductions, milestones, accounting, failures."""

from __future__ import annotations

import numpy as np
import pytest

from pvopt.errors import InfeasiblePlanError, SolverError
from pvopt.lp.model import SolveOptions, build_model, classify_hours, solve_model, solve_plan, Status
from pvopt.lp.solution import milestone_table, plan_dataset
from pvopt.testing import small_inputs

OBJ_RTOL = 1e-6  #: reduced vs full hourly objective, relative
ENERGY_ATOL_MWH = 1e-3  #: hourly balances summed over a year
HOURLY_ATOL_KW = 1e-3  #: hourly dispatch is stored as float32
KWP_ATOL = 1e-4

NEUTRAL = {"name": "neutral", "type": "neutrality", "year": 2025}
COVER = {"name": "cover", "type": "rooftop_coverage", "year": 2025, "fraction": 1.0}

CASES = {
    "zero-export, PV above load at midday": dict(n_sites=1, pv_to_load=3.0),
    "zero-export, load above PV": dict(n_sites=1, pv_to_load=0.4),
    "export allowed": dict(n_sites=1, pv_to_load=3.0, export=True, export_price=0.3),
    "export allowed, above import price (profitable export)": dict(n_sites=1, pv_to_load=2.0, export=True, export_price=0.8),
    "export limit, mixed sites": dict(pv_to_load=4.0, export=[True, False], export_limit_kw=150.0),
    "existing PV and milestones": dict(pv_to_load=2.5, existing_kwp=200.0, milestones=[NEUTRAL, COVER]),
    "one site, three years, peak": dict(n_sites=1, pv_to_load=1.5, milestones=[{"name": "peak", "type": "emissions_peak", "year": 2025}]),
}


def _solve(d, reduce=True):
    pm = build_model(d, reduce=reduce)
    sol, res = solve_model(pm, SolveOptions())
    assert sol.status == Status.OPTIMAL, sol.termination
    return pm, sol, res


@pytest.mark.parametrize("name", list(CASES))
def test_reduced_objective_equals_full_hourly(name):
    d = small_inputs(n_years=2, **CASES[name], seed=3)
    pm_r, sol_r, _ = _solve(d, reduce=True)
    pm_f, sol_f, _ = _solve(d, reduce=False)
    assert sol_r.objective == pytest.approx(sol_f.objective, rel=OBJ_RTOL)
    # the reduction really reduces: fewer hourly variables than the full model
    assert pm_r.n_hourly_vars < pm_f.n_hourly_vars


def test_reduction_classes_are_a_partition_and_exact_on_hours():
    d = small_inputs(n_sites=2, n_years=2, pv_to_load=2.0, milestones=[COVER])
    cls = classify_hours(d, reduce=True)
    y = d["yield_kw_per_kwp"].values
    for (i, j), (full, cov, con) in cls.items():
        allh = np.concatenate([full, cov, con])
        assert len(np.unique(allh)) == len(allh)  # disjoint
        zero = np.setdiff1d(np.arange(8760), allh)
        profs = [g for g, s in enumerate(d["profile_site"].values) if s == d["site"].values[i]]
        assert np.all(y[profs][:, zero] == 0.0)  # hours left out have no yield at all
        # the coverage milestone forces capacity, so some hours are fully covered
    assert sum(len(c[1]) for c in cls.values()) > 0


def test_plan_accounting_identities():
    d = small_inputs(n_sites=2, n_years=3, pv_to_load=3.0, export=[True, False], milestones=[NEUTRAL])
    pm, sol, res = _solve(d)
    p = plan_dataset(pm, sol, res, SolveOptions())
    # hourly balance: onsite + grid = load; onsite + export + curtailed = generation
    assert np.allclose(p.pv_onsite_kw + p.grid_import_kw, p.load_kw, atol=1e-3)
    assert np.allclose(p.pv_onsite_kw + p.export_kw + p.curtailed_kw, p.pv_generated_kw, atol=1e-3)
    assert float((p.pv_onsite_kw - p.load_kw).max()) <= HOURLY_ATOL_KW
    # certificates never above grid import
    assert float((p.certificates_mwh - p.grid_import_mwh).max()) <= ENERGY_ATOL_MWH
    # net = S1 + S2 market - offsets
    assert np.allclose(p.net_tco2e, p.scope1_after_measures_tco2e + p.scope2_market_tco2e - p.offsets_tco2e, atol=1e-6)
    # installed capacity never falls and never exceeds the area limit
    assert float(p.installed_kwp.diff("year").min()) >= -KWP_ATOL
    assert float((p.installed_kwp - p.max_kwp).max()) <= KWP_ATOL
    # the NPC recomputed from the plan's cost tables equals the LP objective
    assert float(p.npc) == pytest.approx(sol.objective, rel=OBJ_RTOL)
    # neutrality from 2026 on
    assert float(p.net_tco2e.sum("site").sel(year=slice(2025, None)).max()) <= 1e-3


def test_milestones_bind_and_are_reported():
    ms = [
        {"name": "pv-min", "type": "min_portfolio_kwp", "year": 2025, "kwp": 2500.0},
        {"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": 500.0},
        {"name": "cap", "type": "offset_cap", "share_of_baseline": 0.5},
        NEUTRAL,
    ]
    d = small_inputs(n_sites=2, n_years=3, pv_to_load=1.5, milestones=ms, seed=1)
    pm, sol, res = _solve(d)
    p = plan_dataset(pm, sol, res, SolveOptions())
    rows = {r["name"]: r for r in milestone_table(pm, p, sol, SolveOptions())}
    assert all(r["met"] for r in rows.values())
    assert float(p.installed_kwp.sum("array").sel(year=2025)) >= 2500.0 - KWP_ATOL
    assert float(p.certificates_mwh.sum("site").sel(year=2024)) >= 500.0 - ENERGY_ATOL_MWH
    # the certificate milestone is binding (nobody buys certificates in 2024 otherwise): positive dual
    assert rows["certs"]["marginal_cost"] > 0


def test_dual_matches_finite_difference_of_objective():
    """The reported marginal cost of a binding milestone equals d(NPC)/d(target)."""
    ms = lambda mwh: [{"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": mwh}]  # noqa: E731
    d0 = small_inputs(n_sites=1, n_years=2, milestones=ms(400.0))
    d1 = small_inputs(n_sites=1, n_years=2, milestones=ms(401.0))
    pm, sol0, res = _solve(d0)
    p = plan_dataset(pm, sol0, res, SolveOptions())
    dual = milestone_table(pm, p, sol0, SolveOptions())[0]["marginal_cost"]
    _, sol1, _ = _solve(d1)
    assert dual == pytest.approx(sol1.objective - sol0.objective, rel=1e-4)


def test_infeasible_milestone_names_it_and_the_shortfall():
    # more PV than the roofs can hold: max is pv_to_load * avg load; ask for far more
    d = small_inputs(n_sites=1, n_years=2, pv_to_load=1.0, milestones=[{"name": "too-much-pv", "type": "min_portfolio_kwp", "year": 2025, "kwp": 1e6}])
    max_total = float(d["max_kwp"].sum())
    with pytest.raises(InfeasiblePlanError) as ei:
        solve_plan(d, SolveOptions())
    short = ei.value.shortfalls
    assert list(short) == ["too-much-pv"]
    amount, unit, _ = short["too-much-pv"]
    assert unit == "kWp"
    assert amount == pytest.approx(1e6 - max_total, rel=1e-6)
    assert "too-much-pv" in str(ei.value) and "short by" in str(ei.value)


def test_infeasible_neutrality_without_offsets():
    d = small_inputs(n_sites=1, n_years=2, offsets=False, milestones=[{"name": "neutral-2025", "type": "neutrality", "year": 2025}])
    with pytest.raises(InfeasiblePlanError) as ei:
        solve_plan(d, SolveOptions())
    amount, unit, detail = ei.value.shortfalls["neutral-2025"]
    # Scope 1 (300 t) cannot be removed without offsets; certificates cover Scope 2
    assert unit == "tCO2e"
    assert amount == pytest.approx(300.0, rel=1e-6)


def test_time_limit_is_reported_as_solver_error():
    d = small_inputs(n_sites=1, n_years=2, pv_to_load=3.0)
    with pytest.raises(SolverError, match="time limit"):
        solve_plan(d, SolveOptions(reduce=False, time_limit_s=1e-4))


def test_extra_constraints_hook():
    import pyomo.environ as pyo

    def no_carports(m, data):
        kinds = data["array_kind"].values
        m.no_carports = pyo.Constraint(expr=sum(m.build[a, y] for a in m.A for y in m.Y if kinds[a] == "carport") == 0)

    d = small_inputs(n_sites=1, n_years=2, pv_to_load=2.0)
    pm, sol, res = solve_plan(d, SolveOptions(extra_constraints=no_carports))
    p = plan_dataset(pm, sol, res, SolveOptions())
    assert float(p.build_kwp.where(p.array_kind == "carport", 0).sum()) <= KWP_ATOL
    _, sol_free, _ = solve_plan(d, SolveOptions())
    assert sol.objective >= sol_free.objective - 1e-6 * abs(sol_free.objective)


def test_deterministic():
    d = small_inputs(n_sites=2, n_years=2, pv_to_load=2.0, export=True)
    _, s1, _ = _solve(d)
    _, s2, _ = _solve(d)
    assert s1.objective == s2.objective


# --------------------------------------------------------------------------- #
# milestones that reward curtailment: F and K hours stay contested there
# --------------------------------------------------------------------------- #
def test_location_peak_that_rewards_curtailing_earlier_years_is_exact():
    """A location-based peak cannot be met with certificates; dear PV and existing capacity make curtailing the
    existing PV in the peak year (raising the right-hand side of gross[y+1] <= gross[y]) the cheapest answer.
    Before the fix the reduced model (no curtailment on full-use hours) called this infeasible."""
    ms = [{"name": "peak", "type": "emissions_peak", "year": 2024, "scope2": "location"}]
    d = small_inputs(n_sites=1, n_years=2, pv_to_load=1.0, existing_kwp=300.0, milestones=ms, seed=3, certificates=False)
    d["capex_per_kwp"][:] *= 4
    _, sol_r, _ = _solve(d, reduce=True)
    _, sol_f, _ = _solve(d, reduce=False)
    assert sol_r.objective == pytest.approx(sol_f.objective, rel=OBJ_RTOL)


def test_certificate_milestone_above_the_grid_import_is_exact():
    """``min_certificates_mwh`` caps certificates at the year's grid import: curtailing PV to import more can be
    the only way to meet it (the reduced model must allow it)."""
    d0 = small_inputs(n_sites=1, n_years=2, pv_to_load=1.0, existing_kwp=1000.0, seed=3)
    mwh = 0.9 * 0.95 * float(d0.load_kw.isel(year=0).sum()) / 1000
    d = small_inputs(n_sites=1, n_years=2, pv_to_load=1.0, existing_kwp=1000.0, seed=3,
                     milestones=[{"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": mwh}])
    _, sol_r, _ = _solve(d, reduce=True)
    _, sol_f, _ = _solve(d, reduce=False)
    assert sol_r.objective == pytest.approx(sol_f.objective, rel=OBJ_RTOL)


@pytest.mark.slow  # the full hourly model of the example takes ~4-5 min
def test_lead_variant_with_a_late_location_based_peak_is_exact(lead_copy):
    """sites/lead with the peak moved to 2034 and counted location-based, no 10 GWh milestone, 2 %/yr growth:
    the reduced model once cost 0.36 % more than the full hourly model (301.33 vs 300.25 M CNY)."""
    import pvopt
    from pvopt.lp.inputs import build_plan_inputs
    from pvopt.pv.yields import simulate_yield
    from tests.conftest import edit_yaml

    def portfolio(data):
        data["milestones"] = [m for m in data["milestones"] if m["name"] != "rooftop-pv-10GWh"]
        for m in data["milestones"]:
            if m["type"] == "emissions_peak":
                m.update(year=2034, scope2="location")

    edit_yaml(lead_copy / "portfolio.yaml", portfolio)
    for f in lead_copy.glob("*.yaml"):
        if f.name != "portfolio.yaml":
            edit_yaml(f, lambda s: s["load"].update(growth_pct_per_year=2.0))
    pf = pvopt.load_portfolio(lead_copy)
    d = build_plan_inputs(pf, simulate_yield(pf))
    _, sol_r, _ = _solve(d, reduce=True)
    _, sol_f, _ = _solve(d, reduce=False)
    assert sol_r.objective == pytest.approx(sol_f.objective, rel=OBJ_RTOL)
