"""Finance of a plan: PV per array, site and portfolio against certificates and offsets.

Reads only the plan Dataset (no pvlib, no Pyomo). Every formula and
convention is written out in ``docs/accounting.md`` ("Finance"); in short:

Attribution
    Each hour, a site's onsite PV, export and curtailment are shared among
    its arrays in proportion to each array's generation that hour. An
    array's generation is its effective capacity (existing + new builds,
    each degraded by age, as in the LP) x its hourly yield. The share that
    belongs to capacity built *before* the plan (``existing_kwp``) is sunk and
    left out of the array's finance.
Value
    ``Σ_t import_price[t] x onsite_kw[t] + Σ_t export_price[t] x export_kw[t]``
    hour by hour, so midday valley tariffs lower the value of PV.
Timing
    As in the LP: a kWp built in year ``v`` pays its capex in ``v`` and
    produces from ``v``; flows of year ``y`` are discounted by
    ``(1+r)^-(y-y_ref)`` with no mid-year shift. A cohort lives ``L`` years
    (``v .. v+L-1``). Beyond the planning horizon the last planned year's
    value and onsite share per kWh generated are held, and generation falls
    with degradation; prices and O&M stay at the last planned year's level.
LCOE
    ``(Σ df·capex + Σ df·O&M − df·salvage) / Σ df·generation_kwh``; over a
    full life the salvage is 0.
Payback
    Simple, undiscounted: years from the first capex until cumulative
    (value − O&M) covers cumulative capex, savings accruing evenly in a year.
NPV, IRR
    NPV of (value − O&M − capex) over the life, discounted to the first
    planning year; IRR solves NPV(r) = 0 with :func:`scipy.optimize.brentq`.
Abatement cost, break-even certificate price
    ``(PV cost − PV value) / Σ df·tCO2e avoided``, with tCO2e avoided =
    onsite MWh x residual factor (market-based Scope 2 avoided; exported
    and curtailed PV avoid none of the company's Scope 2). The break-even
    certificate price is the same net cost per discounted *onsite MWh*:
    ``(LCOE − value per kWh generated) x 1000 / onsite share``. Certificates
    above it make PV the cheaper way to remove a MWh of market-based
    Scope 2; a negative break-even means PV pays for itself outright.
Arrays not built
    Evaluated at their unused room (``max_kwp`` − installed), built in the
    first planning year, one at a time, with potential onsite use
    ``min(grid_import_kw[t], generation_kw[t])`` against the plan's own
    remaining grid import (and export of the rest where allowed, up to the
    unused export limit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "npv",
    "irr",
    "lcoe_per_kwh",
    "simple_payback_years",
    "break_even_certificate_price_per_mwh",
    "certificate_cost_per_tco2e",
    "ArrayFlows",
    "array_flows",
    "flow_metrics",
    "finance_arrays",
    "finance_sites",
    "macc_table",
    "certificate_prices_table",
    "currency_code",
]

KWH_PER_MWH = 1000.0
IRR_BRACKET = (-0.99, 10.0)
"""Search interval of the IRR [1/yr]."""
MIN_KWP = 1e-6
"""Capacities below this are treated as not built [kWp]."""


# --------------------------------------------------------------------------- #
# plain formulas (hand-checkable)
# --------------------------------------------------------------------------- #
def npv(rate: float, cashflows: np.ndarray | list[float]) -> float:
    """Net present value ``Σ_k cf[k] / (1+rate)^k`` (``cf[0]`` undiscounted).

    Examples
    --------
    >>> round(npv(0.1, [-100, 60, 60]), 4)
    4.1322
    """
    cf = np.asarray(cashflows, dtype=float)
    return float(np.sum(cf * (1.0 + rate) ** -np.arange(len(cf), dtype=float)))


def irr(cashflows: np.ndarray | list[float]) -> float:
    """Return the internal rate of return: the rate at which :func:`npv` is zero [1/yr]; NaN when none in (-99 %, 1000 %).

    Examples
    --------
    >>> round(irr([-100, 60, 60]), 4)
    0.1307
    """
    from scipy.optimize import brentq

    cf = np.asarray(cashflows, dtype=float)
    lo, hi = IRR_BRACKET
    f_lo, f_hi = npv(lo, cf), npv(hi, cf)
    if not (np.isfinite(f_lo) and np.isfinite(f_hi)) or f_lo * f_hi > 0:
        return float("nan")
    return float(brentq(lambda r: npv(r, cf), lo, hi, xtol=1e-12, maxiter=500))


def lcoe_per_kwh(capex: np.ndarray | list[float], om: np.ndarray | list[float], generation_kwh: np.ndarray | list[float],
                 rate: float, *, salvage: float = 0.0) -> float:
    """Levelised cost ``(Σ df·capex + Σ df·om − df_end·salvage) / Σ df·generation`` [currency/kWh].

    All series are per year ``k = 0, 1, …`` with ``df = (1+rate)^-k``;
    ``salvage`` is received at ``k = len(series)``.

    Examples
    --------
    >>> round(lcoe_per_kwh([1000, 0], [10, 10], [100, 100], 0.1), 4)
    5.3381
    """
    cap, o, g = (np.asarray(x, dtype=float) for x in (capex, om, generation_kwh))
    df = (1.0 + rate) ** -np.arange(len(g), dtype=float)
    den = float(np.sum(df * g))
    if den <= 0:
        return float("nan")
    return float((np.sum(df * cap) + np.sum(df * o) - salvage * (1.0 + rate) ** -float(len(g))) / den)


def simple_payback_years(capex: np.ndarray | list[float], savings: np.ndarray | list[float]) -> float:
    """Undiscounted years until cumulative savings cover cumulative capex; NaN if never.

    Capex falls at the start of its year, savings accrue evenly over the year.

    Examples
    --------
    >>> round(simple_payback_years([100, 0, 0, 0, 0], [30] * 5), 4)
    3.3333
    """
    cap, sav = np.asarray(capex, dtype=float), np.asarray(savings, dtype=float)
    pos = 0.0
    for k in range(len(sav)):
        pos -= cap[k]
        if pos >= 0 and k > 0:
            return float(k)
        if sav[k] > 0 and pos + sav[k] >= 0:
            return float(k + (-pos) / sav[k]) if pos < 0 else float(k)
        pos += sav[k]
    return float("nan")


def break_even_certificate_price_per_mwh(lcoe: float, value_per_kwh: float, *, onsite_share: float = 1.0) -> float:
    """Certificate price at which PV and certificates cost the same per MWh of market-based Scope 2 avoided [currency/MWh].

    ``(lcoe − value_per_kwh) x 1000 / onsite_share``, with ``value_per_kwh``
    per kWh *generated* and ``onsite_share`` the (discounted) share of
    generation used onsite; only onsite use displaces grid MWh.

    Examples
    --------
    >>> round(break_even_certificate_price_per_mwh(0.35, 0.30, onsite_share=0.5), 6)
    100.0
    """
    if onsite_share <= 0:
        return float("nan")
    return (lcoe - value_per_kwh) * KWH_PER_MWH / onsite_share


def certificate_cost_per_tco2e(price_per_mwh: float, residual_ef_t_per_mwh: float) -> float:
    """Cost of a tonne of market-based Scope 2 removed with certificates: ``price / residual factor`` [currency/tCO2e]."""
    return price_per_mwh / residual_ef_t_per_mwh if residual_ef_t_per_mwh > 0 else float("nan")


def currency_code(plan: xr.Dataset) -> str:
    """Lower-case currency code for column names (``cny``)."""
    return str(plan.attrs.get("currency", "cur")).lower()


# --------------------------------------------------------------------------- #
# per-array cash flows
# --------------------------------------------------------------------------- #
@dataclass
class ArrayFlows:
    """Calendar-year flows of one PV investment (array, site or portfolio).

    All arrays are on ``years``; money in the plan's currency, energy in kWh,
    emissions in tCO2e.
    """

    name: str
    site: str
    status: str
    kwp: float
    build_year: int
    years: np.ndarray
    capex: np.ndarray
    om: np.ndarray
    generation_kwh: np.ndarray
    onsite_kwh: np.ndarray
    value: np.ndarray
    avoided_tco2e: np.ndarray
    horizon_mask: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def on(self, years: np.ndarray) -> "ArrayFlows":
        """Return the same flows re-indexed on a wider calendar (zeros outside)."""
        idx = np.searchsorted(years, self.years)
        def z(x: np.ndarray) -> np.ndarray:
            o = np.zeros(len(years), dtype=float)
            o[idx] = x
            return o
        hm = np.zeros(len(years), dtype=bool)
        hm[idx] = self.horizon_mask
        return ArrayFlows(self.name, self.site, self.status, self.kwp, self.build_year, years, z(self.capex), z(self.om),
                          z(self.generation_kwh), z(self.onsite_kwh), z(self.value), z(self.avoided_tco2e), hm)


def _sum_flows(flows: list[ArrayFlows], name: str, site: str) -> ArrayFlows | None:
    if not flows:
        return None
    years = np.arange(min(int(f.years[0]) for f in flows), max(int(f.years[-1]) for f in flows) + 1)
    fs = [f.on(years) for f in flows]
    tot = lambda k: np.sum([getattr(f, k) for f in fs], axis=0)  # noqa: E731
    return ArrayFlows(name, site, "built", float(sum(f.kwp for f in flows)), min(f.build_year for f in flows), years,
                      tot("capex"), tot("om"), tot("generation_kwh"), tot("onsite_kwh"), tot("value"), tot("avoided_tco2e"),
                      np.any([f.horizon_mask for f in fs], axis=0))


def _effective_kwp(plan: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(new[a, y], existing[a, y])`` effective kWp after degradation, as in the LP."""
    years = plan["year"].values.astype(int)
    deg = plan["degradation_per_year"].values.astype(float)
    build = plan["build_kwp"].values.astype(float)
    age = years[:, None] - years[None, :]  # [y, v]
    f = np.where(age[None] >= 0, (1.0 - deg[:, None, None]) ** np.clip(age, 0, None)[None], 0.0)
    new = np.einsum("ayv,av->ay", f, build)
    ey = plan["existing_year"].values.astype(int)
    eage = np.clip(years[None, :] - np.where(ey < 0, years[0], ey)[:, None], 0, None)
    exist = plan["existing_kwp"].values.astype(float)[:, None] * (1.0 - deg[:, None]) ** eage
    return new, exist


