"""Emissions accounting: dual Scope 2 identities on a solved plan, baseline change, checks."""

from __future__ import annotations

import numpy as np
import pytest

from pvopt.results import accounting as A

from _finance_plan import NEUTRAL_YEAR, solved_small_plan

T_TOL = 1e-6  # tCO2e, on recomputed annual figures
MWH_TOL = 1e-3  # MWh
HOURLY_RTOL = 1e-5  # hourly data are float32


@pytest.fixture(scope="module")
def plan():
    return solved_small_plan(residual_equals_grid=True)


def test_location_minus_market_equals_certificates_times_factor(plan):
    em = A.emissions_dataset(plan)
    assert float(plan["certificates_mwh"].sum()) > 0  # the identity must be exercised
    diff = em["scope2_location_tco2e"] - em["scope2_market_tco2e"]
    expected = plan["certificates_mwh"] * plan["grid_ef_t_per_mwh"]
    np.testing.assert_allclose(diff.values, expected.values, atol=T_TOL)


def test_energy_balance_and_onsite_within_generation(plan):
    load = plan["load_kw"].values
    on = plan["pv_onsite_kw"].values.astype(float)
    grid = plan["grid_import_kw"].values.astype(float)
    gen = plan["pv_generated_kw"].values.astype(float)
    np.testing.assert_allclose(on + grid, load, rtol=HOURLY_RTOL, atol=1e-3)
    assert (on <= gen * (1 + HOURLY_RTOL) + 1e-3).all()
    np.testing.assert_allclose((plan["pv_onsite_mwh"] + plan["grid_import_mwh"]).values, plan["load_mwh"].values, atol=MWH_TOL)


def test_net_is_s1_plus_market_minus_offsets(plan):
    em = A.emissions_dataset(plan)
    np.testing.assert_allclose(em["net_tco2e"].values,
                               (plan["scope1_after_measures_tco2e"] + em["scope2_market_tco2e"] - plan["offsets_tco2e"]).values, atol=T_TOL)
    np.testing.assert_allclose(em["net_tco2e"].values, plan["net_tco2e"].values, atol=T_TOL)


def test_pv_not_double_counted(plan):
    # location-based Scope 2 is exactly (load - onsite PV) x factor: PV lowers the grid MWh once, nothing else
    em = A.emissions_dataset(plan)
    expected = (plan["load_mwh"] - plan["pv_onsite_mwh"]) * plan["grid_ef_t_per_mwh"]
    np.testing.assert_allclose(em["scope2_location_tco2e"].values, expected.values, atol=1e-3)


def test_identities_all_ok_and_can_fail(plan):
    ident = A.identities(plan)
    assert ident["ok"].all(), ident[~ident.ok]
    bad = plan.copy()
    bad["scope2_market_tco2e"] = bad["scope2_market_tco2e"] + 5.0
    ident_bad = A.identities(bad)
    assert not ident_bad.set_index("identity").loc["S2 market recomputed = plan", "ok"]


def test_table_portfolio_rows_and_baseline_change(plan):
    df = A.emissions_table(plan)
    years = plan["year"].values.astype(int)
    assert len(df) == (plan.sizes["site"] + 1) * len(years)
    allr = df[df.site == A.ALL].set_index("year")
    sites = df[df.site != A.ALL].groupby("year").sum(numeric_only=True)
    np.testing.assert_allclose(allr["net_tco2e"].values, sites["net_tco2e"].values, atol=T_TOL)
    base = float(plan["baseline_scope1_tco2e"].sum() + plan["baseline_scope2_location_tco2e"].sum())
    y0 = years[0]
    expected = (allr.loc[y0, "gross_location_tco2e"] - base) / base * 100
    assert allr.loc[y0, "gross_location_change_vs_baseline_pct"] == pytest.approx(expected, abs=1e-9)


def test_checks_neutrality_and_peak(plan):
    chk = A.checks_table(plan)
    neu = chk[chk.check.str.startswith("neutral")].iloc[0]
    assert neu["from_year"] == NEUTRAL_YEAR
    assert neu["met"]
    net = A.emissions_dataset(plan)["net_tco2e"].sum("site").sel(year=NEUTRAL_YEAR)
    assert neu["value_tco2e"] == pytest.approx(float(net), abs=T_TOL)
    assert chk[chk.check.str.startswith("peak:")]["met"].all()


def test_market_above_location_when_residual_higher():
    p = solved_small_plan(residual_equals_grid=False)  # residual 0.61 > grid 0.58 in small_inputs
    em = A.emissions_dataset(p)
    ident = A.identities(p)
    assert ident["ok"].all()
    no_cert = p["certificates_mwh"].values < 1e-9
    assert (em["scope2_market_tco2e"].values[no_cert] > em["scope2_location_tco2e"].values[no_cert]).all()
