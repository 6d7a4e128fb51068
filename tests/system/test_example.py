"""The shipped example portfolio sites/lead: loads, and is calibrated to the roadmap it models."""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import LEAD_DIR
from pvopt.inputs.schema import series_value
from pvopt.inputs.profiles import load_profile_kw
from pvopt.cli.summary import validate_summary
from pvopt.inputs.summary import baseline_emissions

AUDIT_2023_TCO2E = 28_474.0  # roadmap: 2023 audited inventory, calibrated here as Scope 1 + location Scope 2
AUDIT_RTOL = 0.02
ASSUMED_YIELD_KWH_PER_KWP = 1_050.0  # docs/sources.md S5, Wuxi full-load hours [R]
ROOFTOP_TARGET_MWH = 10_000.0  # roadmap: rooftop PV above 10 GWh/yr
# design band of the example at full rooftop coverage, first year, on the station normals (PVWatts-grade chain: ~10.69 GWh)
ROOFTOP_FULL_MWH_RANGE = (10_400.0, 11_000.0)
# the lowest planning year must clear 10 GWh with a margin: ~0.5 %/yr degradation over up to 11 years, plus curtailment
DEGRADATION_TO_2035 = 1.0 - 0.005 * 11
MARGIN_LOW, MARGIN_HIGH = 1.03, 1.12  # all PV (roofs + carports) after degradation against the 10 GWh target
SCOPE1_SHARE_RANGE = (0.08, 0.15)  # stated assumption: Scope 1 about 10-12 % of Scope 1+2
MWH_RTOL = 1e-9


def test_example_loads(lead_portfolio):
    p = lead_portfolio
    assert p.settings.planning.first_year == 2024
    assert p.settings.planning.last_year == 2035
    assert p.settings.planning.baseline_year == 2023
    assert p.settings.currency == "CNY"


def test_example_sites(lead_portfolio):
    names = {s.name for s in lead_portfolio.sites}
    assert len(names) >= 4 and "wuxi" in names
    for s in lead_portfolio.sites:
        assert s.timezone == "Asia/Shanghai"
        assert 30.0 < s.latitude_deg < 33.0 and 118.0 < s.longitude_deg < 122.5  # East China
        assert s.weather.source == "synthetic" and s.weather.normals == s.name


def test_baseline_matches_the_audit(lead_portfolio):
    base = baseline_emissions(lead_portfolio)
    total = base["scope1_tco2e"].sum() + base["scope2_location_tco2e"].sum()
    assert total == pytest.approx(AUDIT_2023_TCO2E, rel=AUDIT_RTOL)
    share = base["scope1_tco2e"].sum() / total
    assert SCOPE1_SHARE_RANGE[0] < share < SCOPE1_SHARE_RANGE[1]
    # the baseline grid MWh is the whole 2023 load
    for s in lead_portfolio.sites:
        assert base.loc[s.name, "grid_mwh"] == pytest.approx(s.load.annual_mwh, rel=MWH_RTOL)
        assert base.loc[s.name, "scope2_location_tco2e"] == pytest.approx(
            s.load.annual_mwh * series_value(s.grid_ef_t_per_mwh, 2023), rel=MWH_RTOL
        )


def test_baseline_from_hourly_profiles(lead_portfolio):
    """The hourly 2023 profiles add up to the same Scope 2 as the summary."""
    base = baseline_emissions(lead_portfolio)
    for s in lead_portfolio.sites:
        mwh = load_profile_kw(s, 2023, lead_portfolio.directory).sum() / 1000.0
        assert mwh == pytest.approx(base.loc[s.name, "grid_mwh"], rel=MWH_RTOL)


def test_arrays_variety(lead_portfolio):
    arrays = [a for s in lead_portfolio.sites for a in s.arrays]
    carports = [a for a in arrays if a.kind == "carport"]
    assert len(carports) >= 2
    assert all(a.mount_value == "open_rack" for a in carports)
    orientations = {(a.tilt_deg, a.azimuth_deg) for a in arrays if a.kind == "rooftop"}
    assert len(orientations) >= 3
    assert {90.0, 270.0} <= {a.azimuth_deg for a in arrays}  # an east/west saw-tooth pair
    assert sum(a.existing_kwp for a in arrays) > 0
    for a in arrays:
        lo, hi = (0.15, 0.20) if a.kind == "rooftop" else (0.17, 0.19)
        assert lo <= a.density_kwp_per_m2 <= hi


def test_rooftop_capacity_can_reach_10_gwh(lead_portfolio):
    roof_kwp = sum(a.max_kwp_value for s in lead_portfolio.sites for a in s.arrays if a.kind == "rooftop")
    assert roof_kwp * ASSUMED_YIELD_KWH_PER_KWP / 1000.0 >= ROOFTOP_TARGET_MWH
    total_kwp = sum(a.max_kwp_value for s in lead_portfolio.sites for a in s.arrays)
    assert total_kwp > 8_800.0  # pv-8.8MWp-2025 is reachable