def _array_yield(plan: xr.Dataset) -> np.ndarray:
    """Return the yield of each array [kW/kWp], ``[a, hour]``."""
    profs = [str(p) for p in plan["profile"].values]
    idx = [profs.index(str(p)) for p in plan["array_profile"].values]
    return plan["yield_kw_per_kwp"].values.astype(float)[idx]


def _kind_idx(plan: xr.Dataset) -> np.ndarray:
    kinds = [str(k) for k in plan["kind"].values]
    return np.array([kinds.index(str(k)) for k in plan["array_kind"].values], dtype=int)


def _extend(plan: xr.Dataset, name: str, site: str, status: str, kwp_by_year: np.ndarray, *, kind: int, deg: float,
            gen_h: np.ndarray, on_h: np.ndarray, val_h: np.ndarray, res: np.ndarray) -> ArrayFlows:
    """Life-cycle flows of cohorts ``kwp_by_year[v]`` built in the plan years, from horizon figures.

    ``gen_h, on_h, val_h`` are the cohorts' generation [kWh], onsite use [kWh]
    and value [currency] in each planned year; ``res`` the residual factor
    per planned year.
    """
    years = plan["year"].values.astype(int)
    n_y = len(years)
    L = int(round(float(plan.attrs["lifetime_years"])))
    capex_k = plan["capex_per_kwp"].values[kind].astype(float)
    om_k = plan["om_per_kwp_year"].values[kind].astype(float)
    built = np.where(kwp_by_year > MIN_KWP)[0]
    v0 = int(built[0])
    last = int(years[built[-1]]) + L - 1
    cal = np.arange(int(years[v0]), max(last, int(years[-1])) + 1)
    n = len(cal)
    capex = np.zeros(n)
    om = np.zeros(n)
    gen = np.zeros(n)
    for v in built:
        y_b = int(years[v])
        k0 = y_b - cal[0]
        capex[k0] += kwp_by_year[v] * capex_k[v]
        life = np.arange(k0, min(k0 + L, n))
        yi = np.minimum(cal[life] - years[0], n_y - 1)
        om[life] += kwp_by_year[v] * om_k[yi]
    # generation: planned years as given; beyond, degrade the alive cohorts from the last planned year
    unit = gen_h[-1] / max(float(np.sum([kwp_by_year[v] * (1 - deg) ** (n_y - 1 - v) for v in built])), 1e-12)  # kWh per effective kWp
    pi = np.minimum(cal - years[0], n_y - 1)
    in_h = cal <= years[-1]
    share_on = on_h[-1] / gen_h[-1] if gen_h[-1] > 0 else 0.0
    val_per = val_h[-1] / gen_h[-1] if gen_h[-1] > 0 else 0.0
    for k, y in enumerate(cal):
        if in_h[k]:
            gen[k] = gen_h[pi[k]]
        else:
            gen[k] = unit * sum(kwp_by_year[v] * (1 - deg) ** (y - years[v]) for v in built if y <= years[v] + L - 1)
    onsite = np.where(in_h, on_h[pi], gen * share_on)
    value = np.where(in_h, val_h[pi], gen * val_per)
    resy = res[pi]
    avoided = onsite / KWH_PER_MWH * resy
    return ArrayFlows(name, site, status, float(kwp_by_year.sum()), int(years[v0]), cal, capex, om, gen, onsite, value, avoided, in_h)


