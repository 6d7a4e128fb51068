"""Bad input is refused with the file, the field and what was wrong; good input loads."""

from __future__ import annotations

import pytest

from conftest import LEAD_DIR, edit_yaml, find_issue, load_issues, read_yaml, write_yaml
from pvopt import load_portfolio
from pvopt.inputs.schema import Array, Site, TouSeason, series_value
from pvopt.errors import PortfolioError

KWP_ABS = 1e-9


def _arr0(field, value):
    def fn(d):
        d["arrays"][0][field] = value

    return fn


# --------------------------------------------------------------------------- #
# File-level problems
# --------------------------------------------------------------------------- #
def test_malformed_yaml_names_file_and_line(lead_copy):
    (lead_copy / "wuxi.yaml").write_text("name: wuxi\narrays: [\n  - : :\n", encoding="utf-8")
    issue = find_issue(load_issues(lead_copy), file="wuxi.yaml", contains="malformed YAML")
    assert issue.field.startswith("line ")


def test_empty_file(lead_copy):
    (lead_copy / "suzhou.yaml").write_text("  \n", encoding="utf-8")
    find_issue(load_issues(lead_copy), file="suzhou.yaml", field="", contains="empty")


def test_top_level_not_a_mapping(lead_copy):
    (lead_copy / "suzhou.yaml").write_text("- a\n- b\n", encoding="utf-8")
    find_issue(load_issues(lead_copy), file="suzhou.yaml", contains="expected a YAML mapping")


def test_missing_portfolio_yaml(lead_copy):
    (lead_copy / "portfolio.yaml").unlink()
    find_issue(load_issues(lead_copy), file="portfolio.yaml", contains="missing")


def test_directory_that_does_not_exist(tmp_path):
    find_issue(load_issues(tmp_path / "nope"), contains="does not exist")


def test_broken_site_file_is_not_also_reported_as_unknown_milestone_site(lead_copy):
    (lead_copy / "wuxi.yaml").write_text("name: [\n", encoding="utf-8")
    issues = load_issues(lead_copy)
    assert [i for i in issues if "not in the portfolio" in i.message] == []
    assert len(issues) == 1


def test_every_problem_is_collected(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d.update(latitude_deg=123))
    edit_yaml(lead_copy / "nanjing.yaml", lambda d: d.update(timezone="Mars/Olympus"))
    edit_yaml(lead_copy / "portfolio.yaml", lambda d: d["planning"].update(discount_rate=2))
    issues = load_issues(lead_copy)
    find_issue(issues, file="wuxi.yaml", field="latitude_deg")
    find_issue(issues, file="nanjing.yaml", field="timezone")
    find_issue(issues, file="portfolio.yaml", field="planning.discount_rate")
    assert len(issues) == 3


# --------------------------------------------------------------------------- #
# Keys and types
# --------------------------------------------------------------------------- #
def test_unknown_key_is_an_error(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d.update(latitude_degs=31.5))
    issue = find_issue(load_issues(lead_copy), file="wuxi.yaml", field="latitude_degs")
    assert "unknown key" in issue.message


