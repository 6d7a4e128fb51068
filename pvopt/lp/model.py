"""The planning LP (docs/formulation.md), built in Pyomo and solved by HiGHS.

The optimiser reads only the input Dataset of :func:`pvopt.lp.inputs.build_plan_inputs`
and never imports pvlib. The model is built in small named steps
(``_define_<x>``), each with its equation in the docstring.

Exact reductions (``reduce=True``, the default). For each site ``s`` and
year ``y`` every hour falls in one class:

* **Z** (zero): every yield profile of the site is 0. No variable: ``pv = 0``,
  ``grid = load``.
* **F** (full use): even with every array at ``max_kwp`` the site generates
  no more than its load, and exporting pays no more than importing. PV is used
  in full: ``pv = Σ_g yield[g,t]·EG[g,y]``, an affine expression of the
  capacities, so the hour folds into per-year sums.
* **K** (covered): the capacity the milestones force in (``EG_min``) already
  generates at least the load, and surplus cannot be sold: ``pv = load``,
  ``grid = 0``, a constant.
* **C** (contested): everything else. One variable ``pv[k] ∈ [0, load]``
  (and ``export[k]`` where export is allowed) and one row
  ``pv[k] + export[k] ≤ Σ_g yield[g,t]·EG[g,y]``.

``reduce=False`` builds the textbook hourly model of formulation.md (every
hour with ``pv``, ``grid`` and ``export`` variables and an explicit balance
row); tests solve both and compare objectives.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
import xarray as xr
from pyomo.core.base.matrix_constraint import MatrixConstraint
from pyomo.core.expr.numeric_expr import LinearExpression

from pvopt.errors import InfeasiblePlanError, InputIssue, PortfolioError, SolverError

__all__ = ["SolveOptions", "PlanModel", "PlanSolution", "build_model", "solve_plan", "Status"]

ELASTIC_PENALTY = 1.0e7  #: currency per unit of milestone shortfall in the elastic re-solve
KWH_PER_MWH = 1000.0


class Status(str, enum.Enum):
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
    """

    reduce: bool = True
    time_limit_s: float | None = None
    solver: Literal["choose", "simplex", "ipm"] = "choose"
    threads: int | None = None
    milestone_costs: Literal["dual", "resolve", "none"] = "dual"
    diagnose_infeasible: bool = True
    extra_constraints: Callable[[pyo.ConcreteModel, xr.Dataset], None] | None = None
    log: bool = False
    interface: Literal["direct", "pyomo"] = "direct"


@dataclass
class MilestoneRows:
    """The constraints of one milestone, for duals, slacks and reports."""

    name: str
    type: str
    unit: str
    sense: Literal[">=", "<="]
    rows: list[tuple[int, Any]] = field(default_factory=list)  # (year, ConstraintData)
    slacks: list[Any] = field(default_factory=list)


@dataclass
class SiteYearBlock:
    """Hour classes of one site and year (index arrays into 0..8759) and where its hourly variables start."""

    full: np.ndarray
    covered: np.ndarray
    contested: np.ndarray
    pv_first: int  # first flat index of this block's pv variables
    ex_first: int  # ... export variables (-1: none)
    grid_first: int = -1  # ... grid variables (full-hour sites)
    bat_first: int = -1  # ... charge/discharge/soc variables (battery sites)
    match_first: int = -1  # ... matched-certificate variables (hourly matching)
    battery: int = -1  # index into the battery coordinate
    is_full: bool = False  # every hour modelled (battery, demand charge, import limit, hourly matching, or reduce=False)


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


@dataclass
class PlanSolution:
    """Outcome of a solve: status, objective [currency], HiGHS's own time and the wall time [s]."""

    status: Status
    objective: float | None
    highs_seconds: float
    wall_seconds: float
    termination: str
    duals: Callable[[Any], float] | None = None  #: constraint -> dual [currency per unit]

    def dual(self, con: Any) -> float:
        return self.duals(con) if self.duals is not None else float("nan")


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _lin(coefs: list[float], vars_: list[Any], const: float = 0.0) -> LinearExpression:
    return LinearExpression(constant=const, linear_coefs=coefs, linear_vars=vars_)


def _discount(d: xr.Dataset) -> np.ndarray:
    years = d["year"].values
    r = float(d.attrs["discount_rate"])
    return (1.0 + r) ** -(years - years[0]).astype(float)


def _kind_index(d: xr.Dataset) -> np.ndarray:
    kinds = list(d["kind"].values)
    return np.array([kinds.index(k) for k in d["array_kind"].values], dtype=int)


def degradation_factor(d: xr.Dataset) -> np.ndarray:
    """``f[a, y, v]``: output of 1 kWp built in year ``v`` during year ``y`` (0 if ``v > y``)."""
    years = d["year"].values
    deg = d["degradation_per_year"].values
    age = years[:, None] - years[None, :]
    f = (1.0 - deg[:, None, None]) ** np.clip(age, 0, None)[None, :, :]
    return np.where(age[None, :, :] >= 0, f, 0.0)


def existing_effective_kwp(d: xr.Dataset) -> np.ndarray:
    """``[a, y]`` effective kWp of existing capacity after degradation."""
    years = d["year"].values
    ey = d["existing_year"].values
    age = np.clip(years[None, :] - np.where(ey < 0, years[0], ey)[:, None], 0, None)
    return d["existing_kwp"].values[:, None] * (1.0 - d["degradation_per_year"].values[:, None]) ** age


def _profile_index(d: xr.Dataset) -> tuple[list[list[int]], np.ndarray]:
    """Per site the profile indices, and per array its profile index."""
    profs = list(d["profile"].values)
    psite = list(d["profile_site"].values)
    sites = list(d["site"].values)
    per_site = [[i for i, s in enumerate(psite) if s == site] for site in sites]
    arr_prof = np.array([profs.index(p) for p in d["array_profile"].values], dtype=int)
    return per_site, arr_prof


def milestones_of(d: xr.Dataset) -> list[dict[str, Any]]:
    return json.loads(d.attrs.get("milestones_json", "[]"))


