"""Plan report: one self-contained HTML page, one Excel workbook, PNG figures.

:func:`write_report` reads ``RUN_DIR/plan.nc`` and writes

- ``RUN_DIR/report.html``: a first page for planners (build list, onsite
  use, milestones with margins) and finance (business-as-usual against the
  plan, cash flow and payback when the plan carries them, PV against
  certificates), then every section; interactive plotly charts (hover
  values, zoom) with plotly.js inlined once, so the file opens offline and
  can be mailed as one file; every table with human headers and units;
- ``RUN_DIR/report.xlsx``: one sheet per table (see :data:`SHEETS`), numbers
  kept as numbers with formats, bold frozen headers with units
  (:mod:`pvopt.report.workbook`);
- ``RUN_DIR/figures/*.png``: static versions of the main charts (matplotlib).

Every file is written to a temporary file first and moved into place when
complete. Reads only the plan Dataset and, when present, the run folder's
``yield.nc`` (monthly plane-of-array irradiance), ``risk.nc`` and
``actuals.csv`` (no pvlib, no Pyomo).
"""

from __future__ import annotations

import base64
import html
import io
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pvopt.costs import COST_CATEGORIES, COST_NAMES, TOTAL_COST, column_name
from pvopt.inputs.fingerprint import FINGERPRINT_ATTR
from pvopt.milestones import MILESTONE_TYPES
from pvopt.results import accounting
from pvopt.results import finance
from pvopt.results.buildlist import build_list
from pvopt.report.labels import column_decimals, format_number, header, humanize
from pvopt.report.macc import TYPE_COLORS, TYPE_LABELS, macc_bars
from pvopt.report.pvwatts import annual_yield, monthly_yield
from pvopt.report.workbook import workbook_bytes

__all__ = ["write_report", "ReportFiles", "report_tables", "SHEETS", "FIGURES", "load_plan", "plot_macc"]

SHEETS = ["summary", "build_list", "capacity", "annual_yield", "monthly_yield", "emissions", "finance_arrays", "finance_sites", "macc",
          "milestones", "costs", "inputs_prices", "checks"]
"""Sheets of ``report.xlsx``, in order."""
FIGURES = ["buildout", "emissions", "dispatch_week", "macc", "costs", "milestones"]
"""PNG files written under ``figures/`` (``<name>.png``)."""
SECTIONS = ["Plan at a glance", "Answer: PV or certificates?", "Build-out", "Monthly yield per array", "Emissions", "Hourly dispatch",
            "PV against certificates", "Marginal abatement cost curve", "Costs", "Milestones", "Input prices", "Checks", "Method"]
"""Section headings of ``report.html``, in order."""
DPI = 110


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by :func:`write_report`."""

    html: Path
    xlsx: Path
    figures: dict[str, Path]
    left_out: dict[str, str] = field(default_factory=dict)
    """Run-folder files not shown in the report, with the reason (e.g. computed from other inputs)."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Time spent per phase (``tables``, ``png``, ``xlsx``, ``html``, ``total``) [s]."""


# --------------------------------------------------------------------------- #
# io helpers
# --------------------------------------------------------------------------- #
def load_plan(path: str | Path) -> xr.Dataset:
    """Open ``plan.nc`` fully into memory, restoring booleans stored as 0/1."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        plan = ds.load()
    for k in list(plan.variables):
        if plan[k].attrs.get("flag") == "boolean stored as 0/1":
            plan[k] = plan[k].astype(bool)
    return plan


def _atomic_bytes(data: bytes, path: Path) -> None:
    from pvopt.io import write_bytes_atomic

    write_bytes_atomic(data, path)


# --------------------------------------------------------------------------- #
# tables
# --------------------------------------------------------------------------- #
def _capacity(plan: xr.Dataset) -> pd.DataFrame:
    df = xr.Dataset({"build_kwp": plan["build_kwp"], "installed_kwp": plan["installed_kwp"]}).to_dataframe().reset_index()
    info = pd.DataFrame({"array": [str(a) for a in plan["array"].values], "site": [str(s) for s in plan["array_site"].values],
                         "kind": [str(k) for k in plan["array_kind"].values], "max_kwp": plan["max_kwp"].values,
                         "existing_kwp": plan["existing_kwp"].values})
    df["array"] = df["array"].astype(str)
    return info.merge(df, on="array")[["array", "site", "kind", "year", "max_kwp", "existing_kwp", "build_kwp", "installed_kwp"]]


def _costs(plan: xr.Dataset) -> pd.DataFrame:
    """Per site and year (and ``ALL``): every cost category of :data:`pvopt.costs.COST_CATEGORIES` and the total."""
    cur = finance.currency_code(plan)
    ds = xr.Dataset({column_name(k, cur): plan[k] for k in (*COST_NAMES, TOTAL_COST)})
    df = ds.to_dataframe().reset_index()
    tot = ds.sum("site").to_dataframe().reset_index()
    tot.insert(0, "site", accounting.ALL)
    df = pd.concat([df, tot], ignore_index=True)
    df["site"] = df["site"].astype(str)
    df["discount_factor"] = df["year"].map(dict(zip(plan["year"].values.astype(int), plan["discount_factor"].values)))
    df[f"total_discounted_{cur}"] = df[f"total_{cur}"] * df["discount_factor"]
    return df


def _milestones(plan: xr.Dataset) -> pd.DataFrame:
    cur = finance.currency_code(plan)
    if "milestone" not in plan.dims:
        return pd.DataFrame(columns=["milestone", "type", "year", "target", "achieved", "margin", "margin_pct", "unit", "met",
                                     f"marginal_cost_{cur}_npv_per_unit", "marginal_cost_per"])
    types = [str(t) for t in plan["milestone_type"].values]
    d: dict[str, Any] = {"milestone": [str(m) for m in plan["milestone"].values],
         "type": types,
         "year": plan["milestone_year"].values.astype(int),
         "target": plan["milestone_target"].values, "achieved": plan["milestone_achieved"].values,
         "unit": [str(u) for u in plan["milestone_unit"].values],
         "met": np.asarray(plan["milestone_met"].values).astype(bool),
         f"marginal_cost_{cur}_npv_per_unit": plan["milestone_marginal_cost"].values}
    d["marginal_cost_per"] = [MILESTONE_TYPES[t].row_unit.replace("{currency}", str(plan.attrs.get("currency", ""))) for t in types]
    if "milestone_cost_vs_without" in plan:
        d[f"cost_vs_without_{cur}_npv"] = plan["milestone_cost_vs_without"].values
    df = pd.DataFrame(d)
    sign = np.array([1.0 if MILESTONE_TYPES[t].sense == ">=" else -1.0 for t in df["type"]])
    margin = sign * (df["achieved"].astype(float) - df["target"].astype(float))
    df.insert(5, "margin", np.where(np.abs(margin) < MARGIN_ATOL, 0.0, margin))
    df.insert(6, "margin_pct", np.where(df["target"].abs() > 1e-9, 100.0 * df["margin"] / df["target"].abs().where(df["target"] != 0, 1.0), np.nan))
    return df


MARGIN_ATOL = 5e-3
"""Milestone margins smaller than this (in the milestone's unit) are shown as 0."""


def _inputs_prices(plan: xr.Dataset) -> pd.DataFrame:
    cur = finance.currency_code(plan)
    years = plan["year"].values.astype(int)
    df = pd.DataFrame({"year": years})
    ok = np.asarray(plan["certificate_available"].values).astype(bool)
    for c, name in enumerate(str(x) for x in plan["certificate"].values):
        df[f"certificate_{name}_{cur}_per_mwh"] = np.where(ok[c], plan["certificate_price_per_mwh"].values[c], np.nan)
    df[f"offset_{cur}_per_tco2e"] = plan["offset_price_per_tco2e"].values
    for k, kind in enumerate(str(x) for x in plan["kind"].values):
        df[f"capex_{kind}_{cur}_per_kwp"] = plan["capex_per_kwp"].values[k]
        df[f"om_{kind}_{cur}_per_kwp_year"] = plan["om_per_kwp_year"].values[k]
    load = plan["load_kw"].values
    imp = plan["import_price_per_kwh"].values
    gen = plan["pv_generated_kw"].values.astype(float) if "pv_generated_kw" in plan else None
    for i, s in enumerate(str(x) for x in plan["site"].values):
        df[f"import_{s}_mean_{cur}_per_kwh"] = imp[i].mean(axis=1)
        df[f"import_{s}_load_weighted_{cur}_per_kwh"] = (imp[i] * load[i]).sum(axis=1) / np.maximum(load[i].sum(axis=1), 1e-9)
        if gen is not None:
            w = gen[i].sum(axis=1)
            df[f"import_{s}_pv_weighted_{cur}_per_kwh"] = np.where(w > 0, (imp[i] * gen[i]).sum(axis=1) / np.maximum(w, 1e-9), np.nan)
        df[f"grid_ef_{s}_t_per_mwh"] = plan["grid_ef_t_per_mwh"].values[i]
        df[f"residual_ef_{s}_t_per_mwh"] = plan["residual_ef_t_per_mwh"].values[i]
    return df


def _headline(plan: xr.Dataset, fa: pd.DataFrame) -> dict[str, Any]:
    cur = finance.currency_code(plan)
    be = f"break_even_certificate_price_{cur}_per_mwh"
    built = fa[fa.status == "built"] if not fa.empty else fa
    ref = finance.reference_certificate_price(plan)
    out: dict[str, Any] = {"reference_certificate_price": ref, "n_arrays": int(len(built))}
    if not built.empty:
        out["n_pv_cheaper"] = int(built["pv_cheaper_than_certificates"].sum())
        out["be_min"], out["be_max"] = float(built[be].min()), float(built[be].max())
        out["cheaper"] = [str(a) for a in built.loc[built.pv_cheaper_than_certificates, "array"]]
        out["dearer"] = [str(a) for a in built.loc[~built.pv_cheaper_than_certificates, "array"]]
    nb = fa[fa.status != "built"] if not fa.empty else fa
    out["not_built"] = [] if nb.empty else [(str(r["array"]), float(r["kwp"]), float(r[be])) for _, r in nb.iterrows()]
    return out


def _summary(plan: xr.Dataset, fa: pd.DataFrame, fs: pd.DataFrame, em: pd.DataFrame) -> pd.DataFrame:
    cur = finance.currency_code(plan)
    C = str(plan.attrs.get("currency", ""))
    years = plan["year"].values.astype(int)
    h = _headline(plan, fa)
    allr = em[em.site == accounting.ALL].set_index("year")
    base = accounting.baseline_table(plan).set_index("site").loc[accounting.ALL]
    rows: list[tuple[str, Any, str]] = [
        ("portfolio", str(plan.attrs.get("portfolio_name", "")), ""),
        ("planning years", f"{years[0]}-{years[-1]}", ""),
        ("net present cost of the plan", float(plan["npc"]), f"{C} (NPV at {years[0]})"),
        ("discount rate", float(plan.attrs["discount_rate"]), "1/yr"),
        ("PV lifetime", float(plan.attrs["lifetime_years"]), "yr"),
        ("PV installed at the end", float(plan["installed_kwp"].isel(year=-1).sum()), "kWp"),
        ("PV built in the plan", float(plan["build_kwp"].sum()), "kWp"),
        ("certificates bought, all years", float(plan["certificates_mwh"].sum()), "MWh"),
        ("certificate spend, all years", float(plan["certificate_cost"].sum()), f"{C} (undiscounted)"),
        ("offsets retired, all years", float(plan["offsets_tco2e"].sum()), "tCO2e"),
        ("baseline gross emissions (S1 + S2 location)", float(base["gross_location_tco2e"]), f"tCO2e ({plan.attrs.get('baseline_year')})"),
        (f"gross market-based emissions {years[-1]}", float(allr.loc[years[-1], "gross_market_tco2e"]), "tCO2e"),
        (f"net emissions {years[-1]}", float(allr.loc[years[-1], "net_tco2e"]), "tCO2e"),
        ("reference certificate price (mean cheapest)", h["reference_certificate_price"], f"{C}/MWh"),
    ]
    if not fs.empty:
        p = fs[fs.site == accounting.ALL].iloc[0]
        rows += [
            ("built PV: LCOE", float(p[f"lcoe_{cur}_per_kwh"]), f"{C}/kWh"),
            ("built PV: value per kWh generated (hourly tariff)", float(p[f"value_{cur}_per_kwh"]), f"{C}/kWh"),
            ("built PV: NPV", float(p[f"npv_{cur}"]), f"{C} (NPV at {years[0]})"),
            ("built PV: IRR", float(p["irr_pct"]), "%"),
            ("built PV: simple payback", float(p["payback_years"]), "yr"),
            ("built PV: abatement cost", float(p[f"abatement_cost_{cur}_per_tco2e"]), f"{C}/tCO2e"),
            ("built PV: break-even certificate price", float(p[f"break_even_certificate_price_{cur}_per_mwh"]), f"{C}/MWh"),
        ]
    if "n_pv_cheaper" in h:
        rows += [("arrays where PV beats certificates", f"{h['n_pv_cheaper']} of {h['n_arrays']}", ""),
                 ("break-even certificate price, lowest array", h["be_min"], f"{C}/MWh"),
                 ("break-even certificate price, highest array", h["be_max"], f"{C}/MWh")]
    return pd.DataFrame(rows, columns=["metric", "value", "unit"])


def report_tables(plan: xr.Dataset, yields: xr.Dataset | None = None) -> dict[str, pd.DataFrame]:
    """All report tables, keyed by sheet name (:data:`SHEETS`).

    ``yields`` (the run folder's ``yield.nc``) adds the monthly plane-of-array irradiance.
    """
    em = accounting.emissions_table(plan)
    fa = finance.finance_arrays(plan)
    fs = finance.finance_sites(plan)
    chk = accounting.checks_table(plan)
    ident = accounting.identities(plan)
    checks = pd.concat([chk.assign(kind="check"),
                        ident.rename(columns={"identity": "check", "max_abs_residual": "value"}).assign(kind="identity")],
                       ignore_index=True)
    monthly = monthly_yield(plan, yields)
    return {
        "summary": _summary(plan, fa, fs, em),
        "build_list": build_list(plan),  # pvopt.results.buildlist: new kWp per array and year, and why
        "capacity": _capacity(plan),
        "annual_yield": annual_yield(monthly, plan),
        "monthly_yield": monthly,
        "emissions": em,
        "finance_arrays": fa,
        "finance_sites": fs,
        "macc": finance.macc_table(plan, fa),
        "milestones": _milestones(plan),
        "costs": _costs(plan),
        "inputs_prices": _inputs_prices(plan),
        "checks": checks,
    }


# --------------------------------------------------------------------------- #
# figures
# --------------------------------------------------------------------------- #
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig, metadata: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata=metadata)
    _pyplot().close(fig)
    return buf.getvalue()