def array_flows(plan: xr.Dataset) -> list[ArrayFlows]:
    """Life-cycle flows of each array's new capacity, and of the unused room of each array.

    Built capacity (status ``built``) uses the plan's hourly dispatch shared
    among a site's arrays by hourly generation; the room left (status ``not
    built``) is evaluated as an addition in the first planning year against
    the plan's remaining grid import. Needs the hourly variables of the plan.
    """
    if "pv_onsite_kw" not in plan:
        raise ValueError("the plan has no hourly dispatch (it was solved with --no-hourly); array finance needs it")
    years = plan["year"].values.astype(int)
    sites = [str(s) for s in plan["site"].values]
    asite = [str(s) for s in plan["array_site"].values]
    arrays = [str(a) for a in plan["array"].values]
    kinds = _kind_idx(plan)
    deg = plan["degradation_per_year"].values.astype(float)
    new, exist = _effective_kwp(plan)
    yl = _array_yield(plan)
    imp = plan["import_price_per_kwh"].values
    expp = plan["export_price_per_kwh"].values
    res = plan["residual_ef_t_per_mwh"].values.astype(float)
    onsite = plan["pv_onsite_kw"].values.astype(float)
    export = plan["export_kw"].values.astype(float)
    grid = plan["grid_import_kw"].values.astype(float)
    build = plan["build_kwp"].values.astype(float)
    inst_last = plan["installed_kwp"].values[:, -1].astype(float)
    room = np.clip(plan["max_kwp"].values.astype(float) - inst_last, 0.0, None)
    exp_ok = np.asarray(plan["export_allowed"].values).astype(bool)
    exp_lim = plan["export_limit_kw"].values.astype(float)
    n_y = len(years)
    flows: list[ArrayFlows] = []
    for i, s in enumerate(sites):
        idx = [a for a in range(len(arrays)) if asite[a] == s]
        if not idx:
            continue
        # hourly generation per array and year [kW]: (n_arr, n_y, n_h)
        gen_a = (new[idx] + exist[idx])[:, :, None] * yl[idx][:, None, :]
        tot = gen_a.sum(axis=0)
        share = np.divide(gen_a, tot[None], out=np.zeros_like(gen_a), where=tot[None] > 0)
        on_a = share * onsite[i][None]
        ex_a = share * export[i][None]
        val_a = (on_a * imp[i][None]).sum(axis=2) + (ex_a * expp[i][None]).sum(axis=2)  # [n_arr, n_y]
        gen_y = gen_a.sum(axis=2)
        on_y = on_a.sum(axis=2)
        for k, a in enumerate(idx):
            if build[a].sum() > MIN_KWP:
                frac = np.divide(new[a], new[a] + exist[a], out=np.zeros(n_y), where=(new[a] + exist[a]) > 0)
                flows.append(_extend(plan, arrays[a], s, "built", build[a], kind=kinds[a], deg=deg[a],
                                     gen_h=gen_y[k] * frac, on_h=on_y[k] * frac, val_h=val_a[k] * frac, res=res[i]))
            if room[a] > MIN_KWP:
                kwp_v = np.zeros(n_y)
                kwp_v[0] = room[a]
                eff = room[a] * (1.0 - deg[a]) ** np.arange(n_y)
                g = eff[:, None] * yl[a][None, :]
                on = np.minimum(grid[i], g)
                ex = np.zeros_like(g)
                if exp_ok[i]:
                    cap = np.inf if not np.isfinite(exp_lim[i]) else np.clip(exp_lim[i] - export[i], 0.0, None)
                    ex = np.minimum(g - on, cap)
                val = (on * imp[i]).sum(axis=1) + (ex * expp[i]).sum(axis=1)
                flows.append(_extend(plan, arrays[a], s, "not built", kwp_v, kind=kinds[a], deg=deg[a],
                                     gen_h=g.sum(axis=1), on_h=on.sum(axis=1), val_h=val, res=res[i]))
    return flows


