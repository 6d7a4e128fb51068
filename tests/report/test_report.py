"""Report (and, with PVOPT_BROWSER_TESTS=1, the page in headless Chromium): self-contained HTML with a first page for planners and finance, interactive charts, human tables; workbook; commands."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pvopt.cli.main
import pvopt.cli.finance  # noqa: F401 - registers the commands
from pvopt.io import write_netcdf_atomic
from pvopt.lp.model import SolveOptions
from pvopt.lp.outcome import solve
from pvopt.pipeline import with_business_as_usual
from pvopt.report import report as R
from pvopt.report.labels import header
from pvopt.report.macc import macc_bars
from pvopt.testing import small_inputs

from _finance_plan import NEUTRAL_YEAR

REPO = Path(__file__).resolve().parents[2]
VALUE_RTOL = 1e-9  # workbook numbers are the computed floats


def _plan_with_bau():
    d = small_inputs(milestones=[{"name": "neutral", "type": "neutrality", "year": NEUTRAL_YEAR},
                                 {"name": "peak", "type": "emissions_peak", "year": 2024}])
    d["residual_ef_t_per_mwh"] = d["grid_ef_t_per_mwh"].copy()
    d["capex_per_kwp"][1] = d["capex_per_kwp"][1] * 10.0  # carports left unbuilt
    return with_business_as_usual(d, solve(d, SolveOptions()).plan)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder with plan.nc (small plan against business-as-usual) and the report written from it."""
    d = tmp_path_factory.mktemp("run")
    write_netcdf_atomic(_plan_with_bau(), d / "plan.nc")
    R.write_report(d)
    return d


@pytest.fixture(scope="module")
def page(run_dir):
    return (run_dir / "report.html").read_text(encoding="utf-8")


def test_html_self_contained_with_all_sections(page):
    for h in R.SECTIONS:
        assert re.search(rf"<h2( id='\w+')?>{re.escape(h)}</h2>", page), h
    assert f"<h2>{R.BAU_SECTION}</h2>" in page
    assert "<title>pvopt plan report: " in page and "finance report" not in page
    # plotly.js inlined exactly once, in the first figure; every other figure reuses it
    assert page.count("window.PlotlyConfig") == 1
    divs = re.findall(r'<div id="fig-([a-z_]+)"', page)
    assert divs[0] == "cashflow" and set(divs) >= {"buildout", "monthly_yield", "emissions", "dispatch_week", "macc", "costs", "milestones"}
    assert page.index("window.PlotlyConfig") < page.index('<div id="fig-cashflow"') < page.index('<div id="fig-buildout"')
    # nothing fetched when opened (plotly.js itself mentions URLs in its code, so look at the page's own tags)
    assert not re.search(r"<(script|img|link|iframe)[^>]*\s(src|href)=['\"]https?:", page)
    assert not re.search(r"<script[^>]*\ssrc=", page)


def test_first_page_answers_planners_and_finance(page):
    first = page[page.index(f"<h2>{R.SECTIONS[0]}</h2>"): page.index(f"<h2 id='answer'>{R.SECTIONS[1]}</h2>")]
    for text in ("For planners", "For finance", "Build list", "Milestones: met, with their margins", "business-as-usual NPC",
                 "NPC saving against business-as-usual", "payback", "PV beats certificates", 'id="fig-cashflow"'):
        assert text in first, text


def test_tables_have_human_headers_and_plain_years(page):
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert heads and not [h for h in heads if re.search(r"[a-z0-9]+_[a-z0-9]+", h)], "snake_case header"
    assert {"LCOE [CNY/kWh]", "Scope 2 market-based [tCO2e]", "New [kWp]", "Break-even certificate price [CNY/MWh]"} <= set(heads)
    for y in (2024, 2025, 2026):  # the plan years, never "2,024"
        assert f">{y:,}<" not in page and f">{y}<" in page
    assert "<th class='n'>2024</th>" in page or "<th class='t'>2024</th>" in page


