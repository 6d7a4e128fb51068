"""Metered actuals against the plan (pvopt.studies.actuals, `pvopt actuals`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import mini_portfolio

PI_ATOL_PCT = 1e-4  # performance index [%] of a meter built from the plan itself
PCT_ATOL = 1e-4  # yield gap [%]
TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """A mini portfolio (2024-2025; 2024 is a leap year) planned with hourly dispatch."""
    from pvopt.pipeline import run_plan

    root = tmp_path_factory.mktemp("actuals")
    d = mini_portfolio(root / "pf")
    out = root / "out"
    run = run_plan(d, out)
    return d, out, run.plan


def _meter(plan, start: str, end: str, *, factor: float, tz: str = TZ, site: str = "alpha") -> pd.DataFrame:
    """Hourly meter rows from the plan's own expectation x ``factor`` (every real hour, Feb 29 included)."""
    from pvopt.pv.weather import hour_index

    stamps = pd.date_range(pd.Timestamp(start, tz=tz), pd.Timestamp(end, tz=tz), freq="h", inclusive="left")
    pv, load = [], []
    for t in stamps:
        y = t.year
        pos = hour_index(y, tz).get_indexer([t])[0]
        p = float(plan["pv_generated_kw"].sel(site=site, year=y).values[pos]) if pos >= 0 else 123.0
        ld = float(plan["load_after_measures_kw"].sel(site=site, year=y).values[pos]) if pos >= 0 else 456.0
        pv.append(factor * p)
        load.append(ld)
    return pd.DataFrame({"timestamp": [t.isoformat() for t in stamps], "site": site, "pv_kwh": pv, "load_kwh": load})


def _write(df: pd.DataFrame, path: Path, comment: str = "# synthetic test meter\n") -> Path:
    path.write_text(comment + df.to_csv(index=False, float_format="%.9f"))
    return path


def test_meter_from_plan_times_0_9(planned, tmp_path):
    from pvopt.studies.actuals import compare_actuals, read_meter

    _, _, plan = planned
    p = _write(_meter(plan, "2024-02-27", "2024-03-04", factor=0.9), tmp_path / "m.csv")
    m = read_meter(p)
    res = compare_actuals(plan, m, timezones={"alpha": TZ})
    tot = res[res.site == "ALL"]
    pi = 100.0 * tot["metered_pv_mwh"].sum() / tot["expected_pv_mwh"].sum()
    assert pi == pytest.approx(90.0, abs=PI_ATOL_PCT)
    assert res["iec_performance_ratio"].isna().all() and (res["poa_hours"] == 0).all()  # no irradiance metered
    for _, r in res.iterrows():
        assert r.performance_index_pct == pytest.approx(90.0, abs=PI_ATOL_PCT)
        assert r.yield_gap_pct == pytest.approx(-10.0, abs=PCT_ATOL)
        assert r.load_gap_mwh == pytest.approx(0.0, abs=1e-6)
        assert r.extra_grid_mwh >= -1e-9
        assert r.emissions_gap_location_tco2e == pytest.approx(r.extra_grid_mwh * 0.58, rel=1e-9)
    # 6 days x 24 h, of which Feb 29 (24 h) is dropped by the 8760-hour convention
    assert int(tot["hours"].sum()) == 5 * 24 and res.attrs["feb29_hours_dropped"] == 24
    assert res.attrs["units"]["performance_index_pct"] == "%" and res.attrs["units"]["emissions_gap_market_tco2e"] == "tCO2e"
    assert sorted(set(res[res.site != "ALL"].month)) == [2, 3]


