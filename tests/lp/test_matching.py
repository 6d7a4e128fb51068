"""Pooled hourly certificate matching (pvopt.lp.rows.define_matching_rows): exact, small, reported per site.

With ``scope2_matching: hourly`` the reduced model keeps one matched-certificate variable per
matching group, year and hour, bounded by the group's grid import written affinely in the LP's
columns, instead of one per site-hour with every site full-hour. These tests check that it
reaches the optimum of the textbook per-site model (``reduce=False``), that it is much smaller,
how the groups are chosen, that the duals check of left-out curtailment sees the matching rows,
and that the matched MWh shared back to the sites reconcile with the totals.
"""

from __future__ import annotations

import numpy as np
import pytest

from pvopt.lp.curtailment import curtailment_violations
from pvopt.lp.reductions import curtailment_years
from pvopt.lp.model import (SolveOptions, Status, build_model, full_hour_sites, hourly_matching_formulation, hourly_var, matching_groups,
                            solve_model, solve_plan)
from pvopt.lp.solution import allocate_pooled_matching, hourly_dispatch, plan_dataset
from pvopt.results import accounting as A
from pvopt.testing import small_inputs

#: pooled reduced model against the per-site full hourly model, relative
OBJ_RTOL = 1e-7
#: plan NPC (recomputed from the dispatch) against the LP objective, relative
NPC_RTOL = 1e-6
#: matched MWh of the sites against the pooled total, relative
SUM_RTOL = 1e-9
#: hourly values against each other [kW] (solver tolerance, values in float64 here)
HOURLY_ATOL_KW = 1e-5
#: the plan stores hourly values as float32
F32_RTOL = 4 * float(np.finfo(np.float32).eps)
#: interior point + crossover: a vertex, and much faster than the dual simplex on these models
IPM = SolveOptions(solver="ipm", milestone_costs="none")

NEUTRAL = {"name": "neutral", "type": "neutrality", "year": 2024}
SITE_NEUTRAL = {"name": "s1-neutral", "type": "neutrality", "year": 2024, "site": "s1"}
MARKET_PEAK = {"name": "peak", "type": "emissions_peak", "year": 2024}
CERTS = {"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": 2000.0}

CASES = {
    "one group, neutrality": dict(n_sites=2, milestones=[NEUTRAL]),
    "one group, export at one site": dict(n_sites=2, pv_to_load=3.0, export=[True, False], export_price=0.9, milestones=[NEUTRAL]),
    "battery": dict(n_sites=2, battery_sites=(1,), milestones=[NEUTRAL]),
    "demand charge, import limit, measures": dict(n_sites=2, demand_charge_per_kw_month=40.0, import_limit_kw="night", measures=True,
                                                  milestones=[NEUTRAL]),
    "site-level neutrality": dict(n_sites=3, milestones=[NEUTRAL, SITE_NEUTRAL]),
    "residual factors differ, market peak, certificates": dict(n_sites=2, n_years=2, milestones=[MARKET_PEAK, CERTS], residual=(0.61, 0.45)),
}


def case_inputs(name: str):
    """Hourly matching with two instruments from the first year: I-REC flat (2024 only), GEC solar-shaped (no GEC at night)."""
    kw = dict(CASES[name])
    residual = kw.pop("residual", None)
    kw.setdefault("n_years", 1)
    if kw.get("import_limit_kw") == "night":  # site 0's largest load without sun: PV must shave the daytime peaks
        d0 = small_inputs(**(kw | {"import_limit_kw": None}))
        dark = (d0["yield_kw_per_kwp"].values[d0["profile_site"].values == "s0"] == 0).all(axis=0)
        kw["import_limit_kw"] = 1.001 * float(d0["load_kw"].values[0][:, dark].max())
    d = small_inputs(pv_to_load=kw.pop("pv_to_load", 2.0), matching="hourly", **kw)
    solar = d["yield_kw_per_kwp"].values.mean(axis=0)
    d["certificate_hourly_share"].values[1] = solar / solar.sum()
    d["certificate_available"].values[1, 0] = True
    if residual is not None:
        d["residual_ef_t_per_mwh"].values[:] = np.asarray(residual)[:, None]
    return d


def _solve(pm, opts=IPM):
    sol, res = solve_model(pm, opts)
    assert sol.status == Status.OPTIMAL, sol.termination
    return sol, res


#: cases whose full hourly model takes longest (1-2 min each): run by the slow suite; the hypothesis test
#: in test_invariants draws batteries and peaks with hourly matching in CI, and the reconcile test below solves them pooled
SLOW_CASES = {"battery", "residual factors differ, market peak, certificates"}


