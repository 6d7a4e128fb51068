"""Geometry of the marginal abatement cost curve: annualised widths and clipped outliers.

:func:`macc_bars` turns :func:`pvopt.results.finance.macc_table` into the bars
both MACC charts draw (the PNG and the interactive one):

- **widths do not double count**: with the plan at hand, certificates and
  offsets are drawn at what the plan actually abates with them, annualised
  over the plan years (a single I-REC purchase of 7,000 MWh in one year of
  twelve counts as 1/12 of its tonnes a year, not as a yearly volume);
  an instrument the plan does not use is drawn at what is still left to
  abate (the plan's remaining market-based Scope 2, or net emissions for
  offsets), annualised the same way. PV arrays and measures are already
  annual (mean over the plan years; measures at full size).
- **every bar readable**: costs far outside the bulk of the options
  (beyond the quartiles by more than three inter-quartile ranges) are
  clipped to the axis limit and labelled with their true value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["macc_bars", "CLIP_IQR"]

CLIP_IQR = 3.0
"""Costs more than ``CLIP_IQR`` inter-quartile ranges beyond the quartiles are clipped (Tukey's far-out fences)."""

TYPE_LABELS = {"pv": "PV array", "certificate": "certificates", "offset": "offsets", "efficiency": "efficiency",
               "electrification": "electrification"}
TYPE_COLORS = {"pv": "#2ca02c", "certificate": "#1f77b4", "offset": "#9467bd", "efficiency": "#ff7f0e", "electrification": "#d62728"}


def _annualised(plan: xr.Dataset, row: pd.Series) -> float:
    """Annualised tonnes of a certificate or offset row over the plan years (see the module docstring)."""
    n = max(int(plan.sizes["year"]), 1)
    if row["type"] == "offset":
        used = float(plan["offsets_tco2e"].sum())
        return (used if used > 0 else float(np.clip(plan["net_tco2e"].values, 0, None).sum())) / n
    name = str(row["option"]).removeprefix("certificates ").strip()
    names = [str(c) for c in plan["certificate"].values]
    if name not in names:
        return float(row["abated_tco2e_per_year"])
    c = names.index(name)
    res = plan["residual_ef_t_per_mwh"].values  # (site, year)
    used_t = float((plan["certificates_by_instrument_mwh"].values[c] * res).sum())
    if used_t > 0:
        return used_t / n
    ok = np.asarray(plan["certificate_available"].values[c]).astype(bool)
    return float(plan["scope2_market_tco2e"].values[:, ok].sum()) / n


def _clip_limits(cost: np.ndarray) -> tuple[float, float]:
    """Axis limits that keep the bulk of the costs readable: the quartiles widened by :data:`CLIP_IQR` inter-quartile ranges."""
    if cost.size < 4:
        return float(min(cost.min(), 0.0)), float(max(cost.max(), 0.0))
    q1, q3 = np.percentile(cost, [25, 75])
    iqr = max(float(q3 - q1), 1.0)
    lim_lo, lim_hi = float(q1 - CLIP_IQR * iqr), float(q3 + CLIP_IQR * iqr)
    return min(max(float(cost.min()), lim_lo), 0.0), max(min(float(cost.max()), lim_hi), 0.0)


def macc_bars(macc: pd.DataFrame, currency: str, plan: xr.Dataset | None = None) -> pd.DataFrame:
    """Bars of the MACC, sorted by cost.

    Parameters
    ----------
    macc
        :func:`pvopt.results.finance.macc_table`.
    currency
        Currency code (its cost column is ``cost_<cur>_per_tco2e``).
    plan
        The plan; when given, certificate and offset widths are annualised over its years.

    Returns
    -------
    pandas.DataFrame
        ``option, type, used_in_plan, cost, width_tco2e_per_year, x0, height`` (cost clipped to the
        axis limits), ``clipped`` (bool) and ``label`` (option and its true cost).
    """
    col = f"cost_{currency.lower()}_per_tco2e"
    df = macc[["option", "type", "used_in_plan"]].copy()
    df["cost"] = macc[col].astype(float).values
    w = macc["abated_tco2e_per_year"].astype(float).values.copy()
    if plan is not None:
        for k, (_, r) in enumerate(macc.iterrows()):
            if r["type"] in ("certificate", "offset"):
                w[k] = _annualised(plan, r)
    df["width_tco2e_per_year"] = w
    df = df[df["width_tco2e_per_year"] > 0].sort_values("cost", kind="stable").reset_index(drop=True)
    df["x0"] = df["width_tco2e_per_year"].cumsum() - df["width_tco2e_per_year"]
    lo, hi = _clip_limits(df["cost"].to_numpy()) if len(df) else (0.0, 0.0)
    df["height"] = df["cost"].clip(lo, hi)
    df["clipped"] = df["height"] != df["cost"]
    df["label"] = [f"{str(o).removeprefix('PV ')} ({c:,.0f}{', clipped' if k else ''})"
                   for o, c, k in zip(df["option"], df["cost"], df["clipped"])]
    df.attrs["ylim"] = (lo, hi)
    return df