def test_dst_zone_maps_consecutive_real_hours(planned, tmp_path):
    """Across the spring DST switch every real hour maps to a distinct plan hour (no gap, no duplicate)."""
    from pvopt.studies.actuals import compare_actuals, read_meter

    _, _, plan = planned
    tz = "Europe/Berlin"
    p = _write(_meter(plan, "2025-03-29", "2025-04-01", factor=0.9, tz=tz), tmp_path / "dst.csv")
    res = compare_actuals(plan, read_meter(p), timezones={"alpha": tz}, freq="period")
    assert int(res.loc[res.site == "alpha", "hours"].iloc[0]) == 3 * 24 - 1  # the skipped wall-clock hour
    assert float(res.loc[res.site == "alpha", "performance_index_pct"].iloc[0]) == pytest.approx(90.0, abs=PI_ATOL_PCT)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), start=1) if needle in ln)


@pytest.mark.parametrize(
    "case, column",
    [("naive", "timestamp"), ("missing_column", "load_kwh"), ("duplicate", "timestamp"), ("nan", "pv_kwh"),
     ("negative", "load_kwh"), ("gap", "timestamp")],
)
def test_bad_meter_files_exit_2_naming_file_line_column(planned, tmp_path, cli, case, column):
    d, out, plan = planned
    df = _meter(plan, "2025-03-03", "2025-03-04", factor=1.0)
    if case == "naive":
        df.loc[5, "timestamp"] = df.loc[5, "timestamp"][:19]
    elif case == "missing_column":
        df = df.drop(columns=["load_kwh"])
    elif case == "duplicate":
        df = pd.concat([df.iloc[:8], df.iloc[7:8], df.iloc[8:]], ignore_index=True)
    elif case == "nan":
        df["pv_kwh"] = df["pv_kwh"].astype(object)
        df.loc[12, "pv_kwh"] = "nan"
    elif case == "negative":
        df.loc[3, "load_kwh"] = -5.0
    elif case == "gap":
        df = df.drop(index=[10, 11]).reset_index(drop=True)
    p = _write(df, tmp_path / f"{case}.csv")
    r = cli("actuals", d, p, "--plan", out / "plan.nc")
    assert r.exit_code == 2, r.stdout + r.stderr
    msg = r.stderr
    assert "Traceback" not in msg and str(p) in msg and column in msg
    if case != "missing_column":
        assert "line " in msg
    if case == "naive":
        assert f"line {_line_of(p.read_text(), df.loc[5, 'timestamp'] + ',')}" in msg
    if case == "duplicate":
        assert "appears twice" in msg


def test_cli_actuals_writes_csv_plot_and_report_section(planned, tmp_path, cli):
    import shutil

    d, out, plan = planned
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(out / "plan.nc", run_dir / "plan.nc")
    p = _write(_meter(plan, "2025-06-01", "2025-06-15", factor=0.95), tmp_path / "m.csv")
    r = cli("actuals", d, p, "--plan", run_dir / "plan.nc")
    assert r.exit_code == 0, r.stderr
    df = pd.read_csv(run_dir / "actuals.csv")
    assert np.allclose(df["performance_index_pct"], 95.0, atol=PI_ATOL_PCT)
    assert (run_dir / "figures" / "actuals.png").read_bytes()[:4] == b"\x89PNG"
    rep = cli("report", run_dir)
    assert rep.exit_code == 0, rep.stderr
    html = (run_dir / "report.html").read_text()
    assert "<h2>Metered actuals</h2>" in html and "<h2>Weather risk</h2>" not in html


def test_sample_meter_file_reads(planned):
    from pvopt.studies.actuals import read_meter

    root = Path(__file__).resolve().parents[2]
    m = read_meter(root / "sites" / "lead" / "meter_sample.csv")
    assert set(m["site"]) == {"suzhou", "wuxi"} and len(m) == 2 * 28 * 24
    assert str(m["timestamp"].dt.tz) == "UTC"


IEC_PR_RTOL = 1e-9  #: the IEC PR of a meter whose irradiation is built from a chosen PR, exactly (sums of floats)


