"""Solve a built plan with HiGHS, and diagnose an infeasible one.

:func:`solve_plan` is the one path from LP inputs to a solved model: build,
add the analyst's ``extra_constraints``, solve, and turn every failure into a
typed error (:class:`~pvopt.errors.InfeasiblePlanError` naming each
milestone's shortfall, or :class:`~pvopt.errors.SolverError`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo
import xarray as xr

from pvopt.errors import InfeasiblePlanError, SolverError
from pvopt.lp.build import PlanModel, build_model
from pvopt.lp.curtailment import solve_with_curtailment_check
from pvopt.lp.data import optional
from pvopt.lp.options import SolveOptions, Status

__all__ = ["PlanSolution", "solve_model", "diagnose", "solve_plan"]


@dataclass
class PlanSolution:
    """Outcome of a solve: status, objective [currency], HiGHS's own time and the wall time [s]."""

    status: Status
    objective: float | None
    highs_seconds: float
    wall_seconds: float
    termination: str
    duals: Callable[[Any], float] | None = None  #: constraint -> dual [currency per unit]
    benders: Any = None  #: :class:`pvopt.lp.decompose.BendersReport` of a decomposed solve (bounds, gap, iterations)

    def dual(self, con: Any) -> float:
        """Return the dual of constraint ``con`` [currency per unit]; NaN when the solve gave no duals."""
        return self.duals(con) if self.duals is not None else float("nan")


def highs_options(opts: SolveOptions) -> dict[str, Any]:
    o: dict[str, Any] = {"solver": opts.solver}
    if opts.threads:
        o["threads"] = int(opts.threads)
    return o


def status_of(tc: Any) -> Status:
    name = str(tc).split(".")[-1]
    return {
        "convergenceCriteriaSatisfied": Status.OPTIMAL,
        "provenInfeasible": Status.INFEASIBLE,
        "locallyInfeasible": Status.INFEASIBLE,
        "infeasibleOrUnbounded": Status.INFEASIBLE,
        "unbounded": Status.UNBOUNDED,
        "maxTimeLimit": Status.TIME_LIMIT,
        "iterationLimit": Status.TIME_LIMIT,
    }.get(name, Status.NUMERICAL if "umeric" in name else Status.ERROR)


DIRECT_STATUS = {
    "Optimal": Status.OPTIMAL,
    "Infeasible": Status.INFEASIBLE,
    "Primal infeasible or unbounded": Status.INFEASIBLE,
    "Unbounded": Status.UNBOUNDED,
    "Time limit reached": Status.TIME_LIMIT,
    "Iteration limit reached": Status.TIME_LIMIT,
}


def solve_model(pm: PlanModel, opts: SolveOptions) -> tuple[PlanSolution, Any]:
    """Solve a built model with HiGHS; load primal values into the model when optimal."""
    t0 = time.perf_counter()
    if opts.interface == "direct":
        from pvopt.lp.highs import solve_direct

        try:
            import highspy  # noqa: F401
        except ImportError:
            raise SolverError("HiGHS is not available: install the 'highspy' package (pip install highspy)") from None
        r = solve_direct(pm.model, time_limit_s=opts.time_limit_s, threads=opts.threads, solver=opts.solver, log=opts.log,
                         progress=opts.progress, warm_start=opts.warm_start)
        st = DIRECT_STATUS.get(r.model_status, Status.NUMERICAL if "umeric" in r.model_status else Status.ERROR)
        obj = r.objective if st == Status.OPTIMAL else None
        sol = PlanSolution(st, obj, r.highs_seconds, time.perf_counter() - t0, r.model_status, r.dual if st == Status.OPTIMAL else None)
        return sol, r
    from pyomo.contrib.solver.solvers.highs import Highs

    solver = Highs()
    if not solver.available():
        raise SolverError("HiGHS is not available: install the 'highspy' package (pip install highspy)")
    res = solver.solve(
        pm.model,
        tee=opts.log,
        time_limit=opts.time_limit_s,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        solver_options=highs_options(opts),
    )
    wall = time.perf_counter() - t0
    st = status_of(res.termination_condition)
    highs_s = float(dict(res.timing_info.items()).get("highs_time") or wall)
    obj = None
    duals = None
    if st == Status.OPTIMAL:
        res.solution_loader.load_vars()
        obj = float(pyo.value(pm.model.npc))
        dmap = res.solution_loader.get_duals()
        duals = lambda con: float(dmap.get(con, float("nan")))  # noqa: E731
    return PlanSolution(st, obj, highs_s, wall, str(res.termination_condition), duals), res


