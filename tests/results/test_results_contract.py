"""Contracts of the results: costs add up in every view, identities hold, weather and input provenance travel.

* cost categories (:data:`pvopt.costs.COST_CATEGORIES`) sum to ``total_cost`` in the plan,
  ``summary.csv``, :meth:`PlanResult.costs`, the report's table, chart data and workbook, and
  the sweep results and index; their discounted sum less salvage is the NPC and the objective;
* the accounting identities hold on the example and on a case with battery, demand charge and
  measures; a failed one shows red in the report;
* the weather statement reaches plan.nc, the report and :class:`PlanResult`;
* the report leaves out run-folder artefacts computed from other inputs, and says why;
* every plan variable is declared (:mod:`pvopt.datasets`), outputs never reuse an input's
  name, and the solve rejects an LP-input Dataset that lacks a variable.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xarray as xr

from pvopt.costs import COST_CATEGORIES, COST_NAMES, TOTAL_COST, column_name
from pvopt.datasets import LP_INPUTS, PLAN_OUTPUTS, PLAN_VARIABLES, InputDatasetError, check_lp_inputs, unit_of
from pvopt.lp.model import SolveOptions, solve_plan
from pvopt.pipeline import PlanRun, plan_from_inputs, write_plan_atomic
from pvopt.report import report as R
from pvopt.report.labels import header
from pvopt.results import accounting as A
from pvopt.testing import small_inputs

from conftest import LEAD_DIR, edit_yaml, mini_portfolio

COST_RTOL = 1e-9
"""Relative tolerance of a cost sum against total_cost (both computed in float64 from the same values)."""
COST_ATOL = 1e-6
"""Absolute tolerance [currency] of a cost sum (workbook and CSV round trips)."""
NPC_RTOL = 1e-6
"""Relative tolerance of the discounted cost sum against the NPC and the HiGHS objective."""
MIN_CATEGORY_CNY = 1.0
"""A category counts as exercised by a case when it sums to more than this [CNY]."""

PILLAR_CASE = dict(n_sites=2, n_years=2, battery_sites=(0,), battery_capex_per_kwh=100.0, measures=True,
                   demand_charge_per_kw_month=30.0, export=[False, True], pv_to_load=4.0)


def _solve(d: xr.Dataset) -> tuple[xr.Dataset, PlanRun]:
    run = plan_from_inputs(None, d, SolveOptions())  # type: ignore[arg-type]
    return run.plan, run


@pytest.fixture(scope="module")
def pillar_plan():
    """Every cost category non-zero: PV, measures, a battery, a demand charge, export, certificates, offsets."""
    return _solve(small_inputs(**PILLAR_CASE, milestones=[{"name": "neutral", "type": "neutrality", "year": 2025}]))


@pytest.fixture(scope="module")
def lead_run(tmp_path_factory):
    """``pvopt plan sites/lead --report`` into a fresh folder (about 10 s)."""
    from typer.testing import CliRunner

    import pvopt.cli  # noqa: F401 - registers every command
    from pvopt.cli.main import app

    out = tmp_path_factory.mktemp("lead")
    r = CliRunner().invoke(app, ["plan", str(LEAD_DIR), "--out", str(out), "--force", "--report"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return out


def _signed(df: pd.DataFrame, names) -> pd.Series:
    return sum(c.sign * df[n] for c, n in zip(COST_CATEGORIES, names))


# --------------------------------------------------------------------------- #
# A1: costs add up
# --------------------------------------------------------------------------- #
def test_case_exercises_every_cost_category(pillar_plan):
    plan, _ = pillar_plan
    for c in COST_CATEGORIES:
        assert float(np.abs(plan[c.name]).sum()) > MIN_CATEGORY_CNY, f"{c.name} is zero in the test case: the sum test would be blind to it"


def test_total_cost_is_the_signed_sum_and_discounts_to_the_npc(pillar_plan):
    plan, run = pillar_plan
    np.testing.assert_allclose(_signed_sum_plan(plan), plan[TOTAL_COST].values, rtol=COST_RTOL)
    discounted = float((plan[TOTAL_COST].sum("site") * plan["discount_factor"]).sum())
    assert discounted - float(plan["salvage_value"]) == pytest.approx(float(plan["npc"]), rel=NPC_RTOL)
    assert float(plan["npc"]) == pytest.approx(float(run.solution.objective), rel=NPC_RTOL)


def _signed_sum_plan(plan: xr.Dataset) -> np.ndarray:
    return sum(c.sign * plan[c.name].values for c in COST_CATEGORIES)


def test_summary_csv_costs_add_up(pillar_plan, tmp_path):
    plan, _ = pillar_plan
    write_plan_atomic(plan, tmp_path, force=False)
    df = pd.read_csv(tmp_path / "summary.csv")
    assert set(COST_NAMES) <= set(df.columns)
    np.testing.assert_allclose(_signed(df, COST_NAMES), df[TOTAL_COST], rtol=COST_RTOL, atol=COST_ATOL)
    all_rows = df[df.site == "ALL"].set_index("year")[TOTAL_COST]
    np.testing.assert_allclose(all_rows.values, plan[TOTAL_COST].sum("site").values, rtol=COST_RTOL)


def test_api_costs_add_up(pillar_plan):
    from pvopt.api import PlanResult

    plan, run = pillar_plan
    res = PlanResult(run, None)  # type: ignore[arg-type]
    for by in ("portfolio", "site"):
        df = res.costs(by=by)
        cols = [column_name(n, "cny") for n in COST_NAMES]
        np.testing.assert_allclose(_signed(df, cols), df[column_name(TOTAL_COST, "cny")], rtol=COST_RTOL, atol=COST_ATOL)
    pv = res.costs()
    assert float(pv["present_value_cny"].sum()) - float(plan["salvage_value"]) == pytest.approx(res.npc, rel=NPC_RTOL)


def test_report_table_chart_and_workbook_costs_add_up(pillar_plan, tmp_path):
    plan, _ = pillar_plan
    cols = [column_name(n, "cny") for n in COST_NAMES]
    tab = R.report_tables(plan)["costs"]
    np.testing.assert_allclose(_signed(tab, cols), tab["total_cny"], rtol=COST_RTOL, atol=COST_ATOL)
    stack = R.cost_stack(plan)  # the chart's bars (signed) and its total line
    np.testing.assert_allclose(stack[list(COST_NAMES)].sum(axis=1), stack[TOTAL_COST], rtol=COST_RTOL, atol=COST_ATOL)
    files = R.write_report(tmp_path, plan=plan)
    ws = openpyxl.load_workbook(files.xlsx, read_only=True)["costs"]
    rows = list(ws.values)
    xl = pd.DataFrame(rows[1:], columns=rows[0])
    h = lambda c: header(c, "CNY")  # noqa: E731 - the workbook's human headers, e.g. "PV capex [CNY]"
    np.testing.assert_allclose(_signed(xl, [h(c) for c in cols]), xl[h("total_cny")].astype(float), rtol=COST_RTOL, atol=COST_ATOL)
    disc = xl[xl[h("site")] == "ALL"][h("total_discounted_cny")].astype(float).sum()
    assert disc - float(plan["salvage_value"]) == pytest.approx(float(plan["npc"]), rel=NPC_RTOL)


def test_cost_chart_refuses_a_total_that_does_not_add_up(pillar_plan):
    plan, _ = pillar_plan
    broken = plan.copy()
    broken["measure_cost"] = broken["measure_cost"] * 0.0
    with pytest.raises(ValueError, match="do not add up"):
        R.cost_stack(broken)


def test_sweep_result_and_index_costs_add_up(pillar_plan, tmp_path):
    from pvopt.studies import sweep as S

    plan, run = pillar_plan
    compact = S._compact_result(plan, run.milestones)
    np.testing.assert_allclose(_signed_sum_plan(compact), compact[TOTAL_COST].values, rtol=COST_RTOL)
    grid = S.scenario_grid({"capex_scale": [1.0]})
    S._store_record(tmp_path, {"id": grid[0].id, "status": "ok", "result": compact, "values": dict(grid[0].values),
                               "seconds": 1.0, "worker": "test"})
    idx = S._index_frame(grid, ["capex_scale"], S._read_stored(tmp_path, grid))
    np.testing.assert_allclose(_signed(idx, COST_NAMES), idx[TOTAL_COST], rtol=COST_RTOL, atol=COST_ATOL)
    assert float(idx[TOTAL_COST].iloc[0]) == pytest.approx(float(plan[TOTAL_COST].sum()), rel=COST_RTOL)


def test_lead_summary_and_workbook_costs_add_up(lead_run):
    """The example: the Wuxi measures (900,000 CNY in 2024) used to be missing from the ALL rows."""
    df = pd.read_csv(lead_run / "summary.csv")
    allr = df[df.site == "ALL"]
    assert float(allr["measure_cost"].sum()) > MIN_CATEGORY_CNY
    np.testing.assert_allclose(_signed(allr, COST_NAMES), allr[TOTAL_COST], rtol=COST_RTOL, atol=COST_ATOL)
    rows = list(openpyxl.load_workbook(lead_run / "report.xlsx", read_only=True)["costs"].values)
    xl = pd.DataFrame(rows[1:], columns=rows[0])
    cols = [header(column_name(n, "cny"), "CNY") for n in COST_NAMES]  # the workbook's human headers, e.g. "PV capex [CNY]"
    np.testing.assert_allclose(_signed(xl, cols), xl[header("total_cny", "CNY")].astype(float), rtol=COST_RTOL, atol=COST_ATOL)


# --------------------------------------------------------------------------- #
# A2: identities
# --------------------------------------------------------------------------- #
def test_identities_hold_on_the_example_plan_nc_and_report(lead_run):
    plan = R.load_plan(lead_run / "plan.nc")
    A.assert_identities(plan)
    checks = pd.read_excel(lead_run / "report.xlsx", sheet_name="checks")
    ident = checks[checks[header("kind")] == "identity"]
    assert len(ident) and ident[header("ok")].astype(bool).all(), ident[~ident[header("ok")].astype(bool)]
    assert "class='fail'" not in (lead_run / "report.html").read_text(encoding="utf-8")


def test_identities_hold_with_battery_demand_charge_and_measures(pillar_plan, tmp_path):
    plan, _ = pillar_plan
    assert float(plan["battery_charge_mwh"].sum()) > 0 and float(plan["measure_adopted_fraction"].sum()) > 0
    A.assert_identities(plan)
    write_plan_atomic(plan, tmp_path, force=False)
    A.assert_identities(R.load_plan(tmp_path / "plan.nc"))  # float32 hourly data in the file


def test_failed_identity_is_an_error_and_red_in_the_report(pillar_plan, tmp_path):
    plan, _ = pillar_plan
    broken = plan.copy()
    broken["grid_import_mwh"] = broken["grid_import_mwh"] + 10.0
    with pytest.raises(AssertionError, match="onsite \\+ grid"):
        A.assert_identities(broken)
    R.write_report(tmp_path, plan=broken)
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert re.search(r"<tr class='fail'><td>onsite \+ grid", text)
    assert "check(s) fail" in text


# --------------------------------------------------------------------------- #
# A3: weather statement
# --------------------------------------------------------------------------- #
def test_weather_statement_reaches_plan_nc_and_report(lead_run):
    plan = R.load_plan(lead_run / "plan.nc")
    stmt = str(plan.attrs.get("weather_statement", ""))
    assert stmt.startswith("SYNTHETIC WEATHER")
    assert "SYNTHETIC WEATHER" in (lead_run / "report.html").read_text(encoding="utf-8")


def test_weather_statement_reaches_plan_result(tmp_path):
    import pvopt.api as api
    from pvopt.inputs.loading import load_portfolio

    res = api.plan(load_portfolio(mini_portfolio(tmp_path / "mini")), milestone_costs="none")
    assert res.weather_statement.startswith("SYNTHETIC WEATHER")
    assert res.dataset.attrs["weather_statement"] == res.yields.dataset.attrs["weather_statement"]
    assert "SYNTHETIC WEATHER" in repr(res)


# --------------------------------------------------------------------------- #
# A4: stale artefacts
# --------------------------------------------------------------------------- #
def test_report_leaves_out_risk_from_other_inputs(tmp_path, cli):
    import pvopt.cli.risk  # noqa: F401 - registers `risk`

    pf = mini_portfolio(tmp_path / "mini")
    run = tmp_path / "run"
    r = cli("risk", pf, "--years", "1", "--out", run)
    assert r.exit_code == 0, r.output
    r = cli("plan", pf, "--out", run, "--report")
    assert r.exit_code == 0, r.output
    html_same = (run / "report.html").read_text(encoding="utf-8")
    assert "<h2>Weather risk</h2>" in html_same  # same inputs: included (the test can see a risk section)
    assert R.LEFT_OUT_SECTION not in html_same
    edit_yaml(pf / "alpha.yaml", lambda s: s["load"].update(annual_mwh=2500))
    r = cli("plan", pf, "--out", run, "--force", "--report")
    assert r.exit_code == 0, r.output
    html_changed = (run / "report.html").read_text(encoding="utf-8")
    assert "<h2>Weather risk</h2>" not in html_changed
    assert f"<h2>{R.LEFT_OUT_SECTION}</h2>" in html_changed
    assert "risk.nc: left out because it was computed from other inputs" in html_changed
    assert "risk.nc" in r.output
    assert "weather_risk" not in openpyxl.load_workbook(run / "report.xlsx", read_only=True).sheetnames


def test_report_leaves_out_actuals_of_another_plan(pillar_plan, tmp_path):
    plan, _ = pillar_plan
    pd.DataFrame({"site": ["s0"], "year": [2024], "metered_pv_mwh": [1.0], "portfolio_fingerprint": ["0123456789abcdef"]}).to_csv(
        tmp_path / "actuals.csv", index=False)
    files = R.write_report(tmp_path, plan=plan)
    assert "actuals.csv" in files.left_out
    text = files.html.read_text(encoding="utf-8")
    assert "<h2>Metered actuals</h2>" not in text and "actuals.csv: left out" in text
    pd.DataFrame({"site": ["s0"], "year": [2024], "metered_pv_mwh": [1.0],
                  "portfolio_fingerprint": [plan.attrs["portfolio_fingerprint"]]}).to_csv(tmp_path / "actuals.csv", index=False)
    files = R.write_report(tmp_path, plan=plan)
    assert not files.left_out and "<h2>Metered actuals</h2>" in files.html.read_text(encoding="utf-8")


def test_fingerprint_follows_the_inputs(tmp_path):
    from pvopt.inputs.fingerprint import portfolio_fingerprint
    from pvopt.inputs.loading import load_portfolio

    a = mini_portfolio(tmp_path / "a")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    assert portfolio_fingerprint(load_portfolio(a)) == portfolio_fingerprint(load_portfolio(b))  # location does not count
    edit_yaml(b / "alpha.yaml", lambda s: s.update(grid_ef_t_per_mwh=0.6))
    assert portfolio_fingerprint(load_portfolio(a)) != portfolio_fingerprint(load_portfolio(b))


# --------------------------------------------------------------------------- #
# B: declared tables
# --------------------------------------------------------------------------- #
def test_every_plan_variable_is_declared_with_dims_and_unit(pillar_plan, tmp_path):
    plan, _ = pillar_plan
    write_plan_atomic(plan, tmp_path, force=False)
    on_disk = R.load_plan(tmp_path / "plan.nc")
    declared = {v.name: v for v in PLAN_VARIABLES}
    for name, var in on_disk.data_vars.items():
        assert name in declared, f"plan variable {name!r} is not declared in pvopt.datasets"
        assert tuple(var.dims) == declared[name].dims, f"{name}: dims {var.dims}, declared {declared[name].dims}"
        assert var.attrs.get("units") == unit_of(name, "CNY"), f"{name}: units {var.attrs.get('units')!r}"


def test_outputs_never_reuse_an_input_name():
    inputs = {v.name for v in LP_INPUTS}
    outputs = {v.name for v in PLAN_OUTPUTS}
    assert not inputs & outputs
    assert len(inputs) == len(LP_INPUTS) and len(outputs) == len(PLAN_OUTPUTS)


def test_plan_keeps_the_scope1_input_and_adds_scope1_after_measures():
    d = small_inputs(n_sites=1, n_years=1, pv_to_load=1.0, measures=True,
                     milestones=[{"name": "neutral", "type": "neutrality", "year": 2024}])
    d["offset_price_per_tco2e"][:] = 5000.0  # dear offsets: the plan electrifies
    plan, _ = _solve(d)
    np.testing.assert_array_equal(plan["scope1_tco2e"].values, d["scope1_tco2e"].values)  # the input, unchanged
    removed = (plan["measure_adopted_fraction"] * plan["measure_scope1_removed_tco2e"]).sum("measure").values
    assert float(removed.sum()) > MIN_CATEGORY_CNY  # electrification adopted: the two variables differ
    np.testing.assert_allclose(plan["scope1_after_measures_tco2e"].values, d["scope1_tco2e"].values - removed[None, :], atol=COST_ATOL)


def test_small_inputs_and_built_inputs_carry_declared_units():
    d = small_inputs(**PILLAR_CASE)
    for v in LP_INPUTS:
        if v.name in d:
            assert d[v.name].attrs.get("units") == unit_of(v.name, "CNY"), v.name
    check_lp_inputs(d)


def test_input_check_rejects_a_missing_or_misshaped_variable():
    d = small_inputs(n_sites=1, n_years=2)
    with pytest.raises(InputDatasetError, match="'load_kw' is missing"):
        solve_plan(d.drop_vars("load_kw"))
    bad = d.copy()
    bad["grid_ef_t_per_mwh"] = bad["grid_ef_t_per_mwh"].transpose("year", "site")
    with pytest.raises(InputDatasetError, match="'grid_ef_t_per_mwh' has dims"):
        check_lp_inputs(bad)
