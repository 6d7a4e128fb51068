"""Assemble every input the LP uses into one xarray Dataset.

This is the handover between the input/yield layers and the optimiser: the
optimiser reads only this Dataset (never a config model, never pvlib), and
the plan file carries it whole, so that anyone can audit or re-solve a plan
without pvopt.

Dimensions: ``site``, ``array``, ``profile`` (a distinct hourly yield shape
of one site; arrays that share weather and geometry share one), ``year``,
``hour`` (0..8759, local hour-beginning, Feb 29 dropped), ``certificate``,
``kind``. Milestones travel as JSON in the attribute ``milestones_json``.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from .config import Portfolio, series_value
from .profiles import export_price_per_kwh, import_price_per_kwh, load_profile_kw

__all__ = ["build_plan_inputs", "baseline_table"]

KINDS = ["rooftop", "carport"]


def _attrs(units: str, description: str) -> dict[str, str]:
    return {"units": units, "description": description}


def baseline_table(portfolio: Portfolio) -> dict[str, np.ndarray]:
    """Baseline-year Scope 1 and location-based Scope 2 per site [tCO2e].

    The baseline assumes the base-year load came from the grid except what
    PV already installed by then produced; that PV is not subtracted here
    (its yield needs pvlib), so the figure is an upper bound when existing PV
    predates the baseline year. See docs/accounting.md.
    """
    by = portfolio.settings.planning.baseline_year
    s1, s2, grid = [], [], []
    for s in portfolio.sites:
        load_kwh = float(load_profile_kw(s, by, portfolio.directory).sum())
        s1.append(series_value(s.scope1_tco2e, by))
        grid.append(load_kwh / 1000.0)
        s2.append(load_kwh / 1000.0 * series_value(s.grid_ef_t_per_mwh, by))
    return {"scope1_tco2e": np.array(s1), "grid_mwh": np.array(grid), "scope2_location_tco2e": np.array(s2)}


def build_plan_inputs(portfolio: Portfolio, yields: xr.Dataset) -> xr.Dataset:
    """Build the LP input Dataset from a portfolio and its yield Dataset.

    Parameters
    ----------
    portfolio
        Validated portfolio.
    yields
        Output of :func:`pvopt.pvyield.simulate_yield` (``yield_kw_per_kwp[array, hour]``).
    """
    st = portfolio.settings
    years = portfolio.years
    y0 = years[0]
    sites = [s.name for s in portfolio.sites]
    n_h = 8760

    # ---- arrays and yield profiles (dedupe identical rows within a site) ----
    arr_ids, arr_site, arr_kind, arr_max, arr_exist, arr_eyear, arr_deg, arr_prof = [], [], [], [], [], [], [], []
    prof_rows: list[np.ndarray] = []
    prof_site: list[str] = []
    prof_names: list[str] = []
    prof_key: dict[tuple[str, bytes], int] = {}
    ycoord = [str(v) for v in yields["array"].values]
    yrow = {name: i for i, name in enumerate(ycoord)}
    ymat = np.asarray(yields["yield_kw_per_kwp"].values, dtype=float)
    for s in portfolio.sites:
        for a in s.arrays:
            aid = f"{s.name}/{a.name}"
            if aid not in yrow:
                raise KeyError(f"the yield data has no array '{aid}'; re-run `pvopt yield`")
            row = ymat[yrow[aid]]
            key = (s.name, np.round(row, 9).tobytes())
            if key not in prof_key:
                prof_key[key] = len(prof_rows)
                prof_rows.append(row)
                prof_site.append(s.name)
                prof_names.append(f"{s.name}/p{sum(1 for p in prof_site if p == s.name) - 1}")
            arr_ids.append(aid)
            arr_site.append(s.name)
            arr_kind.append(a.kind)
            arr_max.append(a.max_kwp_value)
            arr_exist.append(a.existing_kwp)
            arr_eyear.append(a.existing_year if a.existing_year is not None else -1)
            arr_deg.append(a.degradation_pct_per_year / 100.0)
            arr_prof.append(prof_names[prof_key[key]])

    # ---- hourly site data ----
    load = np.zeros((len(sites), len(years), n_h))
    imp = np.zeros_like(load)
    exp_ = np.zeros_like(load)
    for i, s in enumerate(portfolio.sites):
        for j, y in enumerate(years):
            load[i, j] = load_profile_kw(s, y, portfolio.directory)
            imp[i, j] = import_price_per_kwh(s, y, y0, portfolio.directory)
            exp_[i, j] = export_price_per_kwh(s, y)

    ef = np.array([[series_value(s.grid_ef_t_per_mwh, y) for y in years] for s in portfolio.sites])
    res = np.array([[s.residual_ef(y) for y in years] for s in portfolio.sites])
    s1 = np.array([[series_value(s.scope1_tco2e, y) for y in years] for s in portfolio.sites])
    capex = np.array([[series_value(st.pv.capex_per_kwp[k], y) for y in years] for k in KINDS])
    om = np.array([[series_value(st.pv.om_per_kwp_year[k], y) for y in years] for k in KINDS])
    cert_names = [c.name for c in st.certificates]
    cert_price = np.array([[series_value(c.price_per_mwh, y) for y in years] for c in st.certificates]).reshape(len(cert_names), len(years))
    cert_ok = np.array([[c.first_year <= y <= c.last_year for y in years] for c in st.certificates], dtype=bool).reshape(len(cert_names), len(years))
    off_price = np.array([series_value(st.offsets.price_per_tco2e, y) if st.offsets else np.nan for y in years])
    base = baseline_table(portfolio)
    cur = st.currency

    ds = xr.Dataset(
        {
            "yield_kw_per_kwp": (("profile", "hour"), np.array(prof_rows).reshape(len(prof_rows), n_h),
                                 _attrs("kW/kWp", "hourly AC output per kWp DC installed (pvlib ModelChain)")),
            "profile_site": (("profile",), np.array(prof_site, dtype=object), _attrs("", "site of the yield profile")),
            "array_site": (("array",), np.array(arr_site, dtype=object), _attrs("", "site of the array")),
            "array_kind": (("array",), np.array(arr_kind, dtype=object), _attrs("", "rooftop or carport")),
            "array_profile": (("array",), np.array(arr_prof, dtype=object), _attrs("", "yield profile of the array")),
            "max_kwp": (("array",), np.array(arr_max), _attrs("kWp", "maximum DC capacity (usable area x power density)")),
            "existing_kwp": (("array",), np.array(arr_exist), _attrs("kWp", "capacity installed before the first planning year")),
            "existing_year": (("array",), np.array(arr_eyear, dtype=np.int64), _attrs("year", "install year of existing_kwp (-1: none)")),
            "degradation_per_year": (("array",), np.array(arr_deg), _attrs("1/yr", "fractional capacity loss per year of age")),
            "load_kw": (("site", "year", "hour"), load, _attrs("kW", "hourly site demand")),
            "import_price_per_kwh": (("site", "year", "hour"), imp, _attrs(f"{cur}/kWh", "grid import price")),
            "export_price_per_kwh": (("site", "year", "hour"), exp_, _attrs(f"{cur}/kWh", "export price (0 under zero export)")),
            "export_allowed": (("site",), np.array([s.export.policy == "surplus" for s in portfolio.sites]), _attrs("", "export permitted")),
            "export_limit_kw": (("site",), np.array([s.export.limit_kw if s.export.limit_kw else np.nan for s in portfolio.sites], dtype=float),
                                _attrs("kW", "export limit (NaN: none)")),
            "grid_ef_t_per_mwh": (("site", "year"), ef, _attrs("tCO2/MWh", "location-based grid emission factor")),
            "residual_ef_t_per_mwh": (("site", "year"), res, _attrs("tCO2/MWh", "market-based residual-mix factor")),
            "scope1_tco2e": (("site", "year"), s1, _attrs("tCO2e", "Scope 1 emissions")),
            "capex_per_kwp": (("kind", "year"), capex, _attrs(f"{cur}/kWp", "PV installed cost by kind and build year")),
            "om_per_kwp_year": (("kind", "year"), om, _attrs(f"{cur}/kWp/yr", "PV O&M by kind")),
            "certificate_price_per_mwh": (("certificate", "year"), cert_price, _attrs(f"{cur}/MWh", "certificate price")),
            "certificate_available": (("certificate", "year"), cert_ok, _attrs("", "instrument can be bought that year")),
            "offset_price_per_tco2e": (("year",), off_price, _attrs(f"{cur}/tCO2e", "offset credit price (NaN: no offsets)")),
            "baseline_scope1_tco2e": (("site",), base["scope1_tco2e"], _attrs("tCO2e", "baseline-year Scope 1")),
            "baseline_grid_mwh": (("site",), base["grid_mwh"], _attrs("MWh", "baseline-year grid electricity")),
            "baseline_scope2_location_tco2e": (("site",), base["scope2_location_tco2e"], _attrs("tCO2e", "baseline-year location-based Scope 2")),
        },
        coords={
            "site": sites,
            "array": arr_ids,
            "profile": prof_names,
            "year": years,
            "hour": np.arange(n_h),
            "certificate": cert_names,
            "kind": KINDS,
        },
        attrs={
            "currency": cur,
            "discount_rate": st.planning.discount_rate,
            "lifetime_years": st.pv.lifetime_years,
            "baseline_year": st.planning.baseline_year,
            "portfolio_name": st.name,
            "milestones_json": json.dumps([m.model_dump(mode="json") for m in st.milestones]),
            "hour_convention": "8760 local hours per year, hour-beginning; Feb 29 dropped in leap years",
            "weather_note": str(yields.attrs.get("weather_note", "")),
        },
    )
    return ds
