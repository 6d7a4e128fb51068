"""Issue 8 in the LP: measures, batteries, demand charges, import limits, hourly matching.

Each part is checked on small exact cases: the reduced model against the full hourly
model, the hourly physics of the plan, and a case whose answer is known by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

from pvopt.errors import InfeasiblePlanError
from pvopt.lp.model import SolveOptions, Status, build_model, full_hour_sites, solve_model, solve_plan
from pvopt.lp.solution import plan_dataset
from pvopt.testing import small_inputs

OBJ_RTOL = 1e-6
HOURLY_ATOL_KW = 1e-2  #: hourly plan values are stored as float32
ENERGY_RTOL = 1e-6
NEUTRAL = {"name": "neutral", "type": "neutrality", "year": 2024}


def _plan(d, reduce=True):
    pm = build_model(d, reduce=reduce)
    sol, res = solve_model(pm, SolveOptions())
    assert sol.status == Status.OPTIMAL, sol.termination
    return pm, sol, plan_dataset(pm, sol, res, SolveOptions())


def _exact(d):
    _, sol_r, p = _plan(d, reduce=True)
    _, sol_f, _ = _plan(d, reduce=False)
    assert sol_r.objective == pytest.approx(sol_f.objective, rel=OBJ_RTOL)
    assert float(p.npc) == pytest.approx(sol_r.objective, rel=OBJ_RTOL)
    return p


def test_measures_exact_and_effects():
    d = small_inputs(n_sites=1, n_years=2, pv_to_load=2.5, measures=True)
    p = _exact(d)
    frac = p.measure_adopted_fraction
    # the LED measure pays back (capex 0.8 CNY per kWh saved a year vs ~0.6 CNY/kWh tariff): adopted in full
    assert float(frac.sel(measure="s0/led").min()) == pytest.approx(1.0, abs=1e-6)
    # the load falls by the adopted saving and rises by adopted electrification, exactly
    delta = (d.measure_delta_kw * frac).sum(["measure", "hour"]) / 1000
    assert np.allclose(p.load_mwh, p.load_before_measures_mwh + delta.transpose("year").values[None, :], rtol=ENERGY_RTOL)
    # Scope 1 falls by the adopted electrification
    removed = float((frac.sel(measure="s0/e-forklifts") * 200.0).sel(year=2024))
    assert float(p.scope1_after_measures_tco2e.sel(site="s0", year=2024)) == pytest.approx(300.0 - removed, abs=1e-6)


def test_electrification_chosen_for_neutrality_when_offsets_are_dear():
    d = small_inputs(n_sites=1, n_years=1, pv_to_load=1.0, measures=True, milestones=[NEUTRAL])
    d["offset_price_per_tco2e"][:] = 5000.0  # dear offsets: electrify instead
    _, _, p = _plan(d)
    assert float(p.measure_adopted_fraction.sel(measure="s0/e-forklifts").max()) == pytest.approx(1.0, abs=1e-6)
    assert float(p.scope1_after_measures_tco2e.sum()) == pytest.approx(100.0, abs=1e-6)


def test_battery_exact_and_physics():
    d = small_inputs(n_sites=2, n_years=1, pv_to_load=2.5, battery_sites=(0,), battery_capex_per_kwh=300.0)
    assert full_hour_sites(d).tolist() == [True, False]
    p = _exact(d)
    s0 = p.sel(site="s0", year=2024)
    assert float(p.battery_energy_kwh.max()) > 0  # cheap storage under a TOU spread is built
    # hourly balance with the battery: onsite + grid + discharge - charge = load
    lhs = s0.pv_onsite_kw + s0.grid_import_kw + s0.battery_discharge_kw - s0.battery_charge_kw
    assert float(abs(lhs - s0.load_after_measures_kw).max()) <= HOURLY_ATOL_KW
    # state of charge within the energy capacity; charge + discharge within the power capacity
    e, pw = float(p.battery_energy_kwh.sel(year=2024).sum()), float(p.battery_power_kw.sel(year=2024).sum())
    assert float(s0.battery_soc_kwh.max()) <= e + HOURLY_ATOL_KW
    assert float((s0.battery_charge_kw + s0.battery_discharge_kw).max()) <= pw + HOURLY_ATOL_KW
    # losses: over a cyclic year energy in x eta = energy out / eta
    eta = np.sqrt(0.88)
    assert float(s0.battery_charge_kw.sum()) * eta == pytest.approx(float(s0.battery_discharge_kw.sum()) / eta, rel=1e-3)


def test_battery_not_built_under_a_flat_tariff():
    d = small_inputs(n_sites=1, n_years=1, pv_to_load=0.3, battery_sites=(0,), battery_capex_per_kwh=50.0)
    d["import_price_per_kwh"][:] = 0.7  # no spread to earn, no demand charge: storage only loses energy
    _, _, p = _plan(d)
    assert float(p.battery_energy_kwh.max()) <= 1e-6


def _limit_between_night_and_peak(**kw) -> float:
    """An import limit above every night load of the last year and below its peak load: binding, but feasible."""
    d0 = small_inputs(**kw)
    load = d0.load_kw.values[0, -1]
    night = d0.yield_kw_per_kwp.values.sum(axis=0) == 0
    return 0.5 * (float(load[night].max()) + float(load.max()))


GRID_CASES = {
    "demand charge only": dict(demand_charge_per_kw_month=40.0),
    "import limit only": dict(import_limit_kw="binding"),
    "both": dict(demand_charge_per_kw_month=40.0, import_limit_kw="binding"),
    "both, with measures": dict(demand_charge_per_kw_month=40.0, import_limit_kw="binding", measures=True),
    "both, with export": dict(demand_charge_per_kw_month=40.0, import_limit_kw="binding", export=True, export_price=0.3),
    "both, with existing PV and coverage": dict(demand_charge_per_kw_month=40.0, import_limit_kw="binding", existing_kwp=300.0,
                                                milestones=[{"name": "cover", "type": "rooftop_coverage", "year": 2025, "fraction": 0.8}]),
}


@pytest.mark.parametrize("pv_to_load", [0.5, 2.0])
@pytest.mark.parametrize("name", list(GRID_CASES))
def test_demand_charge_and_import_limit_reduced_equals_full(name, pv_to_load):
    base = dict(n_sites=1, n_years=2, pv_to_load=pv_to_load, seed=2)
    kw = dict(GRID_CASES[name])
    if kw.get("import_limit_kw") == "binding":
        kw["import_limit_kw"] = _limit_between_night_and_peak(**base)
    d = small_inputs(**base, **kw)
    assert not full_hour_sites(d).any()  # no battery, no hourly matching: reduced like any site
    p = _exact(d)
    if np.isfinite(float(d.import_limit_kw[0])):
        assert float(p.grid_import_kw.max()) <= float(d.import_limit_kw[0]) + HOURLY_ATOL_KW
    if "peak_import_kw" in p:  # the billed peak is the month's highest import, though most hours have no peak row
        month = d.hour_month.values
        for j, y in enumerate(p.year.values):
            g = p.grid_import_kw.sel(site="s0", year=y).values
            for mo in range(1, 13):
                assert float(p.peak_import_kw.sel(site="s0", year=y, month=mo)) == pytest.approx(float(g[month == mo].max()), abs=HOURLY_ATOL_KW)


GRID_SIZE_MAX_SHARE = 0.05  #: rows and columns of the reduced model as a share of the full one (demand charge + import limit)


def test_demand_charge_and_import_limit_model_is_small():
    base = dict(n_sites=1, n_years=3, pv_to_load=2.0, seed=2)
    d = small_inputs(**base, demand_charge_per_kw_month=40.0, import_limit_kw=_limit_between_night_and_peak(**base))
    sizes = {}
    for red in (True, False):
        pm = build_model(d, reduce=red)
        sol, r = solve_model(pm, SolveOptions())
        sizes[red] = (len(r.row_dual), len(r.col_value), sol.objective)
    assert sizes[True][2] == pytest.approx(sizes[False][2], rel=OBJ_RTOL)
    assert sizes[True][0] <= GRID_SIZE_MAX_SHARE * sizes[False][0]
    assert sizes[True][1] <= GRID_SIZE_MAX_SHARE * sizes[False][1]


def test_unreachable_import_limit_names_site_hour_class_and_amount():
    d = small_inputs(n_sites=1, n_years=1, pv_to_load=2.0, demand_charge_per_kw_month=10.0, import_limit_kw=100.0)
    night = d.yield_kw_per_kwp.values.sum(axis=0) == 0
    with pytest.raises(InfeasiblePlanError) as ei:
        build_model(d)
    (name, (amount, unit, detail)), = ei.value.shortfalls.items()
    assert "import limit" in name and "s0" in name and unit == "kW"
    assert "zero-yield" in detail and "2024" in detail
    assert amount == pytest.approx(float(d.load_kw.values[0, 0][night].max()) - 100.0, rel=1e-9)


def test_demand_charge_exact_and_peaks():
    d = small_inputs(n_sites=2, n_years=1, pv_to_load=2.0, demand_charge_per_kw_month=40.0)
    p = _exact(d)
    s0 = p.sel(site="s0", year=2024)
    month = d.hour_month.values
    for mo in range(1, 13):
        peak = float(p.peak_import_kw.sel(site="s0", year=2024, month=mo))
        assert peak == pytest.approx(float(s0.grid_import_kw.values[month == mo].max()), abs=HOURLY_ATOL_KW)
    assert float(p.demand_cost.sel(site="s0", year=2024)) == pytest.approx(40.0 * float(p.peak_import_kw.sel(site="s0", year=2024).sum()), rel=1e-9)


def test_demand_charge_lowers_peaks_with_a_battery():
    base = small_inputs(n_sites=1, n_years=1, pv_to_load=1.0, battery_sites=(0,), battery_capex_per_kwh=900.0)
    charged = small_inputs(n_sites=1, n_years=1, pv_to_load=1.0, battery_sites=(0,), battery_capex_per_kwh=900.0, demand_charge_per_kw_month=200.0)
    _, _, p0 = _plan(base)
    _, _, p1 = _plan(charged)
    peak0 = float(p0.grid_import_kw.max())
    peak1 = float(p1.peak_import_kw.max())
    assert peak1 < peak0 - 1.0  # shaving pays under a steep capacity charge


def test_import_limit_holds_and_infeasible_limit_is_explained():
    d = small_inputs(n_sites=1, n_years=1, pv_to_load=2.0, battery_sites=(0,), import_limit_kw=1e9)
    peak = float(d.load_kw.max())
    d["import_limit_kw"][0] = 0.97 * peak  # a battery can shave the last 3 %
    _, _, p = _plan(d)
    assert float(p.grid_import_kw.max()) <= 0.97 * peak + HOURLY_ATOL_KW
    bad = small_inputs(n_sites=1, n_years=1, pv_to_load=0.5, import_limit_kw=10.0)
    with pytest.raises(InfeasiblePlanError, match="import limit"):
        solve_plan(bad, SolveOptions())


def test_hourly_matching_costs_more_than_annual_and_matches_hour_by_hour():
    ann = small_inputs(n_sites=1, n_years=1, pv_to_load=1.0, milestones=[NEUTRAL], matching="annual")
    hrs = small_inputs(n_sites=1, n_years=1, pv_to_load=1.0, milestones=[NEUTRAL], matching="hourly")
    _, sol_a, pa = _plan(ann)
    _, sol_h, ph = _plan(hrs)
    assert sol_h.objective >= sol_a.objective * (1 - OBJ_RTOL)
    s = ph.sel(site="s0", year=2024)
    assert float((s.matched_certificates_kw - s.grid_import_kw).max()) <= HOURLY_ATOL_KW
    # flat-profile certificates: the volume bought covers the hour of highest import
    vol = float(ph.certificates_bought_mwh.sum())
    assert vol * 1000 / 8760 >= float(s.matched_certificates_kw.max()) - HOURLY_ATOL_KW
    # the annual plan re-counted hour by hour emits at least as much as counted annually
    assert float(pa.scope2_market_hourly_matched_tco2e.sum()) >= float(pa.scope2_market_tco2e.sum()) - 1e-6


def test_all_pillars_together_exact():
    d = small_inputs(n_sites=2, n_years=1, pv_to_load=2.0, measures=True, battery_sites=(1,), demand_charge_per_kw_month=30.0,
                     export=[False, True], milestones=[NEUTRAL])
    _exact(d)


def test_hourly_matching_purchase_by_hand():
    from pvopt.lp.solution import hourly_matching_purchase

    grid = np.zeros(8760)
    grid[:10] = 100.0  # 1 MWh of import, all in the first 10 hours
    flat = np.full(8760, 1 / 8760)
    # to match 1 MWh hour by hour with a flat instrument every one of those hours needs 100 kW: V = 876 MWh
    assert hourly_matching_purchase(grid, 1.0, flat) == pytest.approx(876.0, rel=1e-6)
    # half the target: 50 kW in each of the 10 hours: V = 438 MWh
    assert hourly_matching_purchase(grid, 0.5, flat) == pytest.approx(438.0, rel=1e-6)
    # an instrument that generates only when there is no import cannot match at all
    night = np.zeros(8760)
    night[100:200] = 1 / 100
    assert hourly_matching_purchase(grid, 1.0, night) == float("inf")


def test_plan_reports_annual_against_hourly_matching():
    d = small_inputs(n_sites=2, n_years=2, pv_to_load=1.5, milestones=[{"name": "neutral", "type": "neutrality", "year": 2025}])
    _, _, p = _plan(d)
    ann = p.certificates_annual_matching_mwh.values
    hrs = p.certificates_hourly_matching_mwh.values
    assert np.all(hrs >= ann * (1 - 1e-9))  # hour-by-hour matching never needs fewer certificates
    assert float(p.certificate_cost_hourly_matching.sum()) >= float(p.certificate_cost_annual_matching.sum())


def test_report_shows_matching_measures_batteries_and_peaks(tmp_path):
    import pandas as pd

    from pvopt.report.report import write_report

    d = small_inputs(n_sites=1, n_years=1, pv_to_load=2.0, measures=True, battery_sites=(0,), battery_capex_per_kwh=300.0,
                     demand_charge_per_kw_month=40.0, milestones=[NEUTRAL])
    _, _, p = _plan(d)
    files = write_report(tmp_path, plan=p)
    sheets = pd.ExcelFile(files.xlsx).sheet_names
    assert {"matching", "measures", "batteries", "demand_peaks"} <= set(sheets)
    from pvopt.report.labels import header

    m = pd.read_excel(files.xlsx, "matching")  # the workbook's human headers, e.g. "Certificates hourly matching [MWh]"
    assert m[header("certificates_hourly_matching_mwh")].iloc[0] >= m[header("certificates_annual_matching_mwh")].iloc[0] - 1e-6
    b = pd.read_excel(files.xlsx, "batteries")
    assert b[header("energy_kwh")].iloc[0] == pytest.approx(float(p.battery_energy_kwh.sum()), rel=1e-9)
    html = files.html.read_text(encoding="utf-8")
    assert "hour-by-hour" in html and "Batteries" in html and "Demand-charge peaks" in html


# --------------------------------------------------------------------------- #
# asset lives: vintage windows (an asset built in v works in v .. v+L-1)
# --------------------------------------------------------------------------- #
def test_measure_with_a_three_year_life_is_adopted_again_and_paid_twice():
    d = small_inputs(n_sites=1, n_years=5, pv_to_load=1.0, measures=True)
    d["measure_lifetime_years"][:] = 3
    p = _exact(d)
    led = p.sel(measure="s0/led")
    # the LED measure pays back: adopted in 2024, works 2024-2026, adopted again in 2027
    assert led.measure_new_fraction.values.tolist() == pytest.approx([1.0, 0.0, 0.0, 1.0, 0.0], abs=1e-6)
    assert float(led.measure_adopted_fraction.min()) == pytest.approx(1.0, abs=1e-6)
    cap = float(d.measure_capex.sel(measure="s0/led"))
    cost = p.measure_cost.sel(site="s0").values
    assert cost[0] >= cap * (1 - ENERGY_RTOL) and cost[3] >= cap * (1 - ENERGY_RTOL)  # paid twice
    # salvage: the 2027 vintage has 1 of its 3 years left after 2028 (plus the PV's own salvage)
    df_end = (1 + float(d.discount_rate)) ** -5.0
    pv_share = np.clip(25.0 - (5 - np.arange(5)), 0, None) / 25.0
    pv_salvage = float((p.capex_cost.sel(site="s0").values * pv_share).sum()) * df_end
    assert float(p.salvage_value) - pv_salvage == pytest.approx(cap / 3.0 * df_end, rel=1e-6)


def test_measure_that_does_not_pay_back_again_stops_after_its_life():
    d = small_inputs(n_sites=1, n_years=4, pv_to_load=1.0, measures=True)
    d["measure_lifetime_years"][:] = 2
    d["measure_capex"].loc["s0/led"] = d["measure_capex"].sel(measure="s0/led") * 1.2  # pays back only with salvage at the end
    p = _exact(d)
    frac = p.measure_adopted_fraction.sel(measure="s0/led").values
    new = p.measure_new_fraction.sel(measure="s0/led").values
    # whatever is adopted works exactly two years: the fraction in place is the last two years' adoptions
    assert frac == pytest.approx(new + np.concatenate([[0.0], new[:-1]]), abs=1e-6)


def test_pv_stops_after_its_life():
    d = small_inputs(n_sites=1, n_years=3, pv_to_load=2.0, existing_kwp=300.0,
                     milestones=[{"name": "pv", "type": "min_portfolio_kwp", "year": 2024, "kwp": 500.0}])
    d.attrs["lifetime_years"] = 3  # existing PV (built 2022) works 2022-2024 and retires in 2025
    p = _exact(d)
    inst = p.installed_kwp.values
    alive = np.array([300.0, 0.0, 0.0])
    assert inst == pytest.approx(alive[None, :] + np.cumsum(p.build_kwp.values, axis=1), abs=1e-6)
    assert (inst.sum(axis=0) >= 500.0 - 1e-6).all()  # the capacity milestone holds after the retirement
    assert (inst <= d.max_kwp.values[:, None] + 1e-6).all()


def test_battery_stops_after_its_life():
    d = small_inputs(n_sites=1, n_years=2, pv_to_load=2.5, battery_sites=(0,), battery_capex_per_kwh=20.0)
    d["battery_lifetime_years"][:] = 1
    d["battery_power_capex_per_kw"][:] = 10.0
    _, _, p = _plan(d)  # battery sites keep every hour: reduced == full by construction
    e = p.battery_energy_kwh.values[0]
    capex = p.battery_cost.sel(site="s0").values - 5.0 * e  # less O&M
    assert e[0] > 0 and e[1] > 0  # cheap storage is built, and rebuilt after its one-year life
    assert capex[1] == pytest.approx(20.0 * e[1] + 10.0 * float(p.battery_power_kw.values[0, 1]), rel=1e-6)
