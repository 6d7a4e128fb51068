"""Milestone duals per year and what each milestone pays towards each build, for the build list's "why".

In the LP the reduced cost of a build column is ``c − Σ_i y_i·a_i``. A milestone row that
contains the build directly (capacity, coverage, capex budget, build rate) pays
``y_i·a_i`` per kWp towards it (a ``≥`` row: positive, it pays; a ``≤`` row: negative, it
limits). Milestones that act through energy or emissions (onsite PV, peak, neutrality)
reach the build only through other rows; for them the row duals per year are stored and
:mod:`pvopt.results.buildlist` values them with the build's own onsite MWh and tCO2e.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from pyomo.repn import generate_standard_repn

from pvopt.lp.build import PlanModel
from pvopt.lp.data import milestones_of

__all__ = ["milestone_duals_dataset"]

DUAL_TOL = 1e-12
"""Duals smaller than this (currency per unit) are taken as 0."""


def milestone_duals_dataset(pm: PlanModel, sol: Any) -> xr.Dataset:
    """Return the milestones' duals per year and what they pay directly towards each build.

    ``milestone_row_dual[milestone, year]``: Σ |dual| of the milestone's rows of the year;
    ``milestone_build_value[milestone, array, year]``: what its rows pay per kWp built in the year (negative: a limit).
    """
    d, m = pm.data, pm.model
    years = [int(y) for y in d["year"].values]
    names = [ms["name"] for ms in milestones_of(d)]
    row_dual = np.zeros((len(names), len(years)))
    pay = np.zeros((len(names), d.sizes["array"], len(years)))
    for k, name in enumerate(names):
        mr = pm.milestones.get(name)
        if mr is None:
            continue
        sign = 1.0 if mr.sense == ">=" else -1.0
        for y, con in mr.rows:
            du = abs(float(sol.dual(con)))
            if not np.isfinite(du):
                row_dual[k, years.index(y)] = np.nan
                continue
            if du < DUAL_TOL:
                continue
            row_dual[k, years.index(y)] += du
            repn = generate_standard_repn(con.body, compute_values=False)
            for v, c in zip(repn.linear_vars, repn.linear_coefs):
                if v.parent_component() is m.build:
                    a, j = v.index()
                    pay[k, a, j] += sign * du * float(c)
    cur = str(d.attrs["currency"])
    ds = xr.Dataset(coords={"milestone": names})
    ds["milestone_row_dual"] = (("milestone", "year"), row_dual,
                                {"units": f"{cur} (NPV) per row unit", "description": "sum of |dual| of the milestone's rows of the year"})
    ds["milestone_build_value"] = (("milestone", "array", "year"), pay,
                                   {"units": f"{cur} (NPV)/kWp", "description": "what the milestone's rows pay per kWp built in the year (negative: a limit)"})
    return ds