def test_one_number_format_per_column(run_dir):
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    table = page[page.index("<h2>Emissions</h2>"):]
    table = table[table.index("<table>"): table.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    cells = [re.findall(r"<td[^>]*>([^<]*)</td>", r) for r in rows]
    for col in range(1, len(cells[0])):
        decimals = {len(c[col].split(".")[1]) if "." in c[col] else 0 for c in cells if c[col] != "–"}
        assert len(decimals) == 1, (col, [c[col] for c in cells])


def test_header_units():
    assert header("lcoe_cny_per_kwh", "CNY") == "LCOE [CNY/kWh]"
    assert header("certificate_cost_annual_matching_CNY", "CNY") == "Certificate cost annual matching [CNY]"
    assert header("capex_cny", "CNY") == "PV capex [CNY]"
    assert header("om_rooftop_cny_per_kwp_year", "CNY") == "O&M rooftop [CNY/kWp/yr]"
    assert header("scope2_location_tco2e") == "Scope 2 location-based [tCO2e]"
    assert header("marginal_cost_cny_npv_per_unit", "CNY") == "Marginal cost [CNY NPV per unit]"
    assert header("2030") == 2030 and header(2031) == 2031


def test_pngs_written(run_dir):
    for name in R.FIGURES:
        p = run_dir / "figures" / f"{name}.png"
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(run_dir.glob(".*.tmp"))


def test_workbook_sheets_and_values(run_dir):
    plan = R.load_plan(run_dir / "plan.nc")
    book = pd.read_excel(run_dir / "report.xlsx", sheet_name=None)
    assert list(book)[: len(R.SHEETS)] == R.SHEETS
    assert {"matching", "business_as_usual", "npc_saving_split"} <= set(book)
    em = book["emissions"]
    allr = em[em["Site"] == "ALL"]
    assert allr["Certificates [MWh]"].sum() == pytest.approx(float(plan["certificates_mwh"].sum()), rel=VALUE_RTOL)
    assert allr["Net [tCO2e]"].sum() == pytest.approx(float(plan["net_tco2e"].sum()), rel=VALUE_RTOL, abs=1e-6)
    assert book["capacity"]["New PV [kWp]"].sum() == pytest.approx(float(plan["build_kwp"].sum()), rel=VALUE_RTOL)
    costs = book["costs"]
    assert costs[costs["Site"] == "ALL"]["Certificates [CNY]"].sum() == pytest.approx(float(plan["certificate_cost"].sum()), rel=VALUE_RTOL)
    fa = book["finance_arrays"]
    assert set(fa["Status"]) == {"built", "not built"}
    assert np.issubdtype(fa["LCOE [CNY/kWh]"].dtype, np.floating)
    assert set(book["milestones"]["Milestone"]) == {"neutral", "peak"}
    assert book["checks"]["OK"].dropna().astype(bool).all()
    assert book["build_list"]["New [kWp]"].sum() == pytest.approx(float(plan["build_kwp"].sum()), rel=1e-6)


def test_workbook_formats_people_can_use(run_dir):
    import openpyxl

    wb = openpyxl.load_workbook(run_dir / "report.xlsx")
    for ws in wb.worksheets:
        assert ws.freeze_panes in ("A2", "B2"), ws.title
        head = [c for c in ws[1] if c.value is not None]
        assert head and all(c.font.bold for c in head), ws.title
        assert not [c.value for c in head if isinstance(c.value, str) and re.search(r"[a-z0-9]+_[a-z0-9]+", c.value)], ws.title
        assert not [c.value for c in head if isinstance(c.value, str) and re.search(r"_cny|_CNY|\bcny\b", c.value)], ws.title
    cost = wb["costs"]
    cols = {c.value: c.column_letter for c in cost[1]}
    total = cost[f"{cols['Total [CNY]']}2"]
    assert isinstance(total.value, float) and total.number_format == "#,##0"
    year = cost[f"{cols['Year']}2"]
    assert isinstance(year.value, int) and year.number_format == "0"
    assert cost.column_dimensions[cols["Total [CNY]"]].width >= len(f"{total.value:,.0f}")
    lcoe = wb["finance_arrays"]
    c = {x.value: x.column_letter for x in lcoe[1]}
    assert re.fullmatch(r"#,##0\.0{2,3}", lcoe[f"{c['LCOE [CNY/kWh]']}2"].number_format)
    years = [x.value for x in wb["business_as_usual"]["A"][1:]]
    assert all(isinstance(y, int) and 2000 < y < 2100 for y in years)


def test_workbook_year_headers_are_numbers(tmp_path):
    from pvopt.report.workbook import workbook_bytes
    import openpyxl

    df = pd.DataFrame({"measure": ["a", "b"], "2024": [0.5, 0.25], "2025": [1.0, 1.5]})
    (tmp_path / "w.xlsx").write_bytes(workbook_bytes({"measures": df}, ["measures"], "CNY"))
    ws = openpyxl.load_workbook(tmp_path / "w.xlsx")["measures"]
    assert [c.value for c in ws[1]] == ["Measure", 2024, 2025]
    assert ws["B2"].number_format == "#,##0.000" and ws["C2"].number_format == "#,##0.00"


def test_macc_clips_outliers_and_labels_them():
    macc = pd.DataFrame({"option": ["PV a", "PV b", "PV c", "certificates X", "electrification forklift"],
                         "type": ["pv", "pv", "pv", "certificate", "electrification"], "used_in_plan": [True, True, True, True, False],
                         "abated_tco2e_per_year": [100.0, 200.0, 150.0, 5000.0, 50.0],
                         "cost_cny_per_tco2e": [-600.0, -550.0, -400.0, 10.0, 11000.0]})
    bars = macc_bars(macc, "CNY")
    out = bars[bars["option"] == "electrification forklift"].iloc[0]
    assert out["clipped"] and out["height"] < 2000 and "11,000" in out["label"]
    assert not bars.loc[bars["option"] != "electrification forklift", "clipped"].any()
    assert np.allclose(bars["x0"].diff().dropna().values, bars["width_tco2e_per_year"].values[:-1])


def test_macc_one_year_certificate_is_annualised(run_dir):
    plan = R.load_plan(run_dir / "plan.nc")
    tables = R.report_tables(plan)
    bars = macc_bars(tables["macc"], "CNY", plan).set_index("option")
    n = plan.sizes["year"]
    for c, name in enumerate(str(x) for x in plan["certificate"].values):
        used = float((plan["certificates_by_instrument_mwh"].values[c] * plan["residual_ef_t_per_mwh"].values).sum())
        if used > 0:
            assert bars.loc[f"certificates {name}", "width_tco2e_per_year"] == pytest.approx(used / n, rel=1e-9)


def _with_calendar_load(plan, holidays=()):
    """The plan with a load of full weekdays and half weekends on the plan years' calendars, and low-load holidays (day indices)."""
    load = np.zeros(plan["load_kw"].shape)
    for j, y in enumerate(plan["year"].values.astype(int)):
        weekend = R.plan_dates(int(y)).day_of_week.to_numpy() >= 5
        daily = np.where(weekend, 0.5, 1.0)
        daily[list(holidays)] = 0.3
        load[:, j, :] = 500.0 * np.repeat(daily, 24)
    out = plan.copy()
    for k in ("load_kw", "load_after_measures_kw"):
        if k in out:
            out[k] = (plan["load_kw"].dims, load)
    return out


def test_dispatch_week_skips_holidays_and_says_so():
    plan = _with_calendar_load(solve(small_inputs(), SolveOptions()).plan)
    j, h0, why = R.dispatch_choice(plan)
    year = int(plan["year"].values[j])
    assert R.plan_dates(year)[h0 // 24].day_of_week == 0  # a Monday
    assert "public holiday" in why and str(year) in why and "This week has no public holiday" in why
    day = h0 // 24 + 2  # a holiday on the chosen week's Wednesday
    _, h1, why2 = R.dispatch_choice(_with_calendar_load(plan, holidays=[day]))
    assert h1 != h0 and not (h1 // 24 <= day < h1 // 24 + 7)
    assert "This week has no public holiday" in why2


def test_report_command_and_missing_plan(run_dir, tmp_path):
    r = CliRunner().invoke(pvopt.cli.main.app, ["report", str(run_dir), "--force"])  # the fixture wrote a report already
    assert r.exit_code == 0, r.output
    assert "report.html" in r.output
    r2 = CliRunner().invoke(pvopt.cli.main.app, ["report", str(tmp_path / "nothing")])
    assert r2.exit_code != 0
    assert "plan.nc" in r2.output


def test_compare_command_on_lead(tmp_path):
    r = CliRunner().invoke(pvopt.cli.main.app, ["compare", str(REPO / "sites" / "lead"), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "PV against certificates" in r.output and "break-even" in r.output
    assert (tmp_path / "figures" / "macc.png").read_bytes()[:4] == b"\x89PNG"
    r2 = CliRunner().invoke(pvopt.cli.main.app, ["compare", str(REPO / "sites" / "lead"), "--plan", str(tmp_path / "plan.nc"),
                                            "--out", str(tmp_path / "again")])
    assert r2.exit_code == 0, r2.output
    assert (tmp_path / "again" / "figures" / "macc.png").exists()


# --------------------------------------------------------------------------- #
# the page in a real browser
# --------------------------------------------------------------------------- #
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
VIEWPORTS = [(1280, 900), (760, 900)]  # desktop and a narrow window: no horizontal overflow at either


@pytest.mark.skipif(not os.environ.get("PVOPT_BROWSER_TESTS"), reason="set PVOPT_BROWSER_TESTS=1 (as .ci/run does) to run")
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    """In a real headless Chromium: no console errors, every figure rendered, no horizontal overflow, nothing fetched.

    Runs when ``PVOPT_BROWSER_TESTS`` is set (``.ci/run`` sets it and installs Debian's chromium);
    then a missing browser or Playwright is a failure, not a skip.
    """
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "install Debian's chromium (apt-get install -y chromium), as .ci/run does"
    html = run_dir / "report.html"
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": VIEWPORTS[0][0], "height": VIEWPORTS[0][1]})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None)
            page.goto(html.as_uri(), wait_until="load")
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0", timeout=10000)
            n_divs = page.evaluate("document.querySelectorAll('div[id^=\"fig-\"]').length")
            rendered = page.evaluate("Array.from(document.querySelectorAll('div[id^=\"fig-\"]'))"
                                     ".filter(d => d.querySelector('.main-svg') && d.getBoundingClientRect().height > 100).length")
            assert n_divs >= 8 and rendered == n_divs, (n_divs, rendered)
            assert page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length") == 0
            for w, h in VIEWPORTS:
                page.set_viewport_size({"width": w, "height": h})
                page.wait_for_timeout(300)
                assert page.evaluate("document.documentElement.scrollWidth") <= w, f"horizontal overflow at {w} px"
                page.screenshot(path=str(tmp_path / f"report-{w}.png"))
        finally:
            browser.close()
    assert not errors, errors
    assert not requests, requests  # works offline: nothing fetched
    assert (tmp_path / "report-1280.png").read_bytes()[:4] == b"\x89PNG"
