"""The one path from LP inputs to a plan: solve, assign the solution, post-process.

:func:`solve` is what the pipeline, the sweep, the weather-risk study and the
tests call; it returns a typed :class:`PlanOutcome` and raises a typed error
(:class:`~pvopt.errors.InfeasiblePlanError`, :class:`~pvopt.errors.SolverError`)
when there is no plan, never a partial result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import xarray as xr

from pvopt.lp.build import PlanModel
from pvopt.lp.duals import milestone_duals_dataset
from pvopt.lp.options import SolveOptions, Status
from pvopt.lp.solution import milestone_table, milestones_to_dataset, plan_dataset
from pvopt.lp.solve import PlanSolution, solve_plan

__all__ = ["PlanOutcome", "solve"]


@dataclass
class PlanOutcome:
    """A solved plan.

    Attributes
    ----------
    status
        How the solve ended (always :attr:`Status.OPTIMAL`: other endings raise).
    plan
        The plan Dataset: every LP input, the decisions, the accounting and the milestone results.
    milestones
        One dict per milestone (target, achieved, unit, met, marginal cost).
    model, solution
        The built model and the solver's answer, for hooks and diagnostics.
    timings_s
        Seconds per phase: ``build``, ``solve_wall``, ``highs``, ``results``.
    """

    status: Status
    plan: xr.Dataset
    milestones: list[dict[str, Any]]
    model: PlanModel
    solution: PlanSolution
    timings_s: dict[str, float] = field(default_factory=dict)


def solve(inputs: xr.Dataset, opts: SolveOptions = SolveOptions(), *, hourly: bool = True) -> PlanOutcome:
    """Build and solve the plan of ``inputs``, then assign the solution and post-process it.

    Parameters
    ----------
    inputs
        LP inputs (:func:`pvopt.lp.inputs.build_plan_inputs` or :func:`pvopt.testing.small_inputs`).
    opts
        How to build and solve.
    hourly
        Keep the hourly dispatch in the plan Dataset (``False``: annual values only, smaller).

    Examples
    --------
    >>> from pvopt.testing import small_inputs
    >>> out = solve(small_inputs(n_sites=1, n_years=2))
    >>> out.status.value, bool(out.plan["total_cost"].sum() > 0)
    ('optimal', True)
    """
    pm, sol, res = solve_plan(inputs, opts)
    timings = {"build": pm.build_seconds, "solve_wall": sol.wall_seconds, "highs": sol.highs_seconds}
    t = time.perf_counter()
    plan = plan_dataset(pm, sol, res, opts, hourly=hourly)
    rows = milestone_table(pm, plan, sol, opts)
    plan = xr.merge([plan, milestones_to_dataset(rows, str(inputs.attrs["currency"]))], combine_attrs="override")
    if rows and opts.milestone_costs != "none":
        plan = xr.merge([plan, milestone_duals_dataset(pm, sol)], combine_attrs="override")
    timings["results"] = time.perf_counter() - t
    return PlanOutcome(sol.status, plan, rows, pm, sol, timings)