def test_iec_61724_performance_ratio_where_irradiance_is_metered(planned, tmp_path):
    """PR = (E_ac / P_0) / (H_poa / G_ref) over the hours with a reading; hours without one are left out."""
    from pvopt.studies.actuals import POA_COLUMN, compare_actuals, read_meter

    _, _, plan = planned
    pr_true = 0.8
    df = _meter(plan, "2025-06-01", "2025-06-03", factor=0.9)
    p0_kwp = float(plan["installed_kwp"].sel(year=2025).where(plan["array_site"] == "alpha", 0.0).sum())
    assert p0_kwp > 0
    poa = df["pv_kwh"] / (p0_kwp * pr_true)  # kWh/m2 in the hour with G_ref = 1 kW/m2
    df[POA_COLUMN] = [f"{v:.12g}" for v in poa]
    df.loc[df.index[10:14], POA_COLUMN] = ""  # no reading in these hours: left out of the PR
    df.loc[df.index[12], "pv_kwh"] = 5e3  # a wild metered value in an hour without irradiance does not move the PR
    m = read_meter(_write(df, tmp_path / "poa.csv"))
    period = compare_actuals(plan, m, timezones={"alpha": TZ}, freq="period")
    row = period[period.site == "ALL"].iloc[0]
    assert row["iec_performance_ratio"] == pytest.approx(pr_true, rel=IEC_PR_RTOL)
    assert int(row["poa_hours"]) == len(df) - 4
    assert period.attrs["units"]["iec_performance_ratio"] == "1"


def test_poa_column_values_are_checked(planned, tmp_path, cli):
    d, out, plan = planned
    df = _meter(plan, "2025-06-01", "2025-06-02", factor=1.0)
    df["poa_kwh_m2"] = "0.5"
    df.loc[3, "poa_kwh_m2"] = "-0.1"
    p = _write(df, tmp_path / "badpoa.csv")
    r = cli("actuals", d, p, "--plan", out / "plan.nc")
    assert r.exit_code == 2, r.output
    assert "poa_kwh_m2" in r.stderr and "expected a value >= 0 kWh/m2" in r.stderr and "Traceback" not in r.output


@pytest.mark.parametrize("columns", [100, 80])
def test_actuals_table_names_the_index_and_never_cuts_a_number(planned, tmp_path, columns):
    """The table names "performance index (%)" and the IEC PR, and every number of actuals.csv appears whole."""
    from typer.testing import CliRunner

    from pvopt.cli import app

    d, out, plan = planned
    df = _meter(plan, "2025-05-30", "2025-06-02", factor=0.93)
    p0_kwp = float(plan["installed_kwp"].sel(year=2025).where(plan["array_site"] == "alpha", 0.0).sum())
    df["poa_kwh_m2"] = [f"{v:.9f}" for v in df["pv_kwh"] / (p0_kwp * 0.81)]
    p = _write(df, tmp_path / "m.csv")
    r = CliRunner().invoke(app, ["actuals", str(d), str(p), "--plan", str(out / "plan.nc"), "--out", str(tmp_path / "o")],
                           env={"COLUMNS": str(columns)})
    assert r.exit_code == 0, r.output
    text = r.stdout
    assert "performance" in text and "index (%)" in text and "61724-1" in text
    assert max(len(ln) for ln in text.splitlines() if "│" in ln) <= columns
    tokens = set(text.replace("│", " ").replace("┃", " ").split())
    got = pd.read_csv(tmp_path / "o" / "actuals.csv")
    for _, row in got.iterrows():
        for col, fmt in (("expected_pv_mwh", "{:,.1f}"), ("metered_pv_mwh", "{:,.1f}"), ("performance_index_pct", "{:.1f}"),
                         ("iec_performance_ratio", "{:.3f}"), ("yield_gap_mwh", "{:+,.1f}"), ("extra_grid_mwh", "{:+,.1f}")):
            assert fmt.format(row[col]) in tokens, f"{col} {fmt.format(row[col])} not whole at COLUMNS={columns}"
    assert "IEC 61724-1 PR 0.810" in " ".join(text.split())
