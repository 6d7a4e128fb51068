"""The planning LP (docs/formulation.md), built in Pyomo and solved by HiGHS.

The optimiser reads only the input Dataset of :func:`pvopt.plandata.build_plan_inputs`
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

from .errors import InfeasiblePlanError, InputIssue, PortfolioError, SolverError

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
        ``"direct"``: hand the Pyomo model to HiGHS in bulk (:mod:`pvopt.highs_direct`, fast);
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
    """Hour classes of one site and year (index arrays into 0..8759)."""

    full: np.ndarray
    covered: np.ndarray
    contested: np.ndarray
    pv_first: int  # first flat index of this block's pv variables
    ex_first: int  # first flat index of its export variables (-1: none)


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


def classify_hours(d: xr.Dataset, *, reduce: bool, use_milestone_bounds: bool = True) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Split each site-year's hours into (full, covered, contested) index arrays (the rest are zero hours)."""
    per_site, arr_prof = _profile_index(d)
    ymat = d["yield_kw_per_kwp"].values
    load = d["load_kw"].values
    imp = d["import_price_per_kwh"].values
    exp_ = d["export_price_per_kwh"].values
    exp_ok = d["export_allowed"].values
    maxk = d["max_kwp"].values
    n_y = d.sizes["year"]
    hours = np.arange(d.sizes["hour"])
    out = {}
    if reduce:
        lb_inst = _coverage_lower_bound(d) if use_milestone_bounds else np.repeat(d["existing_kwp"].values[:, None], n_y, axis=1)
        exist_eff = existing_effective_kwp(d)
        deg = d["degradation_per_year"].values
    for i, profs in enumerate(per_site):
        if not reduce:
            for j in range(n_y):
                out[(i, j)] = (hours[:0], hours[:0], hours)
            continue
        cap_max = np.array([maxk[arr_prof == g].sum() for g in profs])
        y_site = ymat[profs]  # (g, t)
        gmax = cap_max @ y_site if profs else np.zeros(len(hours))
        any_yield = (y_site > 0).any(axis=0) if profs else np.zeros(len(hours), bool)
        for j in range(n_y):
            L = load[i, j]
            no_gain = (~exp_ok[i]) | (exp_[i, j] <= imp[i, j])
            no_export_value = (~exp_ok[i]) | (exp_[i, j] <= 0)
            # lower bound of effective capacity per profile in year j
            eg_min = np.zeros(len(profs))
            for gi, g in enumerate(profs):
                a = np.where(arr_prof == g)[0]
                new_lb = np.clip(lb_inst[a, j] - d["existing_kwp"].values[a], 0, None)
                eg_min[gi] = float((exist_eff[a, j] + new_lb * (1.0 - deg[a]) ** j).sum())
            gmin = eg_min @ y_site if profs else np.zeros(len(hours))
            full = any_yield & (gmax <= L) & no_gain
            covered = any_yield & ~full & (gmin >= L) & no_export_value
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
        LP inputs (:func:`pvopt.plandata.build_plan_inputs`).
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
    blocks = _define_hourly(m, d, reduce=reduce, use_milestone_bounds=not elastic)
    _define_annual_energy(m, d, blocks, reduce=reduce)
    _define_certificates_offsets(m, d)
    _define_emissions(m, d)
    mrows = _define_milestones(m, d, elastic=elastic, skip=skip)
    _define_objective(m, d, mrows)
    n_h = len(m.pv) + len(m.ex) + (len(m.grid) if hasattr(m, "grid") else 0)
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


