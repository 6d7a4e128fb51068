"""Finance report of a plan: one self-contained HTML page, one Excel workbook, PNG figures.

:func:`write_report` reads ``RUN_DIR/plan.nc`` and writes

- ``RUN_DIR/report.html``: every plot embedded as a base64 PNG, every table
  as HTML; opens offline, can be mailed as one file;
- ``RUN_DIR/report.xlsx``: one sheet per table (see :data:`SHEETS`), plain
  numbers with the unit in each column name, so finance can check sums;
- ``RUN_DIR/figures/*.png``: the same plots as files.

Every file is written to a temporary file first and moved into place when
complete. Reads only the plan Dataset (no pvlib, no Pyomo).
"""

from __future__ import annotations

import base64
import html
import io
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

__all__ = ["write_report", "ReportFiles", "report_tables", "SHEETS", "FIGURES", "load_plan", "plot_macc"]

SHEETS = ["summary", "capacity", "emissions", "finance_arrays", "finance_sites", "macc", "milestones", "costs",
          "inputs_prices", "checks"]
"""Sheets of ``report.xlsx``, in order."""
FIGURES = ["buildout", "emissions", "dispatch_week", "macc", "costs", "milestones"]
"""PNG files written under ``figures/`` (``<name>.png``)."""
SECTIONS = ["Answer: PV or certificates?", "Build-out", "Emissions", "Hourly dispatch", "PV against certificates",
            "Marginal abatement cost curve", "Costs", "Milestones", "Input prices", "Checks", "Method"]
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
    if "milestone" not in plan.dims:
        return pd.DataFrame(columns=["milestone", "type", "year", "target", "achieved", "unit", "met", "marginal_cost"])
    cur = finance.currency_code(plan)
    d = {"milestone": [str(m) for m in plan["milestone"].values],
         "type": [str(t) for t in plan["milestone_type"].values],
         "year": plan["milestone_year"].values.astype(int),
         "target": plan["milestone_target"].values, "achieved": plan["milestone_achieved"].values,
         "unit": [str(u) for u in plan["milestone_unit"].values],
         "met": np.asarray(plan["milestone_met"].values).astype(bool),
         f"marginal_cost_{cur}_npv_per_unit": plan["milestone_marginal_cost"].values}
    if "milestone_cost_vs_without" in plan:
        d[f"cost_vs_without_{cur}_npv"] = plan["milestone_cost_vs_without"].values
    return pd.DataFrame(d)


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


