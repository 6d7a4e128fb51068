"""The build list (:func:`pvopt.results.buildlist.build_list`): what, where, when and why (from the duals)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pvopt.lp.outcome import solve
from pvopt.results.buildlist import build_list
from pvopt.studies.sweep import apply_scenario
from pvopt.testing import small_inputs

KWP_RTOL = 1e-9
"""Relative tolerance of kWp sums (the same float64 values summed in another order)."""
CNY_RTOL = 1e-9
"""Relative tolerance of capex recomputed from kWp and price."""
DEAR = {"capex_scale": 10}
"""PV at ten times its capex: it no longer pays for itself in the small case."""


def _plan(milestones, scenario=None, **kw) -> xr.Dataset:
    d = small_inputs(milestones=milestones, **kw)
    if scenario:
        d = apply_scenario(d, scenario)
    return solve(d).plan


@pytest.fixture(scope="module")
def required() -> xr.Dataset:
    """Dear PV that a capacity milestone of 1,500 kWp in 2025 forces in."""
    return _plan([{"name": "pv-min", "type": "min_portfolio_kwp", "year": 2025, "kwp": 1500.0}], DEAR, certificates=False, offsets=False)


@pytest.fixture(scope="module")
def rate_limited() -> xr.Dataset:
    """Economic PV built at most 800 kWp a year."""
    return _plan([{"name": "rate", "type": "build_rate", "kwp_per_year": 800.0}], n_years=4)


def _check_sums(plan: xr.Dataset, bl) -> None:
    per_year = bl.groupby("year")["new_kwp"].sum()
    want = plan["build_kwp"].sum("array").to_series()
    want = want[want > 0]
    np.testing.assert_allclose(per_year.reindex(want.index).values, want.values, rtol=KWP_RTOL)
    capex = plan["capex_per_kwp"]
    for _, r in bl.iterrows():
        assert r["capex_cny"] == pytest.approx(r["new_kwp"] * float(capex.sel(kind=r["kind"], year=r["year"])), rel=CNY_RTOL)
        assert r["site"] == str(plan["array_site"].sel(array=r["array"]).values)
        assert 0.0 <= r["onsite_share_pct"] <= 100.0 + 1e-9


def test_required_builds_name_their_milestone(required):
    bl = build_list(required)
    _check_sums(required, bl)
    assert bl["new_kwp"].sum() == pytest.approx(1500.0, rel=1e-6)  # exactly what the milestone asks (no existing PV)
    assert (bl["year"] == 2025).all()
    assert (bl["driver"] == "pv-min").all()
    assert bl["why"].str.startswith("required by pv-min").all()
    # its own value is below its cost; the milestone's dual pays the gap (within the average-vs-marginal value difference)
    assert (bl["own_value_cny_per_kwp"] < bl["cost_cny_per_kwp"]).all()
    dual = float(required["milestone_marginal_cost"].sel(milestone="pv-min"))
    np.testing.assert_allclose(bl["milestone_value_cny_per_kwp"], dual, rtol=1e-6)
    part = bl[bl["partial"] != ""]
    assert len(part) == 1  # one array filled, the next one only as far as the milestone needs
    assert "only as much as pv-min needs" in part["partial"].iloc[0]
    r = part.iloc[0]
    assert r["partial"].startswith(f"partial: {r['new_kwp']:,.0f} of {r['room_kwp']:,.0f} kWp")


def test_rate_limited_builds_are_cheapest_and_say_what_limits_them(rate_limited):
    bl = build_list(rate_limited)
    _check_sums(rate_limited, bl)
    assert (bl["driver"] == "").all()
    assert bl["why"].str.startswith("cheapest: pays for itself").all()
    assert (bl["own_value_cny_per_kwp"] > bl["cost_cny_per_kwp"]).all()
    assert (bl.groupby("year")["new_kwp"].sum() <= 800.0 * (1 + 1e-9)).all()
    first = bl.iloc[0]
    assert first["year"] == 2024 and first["new_kwp"] == pytest.approx(800.0, rel=1e-9)
    assert "limited by rate (binding in 2024)" in first["partial"]
    later = rate_limited["build_kwp"].sel(array=first["array"]).to_series()
    nxt = later[(later.index > 2024) & (later > 0)]
    assert f"then +{nxt.iloc[0]:,.0f} kWp in {nxt.index[0]}" in first["partial"]


def test_onsite_milestone_pays_through_its_duals():
    plan = _plan([{"name": "onsite", "type": "min_pv_onsite_mwh", "year": 2025, "mwh": 1500.0}], DEAR, certificates=False, offsets=False)
    bl = build_list(plan)
    _check_sums(plan, bl)
    assert (bl["driver"] == "onsite").all()
    assert (bl["milestone_value_cny_per_kwp"] > 0).all()


def test_without_hourly_data_and_without_builds():
    plan = solve(small_inputs(n_years=2), hourly=False).plan
    bl = build_list(plan)
    _check_sums(plan, bl)
    assert len(bl) > 0 and bl["why"].str.startswith("cheapest").all()
    none = solve(apply_scenario(small_inputs(n_years=2, certificates=False), {"capex_scale": 100}), hourly=False).plan
    empty = build_list(none)
    assert len(empty) == 0 and "why" in empty.columns