def flow_metrics(f: ArrayFlows, plan: xr.Dataset) -> dict[str, Any]:
    """LCOE, value, NPV, IRR, payback, abatement cost and break-even certificate price of one set of flows."""
    cur = currency_code(plan)
    r = float(plan.attrs["discount_rate"])
    y0 = int(plan["year"].values[0])
    df = (1.0 + r) ** -(f.years - f.years[0]).astype(float)
    D = lambda x: float(np.sum(df * x))  # noqa: E731 - discounted to the first flow year
    cost, value, gen, on, tco2 = D(f.capex) + D(f.om), D(f.value), D(f.generation_kwh), D(f.onsite_kwh), D(f.avoided_tco2e)
    lcoe = lcoe_per_kwh(f.capex, f.om, f.generation_kwh, r)
    value_per = value / gen if gen > 0 else float("nan")
    share = on / gen if gen > 0 else float("nan")
    net = f.value - f.om - f.capex
    hm = f.horizon_mask
    return {
        "name": f.name,
        "site": f.site,
        "status": f.status,
        "kwp": f.kwp,
        "build_year": f.build_year,
        f"capex_{cur}": float(f.capex.sum()),
        f"om_{cur}_per_year": float(f.om[hm].mean()) if hm.any() else float("nan"),
        "generation_mwh_per_year": float(f.generation_kwh[hm].mean() / KWH_PER_MWH) if hm.any() else float("nan"),
        "onsite_mwh_per_year": float(f.onsite_kwh[hm].mean() / KWH_PER_MWH) if hm.any() else float("nan"),
        "onsite_share_pct": share * 100.0,
        f"lcoe_{cur}_per_kwh": lcoe,
        f"value_{cur}_per_kwh": value_per,
        f"onsite_value_{cur}_per_kwh": value / on if on > 0 else float("nan"),
        f"npv_{cur}": float(np.sum(df * net)) * (1.0 + r) ** -float(f.years[0] - y0),
        "irr_pct": irr(net) * 100.0,
        "payback_years": simple_payback_years(f.capex, f.value - f.om),
        "avoided_tco2e_per_year": float(f.avoided_tco2e[hm].mean()) if hm.any() else float("nan"),
        f"abatement_cost_{cur}_per_tco2e": (cost - value) / tco2 if tco2 > 0 else float("nan"),
        f"break_even_certificate_price_{cur}_per_mwh": (cost - value) / (on / KWH_PER_MWH) if on > 0 else float("nan"),
    }