def report_tables(plan: xr.Dataset) -> dict[str, pd.DataFrame]:
    """All report tables, keyed by sheet name (:data:`SHEETS`)."""
    em = accounting.emissions_table(plan)
    fa = finance.finance_arrays(plan)
    fs = finance.finance_sites(plan)
    chk = accounting.checks_table(plan)
    ident = accounting.identities(plan)
    checks = pd.concat([chk.assign(kind="check"),
                        ident.rename(columns={"identity": "check", "max_abs_residual": "value"}).assign(kind="identity")],
                       ignore_index=True)
    return {
        "summary": _summary(plan, fa, fs, em),
        "capacity": _capacity(plan),
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


def dispatch_week(plan: xr.Dataset) -> tuple[int, int]:
    """``(year index, first hour)`` of the shown week: the plan year with the most PV, the April week with the most surplus PV.

    Among 7-day windows starting on an April day, the one whose weekend
    hours have the largest PV surplus over load (summed over sites); ties
    and zero surplus fall back to the week with the most PV generation.
    """
    gen = plan["pv_generated_kw"].values.astype(float)
    load = _load_kw(plan)
    j = int(np.argmax(gen.sum(axis=(0, 2))))
    g, l_ = gen[:, j].sum(axis=0), load[:, j].sum(axis=0)
    sur = np.clip(gen[:, j] - load[:, j], 0, None).sum(axis=0)
    best, key = 90 * 24, (-1.0, -1.0)
    for d in range(90, 120):  # Apr 1 .. Apr 30 (day 90 = Apr 1 in a 365-day year)
        h0 = d * 24
        wk = slice(h0, h0 + 168)
        daily = sur[wk].reshape(7, 24).sum(axis=1)
        dl = l_[wk].reshape(7, 24).sum(axis=1)
        weekend = np.argsort(dl)[:2]  # the two lowest-load days are the weekend
        k_ = (float(daily[weekend].sum()), float(g[wk].sum()))
        if k_ > key:
            best, key = h0, k_
    return j, best


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
    # hour index: 8760 h, Feb 29 dropped, so dates come from a 365-day year; weekdays from the plan year itself
    days = [pd.Timestamp(year=2023, month=1, day=1) + pd.Timedelta(days=h0 // 24 + k) for k in range(7)]
    days = [pd.Timestamp(year=year, month=d.month, day=d.day) for d in days]
    axes[-1, 0].set_xticks(np.arange(7) + 0.5)
    axes[-1, 0].set_xticklabels([f"{d:%a %d %b}" for d in days], fontsize=8)
    axes[0, 0].set_title(f"Hourly dispatch, week from {days[0]:%a %d %b} {year} (local time, hour-beginning)")
    axes[0, 0].legend(fontsize=8, ncol=5, loc="upper left", bbox_to_anchor=(0, 1.45 if len(sites) > 1 else 1.3))
    return _png(fig)


def _macc_bars(ax, macc: pd.DataFrame, col: str, *, label_min_share: float) -> None:
    colors = {"pv": "#2ca02c", "certificate": "#1f77b4", "offset": "#9467bd", "efficiency": "#ff7f0e", "electrification": "#d62728"}
    total = max(float(macc["abated_tco2e_per_year"].sum()), 1e-9)
    x = 0.0
    for _, r in macc.iterrows():
        w = float(r["abated_tco2e_per_year"]) / 1000.0
        v = float(r[col])
        ax.bar(x, v, width=w, align="edge", color=colors.get(r["type"], "grey"), edgecolor="black", linewidth=0.4,
               alpha=1.0 if r["used_in_plan"] else 0.45)
        if w * 1000.0 / total >= label_min_share:
            lab = f" {str(r['option']).replace('PV ', '')} ({v:,.0f}) "
            if v >= 0:
                ax.text(x + w / 2, v, lab, rotation=90, fontsize=7, ha="center", va="bottom")
            else:  # inside the bar, from the zero line down
                ax.text(x + w / 2, 0, lab, rotation=90, fontsize=7, ha="center", va="top", color="white")
        x += w
    ax.axhline(0, color="black", lw=0.8)
    lo, hi = float(macc[col].min()), float(macc[col].max())
    span = max(hi - lo, 1.0)
    ax.set_ylim(min(lo, 0) - 0.1 * span, max(hi, 0) + 0.45 * span)
    ax.grid(axis="y", alpha=0.3)


def plot_macc(macc: pd.DataFrame, currency: str) -> bytes:
    """Marginal abatement cost curve: bar width = tCO2e/yr, height = cost per tCO2e, sorted; lower panel: PV arrays alone."""
    plt = _pyplot()
    col = f"cost_{currency.lower()}_per_tco2e"
    pv = macc[macc["type"] == "pv"]
    n = 2 if len(pv) else 1
    fig, axes = plt.subplots(n, 1, figsize=(11, 5.2 * n), squeeze=False)
    ax = axes[0, 0]
    _macc_bars(ax, macc, col, label_min_share=0.02)
    colors = {"PV array": "#2ca02c", "certificates": "#1f77b4", "offsets": "#9467bd", "efficiency": "#ff7f0e", "electrification": "#d62728"}
    ax.legend([plt.Rectangle((0, 0), 1, 1, color=v) for v in colors.values()], list(colors), fontsize=8, loc="lower right")
    if len(pv):
        x_pv = float(pv["abated_tco2e_per_year"].sum()) / 1000.0
        c = pv[col]
        ax.annotate(f"{len(pv)} PV options, {x_pv:,.1f} ktCO2e/yr,\n{c.min():,.0f} to {c.max():,.0f} {currency}/t (zoom below)",
                    xy=(x_pv / 2, float(c.min())), xytext=(x_pv + 0.05 * float(macc['abated_tco2e_per_year'].sum()) / 1000, float(c.min())),
                    fontsize=8, va="center", arrowprops={"arrowstyle": "->", "lw": 0.6})
    ax.set_xlabel("abatement [ktCO2e/yr]  (options are alternatives for the same tonnes; pale: not used in the plan)")
    ax.set_ylabel(f"cost [{currency}/tCO2e]  (negative: saves money)")
    ax.set_title("Marginal abatement cost curve: PV arrays, measures, certificates, offsets")
    if len(pv):
        ax2 = axes[1, 0]
        _macc_bars(ax2, pv.reset_index(drop=True), col, label_min_share=0.0)
        ax2.set_xlabel("abatement [ktCO2e/yr], PV arrays only (market-based Scope 2 avoided, mean over the plan years)")
        ax2.set_ylabel(f"cost [{currency}/tCO2e]")
        ax2.set_title("PV arrays (zoom)")
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
    """Marginal cost of each milestone (|dual|: NPC change per unit of tightening), met or not."""
    plt = _pyplot()
    cur = currency.lower()
    col = f"marginal_cost_{cur}_npv_per_unit"
    fig, ax = plt.subplots(figsize=(10, 0.45 * max(len(ms), 2) + 1.2))
    if ms.empty:
        ax.text(0.5, 0.5, "no milestones", ha="center")
    else:
        v = ms[col].fillna(0.0).values
        colors = ["#2ca02c" if m else "#d62728" for m in ms["met"]]
        ax.barh(np.arange(len(ms)), v, color=colors)
        ax.set_yticks(np.arange(len(ms)))
        ax.set_yticklabels([f"{m} ({y})" for m, y in zip(ms["milestone"], ms["year"])], fontsize=8)
        for k, (val, unit) in enumerate(zip(v, ms["unit"])):
            ax.text(val, k, f" {val:,.1f} {currency} per {str(unit).split(' ')[0]}", va="center", fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, max(float(v.max()), 1.0) * 1.5)
    ax.set_xlabel(f"marginal cost [{currency} NPV per unit of the milestone's target] (green: met)")
    ax.set_title("Milestone costs (shadow prices; units differ by milestone)")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


# --------------------------------------------------------------------------- #
# html and xlsx
# --------------------------------------------------------------------------- #
CSS = """body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;max-width:1250px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:12px;margin:.6em 0}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%}
.answer{background:#f4f9f4;border-left:4px solid #2ca02c;padding:.6em 1em}.note{color:#555;font-size:.9em}
.scroll{overflow-x:auto}tr.fail td{color:#b00000;background:#fde8e8;font-weight:bold}
.warn{background:#fde8e8;border-left:4px solid #b00000;padding:.6em 1em}"""


def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return "–"
        a = abs(float(v))
        return f"{v:,.0f}" if a >= 1000 else (f"{v:,.1f}" if a >= 10 else f"{v:,.3f}")
    return html.escape(str(v))


def _table(df: pd.DataFrame, *, max_rows: int = 400, failed: Any = None) -> str:
    """HTML table; rows where ``failed`` (a boolean sequence) is true are marked ``class='fail'`` (red)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    bad = np.zeros(len(df), dtype=bool) if failed is None else np.asarray(failed, dtype=bool)
    body = "".join(("<tr class='fail'>" if b else "<tr>") + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>"
                   for row, b in zip(df.head(max_rows).itertuples(index=False), bad))
    more = f"<p class='note'>{len(df) - max_rows} more rows in the workbook.</p>" if len(df) > max_rows else ""
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{more}"


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


def _html(plan: xr.Dataset, t: dict[str, pd.DataFrame], figs: dict[str, bytes], extra_sections: list[str] | None = None) -> str:
    C = str(plan.attrs.get("currency", ""))
    name = html.escape(str(plan.attrs.get("portfolio_name", "")))
    em = t["emissions"]
    em_all = em[em.site == accounting.ALL][["year", "load_mwh", "pv_onsite_mwh", "grid_import_mwh", "certificates_mwh", "scope1_tco2e",
                                            "scope2_location_tco2e", "scope2_market_tco2e", "offsets_tco2e", "net_tco2e",
                                            "gross_location_change_vs_baseline_pct", "gross_market_change_vs_baseline_pct"]]
    costs = t["costs"]
    j, h0 = dispatch_week(plan)
    s = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>pvopt report: {name}</title><style>{CSS}</style></head><body>",
         f"<h1>pvopt finance report: {name}</h1>",
         f"<p class='note'>Plan years {int(plan['year'].values[0])}–{int(plan['year'].values[-1])}; currency {html.escape(C)}; "
         f"discount rate {float(plan.attrs['discount_rate']):.1%}; PV life {float(plan.attrs['lifetime_years']):.0f} yr; "
         f"solver {html.escape(str(plan.attrs.get('solver', '')))}, status {html.escape(str(plan.attrs.get('solver_status', '')))}. "
         "Every table is also a sheet of report.xlsx.</p>",
         _weather_html(plan),
         f"<h2>{SECTIONS[0]}</h2>", _answer_html(plan, t), _table(t["summary"]),
         f"<h2>{SECTIONS[1]}</h2>", _img(figs["buildout"], "build-out"),
         _table(t["capacity"].pivot_table(index=["array", "kind"], columns="year", values="installed_kwp").reset_index()),
         f"<h2>{SECTIONS[2]}</h2>", _img(figs["emissions"], "emissions"),
         "<p class='note'>GHG Protocol dual Scope 2 reporting. Location-based = grid MWh × grid factor; market-based = "
         "(grid MWh − certificate MWh) × residual factor; onsite PV reduces the grid MWh and is not counted again.</p>",
         _table(em_all),
         f"<h2>{SECTIONS[3]}</h2>", _img(figs["dispatch_week"], "dispatch week"),
         f"<p class='note'>Year {int(plan['year'].values[j])}, the April week whose weekend has the largest PV surplus over load.</p>",
         f"<h2>{SECTIONS[4]}</h2>",
         "<p class='note'>Per array: cost (LCOE) against the value of the PV actually used onsite at the hourly tariff; "
         "abatement cost per tCO2e of market-based Scope 2 avoided; break-even certificate price per MWh.</p>",
         _table(t["finance_arrays"]), "<h3>Per site and portfolio (PV built in the plan)</h3>", _table(t["finance_sites"]),
         f"<h2>{SECTIONS[5]}</h2>", _img(figs["macc"], "MACC"), _table(t["macc"]),
         f"<h2>{SECTIONS[6]}</h2>", _img(figs["costs"], "costs"), _table(costs[costs.site == accounting.ALL]),
         f"<h2>{SECTIONS[7]}</h2>", _img(figs["milestones"], "milestone costs"), _table(t["milestones"]),
         f"<h2>{SECTIONS[8]}</h2>", _table(t["inputs_prices"]),
         f"<h2>{SECTIONS[9]}</h2>", _checks_html(t["checks"]),
         *(extra_sections or []),
         f"<h2>{SECTIONS[10]}</h2>",
         "<p class='note'>Definitions, conventions and sources: docs/accounting.md in the pvopt repository. "
         "Attribution: each hour a site's onsite PV is shared among its arrays by their generation that hour. "
         "Money flows in the build year are undiscounted as in the optimiser; beyond the horizon the last year's value per kWh "
         "is held and output falls with degradation.</p>",
         "</body></html>"]
    return "\n".join(s)


def _xlsx(tables: dict[str, pd.DataFrame], extra: list[str] | None = None) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        for name in [*SHEETS, *(extra or [])]:
            df = tables[name].copy()
            for c in df.columns:
                if df[c].dtype == object:
                    df[c] = df[c].map(lambda v: v if isinstance(v, (int, float, str, bool, np.number, np.bool_)) or v is None else str(v))
            df.to_excel(xw, sheet_name=name, index=False)
            ws = xw.sheets[name]
            ws.freeze_panes = "A2"
            for k, col in enumerate(df.columns, start=1):
                ws.column_dimensions[ws.cell(row=1, column=k).column_letter].width = min(max(len(str(col)) + 2, 10), 45)
    return buf.getvalue()


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
    tables = report_tables(plan)
    C = str(plan.attrs.get("currency", ""))
    figs = {
        "buildout": plot_buildout(plan),
        "emissions": plot_emissions(plan),
        "dispatch_week": plot_dispatch(plan),
        "macc": plot_macc(tables["macc"], C),
        "costs": plot_costs(plan),
        "milestones": plot_milestones(tables["milestones"], C),
    }
    opt_tables, opt_figs, opt_sections, left_out = _optional(run, plan)
    if left_out:
        opt_sections = [*opt_sections, _left_out_html(left_out)]
    pillars = _pillar_tables(plan)
    if pillars:
        opt_tables = {**pillars, **opt_tables}
        opt_sections = [_pillars_html(pillars), *opt_sections]
    fig_paths = {}
    for k, png in {**figs, **opt_figs}.items():
        p = run / "figures" / f"{k}.png"
        _atomic_bytes(png, p)
        fig_paths[k] = p
    if (run / "figures" / "actuals.png").exists() and "actuals" in opt_tables and "figures/actuals.png" not in left_out:
        fig_paths["actuals"] = run / "figures" / "actuals.png"
    _atomic_bytes(_xlsx({**tables, **opt_tables}, list(opt_tables)), run / "report.xlsx")
    _atomic_bytes(_html(plan, tables, figs, opt_sections).encode("utf-8"), run / "report.html")
    return ReportFiles(run / "report.html", run / "report.xlsx", fig_paths, left_out)


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
