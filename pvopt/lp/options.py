"""How the plan is built and solved (:class:`SolveOptions`), and how a solve ended (:class:`Status`)."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import xarray as xr

__all__ = ['Status', 'SolveOptions', 'business_as_usual_inputs']


class Status(str, enum.Enum):
    """Status of a solve."""

    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"
    NUMERICAL = "numerical_trouble"
    ERROR = "error"


@dataclass(frozen=True)
class SolveOptions:
    """How to build and solve the plan.

    Parameters
    ----------
    reduce
        Use the exact hour reductions (default). ``False`` builds the full hourly model.
    time_limit_s
        HiGHS time limit [s]; ``None`` for none.
    solver
        HiGHS algorithm: ``"choose"``, ``"simplex"`` or ``"ipm"``.
    threads
        HiGHS threads (``None``: HiGHS's default).
    milestone_costs
        ``"dual"``: marginal cost of each milestone from the LP duals;
        ``"resolve"``: also re-solve without each milestone and report the difference;
        ``"none"``.
    diagnose_infeasible
        On an infeasible plan, re-solve with penalised milestone slacks to say
        which milestones fail and by how much.
    extra_constraints
        ``f(model, data)`` called after the model is built, to add constraints.
    log
        Print HiGHS's log.
    interface
        ``"direct"``: hand the Pyomo model to HiGHS in bulk (:mod:`pvopt.lp.highs`, fast);
        ``"pyomo"``: Pyomo's own HiGHS interface (slower; a cross-check).
    decompose
        Benders decomposition of the hourly operation of battery site-years
        (:mod:`pvopt.lp.decompose`): ``"auto"`` (the default) when a battery exists and its
        full-hour site-years hold at least four years of hours (``sites/lead-pillars``: 115 s
        against about 400 s for one LP, README), ``"always"``, or ``"never"`` (one LP).
    gap
        Relative gap ``(UB − LB)/|UB|`` at which a decomposed solve stops.
    stabilise
        Stabilisation of the Benders master: ``"level"`` (separate at the projection of the incumbent
        onto the level set ``master cost ≤ LB + level_lambda·(UB − LB)``; Pecci and Jenkins 2025),
        ``"inout"`` (in-out separation between the master optimum and the incumbent; the default) or
        ``"none"`` (plain multi-cut Benders). Measured comparison: docs/formulation.md.
    level_lambda
        Level-set stabilisation: where the level lies between the lower and the upper bound (0 < λ < 1).
    level_norm
        Level-set stabilisation: distance of the projection, over the linking variables each divided
        by its scale (:mod:`pvopt.lp.level`): ``"linf"`` (an LP, the default), ``"l1"`` (an LP) or
        ``"l2"`` (squared, a QP; HiGHS's active-set QP solver cycled on some projections, which then
        fall back to the master optimum after a time limit).
    workers
        Parallel Benders subproblem solves on this machine: ``None`` decides (one after another for
        few subproblems, else one thread per core), ``0`` or ``1`` one after another, ``n ≥ 2`` ``n``
        threads in this process (HiGHS runs without the GIL).
    scheduler
        Address of a running dask scheduler (``tcp://HOST:PORT``): the subproblems are spread over
        its workers instead (a plan that outgrows one machine).
    max_iterations
        Benders iteration limit.
    progress
        ``f(row)`` called during the solve: after each Benders iteration with ``iteration``,
        ``lower_bound``, ``upper_bound``, ``gap`` and cumulative ``master_s``, ``subproblem_s``;
        during a single-LP simplex solve at most every 2 s with ``iteration``, ``objective``
        (HiGHS's current objective; a lower bound in dual simplex phase 2) and ``time_s``.
    warm_start
        Start HiGHS from the optimal basis of the last LP of the same structure solved in this
        process (same rows, columns and nonzero pattern; :func:`pvopt.lp.highs.solve_direct`).
        The optimum is the same; a sweep's scenarios differ in prices and costs, so on a worker
        each scenario starts where the previous one ended. Among alternative optima the plan
        returned may differ from a cold solve's.
    business_as_usual
        Nothing new and no milestone rows (:func:`business_as_usual_inputs`): the baseline a plan
        is compared with. Always feasible unless an import limit is below the load the existing PV leaves.
    """

    reduce: bool = True
    time_limit_s: float | None = None
    solver: Literal["choose", "simplex", "ipm"] = "choose"
    threads: int | None = None
    milestone_costs: Literal["dual", "resolve", "none"] = "dual"
    diagnose_infeasible: bool = True
    extra_constraints: Callable[[Any, xr.Dataset], None] | None = None
    log: bool = False
    interface: Literal["direct", "pyomo"] = "direct"
    decompose: Literal["auto", "always", "never"] = "auto"
    gap: float = 1e-5
    stabilise: Literal["level", "inout", "none"] = "inout"
    level_lambda: float = 0.5
    level_norm: Literal["l2", "l1", "linf"] = "linf"
    workers: int | None = None
    scheduler: str | None = None
    max_iterations: int = 1000
    progress: Callable[[dict[str, float]], None] | None = None
    business_as_usual: bool = False
    warm_start: bool = False


def business_as_usual_inputs(d: xr.Dataset) -> xr.Dataset:
    """LP inputs of the business-as-usual case of ``d``: nothing new may be bought or built, no milestones.

    No PV is built (``max_kwp`` = ``existing_kwp``, so existing PV works to the end of its life and the
    hour reductions fold almost every hour away), no measures or batteries (their options are dropped),
    no certificates (none available) and no offsets (no price), annual matching, and no milestone rows
    (``milestones_json`` empty: milestones are reported on the result, never enforced). Every price,
    load, factor and the discount rate stay as they are.
    """
    out = d.drop_dims([k for k in ("measure", "battery") if k in d.dims])
    out["max_kwp"] = d["existing_kwp"].copy()
    out["certificate_available"] = xr.zeros_like(d["certificate_available"], dtype=bool)
    out["offset_price_per_tco2e"] = xr.full_like(d["offset_price_per_tco2e"], float("nan"), dtype=float)
    out = out.drop_vars([k for k in ("certificate_hourly_share",) if k in out])
    out.attrs = {**d.attrs, "milestones_json": "[]", "scope2_matching": "annual", "business_as_usual": 1}
    return out