def _coverage_lower_bound(d: xr.Dataset) -> np.ndarray:
    """``[a, y]`` lower bound on installed kWp implied by rooftop-coverage milestones."""
    years = list(d["year"].values)
    lb = np.repeat(d["existing_kwp"].values[:, None], len(years), axis=1).astype(float)
    roof = d["array_kind"].values == "rooftop"
    for ms in milestones_of(d):
        if ms["type"] == "rooftop_coverage":
            for j, y in enumerate(years):
                if y >= ms["year"]:
                    lb[roof, j] = np.maximum(lb[roof, j], ms["fraction"] * d["max_kwp"].values[roof])
    return lb


def _get(d: xr.Dataset, name: str, default: Any) -> np.ndarray:
    """An optional input (issue-8 pillars) or its neutral default."""
    return d[name].values if name in d else default


def full_hour_sites(d: xr.Dataset) -> np.ndarray:
    """Sites that need every hour modelled: a battery, a demand charge, an import limit, or hourly matching."""
    n_s = d.sizes["site"]
    sites = list(d["site"].values)
    full = np.zeros(n_s, dtype=bool)
    for s in _get(d, "battery_site", []):
        full[sites.index(s)] = True
    full |= _get(d, "demand_charge_per_kw_month", np.zeros(n_s)) > 0
    full |= np.isfinite(_get(d, "import_limit_kw", np.full(n_s, np.nan)))
    if d.attrs.get("scope2_matching", "annual") == "hourly":
        full[:] = True
    return full


def _measures_of_site(d: xr.Dataset, i: int) -> np.ndarray:
    if "measure" not in d.dims or d.sizes["measure"] == 0:
        return np.zeros(0, dtype=int)
    return np.where(d["measure_site"].values == d["site"].values[i])[0]


