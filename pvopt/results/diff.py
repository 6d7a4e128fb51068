"""Two plans side by side: NPC and its split, builds by array and year, certificates, offsets, emissions, milestones.

:func:`diff_plans` reads two plan Datasets (``plan.nc``) and returns a :class:`PlanDiff` of
tables, each with the value of plan A, of plan B and the difference ``B − A``. The cost
split uses the one contract :data:`pvopt.costs.COST_CATEGORIES` (present values at each
plan's own discount factors); when the two plans' discount rates differ, their NPCs are
not comparable and :attr:`PlanDiff.warnings` says so.

Only xarray, numpy and pandas: no Pyomo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from pvopt.costs import COST_CATEGORIES
from pvopt.milestones import MILESTONE_TYPES

__all__ = ["DIFF_ATOL", "PlanDiff", "diff_plans", "discount_rate_warning", "summary_metrics"]

DIFF_ATOL = 1e-6
"""Differences smaller than this (in the row's unit) count as none."""


@dataclass
class PlanDiff:
    """Two plans compared; every table has columns ``a``, ``b``, ``diff`` (= b − a).

    Attributes
    ----------
    names
        Labels of plan A and plan B.
    summary
        Index ``metric``; column ``unit``: NPC and its split by cost category, BAU and saving, payback,
        new PV, certificates, offsets and emissions totals.
    build
        Index ``(array, year)``: new kWp in either plan.
    yearly
        Index ``(quantity, year)``: certificates [MWh], offsets [tCO2e], net emissions [tCO2e], total cost, per year.
    milestones
        Index ``milestone``: type, unit, target and each plan's achieved value and margin (positive: safe side).
    warnings
        Why figures may not be comparable (discount rate, currency, planning years).
    """

    names: tuple[str, str]
    summary: pd.DataFrame
    build: pd.DataFrame
    yearly: pd.DataFrame
    milestones: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables by name (``summary``, ``build``, ``yearly``, ``milestones``)."""
        return {"summary": self.summary, "build": self.build, "yearly": self.yearly, "milestones": self.milestones}

    def is_zero(self, atol: float = DIFF_ATOL) -> bool:
        """Whether every difference is within ``atol`` (e.g. a plan against itself)."""
        return all(bool((t["diff"].abs().fillna(0.0) <= atol).all()) for t in self.tables().values() if "diff" in t)

    def to_frame(self) -> pd.DataFrame:
        """Return every table in one long frame (column ``table`` names it; index columns kept as columns)."""
        frames = [t.reset_index().assign(table=name) for name, t in self.tables().items()]
        df = pd.concat(frames, ignore_index=True)
        return df[["table", *[c for c in df.columns if c != "table"]]]

    def to_csv_text(self) -> str:
        """Return :meth:`to_frame` as CSV text."""
        return self.to_frame().to_csv(index=False)

    def to_html(self) -> str:
        """Return a self-contained HTML page of the tables, differences highlighted (green: lower cost or emissions)."""
        parts = [f"<h1>{self.names[0]} vs {self.names[1]}</h1>"]
        parts += [f"<p style='color:#b00'><b>warning:</b> {w}</p>" for w in self.warnings]
        for name, t in self.tables().items():
            styled = t.style.format(precision=1, thousands=",", na_rep="-").map(_colour, subset=["diff"] if "diff" in t else [])
            parts.append(f"<h2>{name}</h2>" + styled.to_html())
        return "<html><head><meta charset='utf-8'></head><body style='font-family:sans-serif'>" + "".join(parts) + "</body></html>"


def _colour(v: object) -> str:
    if not isinstance(v, (int, float)) or v != v or abs(v) <= DIFF_ATOL:
        return ""
    return "background-color:#fde0dd" if v > 0 else "background-color:#e5f5e0"


def _frame(rows: dict, index_name: str | list[str]) -> pd.DataFrame:
    df = pd.DataFrame.from_dict(rows, orient="index")
    if len(df) == 0:
        df = pd.DataFrame(columns=["a", "b"])
    df.index = pd.MultiIndex.from_tuples(df.index, names=index_name) if isinstance(index_name, list) else df.index.rename(index_name)
    df["diff"] = df["b"].astype(float) - df["a"].astype(float)
    return df


def _pv(plan: xr.Dataset, name: str) -> float:
    return float((plan[name].sum("site") * plan["discount_factor"]).sum())


def summary_metrics(plan: xr.Dataset) -> dict[str, tuple[float, str]]:
    """Scalar figures of one plan (name -> (value, unit)): NPC, its split, BAU and savings, PV, certificates, offsets, emissions."""
    cur = str(plan.attrs.get("currency", ""))
    years = [int(y) for y in plan["year"].values]
    out: dict[str, tuple[float, str]] = {"npc": (float(plan["npc"]), cur)}
    for c in COST_CATEGORIES:
        out[f"npv {c.label}"] = (c.sign * _pv(plan, c.name), cur)
    out["salvage value (deducted)"] = (-float(plan["salvage_value"]), cur)
    for k, unit in (("bau_npc", cur), ("npc_saving", cur), ("year1_bill_saving", cur), ("payback_year", "year"), ("payback_year_discounted", "year")):
        out[k.replace("_", " ")] = (float(plan[k]) if k in plan else float("nan"), unit)
    out["discount rate"] = (float(plan.attrs.get("discount_rate", float("nan"))), "1")
    out["new PV"] = (float(plan["build_kwp"].sum()), "kWp")
    out[f"PV installed {years[-1]}"] = (float(plan["installed_kwp"].isel(year=-1).sum()), "kWp")
    out["PV used onsite"] = (float(plan["pv_onsite_mwh"].sum()), "MWh")
    out["certificates"] = (float(plan["certificates_mwh"].sum()), "MWh")
    out["offsets"] = (float(plan["offsets_tco2e"].sum()), "tCO2e")
    out["net emissions"] = (float(plan["net_tco2e"].sum()), "tCO2e")
    out[f"net emissions {years[-1]}"] = (float(plan["net_tco2e"].isel(year=-1).sum()), "tCO2e")
    return out


def discount_rate_warning(rates: dict[str, float]) -> str:
    """Return a warning when the discount rates of named plans differ (``""`` when they agree)."""
    vals = {k: float(v) for k, v in rates.items() if v == v}
    if len(set(np.round(list(vals.values()), 12))) <= 1:
        return ""
    listed = ", ".join(f"{k} {v:.1%}" for k, v in vals.items())
    return f"discount rates differ ({listed}): NPCs and present values are not comparable; compare undiscounted cash flows instead"


def _warnings(a: xr.Dataset, b: xr.Dataset, names: tuple[str, str]) -> list[str]:
    out = []
    w = discount_rate_warning({names[0]: float(a.attrs.get("discount_rate", np.nan)), names[1]: float(b.attrs.get("discount_rate", np.nan))})
    if w:
        out.append(w)
    if str(a.attrs.get("currency")) != str(b.attrs.get("currency")):
        out.append(f"currencies differ ({a.attrs.get('currency')} vs {b.attrs.get('currency')}): costs are not comparable")
    ya, yb = [int(y) for y in a["year"].values], [int(y) for y in b["year"].values]
    if ya != yb:
        out.append(f"planning years differ ({ya[0]}-{ya[-1]} vs {yb[0]}-{yb[-1]}): totals cover different years")
    return out


def _margins(plan: xr.Dataset) -> dict[str, tuple[float, float, float, str, str]]:
    """Per milestone: (target, achieved, margin, unit, type); margin > 0 on the safe side."""
    if "milestone" not in plan.dims:
        return {}
    out = {}
    for k, name in enumerate(str(m) for m in plan["milestone"].values):
        typ = str(plan["milestone_type"].values[k])
        t, a = float(plan["milestone_target"].values[k]), float(plan["milestone_achieved"].values[k])
        margin = a - t if MILESTONE_TYPES[typ].sense == ">=" else t - a
        out[name] = (t, a, margin, str(plan["milestone_unit"].values[k]), typ)
    return out


def _milestone_table(a: xr.Dataset, b: xr.Dataset) -> pd.DataFrame:
    ma, mb = _margins(a), _margins(b)
    rows = {}
    for name in list(ma) + [n for n in mb if n not in ma]:
        ra, rb = ma.get(name), mb.get(name)
        ref = ra or rb
        assert ref is not None
        rows[name] = {"type": ref[4], "unit": ref[3], "target_a": ra[0] if ra else np.nan, "target_b": rb[0] if rb else np.nan,
                      "achieved_a": ra[1] if ra else np.nan, "achieved_b": rb[1] if rb else np.nan,
                      "a": ra[2] if ra else np.nan, "b": rb[2] if rb else np.nan}
    df = _frame(rows, "milestone")
    return df.rename(columns={"a": "margin_a", "b": "margin_b", "diff": "diff"})


def _yearly(a: xr.Dataset, b: xr.Dataset) -> pd.DataFrame:
    rows = {}
    years = sorted({int(y) for y in a["year"].values} | {int(y) for y in b["year"].values})
    for q, unit in (("certificates_mwh", "MWh"), ("offsets_tco2e", "tCO2e"), ("net_tco2e", "tCO2e"), ("total_cost", str(a.attrs.get("currency", "")))):
        sa, sb = a[q].sum("site").to_series(), b[q].sum("site").to_series()
        for y in years:
            rows[(q, y)] = {"unit": unit, "a": float(sa.get(y, np.nan)), "b": float(sb.get(y, np.nan))}
    return _frame(rows, ["quantity", "year"])


def _build(a: xr.Dataset, b: xr.Dataset) -> pd.DataFrame:
    sa, sb = a["build_kwp"].to_series(), b["build_kwp"].to_series()
    both = pd.concat({"a": sa, "b": sb}, axis=1).fillna(0.0)
    both = both[(both["a"] > DIFF_ATOL) | (both["b"] > DIFF_ATOL)]
    rows = {(str(ar), int(y)): {"a": float(r["a"]), "b": float(r["b"])} for (ar, y), r in both.iterrows()}
    return _frame(rows, ["array", "year"])


def diff_plans(a: xr.Dataset, b: xr.Dataset, names: tuple[str, str] = ("A", "B")) -> PlanDiff:
    """Compare plan ``b`` with plan ``a`` (differences are ``b − a``).

    Parameters
    ----------
    a, b
        Plan Datasets (``plan.nc``), with or without the business-as-usual comparison.
    names
        Labels of the two plans (e.g. their run folders).
    """
    ma, mb = summary_metrics(a), summary_metrics(b)
    rows = {k: {"unit": ma.get(k, mb.get(k, (0, "")))[1], "a": ma.get(k, (np.nan, ""))[0], "b": mb.get(k, (np.nan, ""))[0]}
            for k in list(ma) + [k for k in mb if k not in ma]}
    summary = _frame(rows, "metric")
    return PlanDiff(names, summary, _build(a, b), _yearly(a, b), _milestone_table(a, b), _warnings(a, b, names))

