"""Business as usual beside every plan (:mod:`pvopt.results.bau`, ``SolveOptions(business_as_usual=True)``).

BAU builds and buys nothing and enforces no milestone; the plan can always choose BAU when
no milestone binds, so its NPC is never above BAU's; the savings split adds up to the NPC
saving; the payback year is where the cumulative cash flow turns and stays non-negative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pvopt.costs import COST_CATEGORIES, COST_GROUPS, COST_NAMES, TOTAL_COST
from pvopt.datasets import PLAN_OUTPUTS
from pvopt.lp.options import SolveOptions
from pvopt.lp.outcome import solve
from pvopt.pipeline import summary_frame, with_business_as_usual, write_plan_atomic
from pvopt.results import bau as B
from pvopt.testing import small_inputs

NPC_RTOL = 1e-6
"""Relative tolerance of NPC comparisons (LP optimality tolerance)."""
SUM_RTOL = 1e-9
"""Relative tolerance of sums of stored float64 values against their total."""
KWP_ATOL = 1e-6
"""Absolute tolerance [kWp] of 'nothing built'."""

MILESTONES = [
    {"name": "pv-min", "type": "min_portfolio_kwp", "year": 2025, "kwp": 1500.0},
    {"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": 300.0},
    {"name": "neutral", "type": "neutrality", "year": 2026},
]


@pytest.fixture(scope="module")
def free_case() -> xr.Dataset:
    """No milestones, 100 kWp existing per array, measures and offsets available."""
    d = small_inputs(measures=True, existing_kwp=100.0)
    return with_business_as_usual(d, solve(d, hourly=False).plan)


@pytest.fixture(scope="module")
def milestone_case() -> tuple[xr.Dataset, xr.Dataset]:
    d = small_inputs(milestones=MILESTONES, existing_kwp=50.0)
    return d, with_business_as_usual(d, solve(d, hourly=False).plan)


def _pv(plan: xr.Dataset, x: xr.DataArray) -> float:
    return float((x.sum("site") * plan["discount_factor"]).sum())


def test_bau_builds_and_buys_nothing_and_has_no_milestone_rows():
    d = small_inputs(milestones=MILESTONES, measures=True, existing_kwp=100.0, battery_sites=(0,), n_years=2)
    out = solve(d, SolveOptions(business_as_usual=True), hourly=False)
    p = out.plan
    assert float(p["build_kwp"].sum()) == pytest.approx(0.0, abs=KWP_ATOL)
    np.testing.assert_allclose(p["installed_kwp"].values[:, 0], d["existing_kwp"].values, atol=KWP_ATOL)
    for k in ("certificates_mwh", "offsets_tco2e", "capex_cost", "measure_cost", "battery_cost", "certificate_cost", "offset_cost"):
        assert float(np.abs(p[k]).sum()) == pytest.approx(0.0, abs=1e-6), k
    assert out.milestones == [] and len(out.model.milestones) == 0
    # Scope 1 stays the input (no measures), load the input load
    np.testing.assert_allclose(p["scope1_after_measures_tco2e"].values, d["scope1_tco2e"].values, rtol=SUM_RTOL)


def test_bau_npc_is_not_below_a_milestone_free_plan(free_case):
    p = free_case
    assert float(p["bau_npc"]) >= float(p["npc"]) * (1 - NPC_RTOL)
    assert float(p["npc_saving"]) == pytest.approx(float(p["bau_npc"]) - float(p["npc"]), rel=SUM_RTOL)


def test_saving_per_category_is_bau_minus_plan_and_adds_up(free_case):
    p = free_case
    by_cat = p["npc_saving_by_category"]
    for c in COST_CATEGORIES:
        want = c.sign * (_pv(p, p["bau_cost_by_category"].sel(cost=c.name, drop=True)) - _pv(p, p[c.name]))
        assert float(by_cat.sel(cost=c.name)) == pytest.approx(want, rel=SUM_RTOL, abs=1e-6)
    salvage = float(p["salvage_value"]) - float(p["bau_salvage_value"])
    assert float(by_cat.sum()) + salvage == pytest.approx(float(p["npc_saving"]), rel=1e-8)
    assert float(p["npc_saving_by_group"].sum()) == pytest.approx(float(p["npc_saving"]), rel=1e-8)
    assert list(p["cost_group"].values) == list(COST_GROUPS) and list(p["cost"].values) == list(COST_NAMES)
    split = B.saving_split(p, by="category")
    assert split["saving_cny"].sum() == pytest.approx(float(p["npc_saving"]), rel=1e-8)
    # the BAU total per site and year is the signed sum of its categories
    bau_total = sum(c.sign * p["bau_cost_by_category"].sel(cost=c.name, drop=True) for c in COST_CATEGORIES)
    np.testing.assert_allclose(bau_total.values, p[f"bau_{TOTAL_COST}"].values, rtol=SUM_RTOL, atol=1e-6)
    # BAU's NPC is its discounted total less its salvage (none: nothing built)
    assert _pv(p, p[f"bau_{TOTAL_COST}"]) - float(p["bau_salvage_value"]) == pytest.approx(float(p["bau_npc"]), rel=NPC_RTOL)
    assert float(p["bau_salvage_value"]) == pytest.approx(0.0, abs=1e-6)


def test_cash_flow_payback_and_bill(free_case):
    p = free_case
    flow = (p[f"bau_{TOTAL_COST}"] - p[TOTAL_COST]).sum("site").values
    np.testing.assert_allclose(p["cost_saving"].values, flow, rtol=SUM_RTOL)
    np.testing.assert_allclose(p["cumulative_saving"].values, np.cumsum(flow), rtol=SUM_RTOL)
    np.testing.assert_allclose(p["cumulative_saving_discounted"].values, np.cumsum(flow * p["discount_factor"].values), rtol=SUM_RTOL)
    years = p["year"].values
    for var, cum in (("payback_year", "cumulative_saving"), ("payback_year_discounted", "cumulative_saving_discounted")):
        y, c = float(p[var]), p[cum].values
        if np.isnan(y):
            assert c[-1] < 0
            continue
        j = list(years).index(int(y))
        assert (c[j:] >= -1e-6 * np.abs(flow).max()).all()
        assert j == 0 or c[j - 1] < 0
    bill = [c for c in COST_CATEGORIES if c.group == "bill"]
    want = sum(c.sign * (p["bau_cost_by_category"].sel(cost=c.name, drop=True) - p[c.name]).sum("site") for c in bill)
    np.testing.assert_allclose(p["bill_saving"].values, want.values, rtol=SUM_RTOL)
    assert float(p["year1_bill_saving"]) == pytest.approx(float(want.values[0]), rel=SUM_RTOL)
    assert float(p["year1_bill_saving"]) > 0  # the plan's PV lowers the bill from the first year


@pytest.mark.parametrize("cum, want", [([-10.0, -2.0, 5.0], 2026.0), ([1.0, 2.0, 3.0], 2024.0), ([-1.0, 2.0, -0.5], np.nan),
                                       ([-5.0, 1.0, -1.0, 2.0], 2027.0)])
def test_payback_year_examples(cum, want):
    years = np.arange(2024, 2024 + len(cum))
    got = B.payback_year(years, np.array(cum), scale=1.0)
    assert (np.isnan(got) and np.isnan(want)) or got == want


def test_emissions_cut_and_bau_milestones(milestone_case):
    d, p = milestone_case
    cut = (p["bau_net_tco2e"] - p["net_tco2e"]).sum("site")
    np.testing.assert_allclose(p["emissions_cut_net_tco2e"].values, cut.values, rtol=SUM_RTOL)
    assert float(p["emissions_cut_net_tco2e"][-1]) > 0  # neutral from 2026: the plan nets to 0, BAU does not
    ach = p["bau_milestone_achieved"].to_series()
    assert ach["pv-min"] == pytest.approx(float(d["existing_kwp"].sum()), rel=SUM_RTOL)  # BAU keeps the existing PV only
    assert ach["certs"] == pytest.approx(0.0, abs=1e-9)
    met = p["bau_milestone_met"].to_series()
    assert not met["pv-min"] and not met["certs"] and not met["neutral"]
    assert bool(p["milestone_met"].all())  # while the plan meets them all
    assert B.headline(p)["bau_milestones_met"] == "0/3"


def test_bau_leaves_the_plan_unchanged(milestone_case):
    d, p = milestone_case
    plain = solve(d, hourly=False).plan
    for k in plain.data_vars:
        if plain[k].dtype.kind == "f":
            np.testing.assert_allclose(p[k].values, plain[k].values, rtol=1e-9, atol=1e-9, err_msg=k)


def test_bau_variables_are_declared_with_units(free_case):
    declared = {v.name: v for v in PLAN_OUTPUTS}
    new = [k for k in free_case.data_vars if k.startswith("bau_") or "saving" in k or k.startswith("payback") or k.startswith("emissions_cut")]
    assert len(new) >= 20
    for k in new:
        assert k in declared, k
        assert tuple(free_case[k].dims) == declared[k].dims, k
        assert free_case[k].attrs.get("description"), k
    assert free_case["npc_saving"].attrs["units"] == "CNY"
    assert free_case["bau_net_tco2e"].attrs["units"] == "tCO2e"


def test_summary_csv_has_bau_columns(free_case, tmp_path):
    write_plan_atomic(free_case, tmp_path, force=False)
    df = pd.read_csv(tmp_path / "summary.csv")
    np.testing.assert_allclose(df["cost_saving"], df["bau_total_cost"] - df[TOTAL_COST], rtol=SUM_RTOL, atol=1e-6)
    allr = df[df.site == "ALL"].set_index("year")
    np.testing.assert_allclose(allr["cumulative_saving"].values, free_case["cumulative_saving"].values, rtol=SUM_RTOL)
    assert df[df.site != "ALL"]["cumulative_saving"].isna().all()
    # a plan without BAU keeps the old columns
    plain = summary_frame(solve(small_inputs(n_years=2), hourly=False).plan)
    assert "bau_total_cost" not in plain.columns


def test_tables(free_case):
    t = B.bau_years_table(free_case)
    assert list(t.index) == [int(y) for y in free_case["year"].values]
    np.testing.assert_allclose(t["cost_saving_cny"], t["bau_cost_cny"] - t["plan_cost_cny"], rtol=SUM_RTOL, atol=1e-6)
    h = B.headline(free_case)
    assert h["npc_saving_cny"] == pytest.approx(h["bau_npc_cny"] - h["npc_cny"], rel=SUM_RTOL)
    with pytest.raises(ValueError, match="business-as-usual"):
        B.headline(solve(small_inputs(n_years=2), hourly=False).plan)


def test_every_cost_category_names_a_group():
    from pvopt.costs import group_of

    assert {c.group for c in COST_CATEGORIES} <= set(COST_GROUPS)
    assert group_of("energy_cost") == "bill" and group_of("capex_cost") == "capital"
    with pytest.raises(KeyError):
        group_of("nope")
