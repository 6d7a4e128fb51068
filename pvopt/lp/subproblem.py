"""The hourly operation of one site-year as a Benders subproblem, built without Pyomo.

A subproblem ``(s, y)`` holds every hourly row of that site-year — generation,
balance, battery, monthly peaks — and its annual rows (onsite, grid, energy cost,
export, export revenue). They are built by the **same** row-family functions as
the monolithic model (:data:`pvopt.lp.rows.HOURLY_FAMILIES` and
:func:`pvopt.lp.rows.define_annual_rows`), over a :class:`SubColumns` index that
numbers the columns of this one site-year, straight into CSR arrays for highspy.

Columns:

* *local*: the hourly variables (``pv``, ``export``, ``grid``, ``charge``,
  ``discharge``, ``soc``), the monthly peaks, ``energy_cost[s,y]`` and
  ``export_revenue[s,y]``, with the objective coefficients the master's objective
  gives them (``df_y``, ``−df_y``, ``df_y·demand_charge``);
* *linking*: master variables the rows read — ``EG[g,y]`` of the site's profiles,
  ``frac[μ,y]`` of its measures, ``bE[b,y]``, ``bP[b,y]``, and the annual budgets
  ``onsite_mwh``, ``grid_mwh``, ``export_mwh`` of ``(s, y)``. Each is fixed to the
  master's value ``ẑ`` by its bounds; its reduced cost is the cut coefficient
  (the dual of the fixing row ``z = ẑ``).
* *elastic*: on every annual row that holds a budget (``1000·grid_mwh − Σ grid = 0``
  and the like) a pair of slacks ``σ⁺, σ⁻ ≥ 0``, and, where an import limit can make
  the balance infeasible, an unserved-load slack per hour; each costs ``penalty`` per
  kWh. The subproblem is then feasible for every master point, and its value
  ``v(ẑ)`` is a convex, piecewise-linear function of ``ẑ`` that equals the true
  operating cost wherever the master point is operable and exceeds it elsewhere.
  Why this is exact: see :mod:`pvopt.lp.decompose`.

:class:`Subproblem` keeps one ``highspy.Highs`` per site-year and only changes
the bounds of the linking columns between iterations, so each re-solve starts
from the previous optimal basis (primal simplex hot start; the first solve is interior point + crossover).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import xarray as xr

from pvopt.lp.data import optional
from pvopt.lp.highs import StandardLP, highs_lp
from pvopt.lp.rows import FAMILIES, HOURLY_FAMILIES, Columns, RowFamilies, define_annual_rows
from pvopt.lp.variables import SiteYearBlock

__all__ = ["LINK_FAMILIES", "SubColumns", "SubproblemSpec", "build_subproblem", "Subproblem", "SubResult", "keep_solvers"]

INF = float("inf")
#: Master variable families a subproblem reads (fixed to the master's values).
LINK_FAMILIES = ("eg", "mfrac", "bE", "bP", "onsite_mwh", "grid_mwh")
#: Annual variables that belong to the subproblem (their objective terms move into it; ``export_mwh``
#: enters no master row, so it is read back from the subproblem).
LOCAL_ANNUAL = ("energy_cost", "export_revenue", "export_mwh")
#: Annual budgets that get elastic slacks.
BUDGETS = ("onsite_mwh", "grid_mwh")
#: A hot-started primal simplex gives up after this many iterations and the subproblem is solved cold (IPM +
#: crossover). Re-solves of `sites/lead-pillars`' battery site-years took up to about 19,000 (1-5 s, where
#: interior point took 1.5-2 s); a 52,565-row synthetic site-year needed 5,000-9,000 from a nearby point
#: (2-3 s, interior point 3.5 s) and 35,000-46,000 from a far one (20 s).
WARM_ITERATION_LIMIT = 15_000


@dataclass
class SubColumns(Columns):
    """Columns of one site-year: hourly families first, then every other column in the order the rows ask for it.

    :meth:`sy` hands out a new column the first time a ``(name, i, j)`` is asked for,
    so the row families say themselves which master variables they read.
    """

    keys: dict[tuple[str, int, int], int] = field(default_factory=dict)
    n_cols: int = 0

    def sy(self, name: str, i: int, j: int) -> int:
        """Return the column of ``name[i, j]``, adding a new column the first time it is asked for."""
        key = (name, int(i), int(j))
        if key not in self.keys:
            self.keys[key] = self.n_cols
            self.n_cols += 1
        return self.keys[key]


@dataclass
class SubproblemSpec:
    """Everything a worker needs to build one subproblem (plain arrays; pickles small)."""

    key: tuple[int, int]
    A: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    cost: np.ndarray
    link_keys: list[tuple[str, int, int]]  #: master variable of each linking column
    link_cols: np.ndarray
    slack_cols: np.ndarray  #: elastic columns (cost = penalty)
    hourly: dict[str, tuple[int, int]]  #: name -> (first column, count)
    local_keys: dict[tuple, int]  #: ("energy_cost"|"export_revenue", i, j) or ("peak", i, j, month) -> column
    penalty: float


@dataclass
class _Layout:
    """Where the hourly families and the monthly peaks of one site-year sit among its first columns."""

    n_hours: int
    has: dict[str, bool]  #: "pv", "ex", "grid", "bat" -> whether the site-year has that family
    off: dict[str, int]  #: first column of each hourly family
    hourly: dict[str, tuple[int, int]]  #: name -> (first column, count) of the families it has
    peak_col: dict[tuple[int, int, int], int]  #: (site, year, month) -> column
    n_cols: int


def _layout(d: xr.Dataset, i: int, j: int, block: SiteYearBlock) -> _Layout:
    """Lay out the hourly columns, then the monthly peaks, of site-year ``(i, j)``."""
    n = len(block.contested)
    has = {"pv": True, "ex": bool(d["export_allowed"].values[i]), "grid": True, "bat": block.battery >= 0}
    off: dict[str, int] = {}
    c = 0
    hourly: dict[str, tuple[int, int]] = {}
    for name, on in (("pv", has["pv"]), ("ex", has["ex"]), ("grid", has["grid"]), ("bc", has["bat"]), ("bd", has["bat"]), ("soc", has["bat"])):
        off[name] = c
        if on:
            hourly[name] = (c, n)
            c += n
    off["matched"] = c
    charge = optional(d, "demand_charge_per_kw_month", np.zeros(d.sizes["site"]))
    peak_col = {}
    if charge[i] > 0:
        for mo in range(12):
            peak_col[(i, j, mo)] = c
            c += 1
    return _Layout(n, has, off, hourly, peak_col, c)


def _define_rows(d: xr.Dataset, i: int, j: int, block: SiteYearBlock, lay: _Layout) -> tuple[SubColumns, RowFamilies]:
    """Define the site-year's hourly and annual rows with the plan's row families."""
    has = lay.has
    cols = SubColumns(x=[], off=lay.off, n_y=d.sizes["year"], peak_col=lay.peak_col, vol_col={}, n_cols=lay.n_cols)
    local = SiteYearBlock(block.full, block.covered, block.contested, 0, 0 if has["ex"] else -1, 0 if has["grid"] else -1,
                          0 if has["bat"] else -1, -1, block.battery, True, block.weight)
    blocks = {(i, j): local}
    fam = RowFamilies()
    for define in HOURLY_FAMILIES:
        define(fam, cols, d, blocks)
    define_annual_rows(fam, cols, d, blocks)
    return cols, fam


def _stack_rows(fam: RowFamilies, n_cols: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Stack the row families into one CSR matrix and its row bounds."""
    mats, los, his = [], [], []
    for f in FAMILIES:
        if fam.lo[f]:
            mats.append(fam.coo[f].csr(len(fam.lo[f]), n_cols))
            los.append(np.array([-INF if v is None else float(v) for v in fam.lo[f]]))
            his.append(np.array([INF if v is None else float(v) for v in fam.hi[f]]))
    return sp.vstack(mats, format="csr"), np.concatenate(los), np.concatenate(his)


