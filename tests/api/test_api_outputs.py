"""Decision outputs of the notebook API: business as usual, savings, headline, build list, and pvopt.diff."""

from __future__ import annotations

import numpy as np
import pytest

import pvopt
from conftest import mini_portfolio

SUM_RTOL = 1e-9
"""Relative tolerance of figures recomputed from the same float64 values."""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The mini portfolio planned twice: as given, and with GEC at 50 CNY/MWh and a discount rate of 9 %."""
    pf = pvopt.load_portfolio(mini_portfolio(tmp_path_factory.mktemp("mini") / "p"))
    base = pvopt.plan(pf, hourly=True)
    other = pvopt.plan(pvopt.with_settings_change(pf, certificates__GEC__price_per_mwh=50.0, planning__discount_rate=0.09),
                       yields=base.yields, hourly=False)
    return base, other


def test_bau_tables_and_headline(results):
    base, _ = results
    p = base.dataset
    t = base.bau()
    np.testing.assert_allclose(t["cost_saving_cny"].to_numpy(), p["cost_saving"].values, rtol=SUM_RTOL)
    assert base.savings()["saving_cny"].sum() == pytest.approx(float(p["npc_saving"]), rel=1e-8)
    assert base.savings(by="category")["saving_cny"].sum() == pytest.approx(float(p["npc_saving"]), rel=1e-8)
    h = base.headline()
    assert h["npc_cny"] == pytest.approx(base.npc, rel=SUM_RTOL)
    assert h["bau_npc_cny"] - h["npc_cny"] == pytest.approx(h["npc_saving_cny"], rel=SUM_RTOL)
    assert h["bau_milestones_met"] == "0/1"  # pv-min is not met without building
    assert "vs business as usual" in repr(base) and f"{h['npc_saving_cny']:,.0f}" in repr(base)


def test_build_list_matches_the_plan(results):
    base, _ = results
    bl = base.build_list()
    want = base.dataset["build_kwp"].sum("array").to_series()
    np.testing.assert_allclose(bl.groupby("year")["new_kwp"].sum().to_numpy(), want[want > 0].to_numpy(), rtol=SUM_RTOL)
    assert set(bl["site"]) == {"alpha"} and set(bl["kind"]) == {"rooftop"}


def test_diff_in_the_api(results):
    base, other = results
    assert pvopt.diff(base, base).is_zero()
    d = pvopt.diff(base, other, names=("base", "gec50-r9"))
    assert d.summary.loc["npc", "diff"] == pytest.approx(other.npc - base.npc, rel=SUM_RTOL)
    assert d.summary.loc["discount rate", "diff"] == pytest.approx(0.03, rel=1e-9)
    assert any("discount rates differ" in w for w in d.warnings)
    cert = d.summary.loc["npv certificates"]
    assert cert["b"] >= cert["a"]  # certificates at 50 instead of 3 CNY/MWh cost more (if any are bought)