@pytest.mark.parametrize("name", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_CASES else c for c in sorted(CASES)])
def test_pooled_reduced_model_equals_full_hourly_model(name):
    d = case_inputs(name)
    pm, sol, res = solve_plan(d, IPM)  # the default path: reduced, pooled, checked by its duals
    full = build_model(d, reduce=False)
    sol_f, _ = _solve(full)
    assert pm.matching.formulation == "pooled" and full.matching.formulation == "per-site"
    assert sol.objective == pytest.approx(sol_f.objective, rel=OBJ_RTOL)
    # the always-exact reduction (every curtailment year contested) too, where it differs from the checked one
    always = build_model(d)
    if curtailment_years(d).any():
        assert _solve(always)[0].objective == pytest.approx(sol_f.objective, rel=OBJ_RTOL)
    # one variable per group, year and hour in which an available instrument generates; none per site-hour
    groups = matching_groups(d)
    share = d["certificate_hourly_share"].values
    hours = sum(int((share[d["certificate_available"].values[:, j]] > 0).any(axis=0).sum()) for j in range(d.sizes["year"]))
    assert len(pm.model.matched_pool) == len(groups) * hours
    assert hours == 8760 * d.sizes["year"] - (d.sizes["year"] - 1) * int((share[1] == 0).sum())  # only GEC after 2024: dark at night
    assert len(pm.model.matched) == 0 and len(full.model.matched) == d.sizes["site"] * d.sizes["year"] * 8760
    # only battery sites keep every hour: besides the pooled variables, the same hourly variables as under annual
    # matching; far fewer than the per-site full model (a battery site keeps 5 variables a site-hour either way)
    assert list(full_hour_sites(d)) == [name == "battery" and i == 1 for i in range(d.sizes["site"])]
    assert always.n_hourly_vars - len(always.model.matched_pool) == build_model(d.assign_attrs(scope2_matching="annual")).n_hourly_vars
    assert pm.n_hourly_vars * (1.4 if name == "battery" else 2.5) < full.n_hourly_vars
    plan = plan_dataset(pm, sol, res, IPM)
    assert float(plan["npc"]) == pytest.approx(sol.objective, rel=NPC_RTOL)
    assert plan.attrs["hourly_matching_formulation"] == "pooled"


def test_groups_follow_the_rows_that_read_certificates_per_site():
    """A site-level neutrality gets its own group; the others are grouped by the residual factor that
    portfolio-wide market-based rows weigh them with, and not at all when no row does."""
    d = case_inputs("site-level neutrality")
    assert [g.tolist() for g in matching_groups(d)] == [[0, 2], [1]]
    d = case_inputs("residual factors differ, market peak, certificates")
    assert [g.tolist() for g in matching_groups(d)] == [[0], [1]]
    d2 = d.copy()
    d2.attrs["milestones_json"] = '[{"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": 2000.0}]'
    assert [g.tolist() for g in matching_groups(d2)] == [[0, 1]]  # certificates weigh every site alike
    d3 = d.copy()
    d3.attrs["milestones_json"] = '[{"name": "peak", "type": "emissions_peak", "year": 2024, "scope2": "location"}]'
    assert [g.tolist() for g in matching_groups(d3)] == [[0, 1]]
    annual = small_inputs(n_sites=2, n_years=1)
    assert matching_groups(annual) is None and hourly_matching_formulation(annual) is None
    assert hourly_matching_formulation(d) == "pooled"
    assert hourly_matching_formulation(d, reduce=False) == hourly_matching_formulation(d, per_site=True) == "per-site"
    assert full_hour_sites(d, per_site_matching=True).all() and not full_hour_sites(d).any()


def test_site_level_milestone_is_exact_with_its_own_group():
    """Pooling s1 with the others would let it claim their matched hours: its own group keeps its
    neutrality row exact, and the plan's per-site certificates meet it."""
    d = case_inputs("site-level neutrality")
    pm, sol, res = solve_plan(d, IPM)
    plan = plan_dataset(pm, sol, res, IPM)
    assert plan.attrs["hourly_matching_groups"] == "s0, s2 | s1"
    assert float(plan["net_tco2e"].sel(site="s1", year=2024)) <= 1e-6 * float(plan["scope2_location_tco2e"].sel(site="s1").max())
    matched = plan["matched_certificates_kw"].sel(site="s1").values
    assert (matched <= plan["grid_import_kw"].sel(site="s1").values + HOURLY_ATOL_KW).all()


def test_a_hook_keeps_matching_per_site():
    """An extra_constraints hook may read one site's matched certificates: then they stay per site."""
    d = small_inputs(n_sites=2, n_years=1, matching="hourly")
    seen = {}

    def hook(m, data):
        seen["matched"] = hourly_var(m, "matched", site="s0", year=2024, hour=12)

    pm, _, _ = solve_plan(d, SolveOptions(solver="ipm", extra_constraints=hook))
    assert pm.matching.formulation == "per-site" and seen["matched"].parent_component() is pm.model.matched
    pooled = build_model(d).model
    with pytest.raises(KeyError, match="pooled by matching group"):
        hourly_var(pooled, "matched", site="s0", year=2024, hour=12)


