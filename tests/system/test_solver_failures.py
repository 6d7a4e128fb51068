"""Solver failures: each a clear message, a documented exit code and no plan written.

time limit -> 4; infeasible milestones -> 3 (naming the milestone and the shortfall
with its unit); unbounded, numerical trouble, HiGHS missing -> 4.
"""

from __future__ import annotations

import builtins
import math

import pytest

from conftest import edit_yaml
from pvopt.lp import highs as highs_direct
from pvopt.errors import EXIT_INFEASIBLE, EXIT_SOLVER, InfeasiblePlanError, SolverError
from pvopt.lp.highs import DirectResult
from pvopt.lp.model import SolveOptions, solve_plan
from pvopt.testing import small_inputs

SHORTFALL_RTOL = 1e-4


def _flat(text: str) -> str:
    return " ".join(text.split())


def _no_result(out) -> None:
    assert not (out / "plan.nc").exists()
    assert not (out / "summary.csv").exists()


def _fake_direct(status: str):
    def solve_direct(m, **kwargs):
        return DirectResult(status, None, 0.01, 0.0)

    return solve_direct


# --------------------------------------------------------------------------- #
# through the CLI
# --------------------------------------------------------------------------- #
def test_time_limit(mini_copy, tmp_path, cli):
    out = tmp_path / "out"
    r = cli("plan", mini_copy, "--out", out, "--full", "--time-limit", "0.0001")
    msg = _flat(r.stderr)
    assert r.exit_code == EXIT_SOLVER, r.stderr
    assert "time limit" in msg and "0.0001 s" in msg and "--time-limit" in msg
    assert msg.count("error:") == 1 and "Traceback" not in r.output
    _no_result(out)


def test_infeasible_milestone_names_it_and_the_shortfall(mini_copy, tmp_path, cli):
    # the only array has 500 kWp: asking 800 kWp leaves a 300 kWp shortfall
    edit_yaml(mini_copy / "portfolio.yaml", lambda p: p["milestones"][0].update(kwp=800))
    out = tmp_path / "out"
    r = cli("plan", mini_copy, "--out", out)
    msg = _flat(r.stderr)
    assert r.exit_code == EXIT_INFEASIBLE, r.stderr
    assert "milestones cannot all be met" in msg
    assert "pv-min: short by 300.0 kWp" in msg
    assert "2025" in msg
    assert msg.count("error:") == 1 and "Traceback" not in r.output
    _no_result(out)


def test_infeasible_two_milestones_both_reported(mini_copy, tmp_path, cli):
    def fn(p):
        p["milestones"][0].update(kwp=800)
        p["milestones"].append({"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": 1e6})

    edit_yaml(mini_copy / "portfolio.yaml", fn)
    r = cli("plan", mini_copy, "--out", tmp_path / "out")
    msg = _flat(r.stderr)
    assert r.exit_code == EXIT_INFEASIBLE
    assert "pv-min: short by 300.0 kWp" in msg
    assert "certs: short by" in msg and "MWh" in msg


@pytest.mark.parametrize(
    "status, words",
    [
        ("Numerical error", ["numerical", "Numerical error"]),
        ("Unbounded", ["unbounded"]),
        ("Time limit reached", ["time limit"]),
        ("Solve error", ["without an optimal plan", "Solve error"]),
    ],
)
def test_solver_status_through_cli(mini_copy, tmp_path, monkeypatch, cli, status, words):
    monkeypatch.setattr(highs_direct, "solve_direct", _fake_direct(status))
    out = tmp_path / "out"
    r = cli("plan", mini_copy, "--out", out)
    msg = _flat(r.stderr)
    assert r.exit_code == EXIT_SOLVER, r.stderr
    for w in words:
        assert w in msg
    assert msg.count("error:") == 1 and "Traceback" not in r.output
    _no_result(out)


def test_highs_unavailable(mini_copy, tmp_path, monkeypatch, cli):
    real_import = builtins.__import__

    def no_highspy(name, *args, **kwargs):
        if name == "highspy" or name.startswith("highspy."):
            raise ImportError("No module named 'highspy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_highspy)
    out = tmp_path / "out"
    r = cli("plan", mini_copy, "--out", out)
    msg = _flat(r.stderr)
    assert r.exit_code == EXIT_SOLVER, r.stderr
    assert "HiGHS is not available" in msg and "pip install highspy" in msg
    _no_result(out)


# --------------------------------------------------------------------------- #
# at the solve_plan level
# --------------------------------------------------------------------------- #
def test_unbounded_negative_offset_price():
    d = small_inputs(n_sites=1, n_years=1)
    d["offset_price_per_tco2e"][:] = -10.0  # the schema forbids this; the solver must still say so clearly
    with pytest.raises(SolverError, match="unbounded"):
        solve_plan(d, SolveOptions())


def test_numerical_trouble_is_a_solver_error(monkeypatch):
    monkeypatch.setattr(highs_direct, "solve_direct", _fake_direct("Numerical error"))
    with pytest.raises(SolverError, match="numerical") as e:
        solve_plan(small_inputs(n_sites=1, n_years=1), SolveOptions())
    assert e.value.exit_code == EXIT_SOLVER


def test_infeasible_shortfall_amount():
    d0 = small_inputs(n_sites=1, n_years=2)
    total = float(d0["max_kwp"].sum())
    d = small_inputs(n_sites=1, n_years=2, milestones=[{"name": "big", "type": "min_portfolio_kwp", "year": 2025, "kwp": total + 123.0}])
    with pytest.raises(InfeasiblePlanError) as e:
        solve_plan(d, SolveOptions())
    amount, unit, detail = e.value.shortfalls["big"]
    assert unit == "kWp"
    assert math.isclose(amount, 123.0, rel_tol=SHORTFALL_RTOL)
    assert "2025" in detail
    assert e.value.exit_code == EXIT_INFEASIBLE