def _hourly_bounds(d: xr.Dataset, i: int, lay: _Layout, n_cols: int, imp_lim: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the column bounds: non-negative, with the export and import limits on the hourly export and grid columns."""
    col_lo = np.zeros(n_cols)
    col_hi = np.full(n_cols, INF)
    exp_lim = d["export_limit_kw"].values[i]
    n, off = lay.n_hours, lay.off
    if lay.has["ex"] and np.isfinite(exp_lim):
        col_hi[off["ex"] : off["ex"] + n] = exp_lim
    if lay.has["grid"] and np.isfinite(imp_lim):
        col_hi[off["grid"] : off["grid"] + n] = imp_lim
    return col_lo, col_hi


def _split_columns(cols: SubColumns, lay: _Layout, col_lo: np.ndarray, i: int, j: int) -> tuple[dict[tuple, int], list[tuple[str, int, int]], list[int]]:
    """Sort the non-hourly columns into local (freeing the lower bound of ``energy_cost`` and ``export_revenue``) and linking ones."""
    local_keys: dict[tuple, int] = {}
    for (i_, j_, mo), col in lay.peak_col.items():
        local_keys[("peak", i_, j_, mo)] = col
    link_keys, link_cols = [], []
    for key, col in cols.keys.items():
        if key[0] in LOCAL_ANNUAL:
            local_keys[key] = col
            col_lo[col] = 0.0 if key[0] == "export_mwh" else -INF
        elif key[0] in LINK_FAMILIES:
            link_keys.append(key)
            link_cols.append(col)
        else:
            raise ValueError(f"subproblem ({i}, {j}) reads {key[0]!r}, which is neither a local nor a linking variable")
    return local_keys, link_keys, link_cols


def _add_elastic_slacks(A: sp.csr_matrix, cols: SubColumns, fam: RowFamilies, unserved: bool) -> tuple[sp.csr_matrix, int]:
    """Append ±σ on every row with a budget column and, if ``unserved``, unserved load on the balance rows; return ``A`` and the slack count."""
    n_cols = cols.n_cols
    budget_cols = np.array([col for key, col in cols.keys.items() if key[0] in BUDGETS], dtype=np.int64)
    Acsc = A.tocsc()
    budget_rows = np.unique(Acsc[:, budget_cols].nonzero()[0]) if len(budget_cols) else np.zeros(0, dtype=np.int64)
    extra_r, extra_c, extra_v = [], [], []
    n_extra = 0
    for r in budget_rows:
        for sgn in (1.0, -1.0):
            extra_r.append(r)
            extra_c.append(n_cols + n_extra)
            extra_v.append(sgn)
            n_extra += 1
    if unserved and fam.lo["balance"]:
        first_balance = sum(len(fam.lo[f]) for f in FAMILIES[: FAMILIES.index("balance")])
        rows = first_balance + np.arange(len(fam.lo["balance"]))
        extra_r += rows.tolist()
        extra_c += (n_cols + n_extra + np.arange(len(rows))).tolist()
        extra_v += [1.0] * len(rows)
        n_extra += len(rows)
    if n_extra:
        E = sp.csr_matrix((extra_v, (extra_r, extra_c)), shape=(A.shape[0], n_cols + n_extra))
        A = (sp.hstack([A, sp.csr_matrix((A.shape[0], n_extra))], format="csr") + E).tocsr()
    return A, n_extra


def build_subproblem(d: xr.Dataset, i: int, j: int, block: SiteYearBlock, local_cost: dict[tuple, float], penalty: float) -> SubproblemSpec:
    """Build the rows of site-year ``(i, j)`` from the plan's row families, as a :class:`SubproblemSpec`.

    Parameters
    ----------
    d
        LP inputs.
    i, j
        Site and year indices.
    block
        The site-year's hour classes (a full-hour block: every hour contested).
    local_cost
        Objective coefficient of each local annual column and peak, keyed like
        :attr:`SubproblemSpec.local_keys` (read from the master's objective).
    penalty
        Cost of one kWh of elastic slack [currency].
    """
    lay = _layout(d, i, j, block)
    cols, fam = _define_rows(d, i, j, block, lay)
    n_cols = cols.n_cols
    A, row_lo, row_hi = _stack_rows(fam, n_cols)

    # column bounds and costs
    imp_lim = optional(d, "import_limit_kw", np.full(d.sizes["site"], np.nan))[i]
    col_lo, col_hi = _hourly_bounds(d, i, lay, n_cols, imp_lim)
    local_keys, link_keys, link_cols = _split_columns(cols, lay, col_lo, i, j)
    cost = np.zeros(n_cols)
    for key, col in local_keys.items():
        cost[col] = float(local_cost.get(key, 0.0))

    # elastic slacks: ±σ on every row with a budget column; unserved load on balance rows under an import limit
    A, n_extra = _add_elastic_slacks(A, cols, fam, lay.has["grid"] and bool(np.isfinite(imp_lim)))
    slack_cols = n_cols + np.arange(n_extra)
    col_lo = np.concatenate([col_lo, np.zeros(n_extra)])
    col_hi = np.concatenate([col_hi, np.full(n_extra, INF)])
    cost = np.concatenate([cost, np.full(n_extra, penalty)])
    link_cols_a = np.array(link_cols, dtype=np.int64)
    col_lo[link_cols_a] = 0.0
    col_hi[link_cols_a] = 0.0
    A.sort_indices()
    return SubproblemSpec((i, j), A, row_lo, row_hi, col_lo, col_hi, cost, link_keys, link_cols_a, slack_cols, lay.hourly, local_keys, float(penalty))


@dataclass
class SubResult:
    """One subproblem solve: value [currency], cut gradient per linking column, slack total [kWh], timing [s]."""

    key: tuple[int, int]
    value: float
    grad: np.ndarray
    slack_kwh: float
    seconds: float
    iterations: int
    status: str
    local: dict[tuple, float] | None = None  #: local annual and peak values (final pass)
    hourly: dict[str, np.ndarray] | None = None  #: hourly values (final pass)


#: Memory a kept ``highspy.Highs`` holds after solving, per row, column and nonzero of its LP [bytes]
#: (measured: six 52,565 × 52,585 synthetic battery site-years, 183,967 nonzeros, took 0.73 GB).
SOLVER_BYTES_PER_ENTRY = 420.0
#: Subproblems keep their own solver while all of them together would hold at most this much [bytes].
KEEP_SOLVERS_MAX_BYTES = 4e9


def keep_solvers(specs: list[SubproblemSpec]) -> bool:
    """Return whether these subproblems may each keep a ``highspy.Highs`` (see :data:`KEEP_SOLVERS_MAX_BYTES`)."""
    entries = sum(s.A.shape[0] + s.A.shape[1] + s.A.nnz for s in specs)
    return entries * SOLVER_BYTES_PER_ENTRY <= KEEP_SOLVERS_MAX_BYTES


_THREAD = threading.local()  #: one reusable ``highspy.Highs`` per thread for subproblems that do not keep their own
_NEW_LOCK = threading.Lock()  #: the banner capture redirects the process's stdout: one at a time


def _new_highs() -> Any:
    import highspy
    from pyomo.common.tee import capture_output

    # no "threads" option: HiGHS fixes its thread pool per process at the first solve
    with _NEW_LOCK, capture_output(capture_fd=True):
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def _thread_highs() -> Any:
    """Return this thread's reusable ``highspy.Highs``."""
    if getattr(_THREAD, "h", None) is None:
        _THREAD.h = _new_highs()
    return _THREAD.h


class Subproblem:
    """One site-year's operation LP, warm-started between iterations.

    With ``keep_solver`` the LP lives in its own ``highspy.Highs`` between solves (fastest). Without,
    only the LP and the last optimal basis are kept, and each solve loads them into its thread's
    reusable ``highspy.Highs``: about 7 ms more a solve and a quarter more simplex time, but the memory
    of a solver (about 100 MB for a site-year of 8,760 battery hours) is held once per thread instead
    of once per subproblem.
    """

    def __init__(self, spec: SubproblemSpec, keep_solver: bool = True) -> None:
        self.spec = spec
        self.lp = highs_lp(StandardLP(spec.cost, spec.col_lo, spec.col_hi, spec.A, spec.row_lo, spec.row_hi))
        self.h: Any = None
        if keep_solver:
            self.h = _new_highs()
            self.h.passModel(self.lp)
        self.basis: Any = None  #: the last optimal basis (``keep_solver=False``)
        self.penalty = spec.penalty
        self.solved = False  #: a basis exists to start from (else the solve is from scratch)
        self.warm_failures = 0  #: hot starts that gave up
        self.battery_idle = True  #: the last solution neither charged nor discharged
        names = [k[0] for k in spec.link_keys]
        self._battery_links = np.array([n in ("bE", "bP") for n in names], dtype=bool)
        self._battery_cols = [(c0, n) for name, (c0, n) in spec.hourly.items() if name in ("bc", "bd")]

    def set_penalty(self, penalty: float) -> None:
        """Change the cost of the elastic slacks (keeps the basis)."""
        self.penalty = float(penalty)
        if self.h is not None:
            self._apply_penalty(self.h)

    def _apply_penalty(self, h: Any) -> None:
        s = self.spec.slack_cols
        if len(s) and self.penalty != self.spec.penalty:
            h.changeColsCost(len(s), s.astype(np.int32), np.full(len(s), self.penalty))

    def _load(self) -> Any:
        """Return the ``highspy.Highs`` to solve in: its own, or this thread's loaded with the LP and the last basis."""
        if self.h is not None:
            return self.h
        h = _thread_highs()
        h.passModel(self.lp)
        self._apply_penalty(h)
        return h

    def _run(self, h: Any, cold: bool) -> None:
        """Run interior point + crossover from scratch (``cold``), else the primal simplex from the last basis."""
        if cold:
            h.clearSolver()
        elif self.basis is not None:  # only kept without a solver of its own
            h.setBasis(self.basis)
        h.setOptionValue("solver", "ipm" if cold else "simplex")
        h.setOptionValue("simplex_strategy", 1 if cold else 4)  # 4: primal simplex
        h.setOptionValue("simplex_iteration_limit", 2**31 - 1 if cold else WARM_ITERATION_LIMIT)
        h.run()

    def solve(self, z: np.ndarray, *, final: bool = False) -> SubResult:
        """Fix the linking columns to ``z`` and solve; the cut is ``θ ≥ value + grad·(z' − z)``."""
        t0 = time.perf_counter()
        lc = self.spec.link_cols
        z = np.asarray(z, dtype=float)
        h = self._load()
        if len(lc):
            h.changeColsBounds(len(lc), lc.astype(np.int32), z, z)
        # The first solve is interior point with crossover: a year of battery hours is a long chain that a
        # cold simplex needs tens of thousands of iterations for. Crossover leaves an optimal basis; a new
        # master point only moves the bounds of the fixed linking columns, and the *primal* simplex from that
        # basis was the fastest re-solve measured (docs/formulation.md, "Benders decomposition"): 3-4x
        # faster than interior point from scratch, 2x faster than the dual simplex from the same basis.
        # A basis in which the battery was idle is no start for a battery that now has a size: from scratch.
        cold = not self.solved or (self.battery_idle and bool((z[self._battery_links] > 0).any()))
        self._run(h, cold)
        status = h.modelStatusToString(h.getModelStatus())
        if status != "Optimal" and not cold:  # a hot start that takes too long, or numerical trouble: from scratch
            cold = True
            self.warm_failures += 1
            self._run(h, cold)
            status = h.modelStatusToString(h.getModelStatus())
        self.solved = True
        info = h.getInfo()
        sol = h.getSolution()
        x = np.asarray(sol.col_value)
        self.battery_idle = all(not np.any(np.abs(x[c0 : c0 + n]) > 1e-9) for c0, n in self._battery_cols)
        if self.h is None:
            self.basis = h.getBasis()
        rc = np.asarray(sol.col_dual)
        res = SubResult(self.spec.key, float(info.objective_function_value), rc[lc].copy() if len(lc) else np.zeros(0),
                        float(x[self.spec.slack_cols].sum()) if len(self.spec.slack_cols) else 0.0,
                        time.perf_counter() - t0, int(info.simplex_iteration_count), status)
        if final:
            res.local = {k: float(x[c]) for k, c in self.spec.local_keys.items()}
            res.hourly = {k: x[c0 : c0 + n].copy() for k, (c0, n) in self.spec.hourly.items()}
        return res


def solve_many(cache: dict, keys: list[Any], zs: list[np.ndarray], final: bool = False) -> list[SubResult]:
    """Solve the cached subproblems ``keys`` at ``zs`` (used in-process and on dask workers)."""
    return [cache[k].solve(z, final=final) for k, z in zip(keys, zs)]
