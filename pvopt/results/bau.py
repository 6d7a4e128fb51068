"""The plan against business as usual (BAU): savings, their split, cash flow, payback and emissions cut.

The BAU case is the same portfolio with nothing new: no PV built, no measures, batteries,
certificates or offsets; existing PV keeps working to the end of its life; milestones are
reported, not enforced (:func:`pvopt.lp.options.business_as_usual_inputs`, solved by
:func:`pvopt.pipeline.plan_from_inputs` beside the plan). :func:`add_business_as_usual`
stores the BAU figures and the comparison in the plan Dataset (``bau_*``, ``npc_saving*``,
``*_saving``, ``payback_year*``, ``emissions_cut_*``; declared in :mod:`pvopt.datasets`);
the table functions read them back.

Conventions
-----------
* A **saving** is BAU minus plan, so positive is good. Per cost category (the one contract
  :data:`pvopt.costs.COST_CATEGORIES`) ``saving_c = sign_c · (PV(bau_c) − PV(plan_c))``,
  PV = ``Σ_y discount_factor[y] · Σ_s``; the salvage value (deducted from the NPC) adds
  ``salvage_plan − salvage_bau``, counted in the ``capital`` group. Hence
  ``Σ_c saving_c + salvage saving = bau_npc − npc = npc_saving`` exactly.
* **Cash flow** per year is the undiscounted ``Σ_s (bau_total_cost − total_cost)`` (salvage is
  not a cash flow); the cumulative sums run from the first planning year, the discounted one
  with ``discount_factor``.
* **Payback year**: the first year from which the cumulative saving stays ``≥ 0`` to the end
  of the horizon (the first planning year when it never falls below 0); NaN when it is
  negative in the last year.
* **Emissions cut** per year: BAU minus plan, portfolio sums, net (after offsets) and gross
  (Scope 1 after measures + market-based Scope 2).

Only xarray, numpy and pandas: no Pyomo.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pvopt.costs import COST_CATEGORIES, COST_GROUPS, COST_NAMES, SALVAGE_GROUP, TOTAL_COST
from pvopt.datasets import annotate
from pvopt.milestones import achieved, baseline_tco2e

SHORT_GROUP_LABELS = {"om": "O&M"}
"""Short labels of :data:`pvopt.costs.COST_GROUPS` keys for one-line summaries (others print as their key)."""

__all__ = ["BAU_SITE_YEAR_VARS", "PAYBACK_TOL", "add_business_as_usual", "has_bau", "payback_year", "bau_years_table",
           "saving_split", "headline", "summary_lines"]

BAU_SITE_YEAR_VARS: tuple[str, ...] = (
    "pv_generated_mwh", "pv_onsite_mwh", "grid_import_mwh", "scope1_after_measures_tco2e", "scope2_location_tco2e",
    "scope2_market_tco2e", "net_tco2e", TOTAL_COST,
)
"""Plan variables on ``(site, year)`` whose BAU value is stored as ``bau_<name>``."""

PAYBACK_TOL = 1e-6
"""Relative tolerance (of the largest yearly cash flow) within which a cumulative saving counts as ``≥ 0``."""

#: Plan outputs a BAU solve replaces in the plan's inputs when its milestones are measured.
_MILESTONE_VIEW_VARS = ("build_kwp", "installed_kwp", "pv_onsite_mwh", "certificates_mwh", "scope1_after_measures_tco2e",
                        "scope2_market_tco2e", "scope2_location_tco2e", "net_tco2e", "offsets_tco2e", "capex_cost")


def has_bau(plan: xr.Dataset) -> bool:
    """Whether ``plan`` carries the business-as-usual comparison."""
    return "bau_npc" in plan and "npc_saving" in plan


def payback_year(years: np.ndarray, cumulative: np.ndarray, *, scale: float | None = None) -> float:
    """First year from which ``cumulative`` stays ``≥ 0`` (within :data:`PAYBACK_TOL` of ``scale``); NaN if it ends below 0.

    Examples
    --------
    >>> payback_year(np.array([2024, 2025, 2026]), np.array([-10.0, -2.0, 5.0]))
    2026.0
    >>> payback_year(np.array([2024, 2025]), np.array([-10.0, -2.0]))
    nan
    """
    c = np.asarray(cumulative, dtype=float)
    tol = PAYBACK_TOL * (scale if scale is not None else max(1.0, float(np.abs(c).max(initial=0.0))))
    ok = c >= -tol
    if not len(c) or not ok[-1]:
        return float("nan")
    bad = np.flatnonzero(~ok)
    return float(years[bad[-1] + 1] if len(bad) else years[0])


def _pv(plan: xr.Dataset, values: xr.DataArray) -> float:
    """Present value of a ``(site, year)`` or ``(year,)`` array at the plan's discount factors."""
    v = values.sum("site") if "site" in values.dims else values
    return float((v * plan["discount_factor"]).sum("year"))