def certificate_prices_table(plan: xr.Dataset) -> pd.DataFrame:
    """Certificate prices by instrument and year where available [currency/MWh], and per tCO2e at the portfolio's mean residual factor."""
    cur = currency_code(plan)
    price = plan["certificate_price_per_mwh"]
    ok = np.asarray(plan["certificate_available"].values).astype(bool)
    res = float(plan["residual_ef_t_per_mwh"].mean())
    rows = []
    for c, name in enumerate(str(x) for x in plan["certificate"].values):
        for j, y in enumerate(int(y) for y in plan["year"].values):
            if ok[c, j]:
                p = float(price.values[c, j])
                rows.append({"certificate": name, "year": y, f"price_{cur}_per_mwh": p,
                             f"cost_{cur}_per_tco2e": certificate_cost_per_tco2e(p, res)})
    return pd.DataFrame(rows, columns=["certificate", "year", f"price_{cur}_per_mwh", f"cost_{cur}_per_tco2e"])


def reference_certificate_price(plan: xr.Dataset) -> float:
    """Mean over the planning years of the cheapest available certificate's price [currency/MWh]."""
    price = plan["certificate_price_per_mwh"].values.astype(float)
    ok = np.asarray(plan["certificate_available"].values).astype(bool)
    if price.size == 0:
        return float("nan")
    cheapest = np.where(ok, price, np.inf).min(axis=0)
    cheapest = cheapest[np.isfinite(cheapest)]
    return float(cheapest.mean()) if cheapest.size else float("nan")


