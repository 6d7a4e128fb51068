"""Milestone rows of the LP: one row function per milestone type (see :data:`pvopt.milestones.MILESTONE_TYPES`).

Each function receives a :class:`MilestoneContext` and the milestone's input
and adds its rows through :meth:`MilestoneContext.add`, which names the rows
after the milestone (for duals and reports) and, in the elastic re-solve,
gives each row a penalised slack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyomo.environ as pyo
import xarray as xr

from pvopt.errors import InfeasiblePlanError, InputIssue, PortfolioError
from pvopt.lp.data import kind_index, milestones_of, pv_retirement_years
from pvopt.milestones import MILESTONE_TYPES, baseline_tco2e

__all__ = ["ELASTIC_PENALTY", "MilestoneRows", "MilestoneContext", "MILESTONE_ROWS", "define_milestones"]

ELASTIC_PENALTY = 1.0e7  #: currency per unit of milestone shortfall in the elastic re-solve


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
class MilestoneContext:
    """What a milestone row function needs: the model, its inputs, and where to add rows."""

    m: pyo.ConcreteModel
    d: xr.Dataset
    elastic: bool
    years: list[int]

    def add(self, mr: MilestoneRows, year: int, lhs: Any, rhs: float) -> None:
        """Add the row ``lhs ≥ rhs`` or ``lhs ≤ rhs`` (by ``mr.sense``) for ``year``."""
        m = self.m
        if self.elastic:
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

    def j0(self, ms: dict[str, Any]) -> int:
        """Index of the milestone's year in the planning years (0 when it has none)."""
        return self.years.index(ms["year"]) if ms.get("year") is not None else 0


def _capacity_years(c: MilestoneContext, ms: dict, arrays: Any) -> list[int]:
    """Return the year indices of a capacity milestone's rows.

    These are ``Y`` and every later year in which some PV of ``arrays`` retires (between
    retirements working capacity never falls, so the rows hold for every ``y ≥ Y``).
    """
    retire = pv_retirement_years(c.d)[np.asarray(arrays, dtype=int)].any(axis=0)
    j0 = c.j0(ms)
    return [j0] + [j for j in range(j0 + 1, len(c.years)) if retire[j]]


def _min_portfolio_kwp(c: MilestoneContext, ms: dict, mr: MilestoneRows) -> None:
    """``Σ_a inst[a,y] ≥ kwp`` for ``y = Y`` and every later year in which capacity retires (so for all ``y ≥ Y``)."""
    for j in _capacity_years(c, ms, list(c.m.A)):
        c.add(mr, c.years[j], sum(c.m.inst[a, j] for a in c.m.A), float(ms["kwp"]))


def _rooftop_coverage(c: MilestoneContext, ms: dict, mr: MilestoneRows) -> None:
    """``inst[a,y] ≥ f·max_kwp[a]`` for every rooftop array, ``y = Y`` and later years in which its capacity retires."""
    maxk = c.d["max_kwp"].values
    for a in np.where(c.d["array_kind"].values == "rooftop")[0]:
        for j in _capacity_years(c, ms, [a]):
            c.add(mr, c.years[j], c.m.inst[int(a), j], float(ms["fraction"] * maxk[a]))


def _min_pv_onsite_mwh(c: MilestoneContext, ms: dict, mr: MilestoneRows) -> None:
    """``Σ_s onsite_mwh[s,y] ≥ mwh`` for every ``y ≥ Y``."""
    for j in range(c.j0(ms), len(c.years)):
        c.add(mr, c.years[j], sum(c.m.onsite_mwh[i, j] for i in c.m.S), float(ms["mwh"]))


def _min_certificates_mwh(c: MilestoneContext, ms: dict, mr: MilestoneRows) -> None:
    """``Σ_{c,s} cert[c,s,Y] ≥ mwh``."""
    c.add(mr, ms["year"], sum(c.m.cert_total[i, c.j0(ms)] for i in c.m.S), float(ms["mwh"]))


def _emissions_peak(c: MilestoneContext, ms: dict, mr: MilestoneRows) -> None:
    """``Σ_s (scope1 + scope2)[y+1] ≤ Σ_s (scope1 + scope2)[y]`` for ``y ≥ Y`` (Scope 2 market- or location-based)."""
    m = c.m
    s2 = m.scope2_market if ms.get("scope2", "market") == "market" else m.scope2_location
    gross = [sum(m.scope1[i, j] + s2[i, j] for i in m.S) for j in range(len(c.years))]
    for j in range(c.j0(ms), len(c.years) - 1):
        c.add(mr, c.years[j + 1], gross[j + 1] - gross[j], 0.0)


