"""Monthly yield per array as PVWatts shows it: plane-of-array irradiance, AC energy and specific yield.

:func:`monthly_yield` reads the hourly AC yield per kWp of every array from the
plan (``yield_kw_per_kwp`` of the array's profile) and, when the run folder's
``yield.nc`` records it, the monthly plane-of-array irradiance
(``poa_kwh_per_m2_month``, written by :func:`pvopt.pv.yields.simulate_yield`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["monthly_yield", "annual_yield"]

DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _hour_month(plan: xr.Dataset) -> np.ndarray:
    if "hour_month" in plan:
        return np.asarray(plan["hour_month"].values, dtype=int)
    return np.repeat(np.arange(1, 13), DAYS_IN_MONTH * 24)


def _poa(yields: xr.Dataset | None, arrays: list[str]) -> np.ndarray:
    """Monthly POA [kWh/m²] per array (NaN when ``yields`` does not record it)."""
    out = np.full((len(arrays), 12), np.nan)
    if yields is None or "poa_kwh_per_m2_month" not in yields:
        return out
    names = [str(a) for a in yields["array"].values]
    poa = yields["poa_kwh_per_m2_month"].values
    for k, a in enumerate(arrays):
        if a in names:
            out[k] = poa[names.index(a)]
    return out


def monthly_yield(plan: xr.Dataset, yields: xr.Dataset | None = None) -> pd.DataFrame:
    """One row per array and month.

    Columns: ``array, site, kind, month`` (1-12), ``month_name``,
    ``poa_kwh_per_m2_day`` (mean daily plane-of-array irradiance; NaN without
    ``yields``), ``specific_yield_kwh_per_kwp`` (AC kWh per kWp DC, before
    degradation), ``ac_energy_mwh`` (at the capacity installed in the last plan
    year, before degradation).
    """
    arrays = [str(a) for a in plan["array"].values]
    prof = [str(p) for p in plan["profile"].values]
    y = plan["yield_kw_per_kwp"].values.astype(float)
    hm = _hour_month(plan)
    poa = _poa(yields, arrays)
    kwp_end = plan["installed_kwp"].values[:, -1].astype(float)
    rows = []
    for k, a in enumerate(arrays):
        series = y[prof.index(str(plan["array_profile"].values[k]))]
        monthly = np.array([series[hm == m].sum() for m in range(1, 13)])
        for m in range(12):
            rows.append({"array": a, "site": str(plan["array_site"].values[k]), "kind": str(plan["array_kind"].values[k]),
                         "month": m + 1, "month_name": MONTHS[m], "poa_kwh_per_m2_day": poa[k, m] / DAYS_IN_MONTH[m],
                         "specific_yield_kwh_per_kwp": monthly[m], "ac_energy_mwh": monthly[m] * kwp_end[k] / 1000.0})
    return pd.DataFrame(rows)


def annual_yield(monthly: pd.DataFrame, plan: xr.Dataset) -> pd.DataFrame:
    """Per array: capacity in the last year, annual POA [kWh/m²], specific yield [kWh/kWp], capacity factor and PR [%]."""
    g = monthly.assign(poa=monthly["poa_kwh_per_m2_day"] * DAYS_IN_MONTH[monthly["month"].values - 1]).groupby("array", sort=False)
    df = pd.DataFrame({
        "array": list(g.groups),
        "installed_kwp": plan["installed_kwp"].values[:, -1].astype(float),
        "poa_kwh_per_m2": g["poa"].sum(min_count=12).values,
        "specific_yield_kwh_per_kwp": g["specific_yield_kwh_per_kwp"].sum().values,
        "ac_energy_mwh": g["ac_energy_mwh"].sum().values,
    })
    df["capacity_factor_pct"] = df["specific_yield_kwh_per_kwp"] / 8760.0 * 100.0
    df["performance_ratio_pct"] = df["specific_yield_kwh_per_kwp"] / df["poa_kwh_per_m2"] * 100.0
    return df