def _bau_milestones(plan: xr.Dataset, bau: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Achieved value and met flag of every plan milestone in the BAU case (measured, never enforced)."""
    ms = json.loads(str(plan.attrs.get("milestones_json", "[]")))
    view = plan.assign({k: bau[k] for k in _MILESTONE_VIEW_VARS})
    base, cur = baseline_tco2e(plan), str(plan.attrs.get("currency", ""))
    rows = [achieved(view, m, base, cur) for m in ms]
    return np.array([r["achieved"] for r in rows], dtype=float), np.array([r["met"] for r in rows], dtype=bool)


def _cash_flow(plan: xr.Dataset, bau: xr.Dataset) -> dict[str, Any]:
    """Return yearly savings, their cumulative sums and the payback years."""
    years = plan["year"].values
    flow = (bau[TOTAL_COST] - plan[TOTAL_COST]).sum("site")
    bill = [c for c in COST_CATEGORIES if c.group == "bill"]
    bill_saving: xr.DataArray = sum((c.sign * (bau[c.name] - plan[c.name]).sum("site") for c in bill), xr.zeros_like(flow))
    cum, cum_d = flow.cumsum("year"), (flow * plan["discount_factor"]).cumsum("year")
    scale = max(1.0, float(np.abs(flow).max()))
    return {"cost_saving": flow, "bill_saving": bill_saving, "year1_bill_saving": bill_saving.isel(year=0, drop=True),
            "cumulative_saving": cum, "cumulative_saving_discounted": cum_d,
            "payback_year": payback_year(years, cum.values, scale=scale),
            "payback_year_discounted": payback_year(years, cum_d.values, scale=scale)}


def add_business_as_usual(plan: xr.Dataset, bau: xr.Dataset) -> xr.Dataset:
    """Return ``plan`` with the business-as-usual case ``bau`` and the comparison against it.

    Parameters
    ----------
    plan
        The plan Dataset (:func:`pvopt.lp.outcome.solve`).
    bau
        The plan Dataset of the same inputs solved with ``SolveOptions(business_as_usual=True)``.

    Returns
    -------
    xarray.Dataset
        A copy of ``plan`` with ``bau_*`` (BAU figures), ``npc_saving``, ``npc_saving_by_category``
        (coordinate ``cost``), ``npc_saving_by_group`` (coordinate ``cost_group``), ``cost_saving``,
        ``bill_saving``, ``year1_bill_saving``, ``cumulative_saving``, ``cumulative_saving_discounted``,
        ``payback_year``, ``payback_year_discounted``, ``emissions_cut_net_tco2e``, ``emissions_cut_gross_tco2e``,
        with units and descriptions from :mod:`pvopt.datasets`. The plan's own variables are unchanged.
    """
    new: dict[str, Any] = {f"bau_{k}": bau[k].transpose("site", "year").copy() for k in BAU_SITE_YEAR_VARS}
    new["bau_cost_by_category"] = xr.concat([bau[c].transpose("site", "year") for c in COST_NAMES], dim="cost").assign_coords(cost=list(COST_NAMES))
    new["bau_npc"] = float(bau["npc"])
    new["bau_salvage_value"] = float(bau["salvage_value"])
    new["npc_saving"] = float(bau["npc"]) - float(plan["npc"])
    by_cat = [c.sign * (_pv(plan, bau[c.name]) - _pv(plan, plan[c.name])) for c in COST_CATEGORIES]
    new["npc_saving_by_category"] = ("cost", np.array(by_cat))
    salvage = float(plan["salvage_value"]) - float(bau["salvage_value"])
    groups = {g: sum(v for c, v in zip(COST_CATEGORIES, by_cat) if c.group == g) + (salvage if g == SALVAGE_GROUP else 0.0) for g in COST_GROUPS}
    new["npc_saving_by_group"] = ("cost_group", np.array([groups[g] for g in COST_GROUPS], dtype=float))
    new.update(_cash_flow(plan, bau))
    gross = lambda ds: (ds["scope1_after_measures_tco2e"] + ds["scope2_market_tco2e"]).sum("site")  # noqa: E731
    new["emissions_cut_net_tco2e"] = (bau["net_tco2e"] - plan["net_tco2e"]).sum("site")
    new["emissions_cut_gross_tco2e"] = gross(bau) - gross(plan)
    if "milestone" in plan.dims and plan.sizes["milestone"]:
        a, met = _bau_milestones(plan, bau)
        new["bau_milestone_achieved"] = ("milestone", a)
        new["bau_milestone_met"] = ("milestone", met)
    extra = xr.Dataset(new, coords={"cost": list(COST_NAMES), "cost_group": list(COST_GROUPS)})
    out = plan.assign(extra.data_vars)
    out.attrs["business_as_usual"] = "nothing new (no PV built, no measures, batteries, certificates or offsets); milestones not enforced"
    return annotate(out, "plan")


def _require(plan: xr.Dataset) -> None:
    if not has_bau(plan):
        raise ValueError("this plan has no business-as-usual comparison (bau_* variables); plan it again with pvopt >= this version")


def bau_years_table(plan: xr.Dataset) -> pd.DataFrame:
    """Per year: plan and BAU cost, saving, cumulative savings, bill saving, emissions of both and the cut.

    Columns end in their unit (``_cny`` for the portfolio currency CNY, ``_tco2e``); index ``year``.
    """
    _require(plan)
    cur = str(plan.attrs.get("currency", "cur")).lower()
    s = lambda k: plan[k].sum("site").to_pandas() if "site" in plan[k].dims else plan[k].to_pandas()  # noqa: E731
    df = pd.DataFrame({
        f"plan_cost_{cur}": s(TOTAL_COST),
        f"bau_cost_{cur}": s(f"bau_{TOTAL_COST}"),
        f"cost_saving_{cur}": s("cost_saving"),
        f"cumulative_saving_{cur}": s("cumulative_saving"),
        f"cumulative_saving_discounted_{cur}": s("cumulative_saving_discounted"),
        f"bill_saving_{cur}": s("bill_saving"),
        "plan_net_tco2e": s("net_tco2e"),
        "bau_net_tco2e": s("bau_net_tco2e"),
        "emissions_cut_net_tco2e": s("emissions_cut_net_tco2e"),
        "emissions_cut_gross_tco2e": s("emissions_cut_gross_tco2e"),
    })
    df.index.name = "year"
    return df


def saving_split(plan: xr.Dataset, by: str = "group") -> pd.DataFrame:
    """NPC saving against BAU split by cost group (``by="group"``) or category (``by="category"``).

    Columns ``label``, ``saving_<cur>`` (BAU − plan, present value; the rows add up to ``npc_saving``);
    by category also ``bau_<cur>`` and ``plan_<cur>`` (present values, signed as costs) and a
    ``salvage_value`` row.
    """
    _require(plan)
    cur = str(plan.attrs.get("currency", "cur")).lower()
    if by == "group":
        return pd.DataFrame({"label": list(COST_GROUPS.values()), f"saving_{cur}": plan["npc_saving_by_group"].values},
                            index=pd.Index(list(COST_GROUPS), name="group"))
    if by != "category":
        raise ValueError(f"by must be 'group' or 'category', got {by!r}")
    rows = []
    for c, v in zip(COST_CATEGORIES, plan["npc_saving_by_category"].values):
        bau_pv = c.sign * _pv(plan, plan["bau_cost_by_category"].sel(cost=c.name, drop=True))
        rows.append({"category": c.name, "label": c.label, "group": c.group, f"bau_{cur}": bau_pv, f"plan_{cur}": c.sign * _pv(plan, plan[c.name]),
                     f"saving_{cur}": float(v)})
    rows.append({"category": "salvage_value", "label": "salvage value (deducted)", "group": SALVAGE_GROUP,
                 f"bau_{cur}": -float(plan["bau_salvage_value"]), f"plan_{cur}": -float(plan["salvage_value"]),
                 f"saving_{cur}": float(plan["salvage_value"]) - float(plan["bau_salvage_value"])})
    return pd.DataFrame(rows).set_index("category")


def headline(plan: xr.Dataset) -> dict[str, Any]:
    """Key figures of the plan against BAU, for a first screen (keys end in their unit; currency lower case).

    ``npc_<cur>``, ``bau_npc_<cur>``, ``npc_saving_<cur>``, ``npc_saving_pct``, ``year1_bill_saving_<cur>``,
    ``payback_year``, ``payback_year_discounted`` (NaN: not within the horizon), ``emissions_cut_<last>_tco2e``
    (net), ``emissions_cut_total_tco2e`` (net, all years), ``bau_milestones_met`` (``"k/n"``), ``first_year``.
    """
    _require(plan)
    cur = str(plan.attrs.get("currency", "cur")).lower()
    years = [int(y) for y in plan["year"].values]
    bau_npc = float(plan["bau_npc"])
    cut = plan["emissions_cut_net_tco2e"].values
    met = plan["bau_milestone_met"].values if "bau_milestone_met" in plan else np.zeros(0, bool)
    return {
        f"npc_{cur}": float(plan["npc"]),
        f"bau_npc_{cur}": bau_npc,
        f"npc_saving_{cur}": float(plan["npc_saving"]),
        "npc_saving_pct": 100.0 * float(plan["npc_saving"]) / bau_npc if bau_npc else float("nan"),
        f"year1_bill_saving_{cur}": float(plan["year1_bill_saving"]),
        "payback_year": float(plan["payback_year"]),
        "payback_year_discounted": float(plan["payback_year_discounted"]),
        f"emissions_cut_{years[-1]}_tco2e": float(cut[-1]),
        "emissions_cut_total_tco2e": float(cut.sum()),
        "bau_milestones_met": f"{int(met.sum())}/{len(met)}",
        "first_year": years[0],
    }



def summary_lines(plan: xr.Dataset) -> list[str]:
    """Two lines of the plan against business as usual for a text summary (none when the plan has no BAU)."""
    if not has_bau(plan):
        return []
    h = headline(plan)
    cur = str(plan.attrs.get("currency", ""))
    c = cur.lower()
    pay = lambda y: f"{y:.0f}" if y == y else "not within the horizon"  # noqa: E731
    split = ", ".join(f"{SHORT_GROUP_LABELS.get(g, g)} {v:+,.0f}" for g, v in zip(COST_GROUPS, plan["npc_saving_by_group"].values))
    years = [int(y) for y in plan["year"].values]
    return [f"vs business as usual (nothing new, milestones not enforced; NPC {h[f'bau_npc_{c}']:,.0f} {cur}): "
            f"NPC saving {h[f'npc_saving_{c}']:,.0f} {cur} ({h['npc_saving_pct']:.1f} %: {split}); "
            f"year-1 bill saving {h[f'year1_bill_saving_{c}']:,.0f} {cur}; payback {pay(h['payback_year'])} "
            f"(discounted {pay(h['payback_year_discounted'])})",
            f"emissions cut vs business as usual: {float(plan['emissions_cut_net_tco2e'].values[0]):,.0f} tCO2e in {years[0]}, "
            f"{h[f'emissions_cut_{years[-1]}_tco2e']:,.0f} in {years[-1]}, {h['emissions_cut_total_tco2e']:,.0f} over the plan (net); "
            f"business as usual meets {h['bau_milestones_met']} milestones"]
