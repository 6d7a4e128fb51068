"""The objective: net present cost of the plan."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import xarray as xr

from pvopt.lp.data import discount_factors, existing_alive_kwp, kind_index, lin, optional, vintage_window
from pvopt.lp.milestones import ELASTIC_PENALTY, MilestoneRows

__all__ = ['salvage_share', 'define_objective']


def salvage_share(L: float, n_y: int, v: int) -> float:
    """Straight-line share of an asset built in year index ``v`` still unused after the horizon."""
    return max(0.0, L - (n_y - v)) / L


def define_objective(m: pyo.ConcreteModel, d: xr.Dataset, mrows: dict[str, MilestoneRows]) -> None:
    r"""Net present cost [currency].

    ``NPC = Σ_y df_y·(Σ_a capex·build + Σ_a om·inst + energy_cost + demand_charge·Σ_month peak − export_revenue
    + Σ_c price_c·cert + offset_price·offsets + measure and battery capex and O&M) − salvage``,
    ``df_y = (1+r)^{-(y-y0)}``; salvage of an asset built in year v: ``capex·max(0, L − (y_last − v + 1))/L·df_{y_last+1}``
    (straight-line value of the life left after the horizon). An asset of life ``L`` built in year v works, and pays
    O&M, in years ``v … min(v+L−1, y_last)`` (after that it is rebuilt by a new build, or gone); existing PV pays O&M
    while it is within its life.
    """
    df = discount_factors(d)
    n_y = len(df)
    r = float(d.attrs["discount_rate"])
    L = float(d.attrs["lifetime_years"])
    kinds = kind_index(d)
    capex = d["capex_per_kwp"].values
    om = d["om_per_kwp_year"].values
    cp = d["certificate_price_per_mwh"].values
    op = np.nan_to_num(d["offset_price_per_tco2e"].values)
    df_end = (1.0 + r) ** -float(n_y)
    om_from = lambda rate, v, life: float(sum(df[y] * rate for y in range(v, min(n_y, v + int(np.ceil(life))))))  # noqa: E731
    W = vintage_window(L, n_y)
    alive = existing_alive_kwp(d)
    coefs, vars_ = [], []
    const = 0.0
    for a in m.A:
        k = kinds[a]
        for v in m.Y:
            salvage = capex[k, v] * salvage_share(L, n_y, v) * df_end
            om_pv = float(sum(df[y] * om[k, y] for y in range(v, n_y) if W[y, v]))
            coefs.append(float(df[v] * capex[k, v] + om_pv - salvage))
            vars_.append(m.build[a, v])
        const += float(sum(df[y] * om[k, y] * alive[a, y] for y in range(n_y)))
    for k in m.M:
        cap, omy, life = (float(d[n].values[k]) for n in ("measure_capex", "measure_om_per_year", "measure_lifetime_years"))
        for v in m.Y:
            coefs.append(float(df[v] * cap + om_from(omy, v, life) - cap * salvage_share(life, n_y, v) * df_end))
            vars_.append(m.madopt[k, v])
    for k in m.B:
        ec, pc, omk, life = (float(d[n].values[k]) for n in ("battery_energy_capex_per_kwh", "battery_power_capex_per_kw", "battery_om_per_kwh_year", "battery_lifetime_years"))
        for v in m.Y:
            sv = salvage_share(life, n_y, v) * df_end
            coefs += [float(df[v] * ec + om_from(omk, v, life) - ec * sv), float(df[v] * pc - pc * sv)]
            vars_ += [m.bE_build[k, v], m.bP_build[k, v]]
    for i in m.S:
        for j in m.Y:
            coefs += [float(df[j]), -float(df[j]), float(df[j] * op[j])]
            vars_ += [m.energy_cost[i, j], m.export_revenue[i, j], m.offsets[i, j]]
    charge = optional(d, "demand_charge_per_kw_month", np.zeros(d.sizes["site"]))
    for (i, j, mo) in m.PK:
        coefs.append(float(df[j] * charge[i]))
        vars_.append(m.peak[i, j, mo])
    for (c, i, j) in m.CSY:
        coefs.append(float(df[j] * cp[c, j]))
        vars_.append(m.cert[c, i, j])
    for (c, j) in m.CVOL:
        coefs.append(float(df[j] * cp[c, j]))
        vars_.append(m.cvol[c, j])
    for mr in mrows.values():
        for s in mr.slacks:
            coefs.append(ELASTIC_PENALTY)
            vars_.append(s)
    m.npc = pyo.Objective(expr=lin(coefs, vars_, const), sense=pyo.minimize)
