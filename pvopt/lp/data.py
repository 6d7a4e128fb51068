"""Read-only views of the LP-input Dataset shared by the model's building steps (no Pyomo model state)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr
from pyomo.core.expr.numeric_expr import LinearExpression


__all__ = ['lin', 'discount_factors', 'kind_index', 'vintage_window', 'pv_life_years', 'existing_alive_kwp', 'pv_retirement_years',
           'degradation_factor', 'existing_effective_kwp', 'profile_index', 'milestones_of', 'optional', 'measures_of_site']


def lin(coefs: list[float], vars_: list[Any], const: float = 0.0) -> LinearExpression:
    """Return the linear expression ``const + Σ coefs[k]·vars_[k]``."""
    return LinearExpression(constant=const, linear_coefs=coefs, linear_vars=vars_)


def discount_factors(d: xr.Dataset) -> np.ndarray:
    """Return ``[y]`` discount factors ``(1 + r)^-(y − y0)`` at the Dataset's ``discount_rate``."""
    years = d["year"].values
    r = float(d.attrs["discount_rate"])
    return (1.0 + r) ** -(years - years[0]).astype(float)


def kind_index(d: xr.Dataset) -> np.ndarray:
    """Return ``[a]`` the index in ``kind`` of each array's ``array_kind``."""
    kinds = list(d["kind"].values)
    return np.array([kinds.index(k) for k in d["array_kind"].values], dtype=int)


def vintage_window(life: float, n_y: int) -> np.ndarray:
    """Return the vintage window ``W[y, v]`` of an asset of ``life`` years.

    ``W[y, v]`` = 1 when an asset built in year index ``v`` works in year index ``y``
    (``v ≤ y ≤ v + life − 1``), else 0.
    """
    age = np.arange(n_y)[:, None] - np.arange(n_y)[None, :]
    return ((age >= 0) & (age < life)).astype(float)


def pv_life_years(d: xr.Dataset) -> float:
    """PV life ``L`` [years] (Dataset attribute ``lifetime_years``)."""
    return float(d.attrs["lifetime_years"])


def _existing_age(d: xr.Dataset) -> np.ndarray:
    """Return ``[a, y]`` the age of existing capacity (built in ``existing_year``; the first planning year when unknown)."""
    years = d["year"].values
    ey = d["existing_year"].values
    return np.clip(years[None, :] - np.where(ey < 0, years[0], ey)[:, None], 0, None)


def existing_alive_kwp(d: xr.Dataset) -> np.ndarray:
    """Return ``[a, y]`` the existing kWp still within its life ``L`` in year ``y`` (0 once retired)."""
    return d["existing_kwp"].values[:, None] * (_existing_age(d) < pv_life_years(d))


def pv_retirement_years(d: xr.Dataset) -> np.ndarray:
    """Return ``[a, y]`` True where some PV of array ``a`` that worked in year ``y−1`` is retired in year ``y``.

    Retired PV is existing capacity or a vintage reaching its life ``L``; installed capacity can only fall there.
    """
    n_y = d.sizes["year"]
    alive = existing_alive_kwp(d)
    out = np.zeros_like(alive, dtype=bool)
    out[:, 1:] = alive[:, 1:] < alive[:, :-1]
    L = pv_life_years(d)
    out[:, np.arange(n_y) >= L] = True  # the vintage built L years earlier retires
    return out


def degradation_factor(d: xr.Dataset) -> np.ndarray:
    """``f[a, y, v]``: output of 1 kWp built in year ``v`` during year ``y`` (0 if ``v > y`` or ``y ≥ v + L``)."""
    years = d["year"].values
    deg = d["degradation_per_year"].values
    age = years[:, None] - years[None, :]
    f = (1.0 - deg[:, None, None]) ** np.clip(age, 0, None)[None, :, :]
    return f * vintage_window(pv_life_years(d), len(years))[None, :, :]


def existing_effective_kwp(d: xr.Dataset) -> np.ndarray:
    """Return ``[a, y]`` the effective kWp of existing capacity after degradation (0 after its life ``L``)."""
    return existing_alive_kwp(d) * (1.0 - d["degradation_per_year"].values[:, None]) ** _existing_age(d)


#: Recently indexed Datasets (by identity): the model's steps ask for the same index thousands of times.
_PROFILE_INDEX_CACHE: list[tuple[xr.Dataset, tuple[list[list[int]], np.ndarray]]] = []


def profile_index(d: xr.Dataset) -> tuple[list[list[int]], np.ndarray]:
    """Return per site its profile indices, and per array its profile index (cached for the last few Datasets)."""
    for cached, value in _PROFILE_INDEX_CACHE:
        if cached is d:
            return value
    profs = list(d["profile"].values)
    psite = list(d["profile_site"].values)
    sites = list(d["site"].values)
    per_site = [[i for i, s in enumerate(psite) if s == site] for site in sites]
    arr_prof = np.array([profs.index(p) for p in d["array_profile"].values], dtype=int)
    _PROFILE_INDEX_CACHE.insert(0, (d, (per_site, arr_prof)))
    del _PROFILE_INDEX_CACHE[4:]
    return per_site, arr_prof


def milestones_of(d: xr.Dataset) -> list[dict[str, Any]]:
    """Return the milestones stored in the Dataset attribute ``milestones_json`` (none when absent)."""
    return json.loads(d.attrs.get("milestones_json", "[]"))


def optional(d: xr.Dataset, name: str, default: Any) -> np.ndarray:
    """Return an optional input (issue-8 pillars) or its neutral default."""
    return d[name].values if name in d else default


def measures_of_site(d: xr.Dataset, i: int) -> np.ndarray:
    """Return the indices of the measures of site ``i`` (empty when there are none)."""
    if "measure" not in d.dims or d.sizes["measure"] == 0:
        return np.zeros(0, dtype=int)
    return np.where(d["measure_site"].values == d["site"].values[i])[0]