def finance_arrays(plan: xr.Dataset) -> pd.DataFrame:
    """One row per array (status ``built``) and per unused room of an array (status ``not built``).

    Adds ``reference_certificate_price_{cur}_per_mwh`` (mean of the cheapest
    available certificate over the plan years) and ``pv_cheaper_than_certificates``
    (break-even price below it).
    """
    cur = currency_code(plan)
    rows = [flow_metrics(f, plan) for f in array_flows(plan)]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    ref = reference_certificate_price(plan)
    df[f"reference_certificate_price_{cur}_per_mwh"] = ref
    df["pv_cheaper_than_certificates"] = df[f"break_even_certificate_price_{cur}_per_mwh"] < ref
    return df.rename(columns={"name": "array"})


def finance_sites(plan: xr.Dataset) -> pd.DataFrame:
    """Finance of the PV the plan builds, per site and for the portfolio (``site == 'ALL'``); new capacity only."""
    flows = [f for f in array_flows(plan) if f.status == "built"]
    rows = []
    for s in [str(x) for x in plan["site"].values]:
        agg = _sum_flows([f for f in flows if f.site == s], s, s)
        if agg is not None:
            rows.append(flow_metrics(agg, plan))
    agg = _sum_flows(flows, "ALL", "ALL")
    if agg is not None:
        rows.append(flow_metrics(agg, plan))
    df = pd.DataFrame(rows)
    return df.drop(columns=["name"]).rename(columns={"status": "scope"}).assign(scope="built PV") if not df.empty else df