def test_milestones_of_the_roadmap(lead_portfolio):
    ms = {m.name: m for m in lead_portfolio.settings.milestones}
    assert ms["pv-8.8MWp-2025"].kwp == 8800 and ms["pv-8.8MWp-2025"].year == 2025
    assert ms["all-rooftops-2027"].fraction == 1.0 and ms["all-rooftops-2027"].year == 2027
    assert ms["rooftop-pv-10GWh"].mwh == 10000 and ms["rooftop-pv-10GWh"].year == 2027
    assert ms["irec-7000MWh-2024"].mwh == 7000 and ms["irec-7000MWh-2024"].year == 2024
    assert ms["peak-2030"].year == 2030
    assert ms["neutral-2035"].year == 2035 and ms["neutral-2035"].site is None
    assert ms["wuxi-neutral-2025"].site == "wuxi" and ms["wuxi-neutral-2025"].year == 2025
    # Scope 1 can only be removed by offsets: the cap must leave room for it every year
    base = baseline_emissions(lead_portfolio)
    cap_t = ms["offset-cap"].share_of_baseline * base["total_tco2e"].sum()
    scope1_max = max(sum(series_value(s.scope1_tco2e, y) for s in lead_portfolio.sites) for y in lead_portfolio.years)
    assert cap_t > scope1_max


def test_certificates_cover_the_horizon(lead_portfolio):
    certs = {c.name: c for c in lead_portfolio.settings.certificates}
    assert certs["I-REC"].last_year == 2024
    covered = {y for c in certs.values() for y in range(c.first_year, c.last_year + 1)}
    assert set(lead_portfolio.years) <= covered


def test_every_figure_is_cited():
    """Each numeric key of the portfolio file sits under a source or assumption comment block."""
    text = (LEAD_DIR / "portfolio.yaml").read_text(encoding="utf-8")
    assert text.count("# source:") >= 6 and text.count("assumption") >= 6
    for f in LEAD_DIR.glob("*.yaml"):
        body = f.read_text(encoding="utf-8")
        assert "source:" in body and "assumption" in body, f.name
    readme = (LEAD_DIR / "README.md").read_text(encoding="utf-8")
    assert "28,474" in readme and "Scope 1" in readme


def test_validate_summary_text(lead_portfolio):
    text = validate_summary(lead_portfolio)
    for s in lead_portfolio.sites:
        assert s.name in text
    for m in lead_portfolio.settings.milestones:
        assert m.name in text
    assert "5 sites" in text and "total" in text
    assert re.search(r"28,4\d\d tCO2e", text)
    assert len(text.splitlines()) < 40  # one screen


def test_full_rooftop_yield_and_surplus_hours(lead_portfolio):
    """Full rooftop coverage gives ~10.5-11.2 GWh/yr, and PV can exceed load at some hours."""
    pvyield = pytest.importorskip("pvopt.pv.yields")
    ds = pvyield.simulate_yield(lead_portfolio)
    y = ds["yield_kw_per_kwp"]
    roof_mwh = 0.0
    surplus_hours = 0
    for s in lead_portfolio.sites:
        pv_kw = np.zeros(y.sizes["hour"])
        for a in s.arrays:
            kw = y.sel(array=f"{s.name}/{a.name}").values * a.max_kwp_value
            pv_kw += kw
            if a.kind == "rooftop":
                roof_mwh += kw.sum() / 1000.0
        surplus_hours += int((pv_kw > load_profile_kw(s, 2027, lead_portfolio.directory)).sum())
    assert ROOFTOP_FULL_MWH_RANGE[0] <= roof_mwh <= ROOFTOP_FULL_MWH_RANGE[1]
    assert surplus_hours > 0
    all_mwh = sum(float(y.sel(array=f"{s.name}/{a.name}").values.sum()) * a.max_kwp_value / 1000.0
                  for s in lead_portfolio.sites for a in s.arrays)
    ratio = all_mwh * DEGRADATION_TO_2035 / ROOFTOP_TARGET_MWH
    assert MARGIN_LOW <= ratio <= MARGIN_HIGH, ratio  # near the line at P90, not far above it
    for s in lead_portfolio.sites:  # the example runs on the station normals
        assert str(ds["weather_description"].sel(sites=s.name).values).startswith("station normals CSRDD ")


def test_vehicles_are_load_not_an_option():
    """The roadmap's vehicles were fully electric in 2024: no electrification option in the examples."""
    from pvopt import load_portfolio

    for d in (LEAD_DIR, LEAD_DIR.parent / "lead-pillars"):
        pf = load_portfolio(d)
        assert not [m.name for s in pf.sites for m in (s.measures or []) if m.type == "electrification"], d.name
    wuxi = (LEAD_DIR / "wuxi.yaml").read_text(encoding="utf-8")
    assert "fully electric in 2024" in wuxi and "diesel" not in wuxi


def test_readme_states_the_prior_year_irec_claim_and_margin():
    readme = (LEAD_DIR / "README.md").read_text(encoding="utf-8")
    assert "covered the\ncompany's 2023 electricity" in readme or "2023 electricity" in readme
    assert "Known gap" in readme
    assert "5.5 %" in readme and "P90" in readme
