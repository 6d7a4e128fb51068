"""Turn a solved plan model into the plan Dataset (inputs + decisions + accounting).

Every variable carries ``units`` and ``description`` attrs; the Dataset also
holds every LP input, so ``plan.nc`` is a complete, self-describing record.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyomo.environ as pyo
import xarray as xr

from .optimise import (
    KWH_PER_MWH,
    PlanModel,
    PlanSolution,
    SolveOptions,
    _discount,
    _kind_index,
    build_model,
    milestones_of,
    solve_model,
    Status,
)

__all__ = ["plan_dataset", "milestone_table"]


def _a(units: str, description: str) -> dict[str, str]:
    return {"units": units, "description": description}


def _vals(var: Any, n: int) -> np.ndarray:
    if n == 0:
        return np.zeros(0)
    return np.fromiter((v.value if v.value is not None else 0.0 for v in var.values()), dtype=float, count=n)


def hourly_dispatch(pm: PlanModel) -> dict[str, np.ndarray]:
    """Hourly generation, onsite use, export, curtailment and grid import [kW], dims (site, year, hour)."""
    d, m = pm.data, pm.model
    n_s, n_y, n_h = d.sizes["site"], d.sizes["year"], d.sizes["hour"]
    load = d["load_kw"].values
    ymat = d["yield_kw_per_kwp"].values
    eg = np.array([[m.EG[g, j].value or 0.0 for j in range(n_y)] for g in range(d.sizes["profile"])]).reshape(d.sizes["profile"], n_y)
    psite = list(d["profile_site"].values)
    sites = list(d["site"].values)
    pv_all = _vals(m.pv, len(m.pv))
    ex_all = _vals(m.ex, len(m.ex))
    gen = np.zeros((n_s, n_y, n_h))
    onsite = np.zeros_like(gen)
    export = np.zeros_like(gen)
    for i, s in enumerate(sites):
        profs = [g for g, ps in enumerate(psite) if ps == s]
        if profs:
            gen[i] = eg[profs].T @ ymat[profs]
        for j in range(n_y):
            b = pm.blocks[(i, j)]
            onsite[i, j, b.full] = gen[i, j, b.full]
            onsite[i, j, b.covered] = load[i, j, b.covered]
            n = len(b.contested)
            onsite[i, j, b.contested] = pv_all[b.pv_first : b.pv_first + n]
            if b.ex_first >= 0:
                export[i, j, b.contested] = ex_all[b.ex_first : b.ex_first + n]
    onsite = np.minimum(onsite, load)
    curtailed = np.clip(gen - onsite - export, 0.0, None)
    grid = np.clip(load - onsite, 0.0, None)
    return {"pv_generated_kw": gen, "pv_onsite_kw": onsite, "export_kw": export, "curtailed_kw": curtailed, "grid_import_kw": grid}


def plan_dataset(pm: PlanModel, sol: PlanSolution, res: Any, opts: SolveOptions, *, hourly: bool = True) -> xr.Dataset:
    """The plan: every input plus decisions, energy, emissions, costs and milestones."""
    d, m = pm.data, pm.model
    cur = str(d.attrs["currency"])
    years = d["year"].values
    n_a, n_y, n_s = d.sizes["array"], d.sizes["year"], d.sizes["site"]
    build = np.array([[m.build[a, j].value or 0.0 for j in range(n_y)] for a in range(n_a)]).reshape(n_a, n_y)
    build = np.where(build < 1e-7, 0.0, build)
    inst = d["existing_kwp"].values[:, None] + np.cumsum(build, axis=1)
    disp = hourly_dispatch(pm)
    mwh = {k.replace("_kw", "_mwh"): v.sum(axis=2) / KWH_PER_MWH for k, v in disp.items()}
    n_c = d.sizes["certificate"]
    cert = np.zeros((n_c, n_s, n_y))
    for (c, i, j) in m.CSY:
        cert[c, i, j] = m.cert[c, i, j].value or 0.0
    cert_total = cert.sum(axis=0)
    offsets = np.array([[m.offsets[i, j].value or 0.0 for j in range(n_y)] for i in range(n_s)]).reshape(n_s, n_y)
    ef = d["grid_ef_t_per_mwh"].values
    resid = d["residual_ef_t_per_mwh"].values
    s1 = d["scope1_tco2e"].values
    grid_mwh = mwh["grid_import_mwh"]
    s2l = grid_mwh * ef
    s2m = np.clip(grid_mwh - cert_total, 0.0, None) * resid
    net = s1 + s2m - offsets

    kinds = _kind_index(d)
    capex = d["capex_per_kwp"].values
    om = d["om_per_kwp_year"].values
    asite = list(d["array_site"].values)
    sites = list(d["site"].values)
    site_of = np.array([sites.index(s) for s in asite], dtype=int)
    capex_cost = np.zeros((n_s, n_y))
    om_cost = np.zeros((n_s, n_y))
    for a in range(n_a):
        capex_cost[site_of[a]] += build[a] * capex[kinds[a]]
        om_cost[site_of[a]] += inst[a] * om[kinds[a]]
    imp = d["import_price_per_kwh"].values
    expp = d["export_price_per_kwh"].values
    energy_cost = (imp * disp["grid_import_kw"]).sum(axis=2)
    export_rev = (expp * disp["export_kw"]).sum(axis=2)
    cert_cost = (cert * d["certificate_price_per_mwh"].values[:, None, :]).sum(axis=0)
    offset_cost = offsets * np.nan_to_num(d["offset_price_per_tco2e"].values)[None, :]
    df = _discount(d)
    r = float(d.attrs["discount_rate"])
    L = float(d.attrs["lifetime_years"])
    remaining = np.clip(L - (n_y - np.arange(n_y)), 0, None) / L
    salvage = float(sum(build[a, v] * capex[kinds[a], v] * remaining[v] for a in range(n_a) for v in range(n_y)) * (1 + r) ** -float(n_y))
    total = capex_cost + om_cost + energy_cost - export_rev + cert_cost + offset_cost
    npc = float((total.sum(axis=0) * df).sum() - salvage)

    out = d.copy()
    out["build_kwp"] = (("array", "year"), build, _a("kWp", "new PV built in the year"))
    out["installed_kwp"] = (("array", "year"), inst, _a("kWp", "PV installed at the end of the year (existing + built)"))
    sy = ("site", "year")
    for k, desc in [
        ("pv_generated_mwh", "PV generation after degradation"),
        ("pv_onsite_mwh", "PV used onsite"),
        ("curtailed_mwh", "PV curtailed (neither used nor exported)"),
        ("export_mwh", "PV exported to the grid"),
        ("grid_import_mwh", "electricity bought from the grid"),
    ]:
        out[k] = (sy, mwh[k], _a("MWh", desc))
    out["load_mwh"] = (sy, d["load_kw"].values.sum(axis=2) / KWH_PER_MWH, _a("MWh", "site demand"))
    out["certificates_mwh"] = (sy, cert_total, _a("MWh", "certificates bought for the site's grid electricity (all instruments)"))
    out["certificates_by_instrument_mwh"] = (("certificate", "site", "year"), cert, _a("MWh", "certificates bought, by instrument"))
    out["offsets_tco2e"] = (sy, offsets, _a("tCO2e", "offset credits retired"))
    out["scope2_location_tco2e"] = (sy, s2l, _a("tCO2e", "Scope 2 location-based: grid MWh x grid factor"))
    out["scope2_market_tco2e"] = (sy, s2m, _a("tCO2e", "Scope 2 market-based: (grid MWh - certificate MWh) x residual factor"))
    out["net_tco2e"] = (sy, net, _a("tCO2e", "Scope 1 + market-based Scope 2 - offsets"))
    for k, v, desc in [
        ("capex_cost", capex_cost, "PV investment"),
        ("om_cost", om_cost, "PV operation and maintenance"),
        ("energy_cost", energy_cost, "grid electricity at the hourly tariff"),
        ("export_revenue", export_rev, "revenue from exported PV"),
        ("certificate_cost", cert_cost, "certificates"),
        ("offset_cost", offset_cost, "offset credits"),
    ]:
        out[k] = (sy, v, _a(cur, f"{desc} (undiscounted, in the year)"))
    out["total_cost"] = (sy, total, _a(cur, "sum of the cost categories less export revenue (undiscounted)"))
    out["discount_factor"] = (("year",), df, _a("1", "(1+r)^-(y-y0)"))
    out["npc"] = ((), npc, _a(cur, "net present cost of the plan, salvage deducted"))
    out["salvage_value"] = ((), salvage, _a(cur, "present value of PV life left after the horizon"))
    if hourly:
        for k, v in disp.items():
            out[k] = (("site", "year", "hour"), v.astype(np.float32), _a("kW", k.replace("_kw", "").replace("_", " ") + ", hourly"))
    out.attrs.update(
        solver="HiGHS (via Pyomo)",
        solver_status=sol.status.value,
        solver_termination=sol.termination,
        objective=float(sol.objective) if sol.objective is not None else float("nan"),
        highs_seconds=sol.highs_seconds,
        build_seconds=pm.build_seconds,
        reduced=int(pm.reduce),
        hourly_variables=pm.n_hourly_vars,
    )
    return out


def milestone_table(pm: PlanModel, plan: xr.Dataset, pm_sol: PlanSolution, opts: SolveOptions) -> list[dict[str, Any]]:
    """Per milestone: met, achieved value, target, marginal cost (dual) and re-solve cost."""
    d = pm.data
    years = [int(y) for y in d["year"].values]
    want_duals = opts.milestone_costs != "none"
    inst_total = plan["installed_kwp"].sum("array").values
    onsite_total = plan["pv_onsite_mwh"].sum("site").values
    rows = []
    baseline = float(d["baseline_scope1_tco2e"].values.sum() + d["baseline_scope2_location_tco2e"].values.sum())
    for ms in milestones_of(d):
        name, typ = ms["name"], ms["type"]
        Y = ms.get("year")
        mr = pm.milestones.get(name)
        marg = float(sum(abs(pm_sol.dual(c)) for _, c in mr.rows)) if (mr and want_duals) else float("nan")
        row: dict[str, Any] = {"name": name, "type": typ, "year": Y if Y is not None else years[0]}
        if typ == "min_portfolio_kwp":
            j = years.index(Y)
            row.update(target=ms["kwp"], achieved=float(inst_total[j]), unit="kWp", met=bool(inst_total[j] >= ms["kwp"] * (1 - 1e-6)))
        elif typ == "rooftop_coverage":
            j = years.index(Y)
            roof = plan["array_kind"].values == "rooftop"
            cov = plan["installed_kwp"].values[roof, j].sum() / max(plan["max_kwp"].values[roof].sum(), 1e-9)
            row.update(target=ms["fraction"], achieved=float(cov), unit="share", met=bool(cov >= ms["fraction"] * (1 - 1e-6)))
        elif typ == "min_pv_onsite_mwh":
            j = years.index(Y)
            lo = float(onsite_total[j:].min())
            row.update(target=ms["mwh"], achieved=lo, unit="MWh/yr (lowest year)", met=bool(lo >= ms["mwh"] * (1 - 1e-6)))
        elif typ == "min_certificates_mwh":
            j = years.index(Y)
            v = float(plan["certificates_mwh"].sum("site").values[j])
            row.update(target=ms["mwh"], achieved=v, unit="MWh", met=bool(v >= ms["mwh"] * (1 - 1e-6)))
        elif typ == "emissions_peak":
            s2 = plan["scope2_market_tco2e"] if ms.get("scope2", "market") == "market" else plan["scope2_location_tco2e"]
            gross = (plan["scope1_tco2e"] + s2).sum("site").values
            j = years.index(Y)
            rise = float(np.max(np.diff(gross[j:]), initial=0.0))
            row.update(target=0.0, achieved=rise, unit="tCO2e largest rise after the peak year", met=bool(rise <= 1e-3 * max(1.0, gross.max())))
        elif typ == "neutrality":
            sel = plan["net_tco2e"].sel(site=[ms["site"]]) if ms.get("site") else plan["net_tco2e"]
            net = sel.sum("site").values
            j = years.index(Y)
            worst = float(net[j:].max())
            row.update(target=0.0, achieved=worst, unit="tCO2e net (worst year)", met=bool(worst <= 1e-3 * max(1.0, baseline)))
        elif typ == "offset_cap":
            mx = float(plan["offsets_tco2e"].sum("site").max())
            cap = ms["share_of_baseline"] * baseline
            row.update(target=cap, achieved=mx, unit="tCO2e (most in a year)", met=bool(mx <= cap * (1 + 1e-6) + 1e-6))
        elif typ == "capex_budget":
            mx = float(plan["capex_cost"].sum("site").max())
            row.update(target=ms["per_year"], achieved=mx, unit=str(d.attrs["currency"]), met=bool(mx <= ms["per_year"] * (1 + 1e-6)))
        elif typ == "build_rate":
            b = plan["build_kwp"]
            if ms.get("site"):
                b = b.where(plan["array_site"] == ms["site"], 0.0)
            mx = float(b.sum("array").max())
            row.update(target=ms["kwp_per_year"], achieved=mx, unit="kWp/yr", met=bool(mx <= ms["kwp_per_year"] * (1 + 1e-6)))
        row["marginal_cost"] = marg
        row["marginal_cost_unit"] = f"{d.attrs['currency']} (NPV) per {row.get('unit', '').split(' ')[0]}"
        row["binding"] = bool(np.isfinite(marg) and marg > 1e-6)
        rows.append(row)
    if opts.milestone_costs == "resolve":
        base = float(plan["npc"])
        for row in rows:
            pm2 = build_model(d, reduce=opts.reduce, skip=frozenset({row["name"]}), matrix=opts.interface == "direct")
            sol2, _ = solve_model(pm2, opts)
            row["cost_vs_without"] = base - sol2.objective if sol2.status == Status.OPTIMAL else float("nan")
    return rows


def milestones_to_dataset(rows: list[dict[str, Any]], cur: str) -> xr.Dataset:
    names = [r["name"] for r in rows]
    ds = xr.Dataset(coords={"milestone": names})
    ds["milestone_type"] = (("milestone",), np.array([r["type"] for r in rows], dtype=object), _a("", "milestone type"))
    ds["milestone_year"] = (("milestone",), np.array([r["year"] for r in rows], dtype=np.int64), _a("year", "year from which it applies"))
    ds["milestone_met"] = (("milestone",), np.array([r["met"] for r in rows], dtype=bool), _a("", "met by the plan"))
    ds["milestone_target"] = (("milestone",), np.array([r["target"] for r in rows], dtype=float), _a("see milestone_unit", "target"))
    ds["milestone_achieved"] = (("milestone",), np.array([r["achieved"] for r in rows], dtype=float), _a("see milestone_unit", "what the plan achieves"))
    ds["milestone_unit"] = (("milestone",), np.array([r["unit"] for r in rows], dtype=object), _a("", "unit of target and achieved"))
    ds["milestone_marginal_cost"] = (("milestone",), np.array([r["marginal_cost"] for r in rows], dtype=float),
                                      _a(f"{cur} (NPV) per unit", "sum over the milestone's rows of |dual|: NPC change per unit of tightening"))
    if rows and "cost_vs_without" in rows[0]:
        ds["milestone_cost_vs_without"] = (("milestone",), np.array([r["cost_vs_without"] for r in rows], dtype=float),
                                            _a(f"{cur} (NPV)", "NPC of the plan minus NPC of a re-solve without this milestone"))
    ds.attrs["milestones_json_results"] = json.dumps(rows, default=float)
    return ds