def _load_bounds(d: xr.Dataset, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Least and most load of a site-year over every admissible adoption of its measures [kW]."""
    L = d["load_kw"].values[i, j]
    ms = _measures_of_site(d, i)
    if len(ms) == 0:
        return L, L
    delta = d["measure_delta_kw"].values[ms, j]
    f = d["measure_max_fraction"].values[ms][:, None]
    return L + (f * np.minimum(delta, 0)).sum(axis=0), L + (f * np.maximum(delta, 0)).sum(axis=0)


def classify_hours(d: xr.Dataset, *, reduce: bool, use_milestone_bounds: bool = True) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Split each site-year's hours into (full, covered, contested) index arrays (the rest are zero hours).

    Sites of :func:`full_hour_sites` (and every site when ``reduce=False``) keep every hour as contested.
    """
    per_site, arr_prof = _profile_index(d)
    ymat = d["yield_kw_per_kwp"].values
    imp = d["import_price_per_kwh"].values
    exp_ = d["export_price_per_kwh"].values
    exp_ok = d["export_allowed"].values
    maxk = d["max_kwp"].values
    n_y = d.sizes["year"]
    hours = np.arange(d.sizes["hour"])
    full_sites = full_hour_sites(d)
    out = {}
    if reduce:
        lb_inst = _coverage_lower_bound(d) if use_milestone_bounds else np.repeat(d["existing_kwp"].values[:, None], n_y, axis=1)
        exist_eff = existing_effective_kwp(d)
        deg = d["degradation_per_year"].values
    for i, profs in enumerate(per_site):
        if not reduce or full_sites[i]:
            for j in range(n_y):
                out[(i, j)] = (hours[:0], hours[:0], hours)
            continue
        cap_max = np.array([maxk[arr_prof == g].sum() for g in profs])
        y_site = ymat[profs]  # (g, t)
        gmax = cap_max @ y_site if profs else np.zeros(len(hours))
        any_yield = (y_site > 0).any(axis=0) if profs else np.zeros(len(hours), bool)
        for j in range(n_y):
            L_min, L_max = _load_bounds(d, i, j)
            no_gain = (~exp_ok[i]) | (exp_[i, j] <= imp[i, j])
            no_export_value = (~exp_ok[i]) | (exp_[i, j] <= 0)
            # lower bound of effective capacity per profile in year j
            eg_min = np.zeros(len(profs))
            for gi, g in enumerate(profs):
                a = np.where(arr_prof == g)[0]
                new_lb = np.clip(lb_inst[a, j] - d["existing_kwp"].values[a], 0, None)
                eg_min[gi] = float((exist_eff[a, j] + new_lb * (1.0 - deg[a]) ** j).sum())
            gmin = eg_min @ y_site if profs else np.zeros(len(hours))
            full = any_yield & (gmax <= L_min) & no_gain
            covered = any_yield & ~full & (gmin >= L_max) & no_export_value
            contested = any_yield & ~full & ~covered
            out[(i, j)] = (hours[full], hours[covered], hours[contested])
    return out


# --------------------------------------------------------------------------- #
# model
# --------------------------------------------------------------------------- #
def build_model(
    d: xr.Dataset, *, reduce: bool = True, elastic: bool = False, skip: frozenset[str] = frozenset(), matrix: bool = True
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
    """
    t0 = time.perf_counter()
    m = pyo.ConcreteModel(name="pvopt-plan")
    m._use_matrix = matrix
    n_s, n_a, n_y = d.sizes["site"], d.sizes["array"], d.sizes["year"]
    m.S = pyo.RangeSet(0, n_s - 1)
    m.A = pyo.RangeSet(0, n_a - 1)
    m.Y = pyo.RangeSet(0, n_y - 1)
    m.G = pyo.RangeSet(0, d.sizes["profile"] - 1)

    _define_build(m, d)
    _define_measures(m, d)
    _define_battery_capacity(m, d)
    blocks = _define_hourly_vars(m, d, reduce=reduce, use_milestone_bounds=not elastic)
    _define_annual_vars(m, d)
    _define_certificates_offsets(m, d)
    _define_matrix_rows(m, d, blocks, reduce=reduce)
    _define_emissions(m, d)
    mrows = _define_milestones(m, d, elastic=elastic, skip=skip)
    _define_objective(m, d, mrows)
    n_h = sum(len(getattr(m, v)) for v in ("pv", "ex", "grid", "bc", "bd", "soc", "matched"))
    return PlanModel(m, d, blocks, mrows, reduce, time.perf_counter() - t0, n_h)


def _define_build(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    r"""Build, installed and effective capacity.

    ``build[a,y] ≥ 0`` [kWp]; ``inst[a,y] = existing[a] + Σ_{v≤y} build[a,v]`` [kWp];
    area: ``inst[a,y_last] ≤ max_kwp[a]`` (inst never falls);
    effective capacity of profile g:
    ``EG[g,y] = Σ_{a∈g} (existing[a]·(1-δ_a)^{age} + Σ_{v≤y} build[a,v]·(1-δ_a)^{y-v})`` [kWp].
    """
    maxk = d["max_kwp"].values
    ex = d["existing_kwp"].values
    room = np.clip(maxk - ex, 0, None)
    m.build = pyo.Var(m.A, m.Y, bounds=lambda m, a, y: (0.0, float(room[a])))
    m.inst = pyo.Expression(m.A, m.Y, rule=lambda m, a, y: float(ex[a]) + sum(m.build[a, v] for v in range(y + 1)))
    m.area = pyo.Constraint(m.A, rule=lambda m, a: sum(m.build[a, v] for v in m.Y) <= float(room[a]))
    _, arr_prof = _profile_index(d)
    f = degradation_factor(d)
    ee = existing_effective_kwp(d)
    m.EG = pyo.Var(m.G, m.Y, bounds=(0, None))

    def eg_rule(m, g, y):
        arrs = np.where(arr_prof == g)[0]
        coefs, vars_ = [1.0], [m.EG[g, y]]
        for a in arrs:
            for v in range(y + 1):
                coefs.append(-float(f[a, y, v]))
                vars_.append(m.build[a, v])
        return (float(ee[arrs, y].sum()), _lin(coefs, vars_), float(ee[arrs, y].sum()))

    m.eg_def = pyo.Constraint(m.G, m.Y, rule=eg_rule)


def _define_measures(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    r"""Efficiency and electrification measures, adopted continuously.

    ``adopt[μ,y] ≥ 0`` (0 before the measure is available) is the share of the full size adopted in
    year y; ``frac[μ,y] = Σ_{v≤y} adopt[μ,v] ≤ max_fraction[μ]``. Load changes by
    ``frac[μ,y]·Δ[μ,y,t]`` [kW] (Δ < 0 saves, Δ > 0 adds electric load); Scope 1 falls by
    ``frac[μ,y]·scope1_removed[μ]`` [tCO2e].
    """
    n_m = d.sizes.get("measure", 0)
    years = d["year"].values
    m.M = pyo.RangeSet(0, n_m - 1)
    avail = _get(d, "measure_available_from", np.zeros(0, dtype=int))
    mx = _get(d, "measure_max_fraction", np.zeros(0))
    m.madopt = pyo.Var(m.M, m.Y, bounds=lambda m, k, j: (0.0, None if years[j] >= avail[k] else 0.0))
    m.mfrac = pyo.Var(m.M, m.Y, bounds=lambda m, k, j: (0.0, float(mx[k])))
    m.mfrac_def = pyo.Constraint(m.M, m.Y, rule=lambda m, k, j: m.mfrac[k, j] == sum(m.madopt[k, v] for v in range(j + 1)))


def _define_battery_capacity(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    r"""Battery sizes by year.

    ``bE_build[b,y], bP_build[b,y] ≥ 0`` (0 before available) [kWh, kW];
    ``bE[b,y] = Σ_{v≤y} bE_build`` ≤ max energy; ``bP[b,y] = Σ_{v≤y} bP_build`` ≤ max power;
    duration: ``bE ≥ min_duration·bP``.
    """
    n_b = d.sizes.get("battery", 0)
    years = d["year"].values
    m.B = pyo.RangeSet(0, n_b - 1)
    avail = _get(d, "battery_available_from", np.zeros(0, dtype=int))
    emax = _get(d, "battery_max_energy_kwh", np.zeros(0))
    pmax = _get(d, "battery_max_power_kw", np.zeros(0))
    dur = _get(d, "battery_min_duration_h", np.zeros(0))
    ok = lambda k, j: years[j] >= avail[k]  # noqa: E731
    m.bE_build = pyo.Var(m.B, m.Y, bounds=lambda m, k, j: (0.0, None if ok(k, j) else 0.0))
    m.bP_build = pyo.Var(m.B, m.Y, bounds=lambda m, k, j: (0.0, None if ok(k, j) else 0.0))
    m.bE = pyo.Var(m.B, m.Y, bounds=lambda m, k, j: (0.0, float(emax[k])))
    m.bP = pyo.Var(m.B, m.Y, bounds=lambda m, k, j: (0.0, float(pmax[k])))
    m.bE_def = pyo.Constraint(m.B, m.Y, rule=lambda m, k, j: m.bE[k, j] == sum(m.bE_build[k, v] for v in range(j + 1)))
    m.bP_def = pyo.Constraint(m.B, m.Y, rule=lambda m, k, j: m.bP[k, j] == sum(m.bP_build[k, v] for v in range(j + 1)))
    m.b_duration = pyo.Constraint(m.B, m.Y, rule=lambda m, k, j: m.bE[k, j] >= float(dur[k]) * m.bP[k, j])


class _Coo:
    """Rows of a sparse matrix, gathered block by block as numpy arrays."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []

    def add(self, rows: Any, cols: Any, vals: Any) -> None:
        rows, cols, vals = np.broadcast_arrays(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), np.asarray(vals, dtype=float))
        keep = vals != 0.0
        self.r.append(rows[keep].ravel())
        self.c.append(cols[keep].ravel())
        self.v.append(vals[keep].ravel())

    def csr(self, n_rows: int, n_cols: int) -> sp.csr_matrix:
        if not self.r:
            return sp.csr_matrix((n_rows, n_cols))
        A = sp.csr_matrix((np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))), shape=(n_rows, n_cols))
        A.sum_duplicates()
        A.sort_indices()
        return A


def _rows_component(m: pyo.ConcreteModel, A: sp.csr_matrix, lo: list, hi: list, x: list) -> pyo.Component:
    """Rows ``lo ≤ A·x ≤ hi`` as a :class:`MatrixConstraint` (fast) or, when the model is
    built with ``matrix=False``, as an ordinary indexed Constraint of linear expressions."""
    if getattr(m, "_use_matrix", True):
        return MatrixConstraint(A.data, A.indices, A.indptr, lo, hi, x)
    xs = list(x)
    ptr, idx, val = A.indptr, A.indices, A.data

    def rule(m, r):
        cols = idx[ptr[r] : ptr[r + 1]]
        return (lo[r], _lin(val[ptr[r] : ptr[r + 1]].tolist(), [xs[c] for c in cols]), hi[r])

    return pyo.Constraint(pyo.RangeSet(0, A.shape[0] - 1), rule=rule)