def test_unknown_nested_key_names_the_path(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", _arr0("tilt", 5))
    issue = find_issue(load_issues(lead_copy), file="wuxi.yaml", field="arrays[0].tilt")
    assert "unknown key" in issue.message


def test_wrong_type_says_what_arrived(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d.update(latitude_deg="north"))
    issue = find_issue(load_issues(lead_copy), file="wuxi.yaml", field="latitude_deg")
    assert "number" in issue.message and "'north'" in issue.message


def test_missing_required_field(lead_copy):
    edit_yaml(lead_copy / "changzhou.yaml", lambda d: d["load"].pop("annual_mwh"))
    issue = find_issue(load_issues(lead_copy), file="changzhou.yaml", field="load.annual_mwh")
    assert issue.message == "required field is missing"


def test_missing_site_name(lead_copy):
    edit_yaml(lead_copy / "changzhou.yaml", lambda d: d.pop("name"))
    find_issue(load_issues(lead_copy), file="changzhou.yaml", field="name", contains="required")


def test_unknown_array_kind(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", _arr0("kind", "facade"))
    issue = find_issue(load_issues(lead_copy), file="wuxi.yaml", field="arrays[0].kind")
    assert "'rooftop'" in issue.message and "'facade'" in issue.message


# --------------------------------------------------------------------------- #
# Ranges
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("edit", "field", "expect"),
    [
        (lambda d: d.update(latitude_deg=95), "latitude_deg", "less than or equal to 90"),
        (lambda d: d.update(latitude_deg=-91), "latitude_deg", "greater than or equal to -90"),
        (lambda d: d.update(longitude_deg=181), "longitude_deg", "less than or equal to 180"),
        (_arr0("tilt_deg", 95), "arrays[0].tilt_deg", "less than or equal to 90"),
        (_arr0("tilt_deg", -1), "arrays[0].tilt_deg", "greater than or equal to 0"),
        (_arr0("azimuth_deg", 360), "arrays[0].azimuth_deg", "less than 360"),
        (_arr0("losses_pct", 60), "arrays[0].losses_pct", "less than 50"),
        (_arr0("degradation_pct_per_year", 5), "arrays[0].degradation_pct_per_year", "less than or equal to 3"),
        (_arr0("dc_ac_ratio", 3.0), "arrays[0].dc_ac_ratio", "less than or equal to 2"),
        (_arr0("dc_ac_ratio", 0.5), "arrays[0].dc_ac_ratio", "greater than or equal to 0.8"),
        (_arr0("power_density_kwp_per_m2", 0.5), "arrays[0].power_density_kwp_per_m2", "less than or equal to 0.3"),
        (_arr0("area_m2", -10), "arrays[0].area_m2", "greater than 0"),
        (lambda d: d.update(grid_ef_t_per_mwh=-0.1), "grid_ef_t_per_mwh", ">= 0.0"),
        (lambda d: d.update(grid_ef_t_per_mwh={2023: 5.0}), "grid_ef_t_per_mwh", "<= 2.0"),
        (lambda d: d["load"].update(growth_pct_per_year=500), "load.growth_pct_per_year", "<= 100"),
        (lambda d: d["load"].update(annual_mwh=0), "load.annual_mwh", "greater than 0"),
        (lambda d: d.update(scope1_tco2e={}), "scope1_tco2e", "empty mapping"),
    ],
    ids=[
        "lat-high", "lat-low", "lon", "tilt-high", "tilt-neg", "azimuth-360", "losses", "degradation",
        "dcac-high", "dcac-low", "density", "area-neg", "ef-neg", "ef-high", "growth", "annual-zero", "s1-empty",
    ],
)  # fmt: skip
def test_out_of_range_values(lead_copy, edit, field, expect):
    edit_yaml(lead_copy / "wuxi.yaml", edit)
    issues = load_issues(lead_copy)
    issue = find_issue(issues, file="wuxi.yaml", field=field)
    assert expect in issue.message, issue


def test_unknown_timezone(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d.update(timezone="Asia/Shangai"))
    issue = find_issue(load_issues(lead_copy), file="wuxi.yaml", field="timezone")
    assert "IANA" in issue.message and "Asia/Shangai" in issue.message


def test_array_needs_exactly_one_size(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", _arr0("max_kwp", 500))
    find_issue(load_issues(lead_copy), file="wuxi.yaml", field="arrays[0]", contains="exactly one of 'area_m2' or 'max_kwp'")


def test_existing_above_max(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", _arr0("existing_kwp", 1e6))
    find_issue(load_issues(lead_copy), file="wuxi.yaml", field="arrays[0]", contains="exceeds the array's max kWp")


def test_existing_needs_year(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d["arrays"][0].pop("existing_year"))
    find_issue(load_issues(lead_copy), file="wuxi.yaml", field="arrays[0]", contains="needs 'existing_year'")


def test_shift_end_before_start(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d["load"]["profile"].update(shift_start_hour=20, shift_end_hour=8))
    find_issue(load_issues(lead_copy), file="wuxi.yaml", contains="'shift_end_hour' must be after")


def test_unknown_holiday_country(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d["load"]["profile"].update(holidays="XX"))
    issue = find_issue(load_issues(lead_copy), file="wuxi.yaml", field="load.profile.holidays")
    assert "'XX'" in issue.message


def test_weather_file_source_needs_path(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d.update(weather={"source": "file"}))
    find_issue(load_issues(lead_copy), file="wuxi.yaml", field="weather", contains="needs 'path'")


def test_unknown_normals_name(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d.update(weather={"source": "synthetic", "normals": "atlantis"}))
    issue = find_issue(load_issues(lead_copy), file="wuxi.yaml", field="weather.normals")
    assert "atlantis" in issue.message


def test_planning_order(lead_copy):
    edit_yaml(lead_copy / "portfolio.yaml", lambda d: d["planning"].update(last_year=2020))
    find_issue(load_issues(lead_copy), file="portfolio.yaml", field="planning", contains="'last_year' (2020) is before 'first_year' (2024)")


# --------------------------------------------------------------------------- #
# Tariffs
# --------------------------------------------------------------------------- #
def test_tou_windows_overlap(lead_copy):
    def fn(d):
        d["tariff"]["seasons"][0]["windows"][0]["end_hour"] = 7  # valley 0-7 overlaps flat 6-11

    edit_yaml(lead_copy / "wuxi.yaml", fn)
    issue = find_issue(load_issues(lead_copy), file="wuxi.yaml", field="tariff.seasons[0]")
    assert "hour 6 is in two windows" in issue.message and "overlap" in issue.message


def test_tou_windows_leave_hours_uncovered(lead_copy):
    def fn(d):
        d["tariff"]["seasons"][1]["windows"].pop()  # drop flat 22-02

    edit_yaml(lead_copy / "wuxi.yaml", fn)
    issue = find_issue(load_issues(lead_copy), file="wuxi.yaml", field="tariff.seasons[1]")
    assert "hours [0, 1, 22, 23] are in no window" in issue.message


def test_tou_season_months_missing(lead_copy):
    def fn(d):
        d["tariff"]["seasons"][0]["months"].remove(12)

    edit_yaml(lead_copy / "wuxi.yaml", fn)
    find_issue(load_issues(lead_copy), file="wuxi.yaml", field="tariff", contains="months [12] are in no season")


def test_tou_month_in_two_seasons(lead_copy):
    def fn(d):
        d["tariff"]["seasons"][0]["months"].append(3)

    edit_yaml(lead_copy / "wuxi.yaml", fn)
    find_issue(load_issues(lead_copy), file="wuxi.yaml", field="tariff", contains="month 3 is in seasons")


def test_tou_month_out_of_range(lead_copy):
    def fn(d):
        d["tariff"]["seasons"][0]["months"].append(13)

    edit_yaml(lead_copy / "wuxi.yaml", fn)
    find_issue(load_issues(lead_copy), file="wuxi.yaml", field="tariff.seasons[0]", contains="months must be 1..12")


def test_tou_period_without_price(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d["tariff"]["prices_per_kwh"].pop("peak"))
    find_issue(load_issues(lead_copy), file="wuxi.yaml", field="tariff", contains="period 'peak' that has no price")


def test_negative_tou_price(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d["tariff"]["prices_per_kwh"].update(valley=-0.1))
    find_issue(load_issues(lead_copy), file="wuxi.yaml", field="tariff", contains="price of period 'valley' must be a finite number >= 0")


# --------------------------------------------------------------------------- #
# Paths
# --------------------------------------------------------------------------- #
def test_csv_path_that_does_not_exist(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d["load"].update(profile={"type": "csv", "path": "data/missing.csv"}))
    issue = find_issue(load_issues(lead_copy), file="wuxi.yaml", field="load.profile.path")
    assert "'data/missing.csv' does not exist" in issue.message


def test_path_escaping_the_portfolio(lead_copy):
    (lead_copy.parent / "outside.csv").write_text("price_per_kwh\n" + "0.5\n" * 8760, encoding="utf-8")
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d.update(tariff={"type": "hourly_file", "path": "../outside.csv"}))
    issue = find_issue(load_issues(lead_copy), file="wuxi.yaml", field="tariff.path")
    assert "leaves the portfolio directory" in issue.message


def test_weather_file_missing(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d.update(weather={"source": "file", "path": "wx/none.epw"}))
    find_issue(load_issues(lead_copy), file="wuxi.yaml", field="weather.path", contains="does not exist")


# --------------------------------------------------------------------------- #
# Portfolio settings and cross-file checks
# --------------------------------------------------------------------------- #
def _milestone(d, name):
    return next(m for m in d["milestones"] if m["name"] == name)


def test_milestone_year_outside_horizon(lead_copy):
    edit_yaml(lead_copy / "portfolio.yaml", lambda d: _milestone(d, "peak-2030").update(year=2040))
    issue = find_issue(load_issues(lead_copy), file="portfolio.yaml", field="milestones", contains="outside the planning horizon 2024-2035")
    assert "'peak-2030' (milestones[4])" in issue.message and "year 2040" in issue.message


def test_milestone_names_unknown_site(lead_copy):
    edit_yaml(lead_copy / "portfolio.yaml", lambda d: _milestone(d, "wuxi-neutral-2025").update(site="wuxii"))
    issue = find_issue(load_issues(lead_copy), file="portfolio.yaml", field="milestones[6].site")
    assert "'wuxii' is not in the portfolio" in issue.message and "wuxi" in issue.message


def test_unknown_milestone_type(lead_copy):
    edit_yaml(lead_copy / "portfolio.yaml", lambda d: _milestone(d, "peak-2030").update(type="peaking"))
    issue = find_issue(load_issues(lead_copy), file="portfolio.yaml", field="milestones[4]")
    assert "peaking" in issue.message


def test_duplicate_milestone_names(lead_copy):
    edit_yaml(lead_copy / "portfolio.yaml", lambda d: _milestone(d, "peak-2030").update(name="neutral-2035"))
    find_issue(load_issues(lead_copy), file="portfolio.yaml", field="milestones", contains="milestone name 'neutral-2035' is used twice")


def test_certificate_missing_price_for_first_needed_year(lead_copy):
    def fn(d):
        gec = next(c for c in d["certificates"] if c["name"] == "GEC")
        gec["price_per_mwh"] = {2027: 5.0, 2035: 10.0}

    edit_yaml(lead_copy / "portfolio.yaml", fn)
    issue = find_issue(load_issues(lead_copy), file="portfolio.yaml", field="certificates[1].price_per_mwh")
    assert "add a price for 2025" in issue.message


def test_certificate_milestone_with_no_instrument_that_year(lead_copy):
    def fn(d):
        d["certificates"] = [c for c in d["certificates"] if c["name"] != "I-REC"]

    edit_yaml(lead_copy / "portfolio.yaml", fn)
    issue = find_issue(load_issues(lead_copy), file="portfolio.yaml", field="milestones[3]")
    assert "irec-7000MWh-2024" in issue.message and "no instrument" in issue.message


def test_offset_cap_needs_offsets(lead_copy):
    edit_yaml(lead_copy / "portfolio.yaml", lambda d: d.pop("offsets"))
    find_issue(load_issues(lead_copy), file="portfolio.yaml", field="milestones[7]", contains="needs an 'offsets' section")


def test_pv_costs_need_every_kind(lead_copy):
    edit_yaml(lead_copy / "portfolio.yaml", lambda d: d["pv"]["capex_per_kwp"].pop("carport"))
    find_issue(load_issues(lead_copy), file="portfolio.yaml", field="pv.capex_per_kwp", contains="missing ['carport']")


def test_duplicate_certificate_names(lead_copy):
    edit_yaml(lead_copy / "portfolio.yaml", lambda d: d["certificates"][1].update(name="I-REC"))
    find_issue(load_issues(lead_copy), file="portfolio.yaml", field="certificates", contains="certificate names must be unique")


def test_duplicate_site_names(lead_copy):
    data = read_yaml(lead_copy / "suzhou.yaml")
    write_yaml(lead_copy / "suzhou2.yaml", data)
    issue = find_issue(load_issues(lead_copy), field="name", contains="site name 'suzhou' is used by 2 site files")
    assert issue.file == str(lead_copy / "suzhou2.yaml")
    assert "(suzhou.yaml and suzhou2.yaml)" in issue.message  # both files named


def test_duplicate_array_names(lead_copy):
    def fn(d):
        d["arrays"][1]["name"] = d["arrays"][0]["name"]

    edit_yaml(lead_copy / "wuxi.yaml", fn)
    find_issue(load_issues(lead_copy), file="wuxi.yaml", contains="array name 'plant1-roof-flat' is used twice")


def test_no_site_files(tmp_path):
    d = tmp_path / "p"
    d.mkdir()
    (d / "portfolio.yaml").write_text((LEAD_DIR / "portfolio.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    find_issue(load_issues(d), contains="no site files")


# --------------------------------------------------------------------------- #
# Good input
# --------------------------------------------------------------------------- #
def test_good_portfolio_loads_with_expected_values(lead_copy):
    p = load_portfolio(lead_copy)
    assert p.settings.currency == "CNY"
    assert p.years == list(range(2024, 2036))
    wuxi = p.site("wuxi")
    roof = wuxi.arrays[0]
    assert roof.kind == "rooftop" and roof.mount_value == "close_mount"
    assert roof.max_kwp_value == pytest.approx(roof.area_m2 * roof.power_density_kwp_per_m2, abs=KWP_ABS)
    car = next(a for a in wuxi.arrays if a.kind == "carport")
    assert car.mount_value == "open_rack"
    assert wuxi.residual_ef(2023) == pytest.approx(0.5827)
    assert series_value(wuxi.grid_ef_t_per_mwh, 2030) == pytest.approx(0.5827)
    assert series_value(wuxi.grid_ef_t_per_mwh, 2022) == pytest.approx(0.5978)
    assert wuxi.tariff.seasons[1].period_of_hour()[23] == "flat"
    with pytest.raises(KeyError):
        p.site("atlantis")


def test_defaults_applied():
    a = Array(name="r", kind="rooftop", area_m2=100, tilt_deg=5, azimuth_deg=180)
    c = Array(name="c", kind="carport", area_m2=100, tilt_deg=5, azimuth_deg=180)
    assert a.max_kwp_value == pytest.approx(15.0) and a.mount_value == "close_mount"
    assert c.max_kwp_value == pytest.approx(18.0) and c.mount_value == "open_rack"


def test_models_are_frozen(lead_portfolio):
    with pytest.raises(Exception):
        lead_portfolio.sites[0].name = "x"  # type: ignore[misc]


def test_portfolio_error_text_lists_each_issue(lead_copy):
    edit_yaml(lead_copy / "wuxi.yaml", lambda d: d.update(latitude_deg=95))
    with pytest.raises(PortfolioError) as exc:
        load_portfolio(lead_copy)
    text = str(exc.value)
    assert text.startswith("1 problem in the input:")
    assert "wuxi.yaml: latitude_deg:" in text
    assert exc.value.exit_code == 2


def test_season_wrapping_window_direct():
    s = TouSeason(
        name="x",
        months=[1],
        windows=[{"period": "a", "start_hour": 22, "end_hour": 6}, {"period": "b", "start_hour": 6, "end_hour": 22}],
    )
    labels = s.period_of_hour()
    assert labels[23] == "a" and labels[0] == "a" and labels[5] == "a" and labels[6] == "b"


def test_site_model_refuses_unknown_key_directly():
    raw = read_yaml(LEAD_DIR / "nanjing.yaml")
    raw["colour"] = "red"
    with pytest.raises(Exception, match="colour"):
        Site.model_validate(raw)