def _milestone_years(plan: xr.Dataset) -> list[tuple[int, str]]:
    return [(int(m["year"]), str(m["name"])) for m in accounting.milestones(plan) if MILESTONE_TYPES[m["type"]].emissions]


def plot_buildout(plan: xr.Dataset) -> bytes:
    """Installed PV by site (stacked) and year, rooftop solid and carport hatched [kWp]."""
    plt = _pyplot()
    years = plan["year"].values.astype(int)
    sites = [str(s) for s in plan["site"].values]
    inst = plan["installed_kwp"].values
    asite = np.array([str(s) for s in plan["array_site"].values])
    kind = np.array([str(k) for k in plan["array_kind"].values])
    cmap = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(10, 4.5))
    bottom = np.zeros(len(years))
    for i, s in enumerate(sites):
        for kd, hatch in (("rooftop", None), ("carport", "//")):
            v = inst[(asite == s) & (kind == kd)].sum(axis=0) / 1000.0
            if v.any():
                ax.bar(years, v, bottom=bottom, color=cmap(i % 10), hatch=hatch, edgecolor="white", linewidth=0.5,
                       label=f"{s} {kd}")
                bottom += v
    ax.set_ylabel("installed PV [MWp]")
    ax.set_title("PV build-out by site and year (hatched: carport)")
    ax.set_xticks(years)
    ax.legend(ncol=2, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def plot_emissions(plan: xr.Dataset) -> bytes:
    """Scope 1 and market-based Scope 2 (stacked), offsets (negative), location-based gross and net, milestone years [ktCO2e]."""
    plt = _pyplot()
    em = accounting.emissions_dataset(plan).sum("site")
    years = plan["year"].values.astype(int)
    k = 1000.0
    fig, ax = plt.subplots(figsize=(10, 4.8))
    ax.bar(years, em["scope1_tco2e"] / k, color="#8c564b", label="Scope 1")
    ax.bar(years, em["scope2_market_tco2e"] / k, bottom=em["scope1_tco2e"] / k, color="#ff7f0e", label="Scope 2 market-based")
    ax.bar(years, -em["offsets_tco2e"] / k, color="#2ca02c", label="offsets retired")
    ax.plot(years, em["gross_location_tco2e"] / k, "k--o", ms=3, label="Scope 1 + Scope 2 location-based")
    ax.plot(years, em["net_tco2e"] / k, "b-s", ms=3, label="net (S1 + S2 market - offsets)")
    base = accounting.baseline_table(plan).set_index("site").loc[accounting.ALL]
    ax.axhline(float(base["gross_location_tco2e"]) / k, color="grey", lw=1, ls=":",
               label=f"baseline {plan.attrs.get('baseline_year')} (S1 + S2 location)")
    ax.axhline(0, color="black", lw=0.8)
    top = float(max(em["gross_location_tco2e"].max(), base["gross_location_tco2e"])) / k
    for y, name in _milestone_years(plan):
        ax.axvline(y, color="red", lw=0.8, alpha=0.6)
        ax.text(y, top * 1.02, name, rotation=90, fontsize=7, color="red", ha="right", va="top")
    ax.set_xticks(years)
    ax.set_ylabel("ktCO2e")
    ax.set_title("Emissions by scope against the milestones (portfolio)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _load_kw(plan: xr.Dataset) -> np.ndarray:
    """Hourly load the plan served [kW]: after adopted measures when the plan has them."""
    return (plan["load_after_measures_kw"] if "load_after_measures_kw" in plan else plan["load_kw"]).values


def plan_dates(year: int) -> pd.DatetimeIndex:
    """Return the 365 days of the hour index of ``year`` (8760 hours; Feb 29 dropped in leap years)."""
    d = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
    return d[~((d.month == 2) & (d.day == 29))]


HOLIDAY_LOAD_SHARE = 0.8
"""A weekday whose portfolio load is below this share of the median weekday's is taken as a public holiday (or shutdown)."""
WEEK_SEARCH_MONTHS = (4, 5)
"""Months whose Monday-to-Sunday weeks are searched for the dispatch week (spring: high sun, moderate load)."""


def dispatch_choice(plan: xr.Dataset) -> tuple[int, int, str]:
    """``(year index, first hour, statement)`` of the week the dispatch chart shows.

    The plan year with the most PV; among the Monday-to-Sunday weeks starting in
    April or May, the one whose weekend has the largest PV surplus over load (ties:
    the most PV), skipping weeks with a public holiday: a weekday whose portfolio
    load is below :data:`HOLIDAY_LOAD_SHARE` of the median weekday's. When every
    candidate week has one, the best of them is shown and the statement says so.
    """
    gen = plan["pv_generated_kw"].values.astype(float)
    load = _load_kw(plan)
    j = int(np.argmax(gen.sum(axis=(0, 2))))
    year = int(plan["year"].values[j])
    g, l_ = gen[:, j].sum(axis=0), load[:, j].sum(axis=0)
    sur = np.clip(gen[:, j] - load[:, j], 0, None).sum(axis=0)
    dates = plan_dates(year)
    daily_load = l_.reshape(365, 24).sum(axis=1)
    weekday = dates.day_of_week.to_numpy()
    holiday = (weekday < 5) & (daily_load < HOLIDAY_LOAD_SHARE * np.median(daily_load[weekday < 5]))
    best: tuple[tuple[float, float, float], int] | None = None
    for d in np.flatnonzero(np.isin(dates.month, WEEK_SEARCH_MONTHS) & (weekday == 0)):
        if d + 7 > 365:
            continue
        wk = slice(d * 24, d * 24 + 168)
        key = (0.0 if holiday[d:d + 7].any() else 1.0, float(sur[wk].reshape(7, 24)[5:].sum()), float(g[wk].sum()))
        if best is None or key > best[0]:
            best = (key, int(d))
    if best is None:  # no Monday in the search months (cannot happen for a calendar year); first week
        best = ((1.0, 0.0, 0.0), 0)
    d0 = best[1]
    hol = [f"{x:%a %d %b}" for x, h in zip(dates[d0:d0 + 7], holiday[d0:d0 + 7]) if h]
    why = (f"Week Mon {dates[d0]:%d %b} to Sun {dates[d0 + 6]:%d %b %Y}, in {year}, the plan year with the most PV: among the "
           "Monday-to-Sunday weeks starting in April or May, the one whose weekend has the largest PV surplus over load, "
           f"skipping weeks with a public holiday (a weekday with portfolio load below {HOLIDAY_LOAD_SHARE:.0%} of the median weekday's). ")
    why += (f"Every candidate week has one; this week includes the holiday(s) {', '.join(hol)}." if hol else
            "This week has no public holiday. Local time, hour-beginning.")
    return j, d0 * 24, why


def dispatch_week(plan: xr.Dataset) -> tuple[int, int]:
    """``(year index, first hour)`` of the week the dispatch chart shows (see :func:`dispatch_choice`)."""
    j, h0, _ = dispatch_choice(plan)
    return j, h0


def plot_dispatch(plan: xr.Dataset) -> bytes:
    """One hourly week per site: onsite PV and grid import (= load), export and curtailment above the load [kW]."""
    plt = _pyplot()
    sites = [str(s) for s in plan["site"].values]
    j, h0 = dispatch_week(plan)
    year = int(plan["year"].values[j])
    wk = slice(h0, h0 + 168)
    x = np.arange(168) / 24.0
    fig, axes = plt.subplots(len(sites), 1, figsize=(11, 2.1 * len(sites) + 0.6), sharex=True, squeeze=False)
    for i, s in enumerate(sites):
        ax = axes[i, 0]
        on = plan["pv_onsite_kw"].values[i, j, wk].astype(float)
        gi = plan["grid_import_kw"].values[i, j, wk].astype(float)
        ex = plan["export_kw"].values[i, j, wk].astype(float)
        cu = plan["curtailed_kw"].values[i, j, wk].astype(float)
        ld = _load_kw(plan)[i, j, wk]
        ax.stackplot(x, on / 1000, gi / 1000, ex / 1000, cu / 1000, colors=["#2ca02c", "#bbbbbb", "#1f77b4", "#d62728"],
                     labels=["PV used onsite", "grid import", "PV exported", "PV curtailed"], alpha=0.85)
        ax.plot(x, ld / 1000, color="black", lw=1, label="load")
        ax.set_ylabel(f"{s}\nMW", fontsize=8)
        ax.grid(alpha=0.3)
    days = list(plan_dates(year)[h0 // 24: h0 // 24 + 7])
    axes[-1, 0].set_xticks(np.arange(7) + 0.5)
    axes[-1, 0].set_xticklabels([f"{d:%a %d %b}" for d in days], fontsize=8)
    axes[0, 0].set_title(f"Hourly dispatch, week from {days[0]:%a %d %b} {year} (local time, hour-beginning)")
    axes[0, 0].legend(fontsize=8, ncol=5, loc="upper left", bbox_to_anchor=(0, 1.45 if len(sites) > 1 else 1.3))
    return _png(fig)


def _macc_axes(ax, bars: pd.DataFrame, *, labels: bool = True) -> None:
    """Draw the bars of :func:`pvopt.report.macc.macc_bars` on ``ax`` (clipped bars hatched, labelled with their true cost)."""
    for _, r in bars.iterrows():
        w = float(r["width_tco2e_per_year"]) / 1000.0
        x = float(r["x0"]) / 1000.0
        v = float(r["height"])
        ax.bar(x, v, width=w, align="edge", color=TYPE_COLORS.get(r["type"], "grey"), edgecolor="black", linewidth=0.4,
               alpha=1.0 if r["used_in_plan"] else 0.45, hatch="xx" if r["clipped"] else None)
        if labels:
            ax.text(x + w / 2, v if v >= 0 else 0, f" {r['label']} ", rotation=90, fontsize=7, ha="center",
                    va="bottom" if v >= 0 else "top", color="#b00000" if r["clipped"] else "black")
    ax.axhline(0, color="black", lw=0.8)
    lo, hi = bars.attrs.get("ylim", (float(bars["height"].min()), float(bars["height"].max())))
    span = max(hi - lo, 1.0)
    ax.set_ylim(min(lo, 0) - 0.45 * span * (lo < 0), max(hi, 0) + 0.45 * span)
    ax.grid(axis="y", alpha=0.3)


def plot_macc(macc: pd.DataFrame, currency: str, plan: xr.Dataset | None = None) -> bytes:
    """Marginal abatement cost curve: bar width = tCO2e/yr (annualised when ``plan`` is given), height = cost per tCO2e, sorted.

    Outliers are clipped to the axis and labelled with their true cost (:func:`pvopt.report.macc.macc_bars`).
    """
    plt = _pyplot()
    bars = macc_bars(macc, currency, plan)
    fig, ax = plt.subplots(figsize=(11, 6.2))
    _macc_axes(ax, bars)
    types = list(dict.fromkeys(bars["type"]))
    ax.legend([plt.Rectangle((0, 0), 1, 1, color=TYPE_COLORS.get(t, "grey")) for t in types], [TYPE_LABELS.get(t, t) for t in types],
              fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_xlabel("abatement [ktCO2e/yr], annualised over the plan years (pale: not used in the plan; hatched: clipped)")
    ax.set_ylabel(f"cost [{currency}/tCO2e]  (negative: saves money)")
    ax.set_title("Marginal abatement cost curve: PV arrays, measures, certificates, offsets")
    fig.tight_layout()
    return _png(fig)


def cost_stack(plan: xr.Dataset) -> pd.DataFrame:
    """Return the cost chart's bars, per year and cost category.

    Per year (index) and category of :data:`pvopt.costs.COST_CATEGORIES` (columns),
    the signed portfolio value [currency, undiscounted] (revenues negative), plus ``total_cost``.

    Raises
    ------
    ValueError
        When the bars do not add up to ``total_cost`` (a category missing from the plan's total).
    """
    years = plan["year"].values.astype(int)
    df = pd.DataFrame({c.name: c.sign * plan[c.name].sum("site").values for c in COST_CATEGORIES}, index=pd.Index(years, name="year"))
    df[TOTAL_COST] = plan[TOTAL_COST].sum("site").values
    gap = (df[list(COST_NAMES)].sum(axis=1) - df[TOTAL_COST]).abs()
    if (gap > COST_SUM_ATOL * np.maximum(1.0, df[TOTAL_COST].abs())).any():
        raise ValueError(f"cost categories do not add up to total_cost (largest gap {gap.max():,.2f}); see pvopt.costs")
    return df


COST_SUM_ATOL = 1e-9
"""Relative tolerance of :func:`cost_stack`'s check that the bars add up to the total."""


def plot_costs(plan: xr.Dataset) -> bytes:
    """Undiscounted portfolio cost by category (:data:`pvopt.costs.COST_CATEGORIES`) and year; revenues below zero [million currency].

    Costs stack up from zero, revenues down from zero; the line is ``total_cost`` (costs less revenues).
    """
    plt = _pyplot()
    C = str(plan.attrs.get("currency", ""))
    stack = cost_stack(plan)
    years = stack.index.values
    fig, ax = plt.subplots(figsize=(10, 4.5))
    up = np.zeros(len(years))
    down = np.zeros(len(years))
    for c in COST_CATEGORIES:
        v = stack[c.name].values / 1e6
        if not np.any(v):
            continue
        pos, neg = np.clip(v, 0, None), np.clip(v, None, 0)
        if pos.any():
            ax.bar(years, pos, bottom=up, color=c.color, label=c.label)
            up += pos
        if neg.any():
            ax.bar(years, neg, bottom=down, color=c.color, label=c.label if not pos.any() else None)
            down += neg
    ax.plot(years, stack[TOTAL_COST].values / 1e6, "k-o", ms=3, label="total (costs less revenues)")
    ax.set_xticks(years)
    ax.set_ylabel(f"million {C} (undiscounted)")
    ax.set_title("Cost by category and year (portfolio)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def plot_milestones(ms: pd.DataFrame, currency: str) -> bytes:
    """Marginal cost of each milestone (|dual|: NPC change per unit of tightening), one panel per unit of its LP row."""
    plt = _pyplot()
    col = next((c for c in ms.columns if c.startswith("marginal_cost_") and c.endswith("_npv_per_unit")), f"marginal_cost_{currency.lower()}_npv_per_unit")
    per = ms["marginal_cost_per"].astype(str) if "marginal_cost_per" in ms else pd.Series(["unit"] * len(ms))
    units = list(dict.fromkeys(per)) or ["unit"]
    sizes = [max(int((per == u).sum()), 1) for u in units]
    fig, axes = plt.subplots(len(units), 1, figsize=(10, 0.42 * sum(sizes) + 1.1 * len(units) + 0.4), squeeze=False,
                             gridspec_kw={"height_ratios": sizes})
    for ax, u in zip(axes[:, 0], units):
        g = ms[per.values == u]
        if g.empty:
            ax.text(0.5, 0.5, "no milestones", ha="center")
            continue
        v = g[col].fillna(0.0).astype(float).values
        ax.barh(np.arange(len(g)), v, color=["#2ca02c" if m else "#d62728" for m in g["met"]])
        ax.set_yticks(np.arange(len(g)), [f"{m} ({y})" for m, y in zip(g["milestone"], g["year"])], fontsize=8)
        for k, val in enumerate(v):
            ax.text(val, k, f" {val:,.1f}", va="center", fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, max(float(v.max()), 1.0) * 1.25)
        ax.set_xlabel(f"{currency} NPV per {u}", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0, 0].set_title("Marginal cost of each milestone (green: met), one panel per unit")
    fig.tight_layout()
    return _png(fig)


# --------------------------------------------------------------------------- #
# html and xlsx
# --------------------------------------------------------------------------- #
CSS = """*{box-sizing:border-box}body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;max-width:1280px;margin:1.5em auto;padding:0 1em;
color:#222;line-height:1.4}p,li{overflow-wrap:anywhere}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}h3{margin:.8em 0 .3em}
table{border-collapse:collapse;font-size:12px;margin:.6em 0;max-width:100%}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right;vertical-align:top}
th{background:#eef2f6;font-weight:600;white-space:normal;overflow-wrap:normal;word-break:normal;min-width:3.5em}
td.t,th.t,td:first-child,th:first-child{text-align:left}td{white-space:nowrap}td.t,td:first-child{white-space:normal;min-width:6em}td.t{min-width:10em}
.scroll{overflow-x:auto;max-width:100%}img{max-width:100%;height:auto}.fig{width:100%;min-height:200px}
.answer{background:#f4f9f4;border-left:4px solid #2ca02c;padding:.6em 1em}.note{color:#555;font-size:.9em}
tr.fail td{color:#b00000;background:#fde8e8;font-weight:bold}.warn{background:#fde8e8;border-left:4px solid #b00000;padding:.6em 1em}
.glance{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,540px),1fr));gap:1.2em}
.card{border:1px solid #dde3ea;border-radius:6px;padding:.6em 1em;background:#fbfcfd;min-width:0}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.5em;margin:.4em 0}
.kpi{background:#fff;border:1px solid #e3e7ec;border-radius:4px;padding:.4em .6em}.kpi b{display:block;font-size:1.25em}
.kpi span{color:#555;font-size:.85em}details summary{cursor:pointer;color:#1f4e8c;margin:.4em 0}
@media (max-width:700px){body{padding:0 .4em}table{font-size:11px}}"""


def _table(df: pd.DataFrame, *, currency: str = "", max_rows: int = 400, failed: Any = None, key: int = 1) -> str:
    """HTML table with human headers and units, one number format per column; rows where ``failed`` is true are red.

    Headers and formats come from :func:`pvopt.report.labels.humanize`; text columns are left-aligned
    and wrap. A table wider than :data:`MAX_TABLE_COLUMNS` is split into several tables, each
    repeating the first ``key`` columns, so that no table runs off the page.
    """
    if len(df.columns) > MAX_TABLE_COLUMNS:
        rest = list(df.columns[key:])
        step = MAX_TABLE_COLUMNS - key
        n = -(-len(rest) // step)
        size = -(-len(rest) // n)
        return "".join(_table(df[[*df.columns[:key], *rest[i:i + size]]], currency=currency, max_rows=max_rows, failed=failed, key=key)
                       for i in range(0, len(rest), size))
    hdf, fmts = humanize(df, currency or "CNY")
    text_cols = [h not in fmts and not pd.api.types.is_bool_dtype(hdf[h]) for h in hdf.columns]
    head = "".join(f"<th class='{'t' if t else 'n'}'>{html.escape(str(h))}</th>" for h, t in zip(hdf.columns, text_cols))
    bad = np.zeros(len(df), dtype=bool) if failed is None else np.asarray(failed, dtype=bool)
    spec = [fmts.get(h) for h in hdf.columns]
    rows = []
    for row, b in zip(hdf.head(max_rows).itertuples(index=False), bad):
        cells = []
        for k, (v, f, t) in enumerate(zip(row, spec, text_cols)):
            if f is None and isinstance(v, (float, np.floating, int, np.integer)) and not isinstance(v, (bool, np.bool_)):
                f = (column_decimals(pd.Series([v])), False)
            txt = format_number(v, f[0], year=f[1]) if f is not None else format_number(v, 0)
            left = t and k and not (isinstance(v, str) and NUMBER_TEXT.match(v))
            cells.append(f"<td class='t'>{txt}</td>" if left else f"<td>{txt}</td>")
        rows.append(("<tr class='fail'>" if b else "<tr>") + "".join(cells) + "</tr>")
    more = f"<p class='note'>{len(df) - max_rows} more rows in the workbook.</p>" if len(df) > max_rows else ""
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>{more}"


MAX_TABLE_COLUMNS = 14
"""Widest HTML table [columns]; wider tables are split (the workbook keeps them whole)."""
NUMBER_TEXT = re.compile(r"^[-+–−]?[0-9][0-9,]*(\.[0-9]+)?( ?%)?$|^–$")
"""Pre-formatted numbers (right-aligned like numbers)."""


def _by_year_rows(df: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Transpose a per-year table (column ``year``) to one row per quantity, each row formatted with its own decimals."""
    out = {"quantity": [header(c, currency) for c in df.columns if c != "year"]}
    years = df["year"].astype(int).tolist()
    vals = [df[c] for c in df.columns if c != "year"]
    for k, y in enumerate(years):
        out[y] = [format_number(v.iloc[k], column_decimals(v)) for v in vals]
    return pd.DataFrame(out)


def failed_checks(checks: pd.DataFrame) -> np.ndarray:
    """Rows of the checks table that fail: an identity not ``ok`` or a check not ``met``."""
    ok = checks["ok"] if "ok" in checks else pd.Series(True, index=checks.index)
    met = checks["met"] if "met" in checks else pd.Series(True, index=checks.index)
    ident = checks["kind"] == "identity"
    return np.where(ident, ~ok.fillna(True).astype(bool), ~met.fillna(True).astype(bool))


def _checks_html(checks: pd.DataFrame) -> str:
    bad = failed_checks(checks)
    parts = []
    if bad.any():
        names = "; ".join(str(c) for c in checks.loc[bad, "check"])
        parts.append(f"<p class='warn'><b>{int(bad.sum())} check(s) fail</b> (red rows): {html.escape(names)}. "
                     "A failed identity means the plan's numbers do not add up; do not use them before it is explained.</p>")
    else:
        parts.append("<p class='note'>Every identity holds within its tolerance and every check is met.</p>")
    parts.append(_table(checks, failed=bad))
    return "".join(parts)


def _img(png: bytes, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'/>"


def _answer_html(plan: xr.Dataset, t: dict[str, pd.DataFrame]) -> str:
    C = str(plan.attrs.get("currency", ""))
    h = _headline(plan, t["finance_arrays"])
    ref = h["reference_certificate_price"]
    parts = []
    if "n_pv_cheaper" in h:
        parts.append(f"<p><b>PV beats certificates on {h['n_pv_cheaper']} of {h['n_arrays']} built arrays.</b> "
                     f"Break-even certificate prices run from <b>{h['be_min']:,.0f} to {h['be_max']:,.0f} {C}/MWh</b>; the "
                     f"certificates cost on average {ref:,.2f} {C}/MWh (cheapest instrument each year). "
                     "PV is the cheaper way to remove a MWh of market-based Scope 2 wherever the certificate price is above "
                     "the array's break-even price; a negative break-even means the array pays for itself through the "
                     "electricity it saves, so it wins even against free certificates.</p>")
        if h["dearer"]:
            parts.append(f"<p>Certificates are cheaper than: {html.escape(', '.join(h['dearer']))}.</p>")
    else:
        parts.append("<p>The plan builds no new PV.</p>")
    if h["not_built"]:
        lst = "; ".join(f"{a}: {k:,.0f} kWp unused, break-even {b:,.0f} {C}/MWh" for a, k, b in h["not_built"])
        parts.append(f"<p>Room left unbuilt (evaluated as an extra build in the first year against the plan's remaining grid import): {html.escape(lst)}.</p>")
    parts.append("<p class='note'>Certificates remove market-based Scope 2 only; PV also removes location-based Scope 2 and "
                 "saves the tariff. Certificates cover the grid MWh PV leaves; they are complements up to each site's roof "
                 "space, and substitutes at the margin, which is what the break-even price compares.</p>")
    return "<div class='answer'>" + "".join(parts) + "</div>"


OPTIONAL_SECTIONS = {"weather_risk": "Weather risk", "actuals": "Metered actuals"}
"""Sections (and sheets, figures) added when ``risk.nc`` / ``actuals.csv`` are in the run directory."""


def _risk_html(risk: xr.Dataset, summary: pd.DataFrame, png: bytes) -> str:
    n = risk.sizes.get("weather_year", 0)
    bad = [f"{w}: {r}" for w, ok, r in zip(risk["weather_year"].values, risk["feasible"].values, risk["reason"].values) if not int(ok)]
    parts = [f"<h2>{OPTIONAL_SECTIONS['weather_risk']}</h2>",
             f"<p class='note'>The plan (designed on the {html.escape(str(risk.attrs.get('design', 'p50')).upper())} year) with its "
             f"investments fixed, operated in {n} weather years. {html.escape(str(risk.attrs.get('variability_model', '')))}. "
             "p90 = the value the metric is no worse than in 90 % of the weather years. From risk.nc (pvopt risk).</p>",
             _img(png, "weather risk"), _table(summary)]
    from pvopt.studies.risk import milestone_risk_table

    mt = milestone_risk_table(risk)
    if len(mt):
        parts += ["<h3>Onsite-PV milestones across the weather years</h3>",
                  "<p class='note'>Onsite PV in the lowest year from the milestone year on. P90 = reached in 90 % of the weather years.</p>",
                  _table(mt)]
    if bad:
        parts.append("<p><b>Weather years in which the fixed plan misses a milestone:</b> " + html.escape("; ".join(bad)) + "</p>")
    if risk.attrs.get("file_weather_note"):
        parts.append(f"<p class='note'>{html.escape(str(risk.attrs['file_weather_note']))}</p>")
    return "\n".join(parts)


def _actuals_html(df: pd.DataFrame, png: bytes | None) -> str:
    parts = [f"<h2>{OPTIONAL_SECTIONS['actuals']}</h2>",
             "<p class='note'>Metered PV and load against the plan's hourly expectation (pvopt actuals). Performance ratio = "
             "metered / expected PV; extra grid MWh priced at the location-based grid factor and at the residual-mix factor.</p>"]
    if png is not None:
        parts.append(_img(png, "metered actuals"))
    parts.append(_table(df))
    return "\n".join(parts)


def plot_risk(risk: xr.Dataset) -> bytes:
    """PNG: per weather year, onsite PV, grid import and NPC (points) against the design year (dashed); red X: misses a milestone."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    labels = [str(w) for w in risk["weather_year"].values]
    ok = np.asarray(risk["feasible"].values).astype(bool)
    for ax, key, title in zip(axes, ["pv_onsite_mwh", "grid_import_mwh", "npc"],
                              ["PV used onsite [MWh/yr]", "grid import [MWh/yr]", f"NPC [M{risk.attrs.get('currency', '')}]"]):
        v = np.asarray(risk[key].values, dtype=float) / (1e6 if key == "npc" else 1.0)
        x = np.arange(len(labels))
        ax.scatter(x[ok], v[ok], color="#4c72b0", s=36, zorder=3, label="weather year")
        if (~ok).any():
            ax.scatter(x[~ok], v[~ok], color="#c44e52", marker="X", s=60, zorder=3, label="misses a milestone")
        ax.set_xticks(x, labels)
        d = f"design_{key}"
        if d in risk:
            ax.axhline(float(risk[d]) / (1e6 if key == "npc" else 1.0), color="k", ls="--", lw=1, label="design year")
            ax.legend(fontsize=8)
        lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
        pad = max((hi - lo) * 0.5, abs(hi) * 0.01)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.suptitle("The plan's fixed investments in other weather years (red X: misses a milestone)", fontsize=11)
    return _png(fig)


def _pillar_tables(plan: xr.Dataset) -> dict[str, pd.DataFrame]:
    """Certificate matching (annual against hourly), measures, batteries and demand peaks, when the plan has them."""
    out: dict[str, pd.DataFrame] = {}
    C = str(plan.attrs.get("currency", ""))
    years = plan["year"].values.astype(int)
    if "certificates_hourly_matching_mwh" in plan:
        m = pd.DataFrame({
            "year": years,
            "certificates_annual_matching_mwh": plan["certificates_annual_matching_mwh"].values,
            f"certificate_cost_annual_matching_{C}": plan["certificate_cost_annual_matching"].values,
            "certificates_hourly_matching_mwh": plan["certificates_hourly_matching_mwh"].values,
            f"certificate_cost_hourly_matching_{C}": plan["certificate_cost_hourly_matching"].values,
            "scope2_market_annual_tco2e": plan["scope2_market_tco2e"].sum("site").values,
            "scope2_market_same_certificates_hourly_tco2e": plan["scope2_market_hourly_matched_tco2e"].sum("site").values,
        })
        out["matching"] = m
    if "measure_adopted_fraction" in plan:
        f = plan["measure_adopted_fraction"]
        df = pd.DataFrame(f.values, columns=[str(y) for y in years])
        df.insert(0, "type", [str(t) for t in plan["measure_type"].values])
        df.insert(0, "site", [str(t) for t in plan["measure_site"].values])
        df.insert(0, "measure", [str(t) for t in plan["measure"].values])
        out["measures"] = df
    if "battery_energy_kwh" in plan:
        rows = []
        for k, b in enumerate(plan["battery"].values):
            for j, y in enumerate(years):
                rows.append({"battery_site": str(b), "year": int(y), "energy_kwh": float(plan["battery_energy_kwh"].values[k, j]),
                             "power_kw": float(plan["battery_power_kw"].values[k, j])})
        out["batteries"] = pd.DataFrame(rows)
    if "peak_import_kw" in plan:
        pk = plan["peak_import_kw"].max("month").to_dataframe(name="highest_monthly_peak_kw").reset_index()
        pk = pk[pk["highest_monthly_peak_kw"] > 0]
        pk[f"demand_cost_{C}"] = [float(plan["demand_cost"].sel(site=s, year=y)) for s, y in zip(pk["site"], pk["year"])]
        out["demand_peaks"] = pk
    return out


def _pillars_html(t: dict[str, pd.DataFrame]) -> str:
    parts = ["<h2>Efficiency, electrification, storage and certificate matching</h2>"]
    if "matching" in t:
        m = t["matching"]
        a, h = float(m.iloc[:, 1].sum()), float(m["certificates_hourly_matching_mwh"].sum())
        parts.append("<p>Certificates under annual matching (GHG Protocol Scope 2 Guidance, 2015: the plan) against hour-by-hour "
                     "matching (the 2025 consultation's proposal) for the same dispatch and the same claimed MWh: "
                     f"{a:,.0f} MWh against {h:,.0f} MWh over the plan years. The last column recounts the plan's own "
                     "certificates hour by hour.</p>")
        parts.append(_table(m))
    for key, title in (("measures", "Measures: share of full size in place"), ("batteries", "Batteries"), ("demand_peaks", "Demand-charge peaks")):
        if key in t:
            parts += [f"<h3>{title}</h3>", _table(t[key])]
    return "".join(parts) if len(parts) > 1 else ""


def png_fingerprint(path: Path) -> str:
    """Read the ``portfolio_fingerprint`` text chunk of a PNG written by pvopt (``""`` when absent)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return str(getattr(im, "text", {}).get(FINGERPRINT_ATTR, ""))
    except OSError:
        return ""


def _mismatch(name: str, got: str, want: str, command: str) -> str | None:
    """Why a run-folder artefact is left out, or ``None`` when its fingerprint is the plan's."""
    if got and got == want:
        return None
    why = ("it records no input fingerprint (written by an older pvopt)" if not got else
           f"it was computed from other inputs (fingerprint {got}) than this plan ({want or 'none recorded'})")
    return f"{name}: left out because {why}; run `{command}` again to include it"


def _optional(run: Path, plan: xr.Dataset) -> tuple[dict[str, pd.DataFrame], dict[str, bytes], list[str], dict[str, str]]:
    """Tables, figures and HTML sections from ``risk.nc`` and ``actuals.csv`` when present and from the plan's inputs.

    An artefact is included only when its ``portfolio_fingerprint`` equals the plan's; the
    fourth value maps each file left out to the reason.
    """
    tables: dict[str, pd.DataFrame] = {}
    figs: dict[str, bytes] = {}
    sections: list[str] = []
    left: dict[str, str] = {}
    want = str(plan.attrs.get(FINGERPRINT_ATTR, ""))
    if (run / "risk.nc").exists():
        from pvopt.studies.risk import risk_summary

        with xr.open_dataset(run / "risk.nc", engine="h5netcdf") as ds:
            risk = ds.load()
        why = _mismatch("risk.nc", str(risk.attrs.get(FINGERPRINT_ATTR, "")), want, f"pvopt risk PORTFOLIO --out {run.name} --force")
        if why:
            left["risk.nc"] = why
        else:
            summary = risk_summary(risk)
            figs["weather_risk"] = plot_risk(risk)
            tables["weather_risk"] = summary
            sections.append(_risk_html(risk, summary, figs["weather_risk"]))
    if (run / "actuals.csv").exists():
        df = pd.read_csv(run / "actuals.csv")
        fps = sorted({str(v) for v in df[FINGERPRINT_ATTR].dropna()}) if FINGERPRINT_ATTR in df else []
        why = _mismatch("actuals.csv", fps[0] if len(fps) == 1 else "", want, f"pvopt actuals PORTFOLIO METER --plan {run.name}/plan.nc")
        if why:
            left["actuals.csv"] = why
        else:
            png_path = run / "figures" / "actuals.png"
            png = None
            if png_path.exists():
                why_png = _mismatch("figures/actuals.png", png_fingerprint(png_path), want, f"pvopt actuals PORTFOLIO METER --plan {run.name}/plan.nc")
                if why_png:
                    left["figures/actuals.png"] = why_png
                else:
                    png = png_path.read_bytes()
            df = df.drop(columns=[FINGERPRINT_ATTR])
            tables["actuals"] = df
            sections.append(_actuals_html(df, png))
    return tables, figs, sections, left


def _left_out_html(left: dict[str, str]) -> str:
    if not left:
        return ""
    items = "".join(f"<li>{html.escape(why)}</li>" for why in left.values())
    return f"<h2>{LEFT_OUT_SECTION}</h2><p class='warn'>Files in the run folder not shown in this report:</p><ul>{items}</ul>"


LEFT_OUT_SECTION = "Left out of this report"
"""Heading of the section listing run-folder files left out (their inputs differ from the plan's)."""


def _weather_html(plan: xr.Dataset) -> str:
    """Write a note naming every site's weather source (from plan.nc's ``weather_sources_json`` and ``weather_statement``)."""
    import json

    from pvopt.pv.weather import weather_label

    try:
        sources = json.loads(str(plan.attrs.get("weather_sources_json", "") or "{}"))
    except ValueError:
        sources = {}
    items = "; ".join(f"{html.escape(str(k))}: {html.escape(weather_label(v.get('description', '')) or str(v.get('source', '')))}"
                      for k, v in sources.items())
    stmt = html.escape(str(plan.attrs.get("weather_statement", "") or ""))
    if not items and not stmt:
        return ""
    cls = "warn" if stmt.upper().startswith("SYNTHETIC") else "note"
    return f"<p class='{cls}'>Weather per site: {items or 'not recorded'}. {stmt}</p>"


def _kpis(items: list[tuple[str, str]]) -> str:
    return "<div class='kpis'>" + "".join(f"<div class='kpi'><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>" for k, v in items) + "</div>"


def _bau_module(plan: xr.Dataset) -> Any:
    """:mod:`pvopt.results.bau` when this pvopt has it and the plan carries the business-as-usual comparison, else ``None``."""
    try:
        from pvopt.results import bau
    except ImportError:  # pragma: no cover - pvopt without the business-as-usual layer
        return None
    return bau if bau.has_bau(plan) else None


def _planner_card(plan: xr.Dataset, t: dict[str, pd.DataFrame]) -> str:
    em = t["emissions"]
    last = em[em.site == accounting.ALL].iloc[-1]
    y1 = int(plan["year"].values[-1])
    gen = float(plan["pv_generated_mwh"].sum("site").values[-1])
    ms = t["milestones"]
    bl = t["build_list"]
    met = f"{int(ms['met'].sum())} of {len(ms)}" if len(ms) else "none set"
    kp = _kpis([("PV installed at the end [MWp]", f"{float(plan['installed_kwp'].isel(year=-1).sum()) / 1000:,.2f}"),
                ("new PV in the plan [MWp]", f"{float(plan['build_kwp'].sum()) / 1000:,.2f} on {bl['array'].nunique()} arrays"),
                (f"PV used onsite {y1} [MWh]", f"{float(last['pv_onsite_mwh']):,.0f}"),
                (f"share of PV used onsite {y1}", f"{float(last['pv_onsite_mwh']) / gen:.0%}" if gen > 0 else "–"),
                (f"share of load from onsite PV {y1}", f"{float(last['pv_onsite_mwh']) / max(float(last['load_mwh']), 1e-9):.0%}"),
                ("milestones met", met)])
    msc = ["milestone", "year", "target", "achieved", "margin", "margin_pct", "unit", "met"]
    ms = _share_as_pct(ms)
    return ("<section class='card'><h3>For planners: what to build, where, when</h3>" + kp +
            "<h4>Milestones: met, with their margins</h4>" +
            (_table(ms[msc], currency=_cur(plan), failed=~ms["met"].astype(bool).values) if len(ms) else "<p>No milestones.</p>") +
            "</section>")


def _share_as_pct(ms: pd.DataFrame) -> pd.DataFrame:
    """Milestones whose unit is a share, in percent (so that one number format fits the column)."""
    ms = ms.copy()
    share = ms["unit"].astype(str) == "share"
    for c in ("target", "achieved", "margin"):
        ms[c] = ms[c].astype(float).where(~share, ms[c].astype(float) * 100.0)
    ms["unit"] = ms["unit"].astype(str).where(~share, "% (share)")
    return ms


def _cur(plan: xr.Dataset) -> str:
    return str(plan.attrs.get("currency", ""))


def _finance_card(plan: xr.Dataset, t: dict[str, pd.DataFrame], figs: dict[str, str]) -> str:
    C = _cur(plan)
    h = _headline(plan, t["finance_arrays"])
    fs = t["finance_sites"]
    items = [(f"net present cost of the plan [M{C}]", f"{float(plan['npc']) / 1e6:,.1f}")]
    bau = _bau_module(plan)
    parts = []
    if bau is not None:
        items += _bau_kpis(plan, bau)
        parts.append(figs.get("cashflow", ""))
        split = bau.saving_split(plan).reset_index(drop=True)
        parts.append("<h4>NPC saving against business-as-usual, by cost group (present value; positive: the plan costs less)</h4>" +
                     _table(split.rename(columns={"label": "cost_group"}), currency=C))
    else:
        parts.append("<p class='note'>This plan.nc carries no business-as-usual comparison, so savings, cash flow and payback "
                     "against it are not shown; plan again with a pvopt that solves it.</p>")
    if not fs.empty:
        p = fs[fs.site == accounting.ALL].iloc[0]
        items += [("built PV: IRR", f"{float(p['irr_pct']):,.1f} %"), ("built PV: simple payback", f"{float(p['payback_years']):,.1f} yr")]
    if "n_pv_cheaper" in h:
        items.append(("arrays where PV beats certificates", f"{h['n_pv_cheaper']} of {h['n_arrays']}"))
    items.append((f"certificates, all years [M{C}]", f"{float(plan['certificate_cost'].sum()) / 1e6:,.2f}"))
    ans = (f"<p>PV beats certificates on {h['n_pv_cheaper']} of {h['n_arrays']} built arrays: break-even certificate prices "
           f"{h['be_min']:,.0f} to {h['be_max']:,.0f} {html.escape(C)}/MWh against {h['reference_certificate_price']:,.2f} {html.escape(C)}/MWh "
           "paid on average (see <a href='#answer'>PV or certificates</a>).</p>") if "n_pv_cheaper" in h else ""
    return ("<section class='card'><h3>For finance: cost, savings, payback</h3>" + _kpis(items) + "".join(parts) + ans + "</section>")


def _bau_kpis(plan: xr.Dataset, bau: Any) -> list[tuple[str, str]]:
    """Key figures of the plan against business-as-usual (:func:`pvopt.results.bau.headline`)."""
    C = _cur(plan)
    cur = C.lower()
    hd = bau.headline(plan)
    years = plan["year"].values.astype(int)
    pb = hd.get("payback_year", float("nan"))
    return [(f"business-as-usual NPC [M{C}]", f"{hd[f'bau_npc_{cur}'] / 1e6:,.1f}"),
            (f"NPC saving against business-as-usual [M{C}]", f"{hd[f'npc_saving_{cur}'] / 1e6:,.1f} ({hd['npc_saving_pct']:.1f} %)"),
            (f"bill saving in {years[0]} [M{C}]", f"{hd[f'year1_bill_saving_{cur}'] / 1e6:,.2f}"),
            ("payback (cumulative saving ≥ 0 from)", f"{int(pb)}" if pb == pb else "not within the horizon"),
            (f"emissions cut {years[-1]} [tCO2e]", f"{hd[f'emissions_cut_{years[-1]}_tco2e']:,.0f}")]


BAU_SECTION = "Business-as-usual against the plan"
"""Heading of the section comparing the plan with business-as-usual (when the plan carries it)."""


def _bau_html(bt: dict[str, pd.DataFrame], currency: str) -> str:
    return (f"<h2>{BAU_SECTION}</h2><p class='note'>Business-as-usual: the same portfolio with nothing new (no new PV, measures, "
            "batteries, certificates or offsets; existing PV keeps working; milestones reported, not enforced). Savings are "
            "business-as-usual minus plan: positive means the plan costs less. Per year, undiscounted.</p>" +
            _table(bt["business_as_usual"], currency=currency) +
            "<h3>NPC saving by cost category (present value)</h3>" + _table(bt["npc_saving_split"], currency=currency))


def _glance_html(plan: xr.Dataset, t: dict[str, pd.DataFrame], figs: dict[str, str]) -> str:
    bl = t["build_list"]
    cols = [c for c in ["year", "array", "kind", "new_kwp", f"capex_{_cur(plan).lower()}", "annual_yield_mwh", "onsite_share_pct", "why", "partial"]
            if c in bl.columns]
    build = ("<h3>Build list: new PV per array and year, and why (existing PV not listed)</h3>" +
             (_table(bl[cols], currency=_cur(plan)) if len(bl) else "<p>The plan builds no new PV.</p>"))
    return f"<h2>{SECTIONS[0]}</h2><div class='glance'>{_planner_card(plan, t)}{_finance_card(plan, t, figs)}</div>{build}"


def _yield_html(t: dict[str, pd.DataFrame], figs: dict[str, str], has_poa: bool) -> str:
    m = t["monthly_yield"]
    parts = [f"<h2>{SECTIONS[3]}</h2>", figs["monthly_yield"]]
    parts.append("<p class='note'>As PVWatts reports them: plane-of-array irradiance [kWh/m²/day], AC energy and specific yield "
                 "[kWh AC per kWp DC] per month, before degradation; AC energy at the capacity installed in the last plan year. "
                 "Performance ratio = specific yield / annual plane-of-array irradiance (kWh/kWp per kWh/m²).</p>")
    if not has_poa:
        parts.append("<p class='note'>Plane-of-array irradiance: not in this run folder's yield.nc (written by an older pvopt, or "
                     "absent); delete yield.nc and plan again to include it.</p>")
    parts.append(_table(t["annual_yield"]))
    for col, title in (("specific_yield_kwh_per_kwp", "Specific yield per month [kWh/kWp]"), ("ac_energy_mwh", "AC energy per month [MWh]"),
                       ("poa_kwh_per_m2_day", "Plane-of-array irradiance per month [kWh/m²/day]")):
        if col == "poa_kwh_per_m2_day" and not has_poa:
            continue
        pv = m.pivot_table(index="month_name", columns="array", values=col, sort=False).T.reset_index()
        parts.append(f"<details><summary>{title}</summary>{_table(pv)}</details>")
    return "".join(parts)


def _html(plan: xr.Dataset, t: dict[str, pd.DataFrame], figs: dict[str, str], extra_sections: list[str] | None = None) -> str:
    C = _cur(plan)
    name = html.escape(str(plan.attrs.get("portfolio_name", "")))
    em = t["emissions"]
    em_all = em[em.site == accounting.ALL][["year", "load_mwh", "pv_onsite_mwh", "grid_import_mwh", "certificates_mwh", "scope1_tco2e",
                                            "scope2_location_tco2e", "scope2_market_tco2e", "offsets_tco2e", "net_tco2e",
                                            "gross_location_change_vs_baseline_pct", "gross_market_change_vs_baseline_pct"]]
    costs = t["costs"]
    _, _, week_note = dispatch_choice(plan)
    has_poa = bool(t["monthly_yield"]["poa_kwh_per_m2_day"].notna().any())
    cap = t["capacity"].pivot_table(index=["array", "kind"], columns="year", values="installed_kwp").reset_index()
    prices = _by_year_rows(t["inputs_prices"], C)
    s = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"
         f"<title>pvopt plan report: {name}</title><style>{CSS}</style></head><body>",
         f"<h1>Plan report: {name}</h1>",
         f"<p class='note'>Plan years {int(plan['year'].values[0])}–{int(plan['year'].values[-1])}; currency {html.escape(C)}; "
         f"discount rate {float(plan.attrs['discount_rate']):.1%}; PV life {float(plan.attrs['lifetime_years']):.0f} yr; "
         f"solver {html.escape(str(plan.attrs.get('solver', '')))}, status {html.escape(str(plan.attrs.get('solver_status', '')))}. "
         "Charts: hover for values, drag to zoom, double-click to reset. Every table is also a sheet of report.xlsx.</p>",
         _weather_html(plan), _glance_html(plan, t, figs),
         f"<h2 id='answer'>{SECTIONS[1]}</h2>", _answer_html(plan, t), _table(t["summary"], currency=C),
         f"<h2>{SECTIONS[2]}</h2>", figs["buildout"], "<h3>Build list</h3>", _table(t["build_list"], currency=C),
         "<h3>Installed PV per array and year [kWp]</h3>", _table(cap, key=2),
         _yield_html(t, figs, has_poa),
         f"<h2>{SECTIONS[4]}</h2>", figs["emissions"],
         "<p class='note'>GHG Protocol dual Scope 2 reporting. Location-based = grid MWh × grid factor; market-based = "
         "(grid MWh − certificate MWh) × residual factor; onsite PV reduces the grid MWh and is not counted again.</p>",
         _table(em_all, currency=C),
         f"<h2>{SECTIONS[5]}</h2>", f"<p class='note'>{html.escape(week_note)}</p>", figs["dispatch_week"],
         f"<h2>{SECTIONS[6]}</h2>",
         "<p class='note'>Per array: cost (LCOE) against the value of the PV actually used onsite at the hourly tariff; "
         "abatement cost per tCO2e of market-based Scope 2 avoided; break-even certificate price per MWh.</p>",
         _table(t["finance_arrays"], currency=C), "<h3>Per site and portfolio (PV built in the plan)</h3>", _table(t["finance_sites"], currency=C),
         f"<h2>{SECTIONS[7]}</h2>", figs["macc"], _macc_note(), _table(_macc_display(t["macc"], plan), currency=C),
         f"<h2>{SECTIONS[8]}</h2>", figs["costs"], _table(costs[costs.site == accounting.ALL], currency=C),
         f"<h2>{SECTIONS[9]}</h2>", figs["milestones"], _table(_share_as_pct(t["milestones"]), currency=C),
         f"<h2>{SECTIONS[10]}</h2>", "<p class='note'>One row per price or factor, one column per year.</p>", _table(prices, currency=C),
         f"<h2>{SECTIONS[11]}</h2>", _checks_html(t["checks"]),
         *(extra_sections or []),
         f"<h2>{SECTIONS[12]}</h2>",
         "<p class='note'>Definitions, conventions and sources: docs/accounting.md in the pvopt repository. "
         "Attribution: each hour a site's onsite PV is shared among its arrays by their generation that hour. "
         "Money flows in the build year are undiscounted as in the optimiser; beyond the horizon the last year's value per kWh "
         "is held and output falls with degradation.</p>",
         "</body></html>"]
    return "\n".join(s)


def _macc_display(macc: pd.DataFrame, plan: xr.Dataset) -> pd.DataFrame:
    """Tabulate the MACC as drawn: each option's cost, its potential and the annualised width of its bar."""
    C = _cur(plan)
    bars = macc_bars(macc, C, plan).set_index("option")
    out = macc[["option", "type", "used_in_plan", f"cost_{C.lower()}_per_tco2e", "abated_tco2e_per_year"]].rename(
        columns={"abated_tco2e_per_year": "potential_tco2e_per_year"})
    out["bar_width_tco2e_per_year"] = out["option"].map(bars["width_tco2e_per_year"])
    out["clipped_on_the_chart"] = out["option"].map(bars["clipped"]).fillna(False).astype(bool)
    return out


def _macc_note() -> str:
    return ("<p class='note'>Bar width: tonnes a year, averaged over the plan years. PV arrays and measures: what they avoid a year "
            "(measures at full size). Certificates and offsets: what the plan abates with them over all plan years divided by the "
            "number of years, so a purchase made in one year (e.g. I-REC in the first year only) counts once, not every year; an "
            "instrument the plan does not use is drawn at what is still left to abate. Costs far outside the other options' range are "
            "clipped to the axis, hatched and labelled with their true value. Hover a bar for its figures. The table gives each "
            "option's potential (alternatives for the same tonnes, so they do not add up) beside the width drawn.</p>")


def _interactive(plan: xr.Dataset, t: dict[str, pd.DataFrame]) -> dict[str, str]:
    """HTML fragments of the interactive charts (plotly.js inlined in the first one only)."""
    from pvopt.report import interactive as I

    C = _cur(plan)
    j, h0, _ = dispatch_choice(plan)
    year = int(plan["year"].values[j])
    em = accounting.emissions_dataset(plan).sum("site")
    base = float(accounting.baseline_table(plan).set_index("site").loc[accounting.ALL]["gross_location_tco2e"])
    figs: dict[str, Any] = {}
    bau = _bau_module(plan)
    if bau is not None:
        yt = bau.bau_years_table(plan).reset_index()
        cur = C.lower()
        figs["cashflow"] = I.fig_cashflow(pd.DataFrame({"year": yt["year"], "saving": yt[f"cost_saving_{cur}"],
                                                        "cumulative": yt[f"cumulative_saving_{cur}"]}), C)
    figs["buildout"] = I.fig_buildout(plan)
    figs["monthly_yield"] = I.fig_monthly_yield(t["monthly_yield"])
    figs["emissions"] = I.fig_emissions(plan, em, base, _milestone_years(plan))
    figs["dispatch_week"] = I.fig_dispatch(plan, j, h0, _load_kw(plan).astype(float), f"Hourly dispatch per site, week from {plan_dates(year)[h0 // 24]:%a %d %b %Y}",
                                           plan_dates(year)[h0 // 24])
    figs["macc"] = I.fig_macc(macc_bars(t["macc"], C, plan), C)
    figs["costs"] = I.fig_costs(cost_stack(plan), C)
    figs["milestones"] = I.fig_milestones(t["milestones"], C)
    return {k: I.fig_html(f, first=n == 0, div_id=f"fig-{k}") for n, (k, f) in enumerate(figs.items())}


def write_report(run_dir: str | Path, *, plan: xr.Dataset | None = None) -> ReportFiles:
    """Write ``report.html``, ``report.xlsx`` and ``figures/*.png`` into ``run_dir``.

    Parameters
    ----------
    run_dir
        Directory holding ``plan.nc`` (from ``pvopt plan``); outputs go there.
    plan
        The plan Dataset, if already in memory (then ``plan.nc`` is not read).

    Returns
    -------
    ReportFiles
        Paths of the files written.

    Notes
    -----
    Optional sections: when ``run_dir/risk.nc`` (``pvopt risk``) exists, a
    "Weather risk" section, sheet ``weather_risk`` and ``figures/weather_risk.png``;
    when ``run_dir/actuals.csv`` (``pvopt actuals``) exists, a "Metered actuals"
    section (with ``figures/actuals.png``) and sheet ``actuals``. Each is included
    only when its ``portfolio_fingerprint`` equals the plan's (it came from the same
    inputs); otherwise a section "Left out of this report" says which file was left
    out and why (also in ``ReportFiles.left_out``).

    Examples
    --------
    >>> from pvopt.report.report import write_report  # doctest: +SKIP
    >>> write_report("out/lead").html  # doctest: +SKIP
    PosixPath('out/lead/report.html')
    """
    run = Path(run_dir)
    if plan is None:
        path = run / "plan.nc"
        if not path.exists():
            from pvopt.errors import PvoptError

            raise PvoptError(f"{path} not found; run `pvopt plan PORTFOLIO --out {run}` first")
        plan = load_plan(path)
    if "pv_onsite_kw" not in plan:
        from pvopt.errors import PvoptError

        raise PvoptError("the plan has no hourly dispatch (solved with --no-hourly); re-run `pvopt plan` without it for a report")
    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    tables = report_tables(plan, _run_yields(run, plan))
    C = str(plan.attrs.get("currency", ""))
    seconds["tables"] = time.perf_counter() - t0
    figs = {
        "buildout": plot_buildout(plan),
        "emissions": plot_emissions(plan),
        "dispatch_week": plot_dispatch(plan),
        "macc": plot_macc(tables["macc"], C, plan),
        "costs": plot_costs(plan),
        "milestones": plot_milestones(tables["milestones"], C),
    }
    seconds["png"] = time.perf_counter() - t0 - seconds["tables"]
    opt_tables, opt_figs, opt_sections, left_out = _extras(run, plan)
    fig_paths = {}
    for k, png in {**figs, **opt_figs}.items():
        p = run / "figures" / f"{k}.png"
        _atomic_bytes(png, p)
        fig_paths[k] = p
    if (run / "figures" / "actuals.png").exists() and "actuals" in opt_tables and "figures/actuals.png" not in left_out:
        fig_paths["actuals"] = run / "figures" / "actuals.png"
    t = time.perf_counter()
    _atomic_bytes(workbook_bytes({**tables, **opt_tables}, [*SHEETS, *opt_tables], C), run / "report.xlsx")
    seconds["xlsx"] = time.perf_counter() - t
    t = time.perf_counter()
    _atomic_bytes(_html(plan, tables, _interactive(plan, tables), opt_sections).encode("utf-8"), run / "report.html")
    seconds["html"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    return ReportFiles(run / "report.html", run / "report.xlsx", fig_paths, left_out, seconds)


def _extras(run: Path, plan: xr.Dataset) -> tuple[dict[str, pd.DataFrame], dict[str, bytes], list[str], dict[str, str]]:
    """Tables, figures and sections beyond the standard ones: business-as-usual, pillars, risk, actuals, files left out."""
    opt_tables, opt_figs, opt_sections, left_out = _optional(run, plan)
    if left_out:
        opt_sections = [*opt_sections, _left_out_html(left_out)]
    pillars = _pillar_tables(plan)
    if pillars:
        opt_tables = {**pillars, **opt_tables}
        opt_sections = [_pillars_html(pillars), *opt_sections]
    bau = _bau_module(plan)
    if bau is not None:
        bt = {"business_as_usual": bau.bau_years_table(plan).reset_index(), "npc_saving_split": bau.saving_split(plan, by="category").reset_index()}
        opt_tables = {**bt, **opt_tables}
        opt_sections = [_bau_html(bt, _cur(plan)), *opt_sections]
    return opt_tables, opt_figs, opt_sections, left_out


def _run_yields(run: Path, plan: xr.Dataset) -> xr.Dataset | None:
    """Return the run folder's ``yield.nc`` when it holds the plan's arrays with the plan's annual yield (else ``None``)."""
    path = run / "yield.nc"
    if not path.exists():
        return None
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            y = ds[[v for v in ("annual_kwh_per_kwp", "poa_kwh_per_m2_month") if v in ds]].load()
    except (OSError, ValueError, KeyError):
        return None
    names = [str(a) for a in y["array"].values]
    prof = [str(p) for p in plan["profile"].values]
    annual = plan["yield_kw_per_kwp"].values.astype(float).sum(axis=1)
    for a, p in zip((str(x) for x in plan["array"].values), (str(x) for x in plan["array_profile"].values)):
        if a not in names or not np.isclose(float(y["annual_kwh_per_kwp"].values[names.index(a)]), annual[prof.index(p)], rtol=1e-3):
            return None
    return y


def plot_actuals(daily: pd.DataFrame, *, fingerprint: str = "") -> bytes:
    """PNG: metered and expected PV per day and site (top), daily performance index vs plan [%] (bottom).

    ``daily`` is :func:`compare_actuals` with ``freq="day"``; ``fingerprint`` (the plan's
    ``portfolio_fingerprint``) is stored as the PNG text ``portfolio_fingerprint``.
    """
    plt = _pyplot()
    d = daily[daily["site"] != "ALL"]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (site, g) in enumerate(d.groupby("site", sort=True)):
        c = colors[k % len(colors)]
        x = pd.to_datetime(g["date"])
        ax1.plot(x, g["expected_pv_mwh"], color=c, ls="--", lw=1.2, label=f"{site} expected (plan)")
        ax1.plot(x, g["metered_pv_mwh"], color=c, ls="-", lw=1.6, label=f"{site} metered")
        ax2.plot(x, g["performance_index_pct"], color=c, marker="o", ms=3, lw=1, label=site)
    ax1.set_ylabel("PV per day [MWh]")
    ax1.set_title("Metered PV against the plan's expectation")
    ax1.legend(fontsize=8, ncol=2)
    ax2.axhline(100.0, color="grey", lw=0.8)
    ax2.set_ylabel("performance index vs plan [%]")
    ax2.legend(fontsize=8)
    fig.autofmt_xdate()
    return _png(fig, {FINGERPRINT_ATTR: fingerprint} if fingerprint else None)
