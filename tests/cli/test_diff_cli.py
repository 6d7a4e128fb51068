"""``pvopt diff RUN_A RUN_B``: tables, the NPC line, the discount-rate warning, --out files and the --force rule."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pvopt.lp.outcome import solve
from pvopt.pipeline import with_business_as_usual, write_plan_atomic
from pvopt.studies.sweep import apply_scenario
from pvopt.testing import small_inputs

EXIT_OUTPUT = 5


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Three run folders: base, dearer capex (builds differ), and base at another discount rate."""
    root = tmp_path_factory.mktemp("runs")
    d = small_inputs(n_sites=1, n_years=2, milestones=[{"name": "pv-min", "type": "min_portfolio_kwp", "year": 2025, "kwp": 500.0}])
    out = []
    for name, scen in (("base", {}), ("dear", {"capex_scale": 3.0}), ("rate9", {"discount_rate": 0.09})):
        s = apply_scenario(d, scen) if scen else d
        write_plan_atomic(with_business_as_usual(s, solve(s, hourly=False).plan), root / name, force=False)
        out.append(root / name)
    return out[0], out[1], out[2]


def test_diff_of_two_runs(cli, runs, tmp_path):
    base, dear, _ = runs
    r = cli("diff", base, dear, "--out", tmp_path / "d.csv")
    assert r.exit_code == 0, r.output
    assert "NPC, its split and totals" in r.stdout and "Milestone margins" in r.stdout
    assert "warning" not in r.stderr
    df = pd.read_csv(tmp_path / "d.csv")
    npc = df[(df["table"] == "summary") & (df["metric"] == "npc")].iloc[0]
    assert npc["diff"] > 0  # dearer PV: dearer plan
    assert f"NPC {npc['a']:,.0f} -> {npc['b']:,.0f}" in r.stdout
    again = cli("diff", base, dear, "--out", tmp_path / "d.csv")
    assert again.exit_code == EXIT_OUTPUT and "--force" in again.stderr
    assert cli("diff", base, dear, "--out", tmp_path / "d.csv", "--force").exit_code == 0


def test_diff_warns_when_discount_rates_differ_and_writes_html(cli, runs, tmp_path):
    base, _, rate9 = runs
    r = cli("diff", base, rate9, "--out", tmp_path / "d.html")
    assert r.exit_code == 0, r.output
    assert "discount rates differ" in r.stderr and "not comparable" in r.stderr
    assert "discount rates differ" in (tmp_path / "d.html").read_text(encoding="utf-8")


def test_diff_of_a_run_with_itself_and_bad_out(cli, runs, tmp_path):
    base = runs[0]
    r = cli("diff", base, base / "plan.nc")
    assert r.exit_code == 0, r.output
    assert "(+0); 0 builds differ" in r.stdout
    assert cli("diff", base, base, "--out", tmp_path / "d.txt").exit_code == 2