def _define_hourly_vars(m: pyo.ConcreteModel, d: xr.Dataset, *, reduce: bool, use_milestone_bounds: bool) -> dict[tuple[int, int], SiteYearBlock]:
    r"""Hourly variables of the contested hours of each site-year.

    ``pv[k] ≥ 0`` (≤ load where the load is fixed) [kW]; ``export[k] ∈ [0, limit]`` where export is
    allowed; on full-hour sites also ``grid[k] ∈ [0, import limit]``, and with a battery
    ``charge[k], discharge[k], soc[k] ≥ 0`` [kW, kW, kWh]; with hourly matching ``matched[k] ≥ 0`` [kW].
    """
    classes = classify_hours(d, reduce=reduce, use_milestone_bounds=use_milestone_bounds)
    load = d["load_kw"].values
    exp_ok = d["export_allowed"].values
    lim = d["export_limit_kw"].values
    n_s = d.sizes["site"]
    imp_lim = _get(d, "import_limit_kw", np.full(n_s, np.nan))
    full_sites = full_hour_sites(d) | (not reduce)
    bat_of = {s: k for k, s in enumerate(_get(d, "battery_site", []))}
    sites = list(d["site"].values)
    hourly_match = d.attrs.get("scope2_matching", "annual") == "hourly"

    blocks: dict[tuple[int, int], SiteYearBlock] = {}
    cnt = {"pv": 0, "ex": 0, "grid": 0, "bat": 0, "match": 0}
    for (i, j), (full, cov, con) in classes.items():
        n = len(con)
        first = {}
        first["pv"] = cnt["pv"]
        cnt["pv"] += n
        for key, on in (("ex", exp_ok[i]), ("grid", full_sites[i]), ("bat", sites[i] in bat_of), ("match", hourly_match)):
            if on:
                first[key] = cnt[key]
                cnt[key] += n
            else:
                first[key] = -1
        blocks[(i, j)] = SiteYearBlock(full, cov, con, first["pv"], first["ex"], first["grid"], first["bat"], first["match"],
                                       bat_of.get(sites[i], -1), bool(full_sites[i]))
    pv_ub = np.full(cnt["pv"], np.inf)
    ex_ub = np.full(cnt["ex"], np.inf)
    grid_ub = np.full(cnt["grid"], np.inf)
    for (i, j), b in blocks.items():
        n = len(b.contested)
        if not b.is_full and len(_measures_of_site(d, i)) == 0:
            pv_ub[b.pv_first : b.pv_first + n] = load[i, j, b.contested]
        if b.ex_first >= 0 and np.isfinite(lim[i]):
            ex_ub[b.ex_first : b.ex_first + n] = lim[i]
        if b.grid_first >= 0 and np.isfinite(imp_lim[i]):
            grid_ub[b.grid_first : b.grid_first + n] = imp_lim[i]
    tolist = lambda a: [None if not np.isfinite(u) else u for u in a.tolist()]  # noqa: E731
    pv_ubl, ex_ubl, grid_ubl = tolist(pv_ub), tolist(ex_ub), tolist(grid_ub)
    m.H = pyo.RangeSet(0, cnt["pv"] - 1)
    m.pv = pyo.Var(m.H, bounds=lambda m, k: (0.0, pv_ubl[k]))
    m.HX = pyo.RangeSet(0, cnt["ex"] - 1)
    m.ex = pyo.Var(m.HX, bounds=lambda m, k: (0.0, ex_ubl[k]))
    m.HG = pyo.RangeSet(0, cnt["grid"] - 1)
    m.grid = pyo.Var(m.HG, bounds=lambda m, k: (0.0, grid_ubl[k]))
    m.HB = pyo.RangeSet(0, cnt["bat"] - 1)
    m.bc = pyo.Var(m.HB, bounds=(0.0, None))
    m.bd = pyo.Var(m.HB, bounds=(0.0, None))
    m.soc = pyo.Var(m.HB, bounds=(0.0, None))
    m.HM = pyo.RangeSet(0, cnt["match"] - 1)
    m.matched = pyo.Var(m.HM, bounds=(0.0, None))
    return blocks


