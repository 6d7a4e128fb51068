"""Weather risk (pvopt.studies.risk): weather years, P90 design year, the plan's fixed investments in other weather."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import edit_yaml, mini_portfolio

OBJ_RTOL = 1e-6  # NPC of a re-solve with the plan's own decisions and weather
BUILD_ATOL_KWP = 1e-6  # fixed build against the plan's build
MWH_ATOL = 1e-3  # LP energy totals compared across weather years
N_YEARS = 3


def _rich(d):
    """mini portfolio plus a battery option and an efficiency measure, so every decision kind is fixed."""
    mini_portfolio(d)
    edit_yaml(d / "alpha.yaml", lambda s: s.update(
        battery={"energy_capex_per_kwh": 900, "max_energy_kwh": 400, "max_power_kw": 200},
        measures=[{"name": "led", "type": "efficiency", "capex": 50_000, "annual_mwh": 60, "shape": "daytime"}],
    ))
    return d


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from pvopt import load_portfolio
    from pvopt.pipeline import plan_portfolio
    from pvopt.pv.yields import simulate_yield
    from pvopt.studies.risk import weather_year_yields, weather_years

    d = _rich(tmp_path_factory.mktemp("risk") / "pf")
    pf = load_portfolio(d)
    base = simulate_yield(pf)
    run = plan_portfolio(pf, base)
    wys = weather_years(pf, N_YEARS)
    ys = [weather_year_yields(w) for w in wys]
    return pf, base, run, wys, ys


def test_weather_years_differ_and_are_deterministic(setup):
    from pvopt.studies.risk import weather_year_yields, weather_years

    pf, base, _, wys, ys = setup
    assert [w.label for w in wys] == ["wy1", "wy2", "wy3"]
    assert len({w.seeds["alpha"] for w in wys}) == N_YEARS
    annual = [float(y["annual_kwh_per_kwp"].values[0]) for y in ys]
    assert len({round(a, 3) for a in annual}) == N_YEARS, annual
    again = weather_year_yields(weather_years(pf, N_YEARS)[1])
    np.testing.assert_array_equal(again["yield_kw_per_kwp"].values, ys[1]["yield_kw_per_kwp"].values)
    other = weather_years(pf, N_YEARS, first_seed=7)
    assert other[0].seeds != wys[0].seeds


def test_ghi_factor_follows_the_stated_variability():
    from pvopt.studies.risk import INTERANNUAL_GHI_CV, _lognormal_factors

    f = _lognormal_factors(1, 400, INTERANNUAL_GHI_CV)
    assert abs(f.mean() - 1.0) < 0.005
    assert f.std() == pytest.approx(INTERANNUAL_GHI_CV, rel=0.1)
    np.testing.assert_array_equal(_lognormal_factors(0, 5, 0.0), np.ones(5))


def test_weather_year_scales_the_monthly_ghi(setup):
    """A year with a higher GHI factor yields more per kWp (same array, the daily draw aside)."""
    _, _, _, wys, ys = setup
    f = np.array([w.ghi_factor for w in wys])
    e = np.array([float(y["annual_kwh_per_kwp"].values[0]) for y in ys])
    assert np.argmax(f) == np.argmax(e) and np.argmin(f) == np.argmin(e)


def test_p90_annual_not_above_p50(setup):
    from pvopt.studies.risk import p90_yields

    _, base, _, _, ys = setup
    annual = np.stack([y["annual_kwh_per_kwp"].values for y in ys])
    p50 = np.median(annual, axis=0)
    for b in (None, base):
        p90 = p90_yields(ys, base=b)
        a = p90["yield_kw_per_kwp"].values.sum(axis=1)
        assert (a <= p50 + 1e-9).all()
        np.testing.assert_allclose(a, np.quantile(annual, 0.1, axis=0), rtol=1e-12)


def test_fixed_decisions_reproduce_the_plan(setup):
    from pvopt.studies.risk import evaluate_plan_under_weather

    _, base, run, _, _ = setup
    ev = evaluate_plan_under_weather(run, [base], labels=["design"])
    assert int(ev["feasible"].values[0]) == 1
    np.testing.assert_allclose(ev["build_kwp_fixed"].values, run.plan["build_kwp"].values, atol=BUILD_ATOL_KWP)
    assert float(ev["npc"].values[0]) == pytest.approx(float(run.plan["npc"]), rel=OBJ_RTOL)
    # from the plan Dataset alone (as read from plan.nc): the same NPC
    ev2 = evaluate_plan_under_weather(run.plan, [base])
    assert float(ev2["npc"].values[0]) == pytest.approx(float(run.plan["npc"]), rel=OBJ_RTOL)


def test_more_sunshine_more_onsite_less_grid(setup):
    from pvopt.studies.risk import evaluate_plan_under_weather

    _, base, run, _, _ = setup
    bright = base.copy()
    bright["yield_kw_per_kwp"] = base["yield_kw_per_kwp"] * 1.15
    ev = evaluate_plan_under_weather(run, [base, bright], labels=["base", "bright"])
    on, grid = ev["pv_onsite_mwh_by_year"].values, ev["grid_import_mwh_by_year"].values
    assert (on[1] >= on[0] - MWH_ATOL).all() and on[1].sum() > on[0].sum() + 1.0
    assert (grid[1] <= grid[0] + MWH_ATOL).all()
    assert ev["pv_onsite_mwh"].attrs["units"] == "MWh/yr"


def test_infeasible_weather_year_is_reported_not_raised(tmp_path):
    """A milestone the plan just meets fails in a dull year: feasible = 0 with the milestone named."""
    from pvopt import load_portfolio
    from pvopt.pipeline import plan_portfolio
    from pvopt.pv.yields import simulate_yield
    from pvopt.studies.risk import evaluate_plan_under_weather

    d = mini_portfolio(tmp_path / "pf")
    pf = load_portfolio(d)
    base = simulate_yield(pf)
    onsite = float(plan_portfolio(pf, base, hourly=False).plan["pv_onsite_mwh"].sum("site").min())
    edit_yaml(d / "portfolio.yaml", lambda s: s["milestones"].append(
        {"name": "onsite-floor", "type": "min_pv_onsite_mwh", "year": 2024, "mwh": round(0.99 * onsite, 1)}))
    pf = load_portfolio(d)
    run = plan_portfolio(pf, base, hourly=False)
    dull = base.copy()
    dull["yield_kw_per_kwp"] = base["yield_kw_per_kwp"] * 0.9
    ev = evaluate_plan_under_weather(run, [base, dull], labels=["base", "dull"])
    assert ev["feasible"].values.tolist() == [1, 0]
    assert "onsite-floor" in str(ev["reason"].values[1]) and str(ev["reason"].values[0]) == ""
    assert int(ev["milestone_met"].sel(weather_year="dull", milestone="onsite-floor")) == 0
    assert float(ev["pv_onsite_mwh"].sel(weather_year="dull")) < 0.99 * onsite


def test_plan_with_risk_dataset_and_summary(setup):
    from pvopt.studies.risk import RISK_METRICS, plan_with_risk

    pf, base, _, _, _ = setup
    steps = []
    res = plan_with_risk(pf, N_YEARS, design="p90", base_yields=base, progress=lambda d, t: steps.append((d, t)))
    ds, s = res.dataset, res.summary
    assert ds.sizes["weather_year"] == N_YEARS and steps[-1] == (2 * N_YEARS + 1, 2 * N_YEARS + 1)
    assert ds["npc"].attrs["units"] == "CNY" and ds.attrs["design"] == "p90"
    assert list(s["metric"]) == list(RISK_METRICS)
    assert (s["min"] <= s["p50"] + 1e-9).all() and (s["p50"] <= s["max"] + 1e-9).all()
    lower = s[s.worse_when == "lower"]
    assert (lower["p90"] <= lower["p50"] + 1e-9).all()
    # the P90 design year yields no more than the typical year's P50 of the weather years
    assert float(ds["design_pv_generated_mwh"]) <= float(s.set_index("metric").loc["pv_generated_mwh", "p50"]) + 1e-6


def test_cli_risk_writes_outputs(tmp_path, cli):
    d = mini_portfolio(tmp_path / "pf")
    out = tmp_path / "out"
    r = cli("risk", d, "--years", "2", "--out", out)
    assert r.exit_code == 0, r.stderr
    assert (out / "risk.nc").exists() and (out / "risk.csv").exists()
    assert "p50" in (out / "risk.csv").read_text().splitlines()[0]
    again = cli("risk", d, "--years", "2", "--out", out)
    assert again.exit_code == 5 and "Traceback" not in again.stderr
    bad = cli("risk", d, "--years", "2", "--design", "p75", "--out", tmp_path / "o2")
    assert bad.exit_code == 2
    # the report of the run directory gains a "Weather risk" section and sheet
    assert cli("plan", d, "--out", out).exit_code == 0
    rep = cli("report", out)
    assert rep.exit_code == 0, rep.stderr
    assert "<h2>Weather risk</h2>" in (out / "report.html").read_text()
    import openpyxl

    assert "weather_risk" in openpyxl.load_workbook(out / "report.xlsx").sheetnames
    assert (out / "figures" / "weather_risk.png").exists()


STATION_CV_RTOL = 1e-9  # the CV is the file's sd over the sum of its monthly normals, exactly


def test_spread_comes_from_the_normals_sd(tmp_path, monkeypatch):
    """Each synthetic site's inter-annual CV is its normals file's annual sd / annual total; no sd -> the fallback."""
    from pvopt import load_portfolio
    from pvopt.pv.weather import normals_path, read_normals
    from pvopt.studies.risk import INTERANNUAL_GHI_CV, _factor, site_ghi_cv, weather_years

    d = mini_portfolio(tmp_path / "pf")
    pf = load_portfolio(d)
    n = read_normals(normals_path("wuxi"))
    cv, why = site_ghi_cv(pf.sites[0])
    assert cv == pytest.approx(n.attrs["ghi_annual_sd_kwh_m2"] / n["ghi_kwh_m2"].sum(), rel=STATION_CV_RTOL)
    assert 0.04 < cv < 0.065 and cv != INTERANNUAL_GHI_CV and "sd 63" in why
    wys = weather_years(pf, 4)
    for w in wys:
        assert w.ghi_cvs["alpha"] == pytest.approx(cv, rel=STATION_CV_RTOL)
        assert w.ghi_factors["alpha"] == pytest.approx(float(_factor(w.z, cv)), rel=1e-12)
    # a normals file without the sd line falls back to the documented constant
    wd = tmp_path / "wdir"
    (wd / "normals").mkdir(parents=True)
    text = normals_path("wuxi").read_text()
    (wd / "normals" / "wuxi.csv").write_text("\n".join(ln for ln in text.splitlines() if "ghi_annual_sd_kwh_m2:" not in ln) + "\n")
    monkeypatch.setenv("PVOPT_WEATHER_DIR", str(wd))
    cv2, why2 = site_ghi_cv(pf.sites[0])
    assert cv2 == INTERANNUAL_GHI_CV and "fallback" in why2
    # the same draw with a larger CV moves the factor further from 1
    z = 1.5
    assert abs(float(_factor(z, 0.06)) - 1) > abs(float(_factor(z, 0.04)) - 1)


def test_milestone_p50_p90_in_risk_outputs(setup):
    from pvopt.studies.risk import milestone_risk_table, plan_with_risk

    pf, base, _, _, _ = setup
    res = plan_with_risk(pf, N_YEARS, base_yields=base)
    ds = res.dataset
    v = np.asarray(ds["pv_onsite_mwh_by_year"].values)
    np.testing.assert_allclose(ds["pv_onsite_p90_mwh"].values, np.quantile(v, 0.1, axis=0))
    np.testing.assert_allclose(ds["pv_onsite_p50_mwh"].values, np.quantile(v, 0.5, axis=0))
    assert (ds["pv_onsite_p90_mwh"].values <= ds["pv_onsite_p50_mwh"].values + 1e-9).all()
    assert "from the year-to-year sd" in ds.attrs["variability_model"] and "alpha 5.0%" in ds.attrs["variability_model"]
    assert list(ds["ghi_cv_site"].values) == pytest.approx([63 / 1270.3], rel=1e-6)
    assert milestone_risk_table(ds).empty  # the mini portfolio has no onsite-PV milestone


def test_onsite_milestone_p50_p90(tmp_path):
    """An onsite-PV milestone gets its lowest-year P50/P90 across the weather years and a P90 margin."""
    from pvopt import load_portfolio
    from pvopt.studies.risk import milestone_risk_table, plan_with_risk

    d = mini_portfolio(tmp_path / "pf")
    edit_yaml(d / "portfolio.yaml", lambda s: s["milestones"].append(
        {"name": "onsite-floor", "type": "min_pv_onsite_mwh", "year": 2024, "mwh": 300}))
    res = plan_with_risk(load_portfolio(d), N_YEARS)
    t = milestone_risk_table(res.dataset)
    assert list(t["milestone"]) == ["onsite-floor"]
    vals = np.asarray(res.dataset["pv_milestone_mwh"].values)[:, 0]
    lowest = np.asarray(res.dataset["pv_onsite_mwh_by_year"].values).min(axis=1)
    np.testing.assert_allclose(vals, lowest)
    row = t.iloc[0]
    assert row.p90_mwh == pytest.approx(np.quantile(vals, 0.1)) and row.p50_mwh == pytest.approx(np.quantile(vals, 0.5))
    assert row.p90_margin_pct == pytest.approx(100 * (row.p90_mwh - 300) / 300)
