"""Turn a solved plan model into the plan Dataset (inputs + decisions + accounting).

Every variable carries ``units`` and ``description`` attrs, declared in
:data:`pvopt.datasets.PLAN_VARIABLES`; the Dataset also holds every LP input
(unchanged: outputs never reuse an input's name), so ``plan.nc`` is a
complete, self-describing record. ``total_cost`` is the signed sum of
:data:`pvopt.costs.COST_CATEGORIES`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyomo.environ as pyo
import xarray as xr

from pvopt.milestones import achieved as achieved_of
from pvopt.milestones import baseline_tco2e
from pvopt.costs import COST_CATEGORIES, COST_NAMES, TOTAL_COST, signed_total
from pvopt.datasets import annotate
from pvopt.lp.data import existing_alive_kwp, vintage_window
from pvopt.lp.reductions import expand_runs, expand_soc, run_hours
from pvopt.lp.model import (
    KWH_PER_MWH,
    PlanModel,
    PlanSolution,
    SolveOptions,
    MatchingPool,
    discount_factors as _discount,
    kind_index as _kind_index,
    build_model,
    milestones_of,
    solve_model,
    Status,
)

__all__ = ["plan_dataset", "milestone_table", "allocate_pooled_matching"]


def _a(units: str, description: str) -> dict[str, str]:
    return {"units": units, "description": description}


def _vals(var: Any, n: int) -> np.ndarray:
    if n == 0:
        return np.zeros(0)
    return np.fromiter((v.value if v.value is not None else 0.0 for v in var.values()), dtype=float, count=n)


def _effective_load(pm: PlanModel) -> np.ndarray:
    """Hourly load after the adopted measures [kW], dims (site, year, hour)."""
    d, m = pm.data, pm.model
    load = d["load_kw"].values.copy()
    if "measure" in d.dims and d.sizes["measure"]:
        sites = list(d["site"].values)
        frac = np.array([[m.mfrac[k, j].value or 0.0 for j in range(d.sizes["year"])] for k in range(d.sizes["measure"])])
        for k, s in enumerate(d["measure_site"].values):
            load[sites.index(s)] += frac[k][:, None] * d["measure_delta_kw"].values[k]
    return load


def hourly_dispatch(pm: PlanModel) -> dict[str, np.ndarray]:
    """Hourly generation, onsite use, export, curtailment, grid import and battery flows [kW], dims (site, year, hour)."""
    d, m = pm.data, pm.model
    n_s, n_y, n_h = d.sizes["site"], d.sizes["year"], d.sizes["hour"]
    load = _effective_load(pm)
    ymat = d["yield_kw_per_kwp"].values
    eg = np.array([[m.EG[g, j].value or 0.0 for j in range(n_y)] for g in range(d.sizes["profile"])]).reshape(d.sizes["profile"], n_y)
    psite = list(d["profile_site"].values)
    sites = list(d["site"].values)
    vals = {name: _vals(getattr(m, name), len(getattr(m, name))) for name in ("pv", "ex", "grid", "bc", "bd", "soc", "matched")}
    gen = np.zeros((n_s, n_y, n_h))
    onsite = np.zeros_like(gen)
    export = np.zeros_like(gen)
    grid = np.full_like(gen, np.nan)
    charge = np.zeros_like(gen)
    discharge = np.zeros_like(gen)
    soc = np.zeros_like(gen)
    matched = np.zeros_like(gen)
    for i, s in enumerate(sites):
        profs = [g for g, ps in enumerate(psite) if ps == s]
        if profs:
            gen[i] = eg[profs].T @ ymat[profs]
        for j in range(n_y):
            b = pm.blocks[(i, j)]
            n = len(b.contested)
            hv = pm.hourly_values.get((i, j))
            con = run_hours(b.contested, b.weight)
            if hv is not None:  # a Benders subproblem's hours (pvopt.lp.decompose)
                for name, arr in (("pv", onsite), ("ex", export), ("grid", grid), ("bc", charge), ("bd", discharge), ("soc", soc)):
                    if name in hv:
                        arr[i, j, con] = expand_soc(hv[name], b.weight) if name == "soc" else expand_runs(hv[name], b.weight)
                continue
            onsite[i, j, b.full] = gen[i, j, b.full]
            onsite[i, j, b.covered] = load[i, j, b.covered]
            onsite[i, j, con] = expand_runs(vals["pv"][b.pv_first : b.pv_first + n], b.weight)
            if b.ex_first >= 0:
                export[i, j, con] = expand_runs(vals["ex"][b.ex_first : b.ex_first + n], b.weight)
            if b.grid_first >= 0:
                grid[i, j, con] = expand_runs(vals["grid"][b.grid_first : b.grid_first + n], b.weight)
            if b.bat_first >= 0:
                sl = slice(b.bat_first, b.bat_first + n)
                charge[i, j, con] = expand_runs(vals["bc"][sl], b.weight)
                discharge[i, j, con] = expand_runs(vals["bd"][sl], b.weight)
                soc[i, j, con] = expand_soc(vals["soc"][sl], b.weight)
            if b.match_first >= 0:
                matched[i, j, con] = expand_runs(vals["matched"][b.match_first : b.match_first + n], b.weight)
    onsite = np.minimum(onsite, gen)
    curtailed = np.clip(gen - onsite - export, 0.0, None)
    derived = np.clip(load - onsite - discharge + charge, 0.0, None)
    grid = np.where(np.isnan(grid), derived, grid)
    out = {"load_kw": load, "pv_generated_kw": gen, "pv_onsite_kw": onsite, "export_kw": export, "curtailed_kw": curtailed, "grid_import_kw": grid}
    if len(m.bc) or any("bc" in hv for hv in pm.hourly_values.values()):
        out.update(battery_charge_kw=charge, battery_discharge_kw=discharge, battery_soc_kwh=soc)
    if pm.matching is not None and pm.matching.pooled:
        out["matched_certificates_kw"] = allocate_pooled_matching(pm.matching, _vals(m.matched_pool, len(m.matched_pool)), grid)
    elif len(m.matched):
        out["matched_certificates_kw"] = matched
    return out


def allocate_pooled_matching(pool: MatchingPool, matched_pool_kw: np.ndarray, grid_kw: np.ndarray) -> np.ndarray:
    """Share each matching group's matched certificates among its sites, hour by hour [kW], dims (site, year, hour).

    Pro rata to the sites' grid import in the hour:
    ``matched[s,y,t] = matched_pool[g,y,t]·grid[s,y,t] / Σ_{s'∈g} grid[s',y,t]`` (in equal parts when the
    group imports nothing, which only solver round-off can meet). Every site then claims no more than it
    imports in any hour, the sites of a group sum to the group's matched total in every hour, and — the
    LP weighs a group's sites alike (:func:`pvopt.lp.reductions.matching_groups`) — every LP row and
    cost reads the same values as the solver's own split.
    """
    n_s, n_y, n_h = grid_kw.shape
    total = np.zeros((len(pool.groups), n_y, n_h))
    total[pool.key_g, pool.key_j, pool.key_t] = matched_pool_kw
    out = np.zeros((n_s, n_y, n_h))
    for g, sites in enumerate(pool.groups):
        gs = grid_kw[sites]
        tot = gs.sum(axis=0)
        w = np.divide(gs, tot[None], out=np.full_like(gs, 1.0 / len(sites)), where=tot[None] > 0)
        out[sites] = total[g][None] * w
    return out


def hourly_matched_scope2(d: xr.Dataset, grid_kw: np.ndarray, cert_by_instrument_mwh: np.ndarray) -> np.ndarray:
    """Market-based Scope 2 [tCO2e] of an annually matched plan re-counted hour by hour (site, year).

    Each instrument's annual volume is spread over the year with its hourly share
    (``certificate_hourly_share``) and pooled across the portfolio's sites; in each hour the
    pool covers at most that hour's grid import, shared among sites in proportion to their
    import. Unmatched grid electricity counts at the residual factor (GHG Protocol Scope 2
    revision, 2025 consultation proposal).
    """
    share = d["certificate_hourly_share"].values if "certificate_hourly_share" in d else np.ones((d.sizes["certificate"], 8760)) / 8760
    res = d["residual_ef_t_per_mwh"].values
    supply = np.einsum("cy,ct->yt", cert_by_instrument_mwh.sum(axis=1), share) * KWH_PER_MWH  # kW per hour
    tot = grid_kw.sum(axis=0)  # (year, hour)
    cover = np.minimum(supply, tot)
    frac = np.divide(cover, tot, out=np.zeros_like(tot), where=tot > 0)
    matched = grid_kw * frac[None]
    return (grid_kw - matched).sum(axis=2) / KWH_PER_MWH * res


def hourly_matching_purchase(grid_kw: np.ndarray, target_mwh: float, share: np.ndarray, *, rtol: float = 1e-9) -> float:
    """Certificates [MWh] to buy so that hour-by-hour matching covers ``target_mwh`` of grid use.

    ``grid_kw`` is the portfolio's hourly import (8760,), ``share`` the instrument's hourly
    share of its annual volume (sums to 1). Matched energy ``Σ_t min(grid_t, V·share_t)`` grows
    with the volume V, concavely; V is found by bisection. Returns ``inf`` when no volume can
    match the target (the instrument generates in no hour in which the portfolio imports enough).
    """
    grid_kwh = np.asarray(grid_kw, dtype=float)
    target_kwh = float(target_mwh) * KWH_PER_MWH
    if target_kwh <= 0:
        return 0.0
    reach = float(grid_kwh[share > 0].sum())
    if reach < target_kwh * (1 - rtol):
        return float("inf")
    matched = lambda v: float(np.minimum(grid_kwh, v * share).sum())  # noqa: E731
    lo, hi = target_kwh, target_kwh
    while matched(hi) < target_kwh * (1 - rtol):
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if matched(mid) >= target_kwh * (1 - rtol):
            hi = mid
        else:
            lo = mid
        if hi - lo <= rtol * hi:
            break
    return hi / KWH_PER_MWH


def matching_comparison(d: xr.Dataset, grid_kw: np.ndarray, cert_claimed_mwh: np.ndarray) -> dict[str, np.ndarray]:
    """Per year: certificates and their cost under annual matching (the plan) and under hourly matching.

    Hourly matching keeps the plan's dispatch and its claimed certificate MWh per year, and buys
    the cheapest instrument available that year in the volume :func:`hourly_matching_purchase`
    says is needed (GHG Protocol Scope 2 revision, 2025 consultation: hourly matching).
    """
    n_y = d.sizes["year"]
    price = d["certificate_price_per_mwh"].values
    ok = d["certificate_available"].values
    share = d["certificate_hourly_share"].values if "certificate_hourly_share" in d else np.ones((d.sizes["certificate"], 8760)) / 8760
    pool = grid_kw.sum(axis=0)  # (year, hour)
    target = cert_claimed_mwh.sum(axis=0)
    need = np.zeros(n_y)
    cost_h = np.full(n_y, np.nan)
    for j in range(n_y):
        cands = [c for c in range(price.shape[0]) if ok[c, j]]
        if target[j] <= 0:
            need[j], cost_h[j] = 0.0, 0.0
            continue
        if not cands:
            need[j] = np.inf
            continue
        vol = {c: hourly_matching_purchase(pool[j], target[j], share[c]) for c in cands}
        best = min(cands, key=lambda c: price[c, j] * vol[c])
        need[j] = vol[best]
        cost_h[j] = price[best, j] * need[j]
    return {"claimed_mwh": target, "hourly_needed_mwh": need, "hourly_cost": cost_h}


def _salvage_shares(life: float, n_y: int) -> np.ndarray:
    return np.clip(life - (n_y - np.arange(n_y)), 0, None) / life


def plan_dataset(pm: PlanModel, sol: PlanSolution, res: Any, opts: SolveOptions, *, hourly: bool = True) -> xr.Dataset:
    """Build the plan: every input plus decisions, energy, emissions, costs and milestones.

    Costs are recomputed from the decisions and the hourly dispatch; their discounted sum
    less salvage (``npc``) equals the LP objective (a test checks it).
    """
    d, m = pm.data, pm.model
    cur = str(d.attrs["currency"])
    n_a, n_y, n_s = d.sizes["array"], d.sizes["year"], d.sizes["site"]
    build = _values(m.build, n_a, n_y)
    build = np.where(build < 1e-7, 0.0, build)
    inst = existing_alive_kwp(d) + build @ vintage_window(float(d.attrs["lifetime_years"]), n_y).T  # working vintages only
    disp = hourly_dispatch(pm)
    mwh = {k.replace("_kw", "_mwh"): v.sum(axis=2) / KWH_PER_MWH for k, v in disp.items() if k.endswith("_kw")}
    hourly_matching, cert, cert_total, cert_cost, volume = _certificates(d, m, mwh)
    offsets = _values(m.offsets, n_s, n_y)
    s2l, s2m, s1, net = _emissions(d, m, mwh["grid_import_mwh"], cert_total, offsets)
    df = _discount(d)
    capex_cost, om_cost, salvage = _pv_costs(d, build, inst)
    measure_cost, madopt, mfrac, salvage = _measure_costs(d, m, salvage)
    battery_cost, bE, bP, salvage = _battery_costs(d, m, salvage)
    peak, demand_cost = _demand_charges(d, m)
    costs = _cost_categories(d, disp, offsets, capex_cost=capex_cost, om_cost=om_cost, measure_cost=measure_cost,
                             battery_cost=battery_cost, demand_cost=demand_cost, certificate_cost=cert_cost)
    total = signed_total(costs)
    npc = float((total.sum(axis=0) * df).sum() - salvage)  # existing PV O&M is in om_cost already

    out = d.copy()
    out["build_kwp"] = (("array", "year"), build, _a("kWp", "new PV built in the year"))
    out["installed_kwp"] = (("array", "year"), inst, _a("kWp", "PV installed and working in the year (existing and built capacity within their life)"))
    _add_energy(out, d, disp, mwh)
    sy = ("site", "year")
    out["certificates_mwh"] = (sy, cert_total, _a("MWh", "certificates claimed against the site's grid electricity (all instruments)"))
    out["certificates_by_instrument_mwh"] = (("certificate", "site", "year"), cert, _a("MWh", "certificates bought, by instrument (hourly matching: portfolio volume shared by matched MWh)"))
    out["certificates_bought_mwh"] = (("certificate", "year"), volume, _a("MWh", "certificates bought by the portfolio, by instrument"))
    out["offsets_tco2e"] = (sy, offsets, _a("tCO2e", "offset credits retired"))
    out["scope1_after_measures_tco2e"] = (sy, s1, _a("tCO2e", "Scope 1 after electrification measures"))
    out["scope2_location_tco2e"] = (sy, s2l, _a("tCO2e", "Scope 2 location-based: grid MWh x grid factor"))
    out["scope2_market_tco2e"] = (sy, s2m, _a("tCO2e", "Scope 2 market-based: (grid MWh - certificate MWh) x residual factor"))
    if not hourly_matching:
        _add_matching_comparison(out, d, disp, cert, cert_total, cert_cost, cur)
    out["net_tco2e"] = (sy, net, _a("tCO2e", "Scope 1 + market-based Scope 2 - offsets"))
    for c in COST_CATEGORIES:
        out[c.name] = (sy, costs[c.name], _a(cur, f"{c.description} (undiscounted, in the year)"))
    out[TOTAL_COST] = (sy, total, _a(cur, "signed sum of the cost categories (pvopt.costs.COST_CATEGORIES; export revenue subtracted), undiscounted"))
    out["discount_factor"] = (("year",), df, _a("1", "(1+r)^-(y-y0)"))
    out["npc"] = ((), npc, _a(cur, "net present cost of the plan, salvage deducted"))
    out["salvage_value"] = ((), salvage, _a(cur, "present value of asset life left after the horizon"))
    if len(madopt):
        out["measure_adopted_fraction"] = (("measure", "year"), mfrac, _a("1", "share of the measure's full size in place"))
        out["measure_new_fraction"] = (("measure", "year"), madopt, _a("1", "share adopted in the year"))
    if len(bE):
        out["battery_energy_kwh"] = (("battery", "year"), bE, _a("kWh", "battery energy capacity in place"))
        out["battery_power_kw"] = (("battery", "year"), bP, _a("kW", "battery power in place"))
    if len(m.PK):
        out["peak_import_kw"] = (("site", "year", "month"), peak, _a("kW", "monthly peak grid import (demand-charge sites)"))
        out = out.assign_coords(month=np.arange(1, 13))
    if hourly:
        _add_hourly(out, disp)
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
    if pm.matching is not None:  # hourly certificate matching: how it was modelled (docs/formulation.md)
        out.attrs.update(hourly_matching_formulation=pm.matching.formulation,
                         hourly_matching_groups=pm.matching.group_names(d) if pm.matching.pooled else " | ".join(map(str, d["site"].values)))
    if sol.benders is not None:  # decomposed solve: its bounds
        b = sol.benders
        out.attrs.update(solve_method="benders", lower_bound=b.lower_bound, upper_bound=b.upper_bound, relative_gap=b.gap,
                         benders_iterations=b.iterations, benders_subproblems=b.subproblems, benders_stabilisation=b.stabilise)
    return annotate(out, "plan", currency=cur)


def _values(comp: Any, n0: int, n_y: int) -> np.ndarray:
    """Return the solved values of a Pyomo component indexed ``[k, year]`` as an ``(n0, n_y)`` array (None as 0)."""
    return np.array([[comp[k, j].value or 0.0 for j in range(n_y)] for k in range(n0)]).reshape(n0, n_y)


def _certificates(d: xr.Dataset, m: Any, mwh: dict[str, np.ndarray]) -> tuple[bool, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return hourly matching or not, certificates by instrument and site, claimed per site, their cost and the volume bought [MWh]."""
    n_y, n_s = d.sizes["year"], d.sizes["site"]
    n_c = d.sizes["certificate"]
    cp = d["certificate_price_per_mwh"].values
    cert = np.zeros((n_c, n_s, n_y))
    hourly_matching = len(m.CVOL) > 0 or d.attrs.get("scope2_matching", "annual") == "hourly"
    cert_total = np.array([[m.cert_total[i, j].value or 0.0 for j in range(n_y)] for i in range(n_s)]).reshape(n_s, n_y)
    pool = getattr(m, "_matching", None)
    if pool is not None and pool.pooled:  # the solver's split within a group is arbitrary: report the pro-rata one
        cert_total = mwh["matched_certificates_mwh"]
    cert_cost = np.zeros((n_s, n_y))
    volume = np.zeros((n_c, n_y))
    if hourly_matching:
        for (c, j) in m.CVOL:
            volume[c, j] = m.cvol[c, j].value or 0.0
        for j in range(n_y):
            w = cert_total[:, j] if cert_total[:, j].sum() > 0 else mwh["grid_import_mwh"][:, j]
            w = w / w.sum() if w.sum() > 0 else np.full(n_s, 1.0 / n_s)
            cert[:, :, j] = volume[:, j][:, None] * w[None, :]
            cert_cost[:, j] = (volume[:, j] * cp[:, j]).sum() * w
    else:
        for (c, i, j) in m.CSY:
            cert[c, i, j] = m.cert[c, i, j].value or 0.0
        cert_cost = (cert * cp[:, None, :]).sum(axis=0)
        volume = cert.sum(axis=1)
    return hourly_matching, cert, cert_total, cert_cost, volume


