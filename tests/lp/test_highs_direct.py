"""The bulk HiGHS hand-over gives what Pyomo's own HiGHS interface gives."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from pvopt.lp.highs import solve_direct
from pvopt.lp.model import SolveOptions, Status, build_model, solve_model
from pvopt.testing import small_inputs

OBJ_RTOL = 1e-6
DUAL_RTOL = 1e-5
KWP_ATOL = 1e-3


def test_direct_matches_pyomo_interface_objective_primal_and_duals():
    ms = [
        {"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": 300.0},
        {"name": "pv", "type": "min_portfolio_kwp", "year": 2025, "kwp": 1500.0},
    ]
    d = small_inputs(n_sites=2, n_years=2, pv_to_load=2.0, export=[True, False], milestones=ms)
    pm_a = build_model(d)
    sol_a, _ = solve_model(pm_a, SolveOptions(interface="direct"))
    build_a = np.array([pm_a.model.build[k].value for k in pm_a.model.build])
    duals_a = {n: [sol_a.dual(c) for _, c in mr.rows] for n, mr in pm_a.milestones.items()}
    pm_b = build_model(d, matrix=False)
    sol_b, _ = solve_model(pm_b, SolveOptions(interface="pyomo"))
    build_b = np.array([pm_b.model.build[k].value for k in pm_b.model.build])
    duals_b = {n: [sol_b.dual(c) for _, c in mr.rows] for n, mr in pm_b.milestones.items()}
    assert sol_a.status == sol_b.status == Status.OPTIMAL
    assert sol_a.objective == pytest.approx(sol_b.objective, rel=OBJ_RTOL)
    # objective evaluated by Pyomo on the loaded values equals HiGHS's
    assert pyo.value(pm_a.model.npc) == pytest.approx(sol_a.objective, rel=OBJ_RTOL)
    assert np.allclose(build_a.sum(), build_b.sum(), atol=KWP_ATOL)
    for n in duals_a:
        assert np.allclose(np.abs(duals_a[n]), np.abs(duals_b[n]), rtol=DUAL_RTOL, atol=1e-6), n
    assert abs(duals_a["certs"][0]) > 0


def test_direct_handles_generic_constraints_and_bounds():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 4))
    m.y = pyo.Var(bounds=(1, None))
    m.z = pyo.Var()
    m.z.fix(2.0)
    m.c1 = pyo.Constraint(expr=m.x + 2 * m.y + m.z >= 7)  # constant from the fixed var moves to the bound
    m.c2 = pyo.Constraint(expr=pyo.inequality(-1, m.x - m.y, 1))
    m.o = pyo.Objective(expr=3 * m.x + 2 * m.y + 5, sense=pyo.minimize)
    r = solve_direct(m)
    assert r.model_status == "Optimal"
    assert r.objective == pytest.approx(3 * m.x.value + 2 * m.y.value + 5, rel=1e-9)
    assert m.x.value + 2 * m.y.value + 2.0 >= 7 - 1e-7
    assert abs(m.x.value - m.y.value) <= 1 + 1e-7
    assert r.objective == pytest.approx(3 * 1.0 + 2 * 2.0 + 5, rel=1e-7)


def test_direct_reports_infeasible():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.c = pyo.Constraint(expr=m.x >= 2)
    m.o = pyo.Objective(expr=m.x)
    r = solve_direct(m)
    assert r.model_status == "Infeasible"
    assert r.objective is None


def test_thread_count_can_change_between_solves_in_one_process():
    """HiGHS fixes its thread scheduler at the first solve; pvopt resets it when a solve asks for threads."""
    from pvopt.lp.model import solve_plan

    d = small_inputs(n_sites=1, n_years=1)
    _, s_default, _ = solve_plan(d, SolveOptions())
    _, s_one, _ = solve_plan(d, SolveOptions(threads=1))
    _, s_two, _ = solve_plan(d, SolveOptions(threads=2))
    assert s_one.objective == pytest.approx(s_default.objective, rel=OBJ_RTOL)
    assert s_two.objective == pytest.approx(s_default.objective, rel=OBJ_RTOL)


def test_progress_rows_come_from_the_simplex_and_end_near_the_optimum():
    """Progress rows carry increasing iterations; every objective is a finite value in the model's units.

    The last row's objective lies within 50 % of the optimum (a loose bound: it is an
    intermediate simplex value), and the callback does not change the optimum.
    """
    d = small_inputs(n_sites=1, n_years=1, battery_sites=(0,), demand_charge_per_kw_month=30.0)
    rows: list[dict] = []
    pm = build_model(d)
    r = solve_direct(pm.model, progress=rows.append, progress_every_s=0.0)
    ref, _ = solve_model(build_model(d), SolveOptions())
    assert r.model_status == "Optimal"
    assert r.objective == pytest.approx(ref.objective, rel=1e-9)
    assert len(rows) >= 2
    its = [row["iteration"] for row in rows]
    assert its == sorted(its)
    assert all(np.isfinite(row["objective"]) for row in rows)
    assert abs(rows[-1]["objective"] - ref.objective) <= 0.5 * abs(ref.objective)
