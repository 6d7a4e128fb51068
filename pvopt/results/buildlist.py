"""The build list: what to build, where and when, and why (from the LP duals).

One row per array and year with new PV (:func:`build_list`). "Why" compares what a kWp
built that year costs (the LP's objective coefficient: discounted capex and O&M within the
horizon, less salvage) with what it earns on its own (the tariff value of its onsite use and
export, from the plan's hourly dispatch shared among a site's arrays by generation, as in
:mod:`pvopt.results.finance`), and with what each milestone pays towards it:

* directly, for milestone rows that contain the build (capacity, coverage, budget, build
  rate): ``milestone_build_value`` of the plan (``Σ dual × coefficient``; negative: a limit);
* through energy and emissions, for onsite-PV, neutrality and peak milestones: the row duals
  per year (``milestone_row_dual``) times the kWp's onsite MWh or avoided tCO2e that year.

A build whose own value covers its cost is **cheapest** (it pays for itself); otherwise it is
**required by** the milestone that pays most towards it. A build smaller than the room left
on the array is **partial**; the column says what limits it (a build-rate or budget milestone
binding that year, what the driving milestone needs, or the falling value of more PV at a site
whose midday load is covered) and when the rest follows.

Only xarray, numpy and pandas: no Pyomo.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pvopt.constants import KWH_PER_MWH

__all__ = ["MIN_BUILD_KWP", "VALUE_RTOL", "build_list", "unit_value_per_kwp"]

MIN_BUILD_KWP = 1e-3
"""Builds smaller than this [kWp] are left out."""

VALUE_RTOL = 1e-3
"""A kWp whose own value is within this share of its cost pays for itself; a milestone paying less is ignored."""


def _cur(plan: xr.Dataset) -> str:
    return str(plan.attrs.get("currency", "cur")).lower()


def _site_arrays(plan: xr.Dataset) -> tuple[list[str], np.ndarray]:
    sites = [str(s) for s in plan["site"].values]
    return sites, np.array([sites.index(str(s)) for s in plan["array_site"].values], dtype=int)


def _effective(plan: xr.Dataset) -> np.ndarray:
    """Return ``f[a, y, v]``: the output of 1 kWp built in year index v during year y (degraded; 0 outside its life)."""
    years = plan["year"].values.astype(int)
    deg = plan["degradation_per_year"].values.astype(float)
    age = years[:, None] - years[None, :]
    L = float(plan.attrs["lifetime_years"])
    alive = (age >= 0) & (age < L)
    return np.where(alive[None], (1.0 - deg[:, None, None]) ** np.clip(age, 0, None)[None], 0.0)


def _array_yield(plan: xr.Dataset) -> np.ndarray:
    """Return ``[a, hour]`` the yield of each array [kW/kWp]."""
    profs = [str(p) for p in plan["profile"].values]
    return plan["yield_kw_per_kwp"].values.astype(float)[[profs.index(str(p)) for p in plan["array_profile"].values]]


def _effective_total(plan: xr.Dataset, f: np.ndarray) -> np.ndarray:
    """Return ``[a, y]`` the effective kWp of existing and new PV working in the year (degraded)."""
    years = plan["year"].values.astype(int)
    ey = plan["existing_year"].values.astype(int)
    deg = plan["degradation_per_year"].values.astype(float)
    eage = np.clip(years[None, :] - np.where(ey < 0, years[0], ey)[:, None], 0, None)
    exist = plan["existing_kwp"].values.astype(float)[:, None] * (1.0 - deg[:, None]) ** eage * (eage < float(plan.attrs["lifetime_years"]))
    return exist + np.einsum("ayv,av->ay", f, plan["build_kwp"].values.astype(float))


def unit_value_per_kwp(plan: xr.Dataset) -> dict[str, np.ndarray]:
    """Per array and year, per effective kWp: generation and onsite use [MWh] and tariff value [currency].

    From the hourly dispatch, shared among a site's arrays by hourly generation (as in
    :mod:`pvopt.results.finance`); without hourly data, from the site's annual onsite share valued
    at its mean import price. Returns ``gen_mwh``, ``onsite_mwh``, ``value`` (each ``[a, y]``).
    """
    _, site_of = _site_arrays(plan)
    yl = _array_yield(plan)
    n_a, n_y = plan.sizes["array"], plan.sizes["year"]
    gen1 = np.broadcast_to(yl.sum(axis=1)[:, None] / KWH_PER_MWH, (n_a, n_y)).copy()
    onsite, value = np.zeros((n_a, n_y)), np.zeros((n_a, n_y))
    if "pv_onsite_kw" not in plan:
        gen_s, on_s = plan["pv_generated_mwh"].values, plan["pv_onsite_mwh"].values
        share = np.divide(on_s, gen_s, out=np.zeros_like(on_s), where=gen_s > 0)[site_of]
        price = plan["import_price_per_kwh"].values.mean(axis=2)[site_of]
        return {"gen_mwh": gen1, "onsite_mwh": gen1 * share, "value": gen1 * share * price * KWH_PER_MWH}
    eff = _effective_total(plan, _effective(plan))
    on_kw, ex_kw = plan["pv_onsite_kw"].values.astype(float), plan["export_kw"].values.astype(float)
    imp, expp = plan["import_price_per_kwh"].values, plan["export_price_per_kwh"].values
    for i in range(plan.sizes["site"]):
        idx = np.flatnonzero(site_of == i)
        gen_a = eff[idx][:, :, None] * yl[idx][:, None, :]
        tot = gen_a.sum(axis=0)
        share = np.divide(gen_a, tot[None], out=np.zeros_like(gen_a), where=tot[None] > 0)
        on_a, ex_a = share * on_kw[i][None], share * ex_kw[i][None]
        per = np.divide(1.0, eff[idx], out=np.zeros_like(eff[idx]), where=eff[idx] > 0)
        onsite[idx] = on_a.sum(axis=2) / KWH_PER_MWH * per
        value[idx] = ((on_a * imp[i][None]).sum(axis=2) + (ex_a * expp[i][None]).sum(axis=2)) * per
    return {"gen_mwh": gen1, "onsite_mwh": onsite, "value": value}


def _cost_per_kwp(plan: xr.Dataset, kind: np.ndarray) -> np.ndarray:
    """Return ``[a, v]`` the NPC of 1 kWp built in year index v: discounted capex and O&M within the horizon, less salvage (the LP's coefficient)."""
    df = plan["discount_factor"].values.astype(float)
    n_y = len(df)
    L = float(plan.attrs["lifetime_years"])
    r = float(plan.attrs["discount_rate"])
    capex = plan["capex_per_kwp"].values.astype(float)[kind]
    om = plan["om_per_kwp_year"].values.astype(float)[kind]
    v = np.arange(n_y)
    alive = (v[:, None] >= v[None, :]) & (v[:, None] - v[None, :] < L)  # [y, v]
    om_pv = np.einsum("ay,yv->av", om * df[None], alive.astype(float))
    salvage = capex * (np.clip(L - (n_y - v), 0, None) / L)[None] * (1.0 + r) ** -float(n_y)
    return capex * df[None] + om_pv - salvage


def _milestones(plan: xr.Dataset) -> list[dict[str, Any]]:
    return [m for m in json.loads(str(plan.attrs.get("milestones_json", "[]"))) if m["name"] in set(map(str, plan["milestone"].values))] \
        if "milestone" in plan.dims else []


def _indirect(plan: xr.Dataset, ms: dict[str, Any], dual: np.ndarray, a: int, site: str, on_mwh: np.ndarray) -> float:
    """Return what an energy or emissions milestone pays per kWp of array ``a`` whose onsite MWh per kWp by year is ``on_mwh``."""
    typ = ms["type"]
    if typ == "min_pv_onsite_mwh":
        return float((dual * on_mwh).sum())
    if typ not in ("neutrality", "emissions_peak") or (ms.get("site") and ms["site"] != site):
        return 0.0
    i = [str(s) for s in plan["site"].values].index(site)
    ef = "grid_ef_t_per_mwh" if ms.get("scope2", "market") == "location" and typ == "emissions_peak" else "residual_ef_t_per_mwh"
    cut = on_mwh * plan[ef].values[i]
    if typ == "neutrality":
        return float((dual * cut).sum())
    # peak rows are labelled with the later year t: gross[t] - gross[t-1] <= 0; a cut in t helps, a cut in t-1 hurts
    return float((dual[1:] * (cut[1:] - cut[:-1])).sum())


def _payments(plan: xr.Dataset, a: int, v: int, site: str, unit_on: np.ndarray, f: np.ndarray) -> dict[str, float]:
    """Per milestone: what it pays per kWp of array ``a`` built in year index ``v`` (negative: a limit)."""
    out: dict[str, float] = {}
    if "milestone_row_dual" not in plan:
        return out
    duals = np.nan_to_num(plan["milestone_row_dual"].values.astype(float))
    direct = np.nan_to_num(plan["milestone_build_value"].values.astype(float))
    on_mwh = unit_on[a] * f[a, :, v]
    names = [str(x) for x in plan["milestone"].values]
    for ms in _milestones(plan):
        k = names.index(ms["name"])
        out[ms["name"]] = float(direct[k, a, v]) + _indirect(plan, ms, duals[k], a, site, on_mwh)
    return out


def _why(own: float, cost: float, pay: dict[str, float], cur: str) -> tuple[str, str]:
    """Return (driver, why): ``""`` and "cheapest ..." when the kWp pays for itself, else the milestone that pays most."""
    tol = VALUE_RTOL * max(abs(cost), 1.0)
    if own >= -tol:
        helps = [n for n, p in sorted(pay.items(), key=lambda t: -t[1]) if p > tol]
        also = f"; also counts towards {', '.join(helps)}" if helps else ""
        return "", f"cheapest: pays for itself (NPV {own:+,.0f} {cur.upper()}/kWp on its own){also}"
    best = max(pay.items(), key=lambda t: t[1], default=("", 0.0))
    if best[1] > tol:
        return best[0], (f"required by {best[0]}: costs {-own:,.0f} {cur.upper()}/kWp (NPV) more than it saves; "
                         f"the milestone's duals pay {best[1]:,.0f}")
    return "", f"required by the milestones: costs {-own:,.0f} {cur.upper()}/kWp (NPV) more than it saves; no single milestone's dual explains it"


def _partial(plan: xr.Dataset, a: int, v: int, new: float, room: float, driver: str, pay: dict[str, float]) -> str:
    """Explain a build smaller than the room left on the array ("" when it fills the room)."""
    if new >= room - max(MIN_BUILD_KWP, 1e-6 * room):
        return ""
    years = plan["year"].values.astype(int)
    build = plan["build_kwp"].values[a]
    later = [(int(years[j]), float(build[j])) for j in range(v + 1, len(years)) if build[j] > MIN_BUILD_KWP]
    limits = [n for n, p in pay.items() if p < -VALUE_RTOL]
    if limits:
        why = f"limited by {', '.join(limits)} (binding in {years[v]})"
    elif driver:
        why = f"only as much as {driver} needs"
    else:
        i = [str(s) for s in plan["site"].values].index(str(plan["array_site"].values[a]))
        spill = float(plan["curtailed_mwh"].values[i, v] + plan["export_mwh"].values[i, v])
        why = ("limited by onsite use: more PV would go to export or curtailment "
               f"({spill:,.0f} MWh at the site already) and earn less than it costs") if spill > 0 else \
              "limited by onsite use: the next kWp earns less than it costs"
    rest = "; then " + ", ".join(f"+{k:,.0f} kWp in {y}" for y, k in later) if later else ""
    return f"partial: {new:,.0f} of {room:,.0f} kWp; {why}{rest}"


def build_list(plan: xr.Dataset) -> pd.DataFrame:
    """Tabulate every new build: one row per array and year with new PV, and why it is there.

    Columns: ``array``, ``site``, ``kind``, ``year``, ``new_kwp``, ``room_kwp`` (room left on the array
    that year), ``capex_<cur>``, ``annual_yield_mwh`` (the new kWp's first-year generation),
    ``onsite_share_pct`` (share of the array's generation used onsite that year),
    ``cost_<cur>_per_kwp`` (NPV), ``own_value_<cur>_per_kwp`` (NPV of its tariff value within the horizon),
    ``milestone_value_<cur>_per_kwp`` (what the driving milestone pays), ``driver`` (that milestone, or ``""``
    when the build pays for itself), ``why`` and ``partial`` (text; ``""`` when the build fills the room).
    """
    cur = _cur(plan)
    years = plan["year"].values.astype(int)
    build = plan["build_kwp"].values.astype(float)
    kinds = [str(k) for k in plan["kind"].values]
    kind = np.array([kinds.index(str(k)) for k in plan["array_kind"].values], dtype=int)
    f = _effective(plan)
    unit = unit_value_per_kwp(plan)
    cost = _cost_per_kwp(plan, kind)
    df = plan["discount_factor"].values.astype(float)
    capex = plan["capex_per_kwp"].values.astype(float)[kind]
    inst = plan["installed_kwp"].values.astype(float)
    maxk = plan["max_kwp"].values.astype(float)
    rows = []
    for a, v in zip(*np.nonzero(build > MIN_BUILD_KWP)):
        site, new = str(plan["array_site"].values[a]), float(build[a, v])
        own = float((df * unit["value"][a] * f[a, :, v]).sum()) - float(cost[a, v])
        pay = _payments(plan, a, v, site, unit["onsite_mwh"], f)
        driver, why = _why(own, float(cost[a, v]), pay, cur)
        room = float(maxk[a] - (inst[a, v] - new))
        gen = unit["gen_mwh"][a, v]
        rows.append({
            "array": str(plan["array"].values[a]), "site": site, "kind": kinds[kind[a]], "year": int(years[v]),
            "new_kwp": new, "room_kwp": room, f"capex_{cur}": new * capex[a, v], "annual_yield_mwh": new * gen,
            "onsite_share_pct": 100.0 * unit["onsite_mwh"][a, v] / gen if gen > 0 else float("nan"),
            f"cost_{cur}_per_kwp": float(cost[a, v]), f"own_value_{cur}_per_kwp": own + float(cost[a, v]),
            f"milestone_value_{cur}_per_kwp": pay.get(driver, 0.0) if driver else 0.0,
            "driver": driver, "why": why, "partial": _partial(plan, a, v, new, room, driver, pay),
        })
    cols = ["array", "site", "kind", "year", "new_kwp", "room_kwp", f"capex_{cur}", "annual_yield_mwh", "onsite_share_pct",
            f"cost_{cur}_per_kwp", f"own_value_{cur}_per_kwp", f"milestone_value_{cur}_per_kwp", "driver", "why", "partial"]
    return pd.DataFrame(rows, columns=cols).sort_values(["year", "site", "array"], kind="stable").reset_index(drop=True)