class _Coo:
    """Rows of a sparse matrix, gathered block by block as numpy arrays."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []

    def add(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> None:
        rows, cols, vals = np.broadcast_arrays(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), np.asarray(vals, dtype=float))
        keep = vals != 0.0
        self.r.append(rows[keep])
        self.c.append(cols[keep])
        self.v.append(vals[keep])

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


def _define_hourly(m: pyo.ConcreteModel, d: xr.Dataset, *, reduce: bool, use_milestone_bounds: bool) -> dict[tuple[int, int], SiteYearBlock]:
    r"""Hourly onsite use and export in contested hours (one :class:`MatrixConstraint`).

    ``0 ≤ pv[k] ≤ load[s,y,t]`` [kW]; ``0 ≤ export[k] ≤ limit[s]`` [kW] where export is allowed;
    generation: ``pv[k] + export[k] − Σ_g yield[g,t]·EG[g,y] ≤ 0``.
    With ``reduce=False`` also ``grid[k] ≥ 0`` and the balance ``pv[k] + grid[k] = load[s,y,t]``.
    """
    classes = classify_hours(d, reduce=reduce, use_milestone_bounds=use_milestone_bounds)
    per_site, _ = _profile_index(d)
    load = d["load_kw"].values
    exp_ok = d["export_allowed"].values
    lim = d["export_limit_kw"].values
    ymat = d["yield_kw_per_kwp"].values
    n_y = d.sizes["year"]

    blocks: dict[tuple[int, int], SiteYearBlock] = {}
    n_pv = n_ex = 0
    for (i, j), (full, cov, con) in classes.items():
        ex_first = -1
        if exp_ok[i]:
            ex_first = n_ex
            n_ex += len(con)
        blocks[(i, j)] = SiteYearBlock(full, cov, con, n_pv, ex_first)
        n_pv += len(con)
    pv_ub = np.zeros(n_pv)
    ex_ub = np.full(n_ex, np.inf)
    for (i, j), b in blocks.items():
        pv_ub[b.pv_first : b.pv_first + len(b.contested)] = load[i, j, b.contested]
        if b.ex_first >= 0 and np.isfinite(lim[i]):
            ex_ub[b.ex_first : b.ex_first + len(b.contested)] = lim[i]
    pv_ubl = pv_ub.tolist()
    ex_ubl = [None if not np.isfinite(u) else u for u in ex_ub.tolist()]
    m.H = pyo.RangeSet(0, n_pv - 1)
    m.pv = pyo.Var(m.H, bounds=lambda m, k: (0.0, pv_ubl[k]))
    m.HX = pyo.RangeSet(0, n_ex - 1)
    m.ex = pyo.Var(m.HX, bounds=lambda m, k: (0.0, ex_ubl[k]))
    # one variable list for every matrix row of the model: pv | ex | grid | EG | annual
    x = list(m.pv.values()) + list(m.ex.values())
    off_grid = len(x)
    if not reduce:
        m.grid = pyo.Var(m.H, bounds=(0.0, None))
        x += list(m.grid.values())
    off_eg = len(x)
    x += [m.EG[g, j] for g in range(d.sizes["profile"]) for j in range(n_y)]
    m._x_offsets = {"pv": 0, "ex": n_pv, "grid": off_grid, "eg": off_eg, "annual": len(x)}

    gen = _Coo()
    for (i, j), b in blocks.items():
        n = len(b.contested)
        if n == 0:
            continue
        rows = b.pv_first + np.arange(n)
        gen.add(rows, rows, 1.0)
        if b.ex_first >= 0:
            gen.add(rows, n_pv + b.ex_first + np.arange(n), 1.0)
        for g in per_site[i]:
            gen.add(rows, off_eg + g * n_y + j, -ymat[g, b.contested])
    m._hourly_x = x
    m.gen = _rows_component(m, gen.csr(n_pv, len(x)), [None] * n_pv, [0.0] * n_pv, x)
    if not reduce:
        bal = _Coo()
        rows = np.arange(n_pv)
        bal.add(rows, rows, 1.0)
        bal.add(rows, off_grid + rows, 1.0)
        m.balance = _rows_component(m, bal.csr(n_pv, len(x)), pv_ubl, pv_ubl, x)
    return blocks


def _define_annual_energy(m: pyo.ConcreteModel, d: xr.Dataset, blocks: dict, *, reduce: bool) -> None:
    r"""Per site and year: onsite PV, grid import, energy cost, export (one :class:`MatrixConstraint`, 4 rows per site-year).

    ``onsite_mwh[s,y] = (Σ_{t∈F} Σ_g yield[g,t]·EG[g,y] + Σ_{t∈K} load[t] + Σ_{k∈C} pv[k]) / 1000``;
    ``grid_mwh[s,y] = Σ_t load[t]/1000 − onsite_mwh[s,y]``;
    ``energy_cost[s,y] = Σ_t price[t]·load[t] − Σ_F price·gen − Σ_K price·load − Σ_C price[t]·pv[k]`` [currency];
    ``export_mwh[s,y] = Σ_C export[k]/1000``; ``export_revenue[s,y] = Σ_C export_price[t]·export[k]`` [currency].
    With ``reduce=False``: ``energy_cost = Σ_t price[t]·grid[k]``.
    """
    per_site, _ = _profile_index(d)
    load = d["load_kw"].values
    imp = d["import_price_per_kwh"].values
    exp_ = d["export_price_per_kwh"].values
    ymat = d["yield_kw_per_kwp"].values
    n_s, n_y = d.sizes["site"], d.sizes["year"]
    m.onsite_mwh = pyo.Var(m.S, m.Y, bounds=(0, None))
    m.energy_cost = pyo.Var(m.S, m.Y)
    m.export_mwh = pyo.Var(m.S, m.Y, bounds=(0, None))
    m.export_revenue = pyo.Var(m.S, m.Y)
    load_mwh = load.sum(axis=2) / KWH_PER_MWH
    full_cost = (imp * load).sum(axis=2)
    off = m._x_offsets
    x = m._hourly_x
    base = len(x)
    # annual variables appended in the order onsite, cost, export, revenue; each (i, j) row-major
    for comp in (m.onsite_mwh, m.energy_cost, m.export_mwh, m.export_revenue):
        x += [comp[i, j] for i in range(n_s) for j in range(n_y)]
    nsy = n_s * n_y
    col = lambda q, i, j: base + q * nsy + i * n_y + j  # noqa: E731
    coo = _Coo()
    lo: list[float] = []
    for i in range(n_s):
        for j in range(n_y):
            b = blocks[(i, j)]
            con = b.contested
            n = len(con)
            r = 4 * (i * n_y + j)
            pvc = off["pv"] + b.pv_first + np.arange(n)
            # onsite: 1000·onsite − Σ_C pv − Σ_g YF_g·EG_g = Σ_K load
            coo.add(r, col(0, i, j), KWH_PER_MWH)
            coo.add(np.full(n, r), pvc, -1.0)
            if reduce:
                for g in per_site[i]:
                    coo.add(r, off["eg"] + g * n_y + j, -float(ymat[g, b.full].sum()))
                const_kwh = float(load[i, j, b.covered].sum())
                const_cost = float((imp[i, j, b.covered] * load[i, j, b.covered]).sum())
            else:
                const_kwh = const_cost = 0.0
            # cost
            coo.add(r + 1, col(1, i, j), 1.0)
            if reduce:
                coo.add(np.full(n, r + 1), pvc, imp[i, j, con])
                for g in per_site[i]:
                    coo.add(r + 1, off["eg"] + g * n_y + j, float((imp[i, j, b.full] * ymat[g, b.full]).sum()))
                rhs_cost = float(full_cost[i, j]) - const_cost
            else:
                coo.add(np.full(n, r + 1), off["grid"] + b.pv_first + np.arange(n), -imp[i, j, con])
                rhs_cost = 0.0
            # export and revenue
            coo.add(r + 2, col(2, i, j), KWH_PER_MWH)
            coo.add(r + 3, col(3, i, j), 1.0)
            if b.ex_first >= 0:
                exc = off["ex"] + b.ex_first + np.arange(n)
                coo.add(np.full(n, r + 2), exc, -1.0)
                coo.add(np.full(n, r + 3), exc, -exp_[i, j, con])
            lo += [const_kwh, rhs_cost, 0.0, 0.0]
    m.annual_def = _rows_component(m, coo.csr(4 * nsy, len(x)), lo, list(lo), x)
    m.grid_mwh = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: float(load_mwh[i, j]) - m.onsite_mwh[i, j])


def _define_certificates_offsets(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    r"""Certificates and offsets.

    ``cert[c,s,y] ≥ 0`` [MWh] only where instrument c can be bought in year y;
    cover: ``Σ_c cert[c,s,y] ≤ grid_mwh[s,y]``;
    ``offsets[s,y] ≥ 0`` [tCO2e], fixed to 0 when the portfolio has no offset price.
    """
    avail = d["certificate_available"].values
    n_c = d.sizes["certificate"]
    m.CSY = pyo.Set(initialize=[(c, i, j) for c in range(n_c) for i in range(d.sizes["site"]) for j in range(d.sizes["year"]) if avail[c, j]], dimen=3)
    m.cert = pyo.Var(m.CSY, bounds=(0, None))
    m.cert_total = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: sum(m.cert[c, i, j] for c in range(n_c) if avail[c, j]))
    m.cert_cover = pyo.Constraint(m.S, m.Y, rule=lambda m, i, j: m.cert_total[i, j] <= m.grid_mwh[i, j])
    has_off = np.isfinite(d["offset_price_per_tco2e"].values)
    m.offsets = pyo.Var(m.S, m.Y, bounds=lambda m, i, j: (0.0, None if has_off[j] else 0.0))


def _define_emissions(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    r"""Emissions accounting (GHG Protocol dual reporting).

    ``scope2_location[s,y] = grid_mwh·ef``; ``scope2_market[s,y] = (grid_mwh − Σ_c cert)·residual``;
    ``net[s,y] = scope1 + scope2_market − offsets`` [tCO2e].
    """
    ef = d["grid_ef_t_per_mwh"].values
    res = d["residual_ef_t_per_mwh"].values
    s1 = d["scope1_tco2e"].values
    m.scope2_location = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: float(ef[i, j]) * m.grid_mwh[i, j])
    m.scope2_market = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: float(res[i, j]) * (m.grid_mwh[i, j] - m.cert_total[i, j]))
    m.net = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: float(s1[i, j]) + m.scope2_market[i, j] - m.offsets[i, j])


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
            s1 = d["scope1_tco2e"].values
            gross = [sum(float(s1[i, j]) + s2[i, j] for i in m.S) for j in range(len(years))]
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


def _define_objective(m: pyo.ConcreteModel, d: xr.Dataset, mrows: dict[str, MilestoneRows]) -> None:
    r"""Net present cost [currency].

    ``NPC = Σ_y df_y·(Σ_a capex·build + Σ_a om·inst + energy_cost − export_revenue
    + Σ_c price_c·cert + offset_price·offsets) − Σ_{a,v} salvage[a,v]·build[a,v]``,
    ``df_y = (1+r)^{-(y-y0)}``; ``salvage[a,v] = capex[a,v]·max(0, L − (y_last − v + 1))/L·df_{y_last+1}``
    (straight-line value of the PV life left after the horizon).
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
    coefs, vars_ = [], []
    const = 0.0
    for a in m.A:
        k = kinds[a]
        for v in m.Y:
            remaining = max(0.0, L - (n_y - v))
            salvage = capex[k, v] * remaining / L * df_end
            # O&M from the build year to the horizon's end
            om_pv = float(sum(df[y] * om[k, y] for y in range(v, n_y)))
            coefs.append(float(df[v] * capex[k, v] + om_pv - salvage))
            vars_.append(m.build[a, v])
        const += float(sum(df[y] * om[k, y] for y in range(n_y))) * float(d["existing_kwp"].values[a])
    for i in m.S:
        for j in m.Y:
            coefs += [float(df[j]), -float(df[j]), float(df[j] * op[j])]
            vars_ += [m.energy_cost[i, j], m.export_revenue[i, j], m.offsets[i, j]]
    for (c, i, j) in m.CSY:
        coefs.append(float(df[j] * cp[c, j]))
        vars_.append(m.cert[c, i, j])
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
        from .highs_direct import solve_direct

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
        return InfeasiblePlanError({"(diagnosis)": (float("nan"), "", f"the elastic re-solve also failed: {sol.status.value}")})
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
        raise SolverError(f"HiGHS reached the time limit ({opts.time_limit_s} s) before an optimal plan; raise --time-limit")
    if sol.status == Status.UNBOUNDED:
        raise SolverError("the plan is unbounded: some cost or price is negative or a variable lacks a bound")
    if sol.status != Status.OPTIMAL:
        raise SolverError(f"HiGHS stopped without an optimal plan: {sol.termination} ({sol.status.value})")
    return pm, sol, res
