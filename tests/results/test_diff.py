"""Two plans side by side (:mod:`pvopt.results.diff`): a plan against itself is all zeros, known changes show exactly."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pvopt.costs import COST_CATEGORIES
from pvopt.lp.outcome import solve
from pvopt.pipeline import with_business_as_usual
from pvopt.results.diff import diff_plans, discount_rate_warning
from pvopt.testing import small_inputs

DIFF_RTOL = 1e-9
"""Relative tolerance of a difference recomputed from the same float64 values."""


@pytest.fixture(scope="module")
def plan() -> xr.Dataset:
    d = small_inputs(milestones=[{"name": "pv-min", "type": "min_portfolio_kwp", "year": 2025, "kwp": 1500.0},
                                 {"name": "neutral", "type": "neutrality", "year": 2026}], existing_kwp=20.0)
    return with_business_as_usual(d, solve(d, hourly=False).plan)


def test_a_plan_against_itself_is_all_zeros(plan):
    d = diff_plans(plan, plan.copy(deep=True))
    assert d.is_zero()
    assert d.warnings == []
    for name, t in d.tables().items():
        assert (t["diff"].abs().fillna(0.0) == 0.0).all(), name
    assert len(d.build) == int((plan["build_kwp"] > 1e-6).sum())
    assert set(d.milestones.index) == {"pv-min", "neutral"}


def test_known_changes_show_exactly(plan):
    b = plan.copy(deep=True)
    arrays, years = [str(a) for a in plan["array"].values], [int(y) for y in plan["year"].values]
    b["build_kwp"].values[1, 2] += 100.0  # a new build that A does not have (or more of one)
    b["certificates_mwh"].values[0, 1] += 5.0
    b["npc"] = float(plan["npc"]) + 1000.0
    b["energy_cost"].values[0, 0] += 10.0
    b["milestone_achieved"].values[0] += 7.0  # pv-min: 7 kWp more margin
    d = diff_plans(plan, b, names=("base", "more"))
    s = d.summary["diff"]
    assert s["npc"] == pytest.approx(1000.0, rel=DIFF_RTOL)
    assert s["new PV"] == pytest.approx(100.0, rel=DIFF_RTOL)
    assert s["certificates"] == pytest.approx(5.0, rel=DIFF_RTOL)
    grid = [c for c in COST_CATEGORIES if c.name == "energy_cost"][0]
    assert s[f"npv {grid.label}"] == pytest.approx(10.0 * float(plan["discount_factor"][0]), rel=DIFF_RTOL)  # first year: df = 1
    assert d.build.loc[(arrays[1], years[2]), "diff"] == pytest.approx(100.0, rel=DIFF_RTOL)
    assert d.yearly.loc[("certificates_mwh", years[1]), "diff"] == pytest.approx(5.0, rel=DIFF_RTOL)
    assert d.milestones.loc["pv-min", "diff"] == pytest.approx(7.0, rel=DIFF_RTOL)
    changed = {k for t in d.tables().values() for k, v in t["diff"].items() if abs(v) > 1e-9}
    assert changed == {"npc", "new PV", "certificates", f"npv {grid.label}", (arrays[1], years[2]), ("certificates_mwh", years[1]), "pv-min"}
    assert not d.is_zero()


def test_discount_rates_that_differ_are_flagged(plan):
    b = plan.copy(deep=True)
    b.attrs["discount_rate"] = 0.09
    d = diff_plans(plan, b, names=("r6", "r9"))
    assert len(d.warnings) == 1 and "not comparable" in d.warnings[0] and "r9 9.0%" in d.warnings[0]
    assert discount_rate_warning({"a": 0.06, "b": 0.06}) == ""


def test_html_and_csv_outputs(plan):
    b = plan.copy(deep=True)
    b["npc"] = float(plan["npc"]) + 1.0
    d = diff_plans(plan, b)
    html = d.to_html()
    assert "<h2>summary</h2>" in html and "#fde0dd" in html  # a rise in cost highlighted
    frame = d.to_frame()
    assert set(frame["table"]) == {"summary", "build", "yearly", "milestones"}
    assert np.isclose(frame.loc[frame["metric"] == "npc", "diff"].iloc[0], 1.0)
    assert d.to_csv_text().startswith("table,")