def _define_annual_vars(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    """Per site and year: onsite PV, grid import [MWh], energy cost, export [MWh] and revenue, monthly peaks [kW]."""
    m.onsite_mwh = pyo.Var(m.S, m.Y, bounds=(0, None))
    m.grid_mwh = pyo.Var(m.S, m.Y, bounds=(0, None))
    m.energy_cost = pyo.Var(m.S, m.Y)
    m.export_mwh = pyo.Var(m.S, m.Y, bounds=(0, None))
    m.export_revenue = pyo.Var(m.S, m.Y)
    charge = _get(d, "demand_charge_per_kw_month", np.zeros(d.sizes["site"]))
    m.PK = pyo.Set(initialize=[(i, j, mo) for i in range(d.sizes["site"]) if charge[i] > 0 for j in range(d.sizes["year"]) for mo in range(12)], dimen=3)
    m.peak = pyo.Var(m.PK, bounds=(0, None))


def _define_matrix_rows(m: pyo.ConcreteModel, d: xr.Dataset, blocks: dict, *, reduce: bool) -> None:
    r"""Every hourly and annual row, as :class:`MatrixConstraint` families over one variable list.

    Hourly, for contested hour k of site s, year y, hour t:

    * ``gen``: ``pv[k] + export[k] − Σ_g yield[g,t]·EG[g,y] ≤ 0``;
    * ``pv_load`` (reduced sites with measures): ``pv[k] − Σ_μ Δ[μ,y,t]·frac[μ,y] ≤ load[t]``;
    * ``balance`` (full-hour sites): ``pv + grid + discharge − charge − Σ_μ Δ·frac = load[t]``;
    * ``soc`` (battery): ``soc[t] − soc[t−1] − η·charge[t] + discharge[t]/η = 0``, cyclic within the year,
      ``η = √(round-trip efficiency)``; ``power``: ``charge + discharge − bP[y] ≤ 0``; ``energy``: ``soc − bE[y] ≤ 0``;
    * ``peak`` (demand charge): ``grid[k] − peak[s,y,month(t)] ≤ 0``;
    * ``match`` (hourly matching): ``matched[k] − grid[k] ≤ 0`` and, per year and hour,
      ``Σ_s matched − Σ_c 1000·share[c,t]·volume[c,y] ≤ 0``.

    Annual, per site and year (5 rows; F, K, C the hour classes of the module docstring):

    * ``1000·onsite − Σ_C pv − Σ_g EG·Σ_F yield − Σ_μ frac·Σ_K Δ = Σ_K load``;
    * reduced sites: ``1000·grid_mwh + 1000·onsite − Σ_μ frac·Σ_t Δ = Σ_t load``;
      full-hour sites: ``1000·grid_mwh − Σ_t grid = 0``;
    * reduced: ``energy_cost + Σ_C price·pv + Σ_g EG·Σ_F price·yield − Σ_μ frac·Σ_{t∉K} price·Δ = Σ_{t∉K} price·load``;
      full-hour: ``energy_cost − Σ_t price·grid = 0`` [currency];
    * ``1000·export_mwh − Σ_C export = 0``; ``export_revenue − Σ_C export_price·export = 0``.
    """
    per_site, _ = _profile_index(d)
    load = d["load_kw"].values
    imp = d["import_price_per_kwh"].values
    exp_ = d["export_price_per_kwh"].values
    ymat = d["yield_kw_per_kwp"].values
    n_s, n_y = d.sizes["site"], d.sizes["year"]
    delta = _get(d, "measure_delta_kw", np.zeros((0, n_y, 8760)))
    month = _get(d, "hour_month", np.repeat(np.arange(1, 13), 730))
    rte = _get(d, "battery_round_trip_efficiency", np.zeros(0))

    # one variable list: hourly | EG | measures | battery sizes | annual | peaks | certificate volumes
    x: list = []
    off: dict[str, int] = {}
    for name in ("pv", "ex", "grid", "bc", "bd", "soc", "matched"):
        off[name] = len(x)
        x += list(getattr(m, name).values())
    off["eg"] = len(x)
    x += [m.EG[g, j] for g in range(d.sizes["profile"]) for j in range(n_y)]
    off["mfrac"] = len(x)
    x += [m.mfrac[k, j] for k in m.M for j in range(n_y)]
    off["bE"] = len(x)
    x += [m.bE[k, j] for k in m.B for j in range(n_y)]
    off["bP"] = len(x)
    x += [m.bP[k, j] for k in m.B for j in range(n_y)]
    for name in ("onsite_mwh", "grid_mwh", "energy_cost", "export_mwh", "export_revenue", "cert_total"):
        off[name] = len(x)
        comp = getattr(m, name)
        x += [comp[i, j] for i in range(n_s) for j in range(n_y)]
    off["peak"] = len(x)
    peak_col = {key: off["peak"] + n for n, key in enumerate(m.PK)}
    x += [m.peak[key] for key in m.PK]
    off["vol"] = len(x)
    vol_col = {key: off["vol"] + n for n, key in enumerate(m.CVOL)}
    x += [m.cvol[key] for key in m.CVOL]
    nx = len(x)
    sy = lambda name, i, j: off[name] + i * n_y + j  # noqa: E731

    fam: dict[str, tuple[_Coo, list, list]] = {k: (_Coo(), [], []) for k in ("gen", "pv_load", "balance", "soc", "power", "energy", "peak", "match", "pool", "annual")}

    def rows(name: str, n: int, lo: Any, hi: Any) -> np.ndarray:
        coo, los, his = fam[name]
        r0 = len(los)
        los.extend(lo if isinstance(lo, list) else [lo] * n)
        his.extend(hi if isinstance(hi, list) else [hi] * n)
        return r0 + np.arange(n)

    pool_rows: dict[int, np.ndarray] = {}
    for (i, j), b in blocks.items():
        con = b.contested
        n = len(con)
        ms = _measures_of_site(d, i)
        if n:
            pvc = off["pv"] + b.pv_first + np.arange(n)
            r = rows("gen", n, None, 0.0)
            gen = fam["gen"][0]
            gen.add(r, pvc, 1.0)
            if b.ex_first >= 0:
                gen.add(r, off["ex"] + b.ex_first + np.arange(n), 1.0)
            for g in per_site[i]:
                gen.add(r, off["eg"] + g * n_y + j, -ymat[g, con])
            if not b.is_full and len(ms):
                r = rows("pv_load", n, None, load[i, j, con].tolist())
                c = fam["pv_load"][0]
                c.add(r, pvc, 1.0)
                for k in ms:
                    c.add(r, off["mfrac"] + k * n_y + j, -delta[k, j, con])
            if b.is_full:
                gc = off["grid"] + b.grid_first + np.arange(n)
                r = rows("balance", n, load[i, j, con].tolist(), load[i, j, con].tolist())
                c = fam["balance"][0]
                c.add(r, pvc, 1.0)
                c.add(r, gc, 1.0)
                for k in ms:
                    c.add(r, off["mfrac"] + k * n_y + j, -delta[k, j, con])
                if b.bat_first >= 0:
                    h = b.bat_first + np.arange(n)
                    c.add(r, off["bd"] + h, 1.0)
                    c.add(r, off["bc"] + h, -1.0)
                    eta = float(np.sqrt(rte[b.battery]))
                    r = rows("soc", n, 0.0, 0.0)
                    s = fam["soc"][0]
                    s.add(r, off["soc"] + h, 1.0)
                    s.add(r, off["soc"] + np.roll(h, 1), -1.0)  # cyclic: hour 0 follows hour 8759
                    s.add(r, off["bc"] + h, -eta)
                    s.add(r, off["bd"] + h, 1.0 / eta)
                    r = rows("power", n, None, 0.0)
                    p = fam["power"][0]
                    p.add(r, off["bc"] + h, 1.0)
                    p.add(r, off["bd"] + h, 1.0)
                    p.add(r, off["bP"] + b.battery * n_y + j, -1.0)
                    r = rows("energy", n, None, 0.0)
                    e = fam["energy"][0]
                    e.add(r, off["soc"] + h, 1.0)
                    e.add(r, off["bE"] + b.battery * n_y + j, -1.0)
                if (i, j, 0) in peak_col:
                    r = rows("peak", n, None, 0.0)
                    p = fam["peak"][0]
                    p.add(r, gc, 1.0)
                    p.add(r, np.array([peak_col[(i, j, int(mo) - 1)] for mo in month[con]]), -1.0)
                if b.match_first >= 0:
                    mc = off["matched"] + b.match_first + np.arange(n)
                    r = rows("match", n, None, 0.0)
                    c = fam["match"][0]
                    c.add(r, mc, 1.0)
                    c.add(r, gc, -1.0)
                    if j not in pool_rows:
                        pool_rows[j] = rows("pool", 8760, None, 0.0)
                    fam["pool"][0].add(pool_rows[j][con], mc, 1.0)
    share = _get(d, "certificate_hourly_share", np.zeros((d.sizes["certificate"], 8760)))
    for (c, j), col in vol_col.items():
        if j in pool_rows:
            fam["pool"][0].add(pool_rows[j], col, -KWH_PER_MWH * share[c])

    # annual rows
    coo, lo, hi = fam["annual"]
    for i in range(n_s):
        ms = _measures_of_site(d, i)
        for j in range(n_y):
            b = blocks[(i, j)]
            con = b.contested
            n = len(con)
            r = len(lo) + np.arange(6 if b.match_first >= 0 else 5)
            pvc = off["pv"] + b.pv_first + np.arange(n)
            # onsite
            coo.add(r[0], sy("onsite_mwh", i, j), KWH_PER_MWH)
            coo.add(np.full(n, r[0]), pvc, -1.0)
            const_kwh = float(load[i, j, b.covered].sum())
            for g in per_site[i]:
                coo.add(r[0], off["eg"] + g * n_y + j, -float(ymat[g, b.full].sum()))
            for k in ms:
                coo.add(r[0], off["mfrac"] + k * n_y + j, -float(delta[k, j, b.covered].sum()))
            # grid and cost
            coo.add(r[1], sy("grid_mwh", i, j), KWH_PER_MWH)
            coo.add(r[2], sy("energy_cost", i, j), 1.0)
            if b.is_full:
                gc = off["grid"] + b.grid_first + np.arange(n)
                coo.add(np.full(n, r[1]), gc, -1.0)
                coo.add(np.full(n, r[2]), gc, -imp[i, j, con])
                rhs_grid = rhs_cost = 0.0
            else:
                coo.add(r[1], sy("onsite_mwh", i, j), KWH_PER_MWH)
                notk = np.ones(8760, dtype=bool)
                notk[b.covered] = False
                for k in ms:
                    coo.add(r[1], off["mfrac"] + k * n_y + j, -float(delta[k, j].sum()))
                    coo.add(r[2], off["mfrac"] + k * n_y + j, -float((imp[i, j, notk] * delta[k, j, notk]).sum()))
                coo.add(np.full(n, r[2]), pvc, imp[i, j, con])
                for g in per_site[i]:
                    coo.add(r[2], off["eg"] + g * n_y + j, float((imp[i, j, b.full] * ymat[g, b.full]).sum()))
                rhs_grid = float(load[i, j].sum())
                rhs_cost = float((imp[i, j, notk] * load[i, j, notk]).sum())
            # export and revenue
            coo.add(r[3], sy("export_mwh", i, j), KWH_PER_MWH)
            coo.add(r[4], sy("export_revenue", i, j), 1.0)
            if b.ex_first >= 0:
                exc = off["ex"] + b.ex_first + np.arange(n)
                coo.add(np.full(n, r[3]), exc, -1.0)
                coo.add(np.full(n, r[4]), exc, -exp_[i, j, con])
            # matched certificates (hourly matching): 1000·cert_total − Σ matched = 0
            if b.match_first >= 0:
                coo.add(r[5], sy("cert_total", i, j), KWH_PER_MWH)
                coo.add(np.full(n, r[5]), off["matched"] + b.match_first + np.arange(n), -1.0)
            fixed = [const_kwh, rhs_grid, rhs_cost, 0.0, 0.0] + ([0.0] if b.match_first >= 0 else [])
            lo += fixed
            hi += fixed
    for name, (c, los, his) in fam.items():
        if los:
            setattr(m, name + "_rows", _rows_component(m, c.csr(len(los), nx), los, his, x))
    m._x_offsets = off


def _define_certificates_offsets(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    r"""Certificates and offsets.

    Annual matching: ``cert[c,s,y] ≥ 0`` [MWh] only where instrument c can be bought in year y;
    ``cert_total[s,y] = Σ_c cert[c,s,y]``; cover: ``cert_total[s,y] ≤ grid_mwh[s,y]``.
    Hourly matching: ``volume[c,y] ≥ 0`` [MWh] bought for the portfolio, generated with the
    instrument's hourly share; ``cert_total[s,y] = Σ_t matched[s,y,t]/1000`` (rows in ``_define_matrix_rows``).
    ``offsets[s,y] ≥ 0`` [tCO2e], fixed to 0 when the portfolio has no offset price.
    """
    avail = d["certificate_available"].values
    n_c = d.sizes["certificate"]
    hourly = d.attrs.get("scope2_matching", "annual") == "hourly"
    m.CSY = pyo.Set(initialize=[] if hourly else [(c, i, j) for c in range(n_c) for i in range(d.sizes["site"]) for j in range(d.sizes["year"]) if avail[c, j]], dimen=3)
    m.cert = pyo.Var(m.CSY, bounds=(0, None))
    m.CVOL = pyo.Set(initialize=[(c, j) for c in range(n_c) for j in range(d.sizes["year"]) if avail[c, j]] if hourly else [], dimen=2)
    m.cvol = pyo.Var(m.CVOL, bounds=(0, None))
    m.cert_total = pyo.Var(m.S, m.Y, bounds=(0, None))
    if not hourly:
        m.cert_total_def = pyo.Constraint(m.S, m.Y, rule=lambda m, i, j: m.cert_total[i, j] == sum(m.cert[c, i, j] for c in range(n_c) if avail[c, j]))
    m.cert_cover = pyo.Constraint(m.S, m.Y, rule=lambda m, i, j: m.cert_total[i, j] <= m.grid_mwh[i, j])
    has_off = np.isfinite(d["offset_price_per_tco2e"].values)
    m.offsets = pyo.Var(m.S, m.Y, bounds=lambda m, i, j: (0.0, None if has_off[j] else 0.0))


def _define_emissions(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    r"""Emissions accounting (GHG Protocol dual reporting).

    ``scope1[s,y] = scope1_input − Σ_μ frac[μ,y]·scope1_removed[μ]``;
    ``scope2_location[s,y] = grid_mwh·ef``; ``scope2_market[s,y] = (grid_mwh − cert_total)·residual``;
    ``net[s,y] = scope1 + scope2_market − offsets`` [tCO2e].
    """
    ef = d["grid_ef_t_per_mwh"].values
    res = d["residual_ef_t_per_mwh"].values
    s1 = d["scope1_tco2e"].values
    removed = _get(d, "measure_scope1_removed_tco2e", np.zeros(0))
    ms_of = [_measures_of_site(d, i) for i in range(d.sizes["site"])]
    m.scope1 = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: float(s1[i, j]) - sum(float(removed[k]) * m.mfrac[k, j] for k in ms_of[i]))
    m.scope2_location = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: float(ef[i, j]) * m.grid_mwh[i, j])
    m.scope2_market = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: float(res[i, j]) * (m.grid_mwh[i, j] - m.cert_total[i, j]))
    m.net = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: m.scope1[i, j] + m.scope2_market[i, j] - m.offsets[i, j])


