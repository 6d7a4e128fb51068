"""Report: HTML self-contained with all sections, workbook sheets equal the plan, PNGs; `compare` and `report` commands."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pvopt.cli.main
import pvopt.cli.finance  # noqa: F401 - registers the commands
from pvopt.report import report as R
from pvopt.io import write_netcdf_atomic

from _finance_plan import solved_small_plan

REPO = Path(__file__).resolve().parents[2]
VALUE_RTOL = 1e-9  # workbook numbers are the computed floats


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    write_netcdf_atomic(solved_small_plan(), d / "plan.nc")
    R.write_report(d)
    return d


def test_html_self_contained_with_all_sections(run_dir):
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    for h in R.SECTIONS:
        assert f"<h2>{h}</h2>" in text
    imgs = re.findall(r"<img [^>]*src='([^']*)'", text)
    assert len(imgs) == len(R.FIGURES)
    assert all(src.startswith("data:image/png;base64,") for src in imgs)
    assert "src='http" not in text and "href='http" not in text  # nothing fetched when opened


def test_pngs_written(run_dir):
    for name in R.FIGURES:
        p = run_dir / "figures" / f"{name}.png"
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(run_dir.glob(".*.tmp"))


def test_workbook_sheets_and_values(run_dir):
    plan = R.load_plan(run_dir / "plan.nc")
    book = pd.read_excel(run_dir / "report.xlsx", sheet_name=None)
    # the standard sheets first, then the plan's own extras (every plan has the matching comparison)
    assert list(book)[: len(R.SHEETS)] == R.SHEETS
    assert "matching" in book
    em = book["emissions"]
    allr = em[em.site == "ALL"]
    assert allr["certificates_mwh"].sum() == pytest.approx(float(plan["certificates_mwh"].sum()), rel=VALUE_RTOL)
    assert allr["net_tco2e"].sum() == pytest.approx(float(plan["net_tco2e"].sum()), rel=VALUE_RTOL, abs=1e-6)
    cap = book["capacity"]
    assert cap["build_kwp"].sum() == pytest.approx(float(plan["build_kwp"].sum()), rel=VALUE_RTOL)
    costs = book["costs"]
    assert costs[costs.site == "ALL"]["certificate_cny"].sum() == pytest.approx(float(plan["certificate_cost"].sum()), rel=VALUE_RTOL)
    fa = book["finance_arrays"]
    assert set(fa["status"]) == {"built", "not built"}
    assert np.issubdtype(fa["lcoe_cny_per_kwh"].dtype, np.floating)
    ms = book["milestones"]
    assert set(ms["milestone"]) == {"neutral", "peak"}
    assert book["checks"]["ok"].dropna().astype(bool).all()


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