@pytest.mark.parametrize("name", ["residual factors differ, market peak, certificates", "battery"])
def test_matched_certificates_shared_to_sites_reconcile(name):
    d = case_inputs(name)
    pm, sol, res = solve_plan(d, IPM)
    plan = plan_dataset(pm, sol, res, IPM)
    pool = pm.matching
    M = np.array([v.value for v in pm.model.matched_pool.values()])
    total = np.zeros((len(pool.groups), d.sizes["year"], 8760))
    total[pool.key_g, pool.key_j, pool.key_t] = M
    disp = hourly_dispatch(pm)  # float64 (the plan stores hourly values as float32)
    matched, grid = disp["matched_certificates_kw"], disp["grid_import_kw"]
    np.testing.assert_allclose(plan["matched_certificates_kw"].values, matched, rtol=F32_RTOL, atol=HOURLY_ATOL_KW)
    # every hour: the sites of a group add up to the group's matched total, and none claims more than it imports
    for g, sites in enumerate(pool.groups):
        np.testing.assert_allclose(matched[sites].sum(axis=0), total[g], rtol=SUM_RTOL, atol=HOURLY_ATOL_KW)
    assert (matched <= grid + HOURLY_ATOL_KW).all()
    assert (total.sum(axis=0) <= grid.sum(axis=0) + HOURLY_ATOL_KW).all()
    # per year: the sites' claimed MWh are the pooled MWh, and the LP's own group totals
    cert = plan["certificates_mwh"].values
    np.testing.assert_allclose(cert.sum(axis=0), total.sum(axis=(0, 2)) / 1000, rtol=SUM_RTOL)
    np.testing.assert_allclose(cert, matched.sum(axis=2) / 1000, rtol=SUM_RTOL)
    lp = np.array([[pm.model.cert_total[i, j].value for j in range(d.sizes["year"])] for i in range(d.sizes["site"])])
    for sites in pool.groups:
        np.testing.assert_allclose(cert[sites].sum(axis=0), lp[sites].sum(axis=0), rtol=SUM_RTOL, atol=1e-9)
    # instruments: the sites' shares add up to the volume bought; the accounting identities hold
    np.testing.assert_allclose(plan["certificates_by_instrument_mwh"].sum("site"), plan["certificates_bought_mwh"], rtol=SUM_RTOL, atol=1e-9)
    A.assert_identities(plan)


def test_allocation_by_hand():
    """Two sites of one group importing 30 and 10 kW share 20 kW matched 3:1; a group importing nothing splits evenly."""
    from pvopt.lp.model import MatchingPool

    grid = np.zeros((2, 1, 8760))
    grid[:, 0, 5] = [30.0, 10.0]
    key_of = np.full((1, 1, 8760), -1)
    key_of[0, 0, [5, 6]] = [0, 1]
    pool = MatchingPool("pooled", [np.array([0, 1])], np.array([0, 0]), np.array([0, 0]), np.array([0, 0]), np.array([5, 6]), key_of)
    out = allocate_pooled_matching(pool, np.array([20.0, 1e-9]), grid)
    assert out[:, 0, 5].tolist() == [15.0, 5.0]
    assert out[:, 0, 6].tolist() == [5e-10, 5e-10]
    assert out.sum() == pytest.approx(20.0 + 1e-9, rel=1e-15)


def _curtail_for_certificates():
    """One site whose PV (existing, never above the load: every daylight hour full-use) stands between a
    solar-shaped instrument and the grid import it could match: 90 % of the matchable import must be
    certified, at a dear price, so curtailing PV beats buying ever more volume."""
    def case(milestones):
        d = small_inputs(n_sites=1, n_years=1, pv_to_load=0.5, existing_kwp=1e6, matching="hourly", milestones=milestones)
        solar = d["yield_kw_per_kwp"].values.mean(axis=0)
        d["certificate_hourly_share"].values[0] = solar / solar.sum()
        d["certificate_price_per_mwh"].values[0, :] = 300.0
        return d

    d0 = case([])
    gen = (d0["existing_kwp"].values[:, None] * d0["yield_kw_per_kwp"].values).sum(axis=0)
    grid = d0["load_kw"].values[0, 0] - gen
    daylight = d0["certificate_hourly_share"].values[0] > 0
    return case([{"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": 0.9 * float(grid[daylight].sum()) / 1000}])


def test_curtailment_check_prices_the_matching_rows():
    """Curtailing PV raises the grid import that certificates can match. The plain reduction (no curtailment
    columns) is feasible but dear; only the duals of the pooled matching rows show that curtailing would pay."""
    d = _curtail_for_certificates()
    plain = build_model(d, curtail=np.zeros((1, 1), dtype=bool))
    sol_p, res_p = _solve(plain)
    annual, match = res_p.rows_of_component["annual_rows"][0], res_p.rows_of_component["match_rows"][0]
    none = np.zeros((1, 1), dtype=bool)
    assert curtailment_violations(plain, res_p.row_dual, annual, none, match).all()
    assert not curtailment_violations(plain, res_p.row_dual, annual, none, None).any()  # blind without them
    pm, sol, res = solve_plan(d, IPM)
    sol_f, _ = _solve(build_model(d, reduce=False))
    assert pm.curtailment_rounds == 2
    assert sol.objective == pytest.approx(sol_f.objective, rel=OBJ_RTOL)
    assert sol.objective < 0.9 * sol_p.objective
    assert float(plan_dataset(pm, sol, res, IPM)["curtailed_mwh"].sum()) > 0