def _define_milestones(m: pyo.ConcreteModel, d: xr.Dataset, *, elastic: bool, skip: frozenset[str]) -> dict[str, MilestoneRows]:
    r"""Milestones, each a named group of rows (see docs/formulation.md §Milestones).

    * ``min_portfolio_kwp``: ``Σ_a inst[a,Y] ≥ kwp`` (inst never falls, so later years follow);
    * ``rooftop_coverage``: ``inst[a,Y] ≥ f·max_kwp[a]`` for rooftop arrays;
    * ``min_pv_onsite_mwh``: ``Σ_s onsite_mwh[s,y] ≥ mwh`` for ``y ≥ Y``;
    * ``min_certificates_mwh``: ``Σ_{c,s} cert[c,s,Y] ≥ mwh``;
    * ``emissions_peak``: ``Σ_s (scope1 + scope2)[y+1] ≤ Σ_s (scope1 + scope2)[y]`` for ``y ≥ Y``;
    * ``neutrality``: ``Σ_{s∈S'} net[s,y] ≤ 0`` for ``y ≥ Y``;
    * ``offset_cap``: ``Σ_s offsets[s,y] ≤ share·baseline`` every year;
    * ``capex_budget``: ``Σ_a capex[a,y]·build[a,y] ≤ budget`` every year;
    * ``build_rate``: ``Σ_{a∈S'} build[a,y] ≤ rate`` every year.

    With ``elastic=True`` every row gets a slack ``σ ≥ 0`` (``lhs + σ ≥ rhs`` or ``lhs − σ ≤ rhs``)
    penalised in the objective at ``ELASTIC_PENALTY`` per unit.
    """
    years = [int(y) for y in d["year"].values]
    sites = list(d["site"].values)
    kinds = _kind_index(d)
    capex = d["capex_per_kwp"].values
    maxk = d["max_kwp"].values
    roof = np.where(d["array_kind"].values == "rooftop")[0]
    asite = d["array_site"].values
    baseline = float(d["baseline_scope1_tco2e"].values.sum() + d["baseline_scope2_location_tco2e"].values.sum())
    m.milestone_rows = pyo.ConstraintList()
    m.milestone_slack = pyo.VarList(domain=pyo.NonNegativeReals)
    out: dict[str, MilestoneRows] = {}

    def add(mr: MilestoneRows, year: int, lhs, rhs: float) -> None:
        if elastic:
            s = m.milestone_slack.add()
            mr.slacks.append(s)
            expr = (lhs + s >= rhs) if mr.sense == ">=" else (lhs - s <= rhs)
        else:
            expr = (lhs >= rhs) if mr.sense == ">=" else (lhs <= rhs)
        if isinstance(expr, bool):  # a constant row (e.g. no arrays)
            if not expr:
                raise InfeasiblePlanError({mr.name: (float("nan"), mr.unit, "a constant row that cannot hold")})
            return
        mr.rows.append((year, m.milestone_rows.add(expr)))

    for ms in milestones_of(d):
        name, typ = ms["name"], ms["type"]
        if name in skip:
            continue
        Y = ms.get("year")
        if Y is not None and Y not in years:
            raise PortfolioError([InputIssue("milestones", name, f"year {Y} is outside the planning horizon {years[0]}-{years[-1]}")])
        j0 = years.index(Y) if Y is not None else 0
        if typ == "min_portfolio_kwp":
            mr = MilestoneRows(name, typ, "kWp", ">=")
            add(mr, Y, sum(m.inst[a, j0] for a in m.A), float(ms["kwp"]))
        elif typ == "rooftop_coverage":
            mr = MilestoneRows(name, typ, "kWp", ">=")
            for a in roof:
                add(mr, Y, m.inst[int(a), j0], float(ms["fraction"] * maxk[a]))
        elif typ == "min_pv_onsite_mwh":
            mr = MilestoneRows(name, typ, "MWh", ">=")
            for j in range(j0, len(years)):
                add(mr, years[j], sum(m.onsite_mwh[i, j] for i in m.S), float(ms["mwh"]))
        elif typ == "min_certificates_mwh":
            mr = MilestoneRows(name, typ, "MWh", ">=")
            add(mr, Y, sum(m.cert_total[i, j0] for i in m.S), float(ms["mwh"]))
        elif typ == "emissions_peak":
            mr = MilestoneRows(name, typ, "tCO2e", "<=")
            s2 = m.scope2_market if ms.get("scope2", "market") == "market" else m.scope2_location
            gross = [sum(m.scope1[i, j] + s2[i, j] for i in m.S) for j in range(len(years))]
            for j in range(j0, len(years) - 1):
                add(mr, years[j + 1], gross[j + 1] - gross[j], 0.0)
        elif typ == "neutrality":
            mr = MilestoneRows(name, typ, "tCO2e", "<=")
            idx = [sites.index(ms["site"])] if ms.get("site") else list(range(len(sites)))
            for j in range(j0, len(years)):
                add(mr, years[j], sum(m.net[i, j] for i in idx), 0.0)
        elif typ == "offset_cap":
            mr = MilestoneRows(name, typ, "tCO2e", "<=")
            for j in range(len(years)):
                add(mr, years[j], sum(m.offsets[i, j] for i in m.S), float(ms["share_of_baseline"]) * baseline)
        elif typ == "capex_budget":
            mr = MilestoneRows(name, typ, str(d.attrs["currency"]), "<=")
            for j in range(len(years)):
                add(mr, years[j], sum(float(capex[kinds[a], j]) * m.build[a, j] for a in m.A), float(ms["per_year"]))
        elif typ == "build_rate":
            mr = MilestoneRows(name, typ, "kWp", "<=")
            arrs = [a for a in range(len(asite)) if ms.get("site") in (None, asite[a])]
            for j in range(len(years)):
                add(mr, years[j], sum(m.build[a, j] for a in arrs), float(ms["kwp_per_year"]))
        else:  # pragma: no cover - the schema admits no other type
            raise ValueError(f"unknown milestone type {typ}")
        out[name] = mr
    return out


