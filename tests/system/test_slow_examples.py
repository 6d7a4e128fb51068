"""Large cases: excluded from CI (``-m "not slow"``); run with ``pytest -m slow`` or the benchmark scripts.

Their small versions run in CI: tests/lp/test_pillars.py (battery, demand charge, measures on
small exact cases) and tests/system/test_example.py / tests/cli/test_cli.py (the `lead` example).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pvopt.lp.model import SolveOptions
from pvopt.pipeline import run_plan

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_lead_pillars_plans_with_battery_and_demand_charge(tmp_path):
    run = run_plan(REPO / "sites" / "lead-pillars", tmp_path, opts=SolveOptions(), hourly=False)
    p = run.plan
    assert all(r["met"] for r in run.milestones)
    assert float(p["battery_energy_kwh"].max()) > 0.0  # a battery pays under the demand charge
    assert float(p["demand_cost"].sum()) > 0.0
    # the demand charge is a cost the `lead` example does not have: the NPC is higher
    base = run_plan(REPO / "sites" / "lead", tmp_path / "lead", hourly=False)
    assert float(p["npc"]) > float(base.plan["npc"])
