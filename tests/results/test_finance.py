"""Finance: hand-computed LCOE, NPV, IRR, payback, break-even; attribution and consistency on a solved plan."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pvopt.results import finance as F

from _finance_plan import solved_small_plan

MONEY_TOL = 1e-6  # currency, hand cases
RATE_TOL = 1e-6  # 1/yr
REL_TOL = 1e-6  # relative, consistency on solved plans
ENERGY_RTOL = 1e-5  # relative; hourly dispatch is float32 in the plan


# ---------------------------------------------------------------- hand cases
def test_npv_hand():
    # -100 + 60/1.1 + 60/1.21 = -100 + 54.545454.. + 49.586776.. = 4.132231..
    assert F.npv(0.1, [-100, 60, 60]) == pytest.approx(4.1322314, abs=MONEY_TOL)
    assert F.npv(0.0, [-100, 60, 60]) == pytest.approx(20.0, abs=MONEY_TOL)


def test_irr_hand():
    # 100 x^2 - 60 x - 60 = 0, x = 1 + r -> x = (60 + sqrt(27600)) / 200 = 1.1306624..
    expected = (60 + math.sqrt(60**2 + 4 * 100 * 60)) / 200 - 1
    assert expected == pytest.approx(0.1307, abs=5e-5)
    assert F.irr([-100, 60, 60]) == pytest.approx(expected, abs=RATE_TOL)
    assert F.npv(F.irr([-100, 60, 60]), [-100, 60, 60]) == pytest.approx(0.0, abs=MONEY_TOL)


def test_irr_none_when_no_sign_change():
    assert math.isnan(F.irr([-100, -10, -10]))
    assert math.isnan(F.irr([100, 10]))


def test_lcoe_hand():
    # costs (1000 + 10) + 10/1.1 = 1019.0909; energy 100 + 100/1.1 = 190.9091 -> 5.338095
    assert F.lcoe_per_kwh([1000, 0], [10, 10], [100, 100], 0.1) == pytest.approx(1019.090909 / 190.909091, rel=REL_TOL)
    # undiscounted, constant: (capex + n*om) / (n*gen)
    assert F.lcoe_per_kwh([900, 0, 0], [10, 10, 10], [100, 100, 100], 0.0) == pytest.approx(930 / 300, rel=REL_TOL)
    # salvage at the end lowers it: (930 - 30) / 300
    assert F.lcoe_per_kwh([900, 0, 0], [10, 10, 10], [100, 100, 100], 0.0, salvage=30) == pytest.approx(3.0, rel=REL_TOL)


def test_payback_hand():
    assert F.simple_payback_years([100, 0, 0, 0, 0], [30] * 5) == pytest.approx(10 / 3, abs=1e-9)
    assert F.simple_payback_years([100, 0, 0], [50, 50, 50]) == pytest.approx(2.0, abs=1e-9)
    # second capex in year 1: 100 + 50 covered by 50/yr after 3 years
    assert F.simple_payback_years([100, 50, 0, 0, 0], [50] * 5) == pytest.approx(3.0, abs=1e-9)
    assert math.isnan(F.simple_payback_years([100, 0], [10, 10]))


def test_break_even_and_certificate_cost_hand():
    assert F.break_even_certificate_price_per_mwh(0.35, 0.30) == pytest.approx(50.0, abs=MONEY_TOL)
    # only half of the generation displaces grid MWh: twice the net cost per displaced MWh
    assert F.break_even_certificate_price_per_mwh(0.35, 0.30, onsite_share=0.5) == pytest.approx(100.0, abs=MONEY_TOL)
    # PV cheaper than its value: negative break-even (wins even against free certificates)
    assert F.break_even_certificate_price_per_mwh(0.30, 0.45) == pytest.approx(-150.0, abs=MONEY_TOL)
    assert F.certificate_cost_per_tco2e(5.0, 0.5) == pytest.approx(10.0, abs=MONEY_TOL)


# ---------------------------------------------------------------- solved plan
@pytest.fixture(scope="module")
def plan():
    return solved_small_plan()


@pytest.fixture(scope="module")
def arrays(plan):
    return F.finance_arrays(plan)


def test_attribution_conserves_site_onsite_and_value(plan):
    flows = [f for f in F.array_flows(plan) if f.status == "built"]
    years = plan["year"].values.astype(int)
    assert float(plan["existing_kwp"].sum()) == 0.0  # all PV is new here, so arrays must add up to the site
    for i, s in enumerate(str(x) for x in plan["site"].values):
        fs = [f for f in flows if f.site == s]
        for j, y in enumerate(years):
            on = sum(float(f.onsite_kwh[f.years == y].sum()) for f in fs)
            val = sum(float(f.value[f.years == y].sum()) for f in fs)
            gen = sum(float(f.generation_kwh[f.years == y].sum()) for f in fs)
            on_site = float((plan["pv_onsite_kw"].values[i, j].astype(float)).sum())
            val_site = float((plan["pv_onsite_kw"].values[i, j].astype(float) * plan["import_price_per_kwh"].values[i, j]).sum()
                             + (plan["export_kw"].values[i, j].astype(float) * plan["export_price_per_kwh"].values[i, j]).sum())
            assert on == pytest.approx(on_site, rel=ENERGY_RTOL)
            assert val == pytest.approx(val_site, rel=ENERGY_RTOL)
            assert gen == pytest.approx(float(plan["pv_generated_mwh"].values[i, j]) * 1000, rel=ENERGY_RTOL)


def test_array_metrics_consistent(plan, arrays):
    cur = F.currency_code(plan)
    r = float(plan.attrs["discount_rate"])
    res = float(plan["residual_ef_t_per_mwh"].values[0, 0])
    assert np.allclose(plan["residual_ef_t_per_mwh"].values, res)  # constant factor in this case
    for f in F.array_flows(plan):
        row = arrays[(arrays.array == f.name) & (arrays.status == f.status)].iloc[0]
        assert row[f"lcoe_{cur}_per_kwh"] == pytest.approx(F.lcoe_per_kwh(f.capex, f.om, f.generation_kwh, r), rel=REL_TOL)
        net = f.value - f.om - f.capex
        assert row[f"npv_{cur}"] == pytest.approx(F.npv(r, net), rel=REL_TOL)
        assert len(f.years) == int(plan.attrs["lifetime_years"])  # one cohort, built in the first year
        # with a constant residual factor, break-even = abatement cost x factor
        assert row[f"break_even_certificate_price_{cur}_per_mwh"] == pytest.approx(row[f"abatement_cost_{cur}_per_tco2e"] * res, rel=REL_TOL)
        # and break-even = (LCOE - value per kWh) x 1000 / onsite share
        be = F.break_even_certificate_price_per_mwh(row[f"lcoe_{cur}_per_kwh"], row[f"value_{cur}_per_kwh"],
                                                    onsite_share=row["onsite_share_pct"] / 100)
        assert row[f"break_even_certificate_price_{cur}_per_mwh"] == pytest.approx(be, rel=REL_TOL)
        if np.isfinite(row["irr_pct"]):
            assert F.npv(row["irr_pct"] / 100, net) == pytest.approx(0.0, abs=1e-6 * float(f.capex.sum()))


def test_built_beat_certificates_and_unbuilt_do_not(plan, arrays):
    built = arrays[arrays.status == "built"]
    unbuilt = arrays[arrays.status == "not built"]
    assert len(built) == 2 and len(unbuilt) == 2  # rooftops built, 10x-priced carports left
    assert built["pv_cheaper_than_certificates"].all()
    assert not unbuilt["pv_cheaper_than_certificates"].any()
    cur = F.currency_code(plan)
    assert (unbuilt[f"npv_{cur}"] < 0).all() and (built[f"npv_{cur}"] > 0).all()
    # unbuilt room is the whole array here
    assert unbuilt["kwp"].values == pytest.approx(plan["max_kwp"].values[[1, 3]], rel=REL_TOL)


def test_sites_and_portfolio_aggregate(plan, arrays):
    cur = F.currency_code(plan)
    fs = F.finance_sites(plan)
    built = arrays[arrays.status == "built"]
    assert list(fs.site) == ["s0", "s1", "ALL"]
    allr = fs[fs.site == "ALL"].iloc[0]
    assert allr[f"capex_{cur}"] == pytest.approx(float(plan["capex_cost"].sum()), rel=REL_TOL)
    assert allr[f"npv_{cur}"] == pytest.approx(float(built[f"npv_{cur}"].sum()), rel=REL_TOL)
    assert allr["kwp"] == pytest.approx(float(plan["build_kwp"].sum()), rel=REL_TOL)


def test_macc_sorted_with_all_options(plan, arrays):
    cur = F.currency_code(plan)
    m = F.macc_table(plan, arrays)
    assert (np.diff(m[f"cost_{cur}_per_tco2e"].values) >= 0).all()
    assert set(m["type"]) == {"pv", "certificate", "offset"}
    gec = m[m.option == "certificates GEC"].iloc[0]
    price = plan["certificate_price_per_mwh"].sel(certificate="GEC").values[plan["certificate_available"].sel(certificate="GEC").values.astype(bool)].mean()
    assert gec[f"cost_{cur}_per_tco2e"] == pytest.approx(price / 0.58, rel=REL_TOL)
    assert m[m.type == "offset"][f"cost_{cur}_per_tco2e"].iloc[0] == pytest.approx(70.0, rel=REL_TOL)