def _salvage_share(L: float, n_y: int, v: int) -> float:
    """Straight-line share of an asset built in year index ``v`` still unused after the horizon."""
    return max(0.0, L - (n_y - v)) / L


def _define_objective(m: pyo.ConcreteModel, d: xr.Dataset, mrows: dict[str, MilestoneRows]) -> None:
    r"""Net present cost [currency].

    ``NPC = Σ_y df_y·(Σ_a capex·build + Σ_a om·inst + energy_cost + demand_charge·Σ_month peak − export_revenue
    + Σ_c price_c·cert + offset_price·offsets + measure and battery capex and O&M) − salvage``,
    ``df_y = (1+r)^{-(y-y0)}``; salvage of an asset built in year v: ``capex·max(0, L − (y_last − v + 1))/L·df_{y_last+1}``
    (straight-line value of the life left after the horizon). O&M of an asset runs from its build year to the horizon's end.
    """
    df = _discount(d)
    n_y = len(df)
    r = float(d.attrs["discount_rate"])
    L = float(d.attrs["lifetime_years"])
    kinds = _kind_index(d)
    capex = d["capex_per_kwp"].values
    om = d["om_per_kwp_year"].values
    cp = d["certificate_price_per_mwh"].values
    op = np.nan_to_num(d["offset_price_per_tco2e"].values)
    df_end = (1.0 + r) ** -float(n_y)
    om_from = lambda rate, v: float(sum(df[y] * rate for y in range(v, n_y)))  # noqa: E731
    coefs, vars_ = [], []
    const = 0.0
    for a in m.A:
        k = kinds[a]
        for v in m.Y:
            salvage = capex[k, v] * _salvage_share(L, n_y, v) * df_end
            om_pv = float(sum(df[y] * om[k, y] for y in range(v, n_y)))
            coefs.append(float(df[v] * capex[k, v] + om_pv - salvage))
            vars_.append(m.build[a, v])
        const += float(sum(df[y] * om[k, y] for y in range(n_y))) * float(d["existing_kwp"].values[a])
    for k in m.M:
        cap, omy, life = (float(d[n].values[k]) for n in ("measure_capex", "measure_om_per_year", "measure_lifetime_years"))
        for v in m.Y:
            coefs.append(float(df[v] * cap + om_from(omy, v) - cap * _salvage_share(life, n_y, v) * df_end))
            vars_.append(m.madopt[k, v])
    for k in m.B:
        ec, pc, omk, life = (float(d[n].values[k]) for n in ("battery_energy_capex_per_kwh", "battery_power_capex_per_kw", "battery_om_per_kwh_year", "battery_lifetime_years"))
        for v in m.Y:
            sv = _salvage_share(life, n_y, v) * df_end
            coefs += [float(df[v] * ec + om_from(omk, v) - ec * sv), float(df[v] * pc - pc * sv)]
            vars_ += [m.bE_build[k, v], m.bP_build[k, v]]
    for i in m.S:
        for j in m.Y:
            coefs += [float(df[j]), -float(df[j]), float(df[j] * op[j])]
            vars_ += [m.energy_cost[i, j], m.export_revenue[i, j], m.offsets[i, j]]
    charge = _get(d, "demand_charge_per_kw_month", np.zeros(d.sizes["site"]))
    for (i, j, mo) in m.PK:
        coefs.append(float(df[j] * charge[i]))
        vars_.append(m.peak[i, j, mo])
    for (c, i, j) in m.CSY:
        coefs.append(float(df[j] * cp[c, j]))
        vars_.append(m.cert[c, i, j])
    for (c, j) in m.CVOL:
        coefs.append(float(df[j] * cp[c, j]))
        vars_.append(m.cvol[c, j])
    for mr in mrows.values():
        for s in mr.slacks:
            coefs.append(ELASTIC_PENALTY)
            vars_.append(s)
    m.npc = pyo.Objective(expr=_lin(coefs, vars_, const), sense=pyo.minimize)


# --------------------------------------------------------------------------- #
# solve
# --------------------------------------------------------------------------- #
def _highs_options(opts: SolveOptions) -> dict[str, Any]:
    o: dict[str, Any] = {"solver": opts.solver}
    if opts.threads:
        o["threads"] = int(opts.threads)
    return o


def _status(tc: Any) -> Status:
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


_DIRECT_STATUS = {
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
        r = solve_direct(pm.model, time_limit_s=opts.time_limit_s, threads=opts.threads, solver=opts.solver, log=opts.log)
        st = _DIRECT_STATUS.get(r.model_status, Status.NUMERICAL if "umeric" in r.model_status else Status.ERROR)
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
        solver_options=_highs_options(opts),
    )
    wall = time.perf_counter() - t0
    st = _status(res.termination_condition)
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
        lim = _get(d, "import_limit_kw", np.full(d.sizes["site"], np.nan))
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
    """Build and solve; raise :class:`InfeasiblePlanError` or :class:`SolverError` when there is no plan."""
    pm = build_model(d, reduce=opts.reduce, matrix=opts.interface == "direct")
    if opts.extra_constraints is not None:
        opts.extra_constraints(pm.model, d)
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