def _measure_macc_rows(plan: xr.Dataset, cur: str) -> list[dict]:
    """MACC rows of efficiency and electrification measures, each at full size.

    Cost per tCO2e = (capex x capital recovery factor over the measure's life + O&M
    + change of the energy bill at the hourly tariff, mean over the plan years)
    / tCO2e avoided a year (Scope 1 removed + change of grid MWh x residual factor,
    market-based). The energy change is valued against grid prices as if no PV
    covered it (a measure's saving can also displace PV; the LP accounts for that exactly).
    """
    if "measure" not in plan.dims or plan.sizes["measure"] == 0:
        return []
    r = float(plan.attrs.get("discount_rate", 0.06))
    sites = [str(s) for s in plan["site"].values]
    rows = []
    for k, name in enumerate(str(x) for x in plan["measure"].values):
        i = sites.index(str(plan["measure_site"].values[k]))
        delta = plan["measure_delta_kw"].values[k]  # (year, hour) kW at full size
        price = plan["import_price_per_kwh"].values[i]
        bill = float((delta * price).sum(axis=1).mean())  # change of the yearly bill [currency]
        grid_mwh = float(delta.sum(axis=1).mean()) / 1000.0
        res = float(plan["residual_ef_t_per_mwh"].values[i].mean())
        abated = float(plan["measure_scope1_removed_tco2e"].values[k]) - grid_mwh * res
        life = int(plan["measure_lifetime_years"].values[k])
        crf = r / (1 - (1 + r) ** -life) if r > 0 else 1.0 / life
        yearly = float(plan["measure_capex"].values[k]) * crf + float(plan["measure_om_per_year"].values[k]) + bill
        used = bool(plan["measure_adopted_fraction"].values[k].max() > 1e-6) if "measure_adopted_fraction" in plan else False
        if abated > 0:
            rows.append({"option": f"{plan['measure_type'].values[k]} {name}", "type": str(plan["measure_type"].values[k]),
                         "built": used, "abated_tco2e_per_year": abated, f"cost_{cur}_per_tco2e": yearly / abated})
    return rows


def macc_table(plan: xr.Dataset, arrays: pd.DataFrame | None = None) -> pd.DataFrame:
    """Marginal abatement cost curve: options sorted by cost per tCO2e.

    Options: each array (built capacity and unused room), each certificate
    instrument at its mean price over its available plan years, and offsets
    at their mean price. Quantities [tCO2e/yr]: arrays, market-based Scope 2
    avoided (mean over the plan years); a certificate instrument, the most it
    could cover (mean grid import over its years x residual factor, the
    plan's PV already deducted); offsets, the largest yearly volume the plan
    retires (or, if none, the mean Scope 1). Options are alternatives for the
    same tonnes, so the widths do not add up to one total.
    """
    cur = currency_code(plan)
    a = finance_arrays(plan) if arrays is None else arrays
    rows = []
    for _, r in a.iterrows():
        rows.append({"option": f"PV {r['array']}" + (" (unused room)" if r["status"] != "built" else ""), "type": "pv",
                     "built": r["status"] == "built", "abated_tco2e_per_year": r["avoided_tco2e_per_year"],
                     f"cost_{cur}_per_tco2e": r[f"abatement_cost_{cur}_per_tco2e"]})
    ok = np.asarray(plan["certificate_available"].values).astype(bool)
    grid = plan["grid_import_mwh"]
    res = plan["residual_ef_t_per_mwh"]
    pot = (grid * res).sum("site").values
    resm = float((grid * res).sum() / max(float(grid.sum()), 1e-9))
    for c, name in enumerate(str(x) for x in plan["certificate"].values):
        if ok[c].any():
            p = float(plan["certificate_price_per_mwh"].values[c, ok[c]].mean())
            rows.append({"option": f"certificates {name}", "type": "certificate",
                         "built": bool(plan["certificates_by_instrument_mwh"].values[c].sum() > 0),
                         "abated_tco2e_per_year": float(pot[ok[c]].mean()),
                         f"cost_{cur}_per_tco2e": certificate_cost_per_tco2e(p, resm)})
    rows += _measure_macc_rows(plan, cur)
    op = plan["offset_price_per_tco2e"].values.astype(float)
    if np.isfinite(op).any():
        used = plan["offsets_tco2e"].sum("site").values
        q = float(used.max()) if used.max() > 0 else float(plan["scope1_after_measures_tco2e"].sum("site").mean())
        rows.append({"option": "offsets", "type": "offset", "built": bool(used.sum() > 0), "abated_tco2e_per_year": q,
                     f"cost_{cur}_per_tco2e": float(np.nanmean(op))})
    df = pd.DataFrame(rows).dropna(subset=[f"cost_{cur}_per_tco2e"])
    df = df.sort_values(f"cost_{cur}_per_tco2e", kind="stable").reset_index(drop=True)
    df["cumulative_tco2e_per_year"] = df["abated_tco2e_per_year"].cumsum()
    df = df.rename(columns={"built": "used_in_plan"})
    return df
