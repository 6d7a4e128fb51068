"""Build the Pyomo model of the plan from its LP inputs, in named steps.

:func:`build_model` reads like the formulation: capacities, measures and
batteries, hourly and annual variables, certificates and offsets, every row
family (:mod:`pvopt.lp.rows`), emissions, milestones, objective.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo
import xarray as xr

from pvopt.lp.emissions import define_emissions
from pvopt.lp.milestones import MilestoneRows, define_milestones
from pvopt.lp.objective import define_objective
from pvopt.lp.reductions import hourly_matching_formulation
from pvopt.lp.rows import HOURLY_VARS, define_rows
from pvopt.lp.variables import (
    MatchingPool,
    SiteYearBlock,
    define_annual_vars,
    define_battery_capacity,
    define_build,
    define_certificates_offsets,
    define_hourly_vars,
    define_matching_pool_vars,
    define_measures,
)

__all__ = ["PlanModel", "build_model", "hourly_var"]


@dataclass
class PlanModel:
    """A built model with the bookkeeping needed to read results back."""

    model: pyo.ConcreteModel
    data: xr.Dataset
    blocks: dict[tuple[int, int], SiteYearBlock]
    milestones: dict[str, MilestoneRows]
    reduce: bool
    build_seconds: float
    n_hourly_vars: int
    decomposed: frozenset[tuple[int, int]] = frozenset()  #: site-years whose hours are Benders subproblems
    #: hourly values of decomposed site-years after a decomposed solve: (site, year) -> {"pv": array, ...}
    hourly_values: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    #: solve-check rounds of :func:`pvopt.lp.curtailment.solve_with_curtailment_check` (0 when not checked)
    curtailment_rounds: int = 0
    #: hourly certificate matching: formulation, matching groups and pooled variables (``None``: annual matching)
    matching: MatchingPool | None = None


def build_model(
    d: xr.Dataset, *, reduce: bool = True, elastic: bool = False, skip: frozenset[str] = frozenset(), matrix: bool = True,
    curtail: Any = None,
    decompose: frozenset[tuple[int, int]] = frozenset(), matching: str = "auto",
    aggregate: bool = True,
) -> PlanModel:
    """Build the Pyomo model of the plan.

    Parameters
    ----------
    d
        LP inputs (:func:`pvopt.lp.inputs.build_plan_inputs`).
    reduce
        Exact hour reductions (see module docstring).
    elastic
        Give every milestone row a penalised slack, to measure shortfalls.
    skip
        Names of milestones to leave out (to cost a milestone by re-solving).
    matrix
        Build the hourly and annual rows as :class:`MatrixConstraint` (fast; needs the
        direct HiGHS interface). ``False`` builds ordinary constraints, which any Pyomo
        solver interface or writer accepts.
    curtail
        ``[site, year]`` booleans: site-years whose full-use and covered hours stay contested
        (:func:`pvopt.lp.reductions.classify_hours`); ``None`` for the always-exact default.
    decompose
        (site, year) index pairs whose hourly operation is left out (no hourly variables, no
        hourly or annual rows): the Benders master of :mod:`pvopt.lp.decompose`.
    aggregate
        With ``reduce``, model each run of identical consecutive hours of a full-hour site once
        (:func:`pvopt.lp.reductions.identical_hour_runs`); ``False`` keeps every hour (for hooks that
        constrain single hours).
    """
    t0 = time.perf_counter()
    m = pyo.ConcreteModel(name="pvopt-plan")
    m._use_matrix = matrix
    n_s, n_a, n_y = d.sizes["site"], d.sizes["array"], d.sizes["year"]
    m.S = pyo.RangeSet(0, n_s - 1)
    m.A = pyo.RangeSet(0, n_a - 1)
    m.Y = pyo.RangeSet(0, n_y - 1)
    m.G = pyo.RangeSet(0, d.sizes["profile"] - 1)

    define_build(m, d)
    define_measures(m, d)
    define_battery_capacity(m, d)
    formulation = hourly_matching_formulation(d, reduce=reduce, per_site=matching == "per-site")
    blocks = define_hourly_vars(m, d, reduce=reduce, use_milestone_bounds=not elastic, curtail=curtail, decompose=decompose,
                                matching=formulation, aggregate=aggregate)
    m._matching = define_matching_pool_vars(m, d, formulation)
    define_annual_vars(m, d)
    define_certificates_offsets(m, d)
    define_rows(m, d, blocks, decompose)
    define_emissions(m, d)
    mrows = define_milestones(m, d, elastic=elastic, skip=skip)
    define_objective(m, d, mrows)
    n_h = sum(len(getattr(m, v)) for v in HOURLY_VARS) + len(m.matched_pool)
    m._pvopt_data, m._pvopt_blocks = d, blocks
    return PlanModel(m, d, blocks, mrows, reduce, time.perf_counter() - t0, n_h, frozenset(decompose), matching=m._matching)



def hourly_var(m: pyo.ConcreteModel, name: str, *, site: str, year: int, hour: int) -> Any:
    """Return the hourly variable ``name`` of one site, year and hour.

    ``name`` is one of ``pv``, ``ex``, ``grid``, ``bc``, ``bd``, ``soc``, ``matched``.
    For an ``extra_constraints`` hook: ``hourly_var(m, "grid", site="wuxi", year=2030, hour=4000)``.
    Hours that the exact reductions fold away have no variable; asking for one
    raises ``KeyError`` saying which class the hour is in (plan with
    ``SolveOptions(reduce=False)`` to keep every hour).
    """
    d, blocks = m._pvopt_data, m._pvopt_blocks
    sites, years = list(d["site"].values), [int(y) for y in d["year"].values]
    if site not in sites or year not in years:
        raise KeyError(f"no site {site!r} or year {year} in the plan (sites {sites}, years {years[0]}-{years[-1]})")
    b = blocks[(sites.index(site), years.index(year))]
    first = {"pv": b.pv_first, "ex": b.ex_first, "grid": b.grid_first, "bc": b.bat_first, "bd": b.bat_first,
             "soc": b.bat_first, "matched": b.match_first}
    if name not in first:
        raise KeyError(f"unknown hourly variable {name!r}; expected one of {HOURLY_VARS}")
    pool = getattr(m, "_matching", None)
    if name == "matched" and pool is not None and pool.pooled:
        raise KeyError(f"matched[{site}, {year}, hour {hour}] has no variable: hourly matching is pooled by matching group "
                       f"({pool.group_names(d)}; model.matched_pool); plan with an extra_constraints hook or reduce=False "
                       "to keep it per site")
    pos = int((b.contested == hour).nonzero()[0][0]) if (b.contested == hour).any() else -1
    if b.weight is not None and pos >= 0 and b.weight[pos] > 1:
        raise KeyError(f"{name}[{site}, {year}, hour {hour}] stands for {int(b.weight[pos])} identical hours; "
                       "build with aggregate=False to keep every hour")
    if pos < 0 or first[name] < 0:
        where = "full-use" if (b.full == hour).any() else "covered" if (b.covered == hour).any() else "zero-yield" if pos < 0 else "modelled"
        raise KeyError(f"{name}[{site}, {year}, hour {hour}] has no variable ({where} hour; build with reduce=False to keep every hour)")
    return getattr(m, name)[first[name] + pos]
