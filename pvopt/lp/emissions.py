"""Emissions accounting inside the LP (GHG Protocol dual Scope 2 reporting) as Pyomo expressions."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import xarray as xr

from pvopt.lp.data import measures_of_site, optional

__all__ = ['define_emissions']


def define_emissions(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    r"""Emissions accounting (GHG Protocol dual reporting).

    ``scope1[s,y] = scope1_input − Σ_μ frac[μ,y]·scope1_removed[μ]``;
    ``scope2_location[s,y] = grid_mwh·ef``; ``scope2_market[s,y] = (grid_mwh − cert_total)·residual``;
    ``net[s,y] = scope1 + scope2_market − offsets`` [tCO2e].
    """
    ef = d["grid_ef_t_per_mwh"].values
    res = d["residual_ef_t_per_mwh"].values
    s1 = d["scope1_tco2e"].values
    removed = optional(d, "measure_scope1_removed_tco2e", np.zeros(0))
    ms_of = [measures_of_site(d, i) for i in range(d.sizes["site"])]
    m.scope1 = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: float(s1[i, j]) - sum(float(removed[k]) * m.mfrac[k, j] for k in ms_of[i]))
    m.scope2_location = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: float(ef[i, j]) * m.grid_mwh[i, j])
    m.scope2_market = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: float(res[i, j]) * (m.grid_mwh[i, j] - m.cert_total[i, j]))
    m.net = pyo.Expression(m.S, m.Y, rule=lambda m, i, j: m.scope1[i, j] + m.scope2_market[i, j] - m.offsets[i, j])
