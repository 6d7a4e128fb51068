r"""Curtailment that could pay: find it by the duals of a smaller model, exactly.

A milestone can reward *more* grid import in some years (the right-hand-side
years of an ``emissions_peak`` row, the year of a ``min_certificates_mwh``
row; :func:`pvopt.lp.reductions.curtailment_years`). In those years the full
hourly model may curtail PV in full-use (F) and covered (K) hours, so the
always-exact reduction keeps those hours contested — on the example that is
ten times the hourly variables of the plain reduction.

Instead, :func:`solve_with_curtailment_check` first solves the plain reduction
(F and K hours folded). It is the full model with one set of columns left
out: curtailment ``c_t ≥ 0`` (and, where export is allowed, export
``e_t ≥ 0``) in every F and K hour. By LP duality the plain optimum is optimal
for the full model when none of those columns has a negative reduced cost at
its duals. With ``y_on``, ``y_cost``, ``y_xm``, ``y_rev`` the duals of the
site-year's annual onsite, energy-cost, export-MWh and export-revenue rows
(:func:`pvopt.lp.rows.define_annual_rows`), an hour ``t`` with import price
``p_t`` and export price ``q_t``:

.. math::
    \bar c_t = y_{cost}\,p_t - y_{on} + y_{match,t} \ge 0, \qquad
    \bar e_t = y_{cost}\,p_t - y_{on} + y_{xm} + y_{rev}\,q_t + y_{match,t} \ge 0 .

``y_match,t`` is the dual of the pooled hourly-matching row of the site's matching group in that
hour, ``matched_pool[g,y,t] − Σ_{s∈g} grid_{s,y,t} ≤ 0`` (:func:`pvopt.lp.rows.define_matching_rows`;
0 without pooled hourly matching or without a row in that hour): curtailing or exporting raises the
hour's grid import by as much, which loosens that row (its dual is ≤ 0, so it can only lower the
reduced cost). Per-site hourly matching makes every site full-hour, with nothing left out to price.

Site-years where some hour fails the test become contested and the plan is
solved again; if the plain reduction is infeasible (curtailing might be what
makes the milestones reachable), every curtailment year is contested, as in
the always-exact default. On sites with a demand charge or an import limit a
curtailment column also enters the hour's peak and limit rows (present or
pruned as dominated); more grid import can only tighten those rows, so their
duals can only raise the reduced cost, and the test without them is a
sufficient condition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from pvopt.lp.build import PlanModel
from pvopt.lp.reductions import curtailment_years

__all__ = ["RC_TOL", "optimistic_curtailment", "curtailment_violations", "solve_with_curtailment_check"]

#: A reduced cost counts as negative below ``-RC_TOL`` times the site-year's dual scale.
RC_TOL = 1e-7
#: Rounds of "solve, check, contest the failing site-years" before falling back to the always-exact model.
MAX_ROUNDS = 3


def optimistic_curtailment(d: xr.Dataset) -> np.ndarray | None:
    """``[site, year]`` contested site-years of the first, small model (none); ``None`` when no year could reward curtailment."""
    years = curtailment_years(d)
    if not years.any():
        return None
    return np.zeros((d.sizes["site"], len(years)), dtype=bool)


def _annual_row_first(pm: PlanModel) -> dict[tuple[int, int], int]:
    """First row of each site-year's annual rows within ``annual_rows`` (5 rows, 6 with hourly matching)."""
    first, r = {}, 0
    for i in range(pm.data.sizes["site"]):
        for j in range(pm.data.sizes["year"]):
            first[(i, j)] = r
            r += 6 if pm.blocks[(i, j)].match_first >= 0 else 5
    return first


def _match_duals(pm: PlanModel, row_dual: np.ndarray, match_first_row: int | None, i: int, j: int, hours: np.ndarray) -> np.ndarray:
    """Duals of the pooled hourly-matching rows of site ``i``'s group in year ``j`` and ``hours`` (0 where there is no row)."""
    pool = pm.matching
    if pool is None or not pool.pooled or match_first_row is None:
        return np.zeros(len(hours))
    key = pool.key_of[pool.group_of[i], j, hours]
    first = match_first_row + pool.match_row0
    return np.where(key >= 0, row_dual[first + np.maximum(key, 0)], 0.0)


def curtailment_violations(pm: PlanModel, row_dual: np.ndarray, annual_first_row: int, curtail: np.ndarray,
                           match_first_row: int | None = None) -> np.ndarray:
    """``[site, year]`` site-years (not yet contested) where curtailing or exporting in an F or K hour would lower the cost.

    ``annual_first_row`` and ``match_first_row`` are the first rows of ``annual_rows`` and ``match_rows`` in ``row_dual``.
    """
    d = pm.data
    imp = d["import_price_per_kwh"].values
    exp_ = d["export_price_per_kwh"].values
    exp_ok = d["export_allowed"].values
    out = np.zeros_like(curtail, dtype=bool)
    for (i, j), r0 in _annual_row_first(pm).items():
        b = pm.blocks[(i, j)]
        hours = np.concatenate([b.full, b.covered])
        if b.is_full or curtail[i, j] or not len(hours):
            continue
        y_on, _, y_cost, y_xm, y_rev = row_dual[annual_first_row + r0 : annual_first_row + r0 + 5]
        y_m = _match_duals(pm, row_dual, match_first_row, i, j, hours)
        scale = max(1.0, abs(y_on), abs(y_cost) * float(np.abs(imp[i, j, hours]).max()), float(np.abs(y_m).max()))
        rc = y_cost * imp[i, j, hours] - y_on + y_m
        if exp_ok[i] and len(b.full):
            rc_e = y_cost * imp[i, j, b.full] - y_on + y_xm + y_rev * exp_[i, j, b.full] + y_m[: len(b.full)]
            rc = np.concatenate([rc, rc_e])
        out[i, j] = bool(rc.min() < -RC_TOL * scale)
    return out


def solve_with_curtailment_check(d: xr.Dataset, build: Callable[[Any], PlanModel], solve: Callable[[PlanModel], tuple[Any, Any]],
                                 optimal: Callable[[Any], bool]) -> tuple[PlanModel, Any, Any]:
    """Solve the small model, contest the site-years whose duals say curtailment could pay, and repeat.

    ``build(curtail)`` builds the model, ``solve(pm)`` returns ``(solution, raw result)`` and
    ``optimal(solution)`` says whether it solved. Falls back to the always-exact model (``build(None)``).
    """
    curtail = optimistic_curtailment(d)
    for _ in range(MAX_ROUNDS if curtail is not None else 0):
        pm = build(curtail)
        sol, res = solve(pm)
        rows = getattr(res, "rows_of_component", {}).get("annual_rows")
        if not optimal(sol) or rows is None or res.row_dual is None:
            break
        assert curtail is not None  # the loop runs only when optimistic_curtailment gave an array
        match = getattr(res, "rows_of_component", {}).get("match_rows")
        bad = curtailment_violations(pm, res.row_dual, rows[0], curtail, match[0] if match is not None else None)
        pm.curtailment_rounds = _ + 1
        if not bad.any():
            return pm, sol, res
        curtail = curtail | bad
    pm = build(None)
    sol, res = solve(pm)
    return pm, sol, res