def _neutrality(c: MilestoneContext, ms: dict, mr: MilestoneRows) -> None:
    """``Σ_{s∈S'} net[s,y] ≤ 0`` for ``y ≥ Y`` (S' one site or all)."""
    sites = list(c.d["site"].values)
    idx = [sites.index(ms["site"])] if ms.get("site") else list(range(len(sites)))
    for j in range(c.j0(ms), len(c.years)):
        c.add(mr, c.years[j], sum(c.m.net[i, j] for i in idx), 0.0)


def _offset_cap(c: MilestoneContext, ms: dict, mr: MilestoneRows) -> None:
    """``Σ_s offsets[s,y] ≤ share·baseline`` every year (baseline: Scope 1 + location-based Scope 2)."""
    cap = float(ms["share_of_baseline"]) * baseline_tco2e(c.d)
    for j in range(len(c.years)):
        c.add(mr, c.years[j], sum(c.m.offsets[i, j] for i in c.m.S), cap)


def _capex_budget(c: MilestoneContext, ms: dict, mr: MilestoneRows) -> None:
    """``Σ_a capex[a,y]·build[a,y] ≤ budget`` every year."""
    kinds = kind_index(c.d)
    capex = c.d["capex_per_kwp"].values
    for j in range(len(c.years)):
        c.add(mr, c.years[j], sum(float(capex[kinds[a], j]) * c.m.build[a, j] for a in c.m.A), float(ms["per_year"]))


def _build_rate(c: MilestoneContext, ms: dict, mr: MilestoneRows) -> None:
    """``Σ_{a∈S'} build[a,y] ≤ rate`` every year (S' one site or all)."""
    asite = c.d["array_site"].values
    arrs = [a for a in range(len(asite)) if ms.get("site") in (None, asite[a])]
    for j in range(len(c.years)):
        c.add(mr, c.years[j], sum(c.m.build[a, j] for a in arrs), float(ms["kwp_per_year"]))


#: LP rows of each milestone type; keys match :data:`pvopt.milestones.MILESTONE_TYPES`.
MILESTONE_ROWS: dict[str, Callable[[MilestoneContext, dict, MilestoneRows], None]] = {
    "min_portfolio_kwp": _min_portfolio_kwp,
    "rooftop_coverage": _rooftop_coverage,
    "min_pv_onsite_mwh": _min_pv_onsite_mwh,
    "min_certificates_mwh": _min_certificates_mwh,
    "emissions_peak": _emissions_peak,
    "neutrality": _neutrality,
    "offset_cap": _offset_cap,
    "capex_budget": _capex_budget,
    "build_rate": _build_rate,
}


def define_milestones(m: pyo.ConcreteModel, d: xr.Dataset, *, elastic: bool, skip: frozenset[str]) -> dict[str, MilestoneRows]:
    r"""Milestones, each a named group of rows (see docs/formulation.md §Milestones and :data:`MILESTONE_ROWS`).

    With ``elastic=True`` every row gets a slack ``σ ≥ 0`` (``lhs + σ ≥ rhs`` or ``lhs − σ ≤ rhs``)
    penalised in the objective at ``ELASTIC_PENALTY`` per unit.
    """
    years = [int(y) for y in d["year"].values]
    m.milestone_rows = pyo.ConstraintList()
    m.milestone_slack = pyo.VarList(domain=pyo.NonNegativeReals)
    ctx = MilestoneContext(m, d, elastic, years)
    out: dict[str, MilestoneRows] = {}
    for ms in milestones_of(d):
        name, typ = ms["name"], ms["type"]
        if name in skip:
            continue
        Y = ms.get("year")
        if Y is not None and Y not in years:
            raise PortfolioError([InputIssue("milestones", name, f"year {Y} is outside the planning horizon {years[0]}-{years[-1]}")])
        spec = MILESTONE_TYPES[typ]
        mr = MilestoneRows(name, typ, spec.row_unit.format(currency=d.attrs["currency"]), spec.sense)
        MILESTONE_ROWS[typ](ctx, ms, mr)
        out[name] = mr
    return out
