"""The notebook API (pvopt.api): portfolio edits, result tables with units, text summary, the constraint hook."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import pvopt
from pvopt.errors import PortfolioError

REPO = Path(__file__).resolve().parents[2]
LEAD = REPO / "sites" / "lead"
NPC_RTOL = 1e-6  #: relative slack on NPC comparisons between optimal plans
KWP_ATOL = 1e-3  #: slack on capacities read back from the solver [kWp]
KW_ATOL = 1e-3  #: slack on hourly powers [kW]
SUZHOU_RATE_KWP = 600.0  # Suzhou has 2,259 kWp of new roof to build by 2027 (all-rooftops-2027): 4 x 600 >= 2,259
UNIT_SUFFIX = re.compile(r"_(kwp|mwh|tco2e|cny|pct|kw|kwh_per_kwp|cny_npv_per_unit|cny_npv)$")
CARPORT = {"name": "car-park-east", "kind": "carport", "area_m2": 3000, "tilt_deg": 5, "azimuth_deg": 180}


@pytest.fixture(scope="module")
def pf():
    return pvopt.load_portfolio(LEAD)


@pytest.fixture(scope="module")
def yields(pf):
    return pvopt.simulate(pf)


@pytest.fixture(scope="module")
def base(pf, yields):
    return pvopt.plan(pf, yields=yields)


# ---- edits -------------------------------------------------------------------
def test_with_array_returns_a_new_validated_portfolio(pf):
    pf2 = pvopt.with_array(pf, "suzhou", CARPORT)
    assert [a.name for a in pf2.site("suzhou").arrays][-1] == "car-park-east"
    assert pf2.site("suzhou").arrays[-1].max_kwp_value == pytest.approx(3000 * 0.18)
    assert "car-park-east" not in [a.name for a in pf.site("suzhou").arrays]  # the original is unchanged
    pf3 = pvopt.without_array(pf2, "suzhou", "car-park-east")
    assert [a.name for a in pf3.site("suzhou").arrays] == [a.name for a in pf.site("suzhou").arrays]


def test_bad_edit_raises_portfolio_error_naming_the_field(pf):
    with pytest.raises(PortfolioError) as e:
        pvopt.with_site_change(pf, "suzhou", **{"arrays__assembly-roof__tilt_deg": 120})
    fields = [i.field for i in e.value.issues]
    assert fields == ["arrays[1].tilt_deg"], fields
    assert "suzhou" in e.value.issues[0].file
    with pytest.raises(PortfolioError) as e2:
        pvopt.with_settings_change(pf, planning__discount_rate=-0.1)
    assert [i.field for i in e2.value.issues] == ["planning.discount_rate"]
    with pytest.raises(PortfolioError) as e3:
        pvopt.with_settings_change(pf, plannin__discount_rate=0.1)  # misspelt section
    assert e3.value.issues[0].field == "plannin"
    with pytest.raises(PortfolioError) as e4:
        pvopt.with_site_change(pf, "suzhou", laod__annual_mwh=1.0)
    assert e4.value.issues[0].field == "laod"


def test_bad_array_and_unknown_site_are_refused(pf):
    with pytest.raises(PortfolioError) as e:
        pvopt.with_array(pf, "suzhou", {**CARPORT, "name": "warehouse-roof"})
    assert "used twice" in str(e.value)
    with pytest.raises(PortfolioError) as e2:
        pvopt.with_array(pf, "suzhou", {**CARPORT, "azimuth_deg": 400})
    assert e2.value.issues[0].field.endswith("azimuth_deg")
    with pytest.raises(PortfolioError):
        pvopt.with_array(pf, "atlantis", CARPORT)


def test_settings_change_by_name_in_a_list(pf):
    pf2 = pvopt.with_settings_change(pf, certificates__GEC__price_per_mwh=50.0, pv__lifetime_years=30)
    gec = [c for c in pf2.settings.certificates if c.name == "GEC"][0]
    assert gec.price_per_mwh == 50.0
    assert pf2.settings.pv.lifetime_years == 30
    assert [c for c in pf.settings.certificates if c.name == "GEC"][0].price_per_mwh != 50.0


def test_import_pvopt_is_light():
    code = "import sys, pvopt; print(sorted(m for m in ('pyomo', 'pvlib', 'highspy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


# ---- results -------------------------------------------------------------------
def test_yield_result_tables(yields):
    t = yields.table()
    assert {"max_kwp", "annual_kwh_per_kwp", "capacity_factor_pct"} <= set(t.columns)
    monthly = yields.monthly_kwh_per_kwp()
    assert monthly.shape == (12, len(t))
    assert monthly.sum().values == pytest.approx(t["annual_kwh_per_kwp"].values, rel=1e-9)
    assert "kWh/kWp" in repr(yields)


def test_plan_tables_carry_units_in_column_names(base):
    years = base.years
    for name, df in {"capacity": base.capacity(), "capacity_site": base.capacity("site"), "energy": base.energy(),
                     "emissions": base.emissions(), "costs": base.costs().drop(columns=["discount_factor"])}.items():
        assert list(df.index.get_level_values("year").unique()) == years, name
        bad = [c for c in df.columns if not UNIT_SUFFIX.search(c)]
        assert not bad, f"{name}: columns without a unit suffix: {bad}"
    ms = base.milestones()
    assert ms["met"].all()
    assert "marginal_cost_cny_npv_per_unit" in ms.columns
    # the costs table adds up to the NPC the LP reports (salvage deducted)
    pv = base.costs()["present_value_cny"].sum() - float(base.dataset["salvage_value"])
    assert pv == pytest.approx(base.npc, rel=NPC_RTOL)
    assert base.capacity()["total_kwp"].iloc[-1] == pytest.approx(base.arrays()[f"installed_{years[-1]}_kwp"].sum())


def test_repr_mentions_npc_and_milestones(base):
    text = repr(base)
    assert "NPC" in text and f"{base.npc:,.0f}" in text
    assert "milestones met" in text
    assert "NPC" in base._repr_html_()


def test_dispatch_week(base):
    d = base.dispatch("suzhou", "2030-06-03", days=2)
    assert len(d) == 48
    assert (d["pv_onsite_kw"] <= d["load_kw"] + KW_ATOL).all()
    assert (d["grid_import_kw"] + d["pv_onsite_kw"] - d["load_kw"]).abs().max() < KW_ATOL
    with pytest.raises(ValueError):
        base.dispatch("suzhou", "2050-01-01")


def test_extra_constraints_hook_changes_the_plan(pf, yields, base):
    import pyomo.environ as pyo

    def rate(model, data):
        suzhou = [a for a in model.A if data["array_site"].values[a] == "suzhou"]
        model.suzhou_rate = pyo.Constraint(model.Y, rule=lambda m, y: sum(m.build[a, y] for a in suzhou) <= SUZHOU_RATE_KWP)

    limited = pvopt.plan(pf, yields=yields, extra_constraints=rate, hourly=False)
    ds = limited.dataset
    built = ds["build_kwp"].where(ds["array_site"] == "suzhou", 0.0).sum("array")
    base_built = base.dataset["build_kwp"].where(base.dataset["array_site"] == "suzhou", 0.0).sum("array")
    assert float(base_built.max()) > SUZHOU_RATE_KWP + KWP_ATOL  # the hook binds
    assert float(built.max()) <= SUZHOU_RATE_KWP + KWP_ATOL
    assert limited.npc >= base.npc * (1 - NPC_RTOL)
    table = pvopt.compare_plans({"base": base, "limited": limited})
    assert table.loc["base", "npc_change_cny"] == 0.0
    assert table.loc["limited", "npc_change_cny"] == pytest.approx(limited.npc - base.npc)


def test_plan_resimulates_yield_when_an_array_is_added(pf, yields, base):
    pf2 = pvopt.with_array(pf, "suzhou", CARPORT)
    r = pvopt.plan(pf2, yields=yields, hourly=False, milestone_costs="none")
    assert "suzhou/car-park-east" in [str(a) for a in r.yields.dataset["array"].values]
    assert r.npc <= base.npc * (1 + NPC_RTOL)  # one more option cannot cost more


def test_scenario_keyword(pf, yields, base):
    r = pvopt.plan(pf, yields=yields, scenario={"capex_scale": 0.8}, hourly=False, milestone_costs="none")
    assert r.scenario == {"capex_scale": 0.8}
    assert "capex_scale=0.8" in repr(r)
    assert r.npc < base.npc