def diagnose(d: xr.Dataset, opts: SolveOptions) -> InfeasiblePlanError:
    """Elastic re-solve: which milestones cannot be met, and by how much."""
    pm = build_model(d, reduce=opts.reduce, elastic=True, matrix=opts.interface == "direct")
    sol, _ = solve_model(pm, opts)
    if sol.status != Status.OPTIMAL:
        hints = []
        lim = optional(d, "import_limit_kw", np.full(d.sizes["site"], np.nan))
        for i, s in enumerate(d["site"].values):
            if np.isfinite(lim[i]) and d["load_kw"].values[i].max() > lim[i]:
                hints.append(f"site '{s}': import limit {lim[i]:,.0f} kW is below its peak load {d['load_kw'].values[i].max():,.0f} kW")
        detail = "; ".join(hints) if hints else "no milestone explains it: check import limits and measure sizes"
        return InfeasiblePlanError({"(without any milestone)": (float("nan"), "", f"the plan is infeasible even with every milestone relaxed: {detail}")})
    short: dict[str, tuple[float, str, str]] = {}
    for mr in pm.milestones.values():
        vals = [(y, float(s.value or 0.0)) for (y, _), s in zip(mr.rows, mr.slacks)]
        bad = [(y, v) for y, v in vals if v > 1e-6 * max(1.0, abs(v))]
        bad = [(y, v) for y, v in bad if v > 1e-4]
        if bad:
            worst = max(bad, key=lambda t: t[1])
            years = sorted({y for y, _ in bad})
            detail = f"worst in {worst[0]}; fails in {years[0]}" + (f"-{years[-1]}" if len(years) > 1 else "")
            short[mr.name] = (worst[1], mr.unit, detail)
    return InfeasiblePlanError(short)


def solve_plan(d: xr.Dataset, opts: SolveOptions = SolveOptions()) -> tuple[PlanModel, PlanSolution, Any]:
    """Build and solve; raise :class:`InfeasiblePlanError` or :class:`SolverError` when there is no plan.

    With ``opts.decompose`` set, battery site-years are solved by Benders decomposition
    (:mod:`pvopt.lp.decompose`); otherwise the reduced model is solved whole, first without
    curtailment columns and checked by its duals (:mod:`pvopt.lp.curtailment`).
    """
    from pvopt.datasets import check_lp_inputs
    from pvopt.lp.decompose import choose_decomposition, solve_decomposed

    check_lp_inputs(d)  # every declared input on its declared dims, else an error naming the variable
    if opts.business_as_usual:
        from pvopt.lp.options import business_as_usual_inputs

        d = business_as_usual_inputs(d)
        opts = dataclasses.replace(opts, extra_constraints=None, decompose="never", milestone_costs="none")
    sy = choose_decomposition(d, opts)
    if sy:
        return solve_decomposed(d, opts, sy)

    # a hook may read one site's matched certificates: keep them per site (pvopt.lp.reductions.hourly_matching_formulation)
    matching = "auto" if opts.extra_constraints is None else "per-site"

    def build(curtail: Any) -> PlanModel:
        pm = build_model(d, reduce=opts.reduce, matrix=opts.interface == "direct", curtail=curtail, matching=matching,
                         aggregate=opts.extra_constraints is None)
        if opts.extra_constraints is not None:
            opts.extra_constraints(pm.model, d)
        return pm

    if opts.reduce and opts.interface == "direct" and opts.extra_constraints is None:
        # the small model first; its duals say whether curtailment could pay anywhere (exact; pvopt.lp.curtailment)
        pm, sol, res = solve_with_curtailment_check(d, build, lambda pm: solve_model(pm, opts), lambda s: s.status == Status.OPTIMAL)
    else:
        pm = build(None)
        sol, res = solve_model(pm, opts)
    if sol.status == Status.INFEASIBLE:
        if opts.diagnose_infeasible:
            raise diagnose(d, opts)
        raise InfeasiblePlanError({})
    if sol.status == Status.TIME_LIMIT:
        if opts.time_limit_s is not None:
            raise SolverError(f"HiGHS reached the time limit ({opts.time_limit_s} s) before an optimal plan; raise --time-limit")
        raise SolverError(f"HiGHS stopped at an iteration or time limit before an optimal plan ({sol.termination})")
    if sol.status == Status.UNBOUNDED:
        raise SolverError("the plan is unbounded: some cost or price is negative or a variable lacks a bound")
    if sol.status != Status.OPTIMAL:
        raise SolverError(f"HiGHS stopped without an optimal plan: {sol.termination} ({sol.status.value})")
    return pm, sol, res
