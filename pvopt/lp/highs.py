"""Hand a linear Pyomo model to HiGHS in bulk (numpy arrays), and read the answer back.

Pyomo's own HiGHS interface walks every constraint expression in Python
(tens of microseconds a row). This module does the same job for any linear
Pyomo model, but takes :class:`~pyomo.core.base.matrix_constraint.MatrixConstraint`
components — the hourly blocks of the plan — straight from their CSR arrays,
so that building and handing over the model costs a fraction of the solve.
Every other constraint goes through Pyomo's ``generate_standard_repn``, so an
analyst's ``extra_constraints`` hook works unchanged.

The answer is loaded back into the Pyomo variables; row duals are returned
per constraint. ``tests/test_highs_direct.py`` checks objective, primal
values and duals against Pyomo's own HiGHS interface.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.core.base.matrix_constraint import MatrixConstraint
from pyomo.repn import generate_standard_repn

__all__ = ["DirectResult", "solve_direct"]

INF = float("inf")


@dataclass
class DirectResult:
    """Outcome of :func:`solve_direct`."""

    model_status: str
    objective: float | None
    highs_seconds: float
    handover_seconds: float
    col_value: np.ndarray | None = None
    row_dual: np.ndarray | None = None
    row_of: dict[int, int] = field(default_factory=dict)  #: id(ConstraintData) -> row, for non-matrix rows
    col_of_component: dict[str, tuple[int, int]] = field(default_factory=dict)  #: component name -> (first col, count)

    def dual(self, con) -> float:
        """Dual value of a (non-matrix) constraint, in objective units per unit of its bound."""
        if self.row_dual is None:
            return float("nan")
        r = self.row_of.get(id(con))
        return float(self.row_dual[r]) if r is not None else float("nan")


def _bounds(v) -> tuple[float, float]:
    if v.fixed:
        val = float(v.value)
        return val, val
    lb, ub = v.lb, v.ub
    return (-INF if lb is None else float(lb)), (INF if ub is None else float(ub))


def _collect_columns(m: pyo.Block) -> tuple[list, dict[int, int], np.ndarray, np.ndarray, dict[str, tuple[int, int]]]:
    cols: list = []
    blocks: dict[str, tuple[int, int]] = {}
    for comp in m.component_objects(pyo.Var, active=True, descend_into=True):
        first = len(cols)
        vals = list(comp.values())
        for v in vals:
            if not v.is_continuous():
                raise ValueError(f"variable {v.name} is not continuous; the plan is a linear program")
        cols.extend(vals)
        blocks[comp.name] = (first, len(vals))
    col_of = {id(v): k for k, v in enumerate(cols)}
    lo = np.empty(len(cols))
    hi = np.empty(len(cols))
    for k, v in enumerate(cols):
        lo[k], hi[k] = _bounds(v)
    return cols, col_of, lo, hi, blocks


def _matrix_rows(comp: MatrixConstraint, col_of: dict[int, int]) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    xcols = np.fromiter((col_of[id(v)] for v in comp._x), dtype=np.int64, count=len(comp._x))
    data = np.asarray(comp._A_data, dtype=float)
    idx = xcols[np.asarray(comp._A_indices, dtype=np.int64)]
    ptr = np.asarray(comp._A_indptr, dtype=np.int64)
    lo = np.array([-INF if b is None else float(b) for b in comp._lower])
    hi = np.array([INF if b is None else float(b) for b in comp._upper])
    active = np.fromiter((c.active for c in comp._data), dtype=bool, count=len(comp._data))
    A = sp.csr_matrix((data, idx, ptr), shape=(len(lo), len(col_of)))
    if not active.all():
        A, lo, hi = A[active], lo[active], hi[active]
    return A, lo, hi


def _repn_rows(cons: list, col_of: dict[int, int]) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    rows, cols, vals = [], [], []
    lo = np.empty(len(cons))
    hi = np.empty(len(cons))
    for r, con in enumerate(cons):
        repn = generate_standard_repn(con.body, quadratic=False, compute_values=True)
        if not repn.is_linear():
            raise ValueError(f"constraint {con.name} is not linear")
        const = float(repn.constant)
        for v, c in zip(repn.linear_vars, repn.linear_coefs):
            rows.append(r)
            cols.append(col_of[id(v)])
            vals.append(float(c))
        lb, ub = con.lb, con.ub
        lo[r] = -INF if lb is None else float(lb) - const
        hi[r] = INF if ub is None else float(ub) - const
    A = sp.csr_matrix((vals, (rows, cols)), shape=(len(cons), len(col_of)))
    A.sum_duplicates()
    return A, lo, hi


def solve_direct(
    m: pyo.Block,
    *,
    time_limit_s: float | None = None,
    threads: int | None = None,
    solver: str = "choose",
    log: bool = False,
) -> DirectResult:
    """Solve the linear model ``m`` with highspy; load primal values into its variables when optimal."""
    import highspy
    from pyomo.common.tee import capture_output

    t0 = time.perf_counter()
    cols, col_of, col_lo, col_hi, blocks = _collect_columns(m)
    mats, los, his = [], [], []
    row_of: dict[int, int] = {}
    n_rows = 0
    for comp in m.component_objects(pyo.Constraint, active=True, descend_into=True):
        if isinstance(comp, MatrixConstraint):
            A, lo, hi = _matrix_rows(comp, col_of)
        else:
            cons = [c for c in comp.values() if c.active]
            if not cons:
                continue
            A, lo, hi = _repn_rows(cons, col_of)
            for k, c in enumerate(cons):
                row_of[id(c)] = n_rows + k
        mats.append(A)
        los.append(lo)
        his.append(hi)
        n_rows += A.shape[0]
    A = sp.vstack(mats, format="csr") if mats else sp.csr_matrix((0, len(cols)))
    row_lo = np.concatenate(los) if los else np.zeros(0)
    row_hi = np.concatenate(his) if his else np.zeros(0)

    objs = list(m.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objs) != 1:
        raise ValueError(f"expected one active objective, found {len(objs)}")
    obj = objs[0]
    repn = generate_standard_repn(obj.expr, quadratic=False, compute_values=True)
    if not repn.is_linear():
        raise ValueError("the objective is not linear")
    cost = np.zeros(len(cols))
    for v, c in zip(repn.linear_vars, repn.linear_coefs):
        cost[col_of[id(v)]] += float(c)
    sign = 1.0 if obj.sense == pyo.minimize else -1.0

    lp = highspy.HighsLp()
    lp.num_col_ = len(cols)
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = sign * cost
    lp.col_lower_ = col_lo
    lp.col_upper_ = col_hi
    lp.row_lower_ = row_lo
    lp.row_upper_ = row_hi
    lp.offset_ = sign * float(repn.constant)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data
    lp.a_matrix_.num_col_ = len(cols)
    lp.a_matrix_.num_row_ = A.shape[0]

    def _run(h):
        h.setOptionValue("output_flag", bool(log))
        h.setOptionValue("solver", solver)
        if time_limit_s is not None:
            h.setOptionValue("time_limit", float(time_limit_s))
        if threads:
            # HiGHS keeps one thread scheduler per process, fixed by the first solve; a later solve
            # asking for another thread count fails ("Not Set") unless the scheduler is reset.
            highspy.Highs.resetGlobalScheduler(True)
            h.setOptionValue("threads", int(threads))
        h.passModel(lp)
        handover = time.perf_counter() - t0
        h.run()
        return handover

    if log:
        h = highspy.Highs()
        handover = _run(h)
    else:
        with capture_output(capture_fd=True):
            h = highspy.Highs()
            handover = _run(h)
    status = h.modelStatusToString(h.getModelStatus())
    highs_s = float(h.getRunTime())
    res = DirectResult(status, None, highs_s, handover, row_of=row_of, col_of_component=blocks)
    if status == "Optimal":
        sol = h.getSolution()
        x = np.asarray(sol.col_value, dtype=float)
        res.col_value = x
        res.row_dual = sign * np.asarray(sol.row_dual, dtype=float)
        res.objective = sign * float(h.getInfo().objective_function_value)
        for v, val in zip(cols, x.tolist()):
            v.set_value(val, skip_validation=True)
    return res
