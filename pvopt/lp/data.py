"""Read-only views of the LP-input Dataset shared by the model's building steps (no Pyomo model state)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr
from pyomo.core.expr.numeric_expr import LinearExpression


__all__ = ['lin', 'discount_factors', 'kind_index', 'degradation_factor', 'existing_effective_kwp', 'profile_index', 'milestones_of', 'optional', 'measures_of_site']


def lin(coefs: list[float], vars_: list[Any], const: float = 0.0) -> LinearExpression:
    return LinearExpression(constant=const, linear_coefs=coefs, linear_vars=vars_)


def discount_factors(d: xr.Dataset) -> np.ndarray:
    years = d["year"].values
    r = float(d.attrs["discount_rate"])
    return (1.0 + r) ** -(years - years[0]).astype(float)


def kind_index(d: xr.Dataset) -> np.ndarray:
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


def profile_index(d: xr.Dataset) -> tuple[list[list[int]], np.ndarray]:
    """Per site the profile indices, and per array its profile index."""
    profs = list(d["profile"].values)
    psite = list(d["profile_site"].values)
    sites = list(d["site"].values)
    per_site = [[i for i, s in enumerate(psite) if s == site] for site in sites]
    arr_prof = np.array([profs.index(p) for p in d["array_profile"].values], dtype=int)
    return per_site, arr_prof


def milestones_of(d: xr.Dataset) -> list[dict[str, Any]]:
    return json.loads(d.attrs.get("milestones_json", "[]"))


def optional(d: xr.Dataset, name: str, default: Any) -> np.ndarray:
    """An optional input (issue-8 pillars) or its neutral default."""
    return d[name].values if name in d else default


def measures_of_site(d: xr.Dataset, i: int) -> np.ndarray:
    if "measure" not in d.dims or d.sizes["measure"] == 0:
        return np.zeros(0, dtype=int)
    return np.where(d["measure_site"].values == d["site"].values[i])[0]