def _emissions(d: xr.Dataset, m: Any, grid_mwh: np.ndarray, cert_total: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return Scope 2 location- and market-based, Scope 1 after measures and net emissions [tCO2e]."""
    n_y, n_s = d.sizes["year"], d.sizes["site"]
    ef = d["grid_ef_t_per_mwh"].values
    resid = d["residual_ef_t_per_mwh"].values
    s2l = grid_mwh * ef
    s2m = np.clip(grid_mwh - cert_total, 0.0, None) * resid
    s1 = np.array([[float(pyo.value(m.scope1[i, j])) for j in range(n_y)] for i in range(n_s)]).reshape(n_s, n_y)
    net = s1 + s2m - offsets
    return s2l, s2m, s1, net


def _end_discount(d: xr.Dataset) -> float:
    """Return the discount factor at the end of the horizon (salvage is valued there)."""
    return (1 + float(d.attrs["discount_rate"])) ** -float(d.sizes["year"])


def _pv_costs(d: xr.Dataset, build: np.ndarray, inst: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Return PV capex and O&M per site and year, and the present value of PV salvage."""
    n_a, n_y, n_s = d.sizes["array"], d.sizes["year"], d.sizes["site"]
    sites = list(d["site"].values)
    df_end = _end_discount(d)
    kinds = _kind_index(d)
    capex = d["capex_per_kwp"].values
    om = d["om_per_kwp_year"].values
    site_of = np.array([sites.index(s) for s in d["array_site"].values], dtype=int)
    capex_cost = np.zeros((n_s, n_y))
    om_cost = np.zeros((n_s, n_y))
    sal_pv = _salvage_shares(float(d.attrs["lifetime_years"]), n_y)
    salvage = 0.0
    for a in range(n_a):
        capex_cost[site_of[a]] += build[a] * capex[kinds[a]]
        om_cost[site_of[a]] += inst[a] * om[kinds[a]]
        salvage += float((build[a] * capex[kinds[a]] * sal_pv).sum()) * df_end
    return capex_cost, om_cost, salvage


def _measure_costs(d: xr.Dataset, m: Any, salvage: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Return measure costs per site and year, the new and in-place fractions, and ``salvage`` plus the measures' salvage."""
    n_y, n_s = d.sizes["year"], d.sizes["site"]
    sites = list(d["site"].values)
    df_end = _end_discount(d)
    n_m = d.sizes.get("measure", 0)
    madopt = _values(m.madopt, n_m, n_y)
    mfrac = _values(m.mfrac, n_m, n_y)
    measure_cost = np.zeros((n_s, n_y))
    for k in range(n_m):
        i = sites.index(d["measure_site"].values[k])
        cap = float(d["measure_capex"].values[k])
        measure_cost[i] += madopt[k] * cap + mfrac[k] * float(d["measure_om_per_year"].values[k])
        salvage += float((madopt[k] * cap * _salvage_shares(float(d["measure_lifetime_years"].values[k]), n_y)).sum()) * df_end
    return measure_cost, madopt, mfrac, salvage


def _battery_costs(d: xr.Dataset, m: Any, salvage: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Return battery costs per site and year, energy [kWh] and power [kW] in place, and ``salvage`` plus the batteries' salvage."""
    n_y, n_s = d.sizes["year"], d.sizes["site"]
    sites = list(d["site"].values)
    df_end = _end_discount(d)
    n_b = d.sizes.get("battery", 0)
    bE_b, bP_b, bE, bP = _values(m.bE_build, n_b, n_y), _values(m.bP_build, n_b, n_y), _values(m.bE, n_b, n_y), _values(m.bP, n_b, n_y)
    battery_cost = np.zeros((n_s, n_y))
    for k in range(n_b):
        i = sites.index(d["battery_site"].values[k])
        ec, pc = float(d["battery_energy_capex_per_kwh"].values[k]), float(d["battery_power_capex_per_kw"].values[k])
        battery_cost[i] += bE_b[k] * ec + bP_b[k] * pc + bE[k] * float(d["battery_om_per_kwh_year"].values[k])
        sh = _salvage_shares(float(d["battery_lifetime_years"].values[k]), n_y)
        salvage += float(((bE_b[k] * ec + bP_b[k] * pc) * sh).sum()) * df_end
    return battery_cost, bE, bP, salvage


def _demand_charges(d: xr.Dataset, m: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the monthly peak import [kW] ``(site, year, month)`` and the demand charges per site and year."""
    n_y, n_s = d.sizes["year"], d.sizes["site"]
    charge = d["demand_charge_per_kw_month"].values if "demand_charge_per_kw_month" in d else np.zeros(n_s)
    peak = np.zeros((n_s, n_y, 12))
    for (i, j, mo) in m.PK:
        peak[i, j, mo] = m.peak[i, j, mo].value or 0.0
    demand_cost = peak.sum(axis=2) * charge[:, None]
    return peak, demand_cost


def _cost_categories(d: xr.Dataset, disp: dict[str, np.ndarray], offsets: np.ndarray, **computed: np.ndarray) -> dict[str, np.ndarray]:
    """Return every cost category per site and year: the ``computed`` ones plus energy, export revenue and offsets."""
    imp = d["import_price_per_kwh"].values
    expp = d["export_price_per_kwh"].values
    energy_cost = (imp * disp["grid_import_kw"]).sum(axis=2)
    export_rev = (expp * disp["export_kw"]).sum(axis=2)
    offset_cost = offsets * np.nan_to_num(d["offset_price_per_tco2e"].values)[None, :]
    costs = {"capex_cost": computed["capex_cost"], "om_cost": computed["om_cost"], "measure_cost": computed["measure_cost"],
             "battery_cost": computed["battery_cost"], "energy_cost": energy_cost, "demand_cost": computed["demand_cost"],
             "export_revenue": export_rev, "certificate_cost": computed["certificate_cost"], "offset_cost": offset_cost}
    if set(costs) != set(COST_NAMES):  # the declaration defines the categories; every one must be computed here
        raise RuntimeError(f"plan_dataset computes cost categories {sorted(costs)}, pvopt.costs declares {sorted(COST_NAMES)}")
    return costs


def _add_energy(out: xr.Dataset, d: xr.Dataset, disp: dict[str, np.ndarray], mwh: dict[str, np.ndarray]) -> None:
    """Add the annual energy flows per site [MWh] to ``out``."""
    sy = ("site", "year")
    for k, desc in [
        ("pv_generated_mwh", "PV generation after degradation"),
        ("pv_onsite_mwh", "PV used onsite (including what charges a battery)"),
        ("curtailed_mwh", "PV curtailed (neither used nor exported)"),
        ("export_mwh", "PV exported to the grid"),
        ("grid_import_mwh", "electricity bought from the grid"),
    ]:
        out[k] = (sy, mwh[k], _a("MWh", desc))
    out["load_mwh"] = (sy, mwh["load_mwh"], _a("MWh", "site demand after adopted measures"))
    if "battery_charge_kw" in disp:
        out["battery_charge_mwh"] = (sy, mwh["battery_charge_mwh"], _a("MWh", "energy into batteries"))
        out["battery_discharge_mwh"] = (sy, mwh["battery_discharge_mwh"], _a("MWh", "energy out of batteries"))
    out["load_before_measures_mwh"] = (sy, d["load_kw"].values.sum(axis=2) / KWH_PER_MWH, _a("MWh", "site demand before measures"))


def _add_matching_comparison(out: xr.Dataset, d: xr.Dataset, disp: dict[str, np.ndarray], cert: np.ndarray, cert_total: np.ndarray,
                             cert_cost: np.ndarray, cur: str) -> None:
    """Add to an annually matched plan its Scope 2 and certificates had they to match hour by hour."""
    sy = ("site", "year")
    s2h = hourly_matched_scope2(d, disp["grid_import_kw"], cert)
    out["scope2_market_hourly_matched_tco2e"] = (sy, s2h, _a("tCO2e", "the same plan's market-based Scope 2 if certificates had to match grid use hour by hour"))
    cmp_ = matching_comparison(d, disp["grid_import_kw"], cert_total)
    out["certificates_annual_matching_mwh"] = (("year",), cmp_["claimed_mwh"], _a("MWh", "certificates the plan claims (annual matching)"))
    out["certificate_cost_annual_matching"] = (("year",), cert_cost.sum(axis=0), _a(cur, "their cost (annual matching)"))
    out["certificates_hourly_matching_mwh"] = (("year",), cmp_["hourly_needed_mwh"],
                                               _a("MWh", "certificates to buy for the same claimed MWh matched hour by hour (same dispatch; inf: not possible)"))
    out["certificate_cost_hourly_matching"] = (("year",), cmp_["hourly_cost"], _a(cur, "their cost at the cheapest available instrument"))


def _add_hourly(out: xr.Dataset, disp: dict[str, np.ndarray]) -> None:
    """Add the hourly dispatch ``(site, year, hour)`` to ``out`` as float32."""
    for k, v in disp.items():
        name = "load_after_measures_kw" if k == "load_kw" else k
        unit = "kWh" if k.endswith("_kwh") else "kW"
        out[name] = (("site", "year", "hour"), v.astype(np.float32), _a(unit, name.rsplit("_", 1)[0].replace("_", " ") + ", hourly"))


def milestone_table(pm: PlanModel, plan: xr.Dataset, pm_sol: PlanSolution, opts: SolveOptions) -> list[dict[str, Any]]:
    """Per milestone: met, achieved value, target, marginal cost (dual) and re-solve cost."""
    d = pm.data
    years = [int(y) for y in d["year"].values]
    want_duals = opts.milestone_costs != "none"
    rows = []
    baseline = baseline_tco2e(d)
    for ms in milestones_of(d):
        name, typ = ms["name"], ms["type"]
        Y = ms.get("year")
        mr = pm.milestones.get(name)
        marg = float(sum(abs(pm_sol.dual(c)) for _, c in mr.rows)) if (mr and want_duals) else float("nan")
        row: dict[str, Any] = {"name": name, "type": typ, "year": Y if Y is not None else years[0]}
        row.update(achieved_of(plan, ms, baseline, str(d.attrs["currency"])))
        row["marginal_cost"] = marg
        row["marginal_cost_unit"] = f"{d.attrs['currency']} (NPV) per {row.get('unit', '').split(' ')[0]}"
        row["binding"] = bool(np.isfinite(marg) and marg > 1e-6)
        rows.append(row)
    if opts.milestone_costs == "resolve":
        base = float(plan["npc"])
        for row in rows:
            pm2 = build_model(d, reduce=opts.reduce, skip=frozenset({row["name"]}), matrix=opts.interface == "direct")
            sol2, _ = solve_model(pm2, opts)
            row["cost_vs_without"] = base - sol2.objective if sol2.status == Status.OPTIMAL and sol2.objective is not None else float("nan")
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
