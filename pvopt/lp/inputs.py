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

from pvopt.inputs.schema import Portfolio, series_value
from pvopt.inputs.profiles import export_price_per_kwh, import_price_per_kwh, load_profile_kw
from pvopt.inputs.summary import baseline_emissions

__all__ = ["build_plan_inputs"]

KINDS = ["rooftop", "carport"]


def _attrs(units: str, description: str) -> dict[str, str]:
    return {"units": units, "description": description}


def build_plan_inputs(portfolio: Portfolio, yields: xr.Dataset) -> xr.Dataset:
    """Build the LP input Dataset from a portfolio and its yield Dataset.

    Parameters
    ----------
    portfolio
        Validated portfolio.
    yields
        Output of :func:`pvopt.pv.yields.simulate_yield` (``yield_kw_per_kwp[array, hour]``).
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
    base = baseline_emissions(portfolio)  # the same figures `pvopt validate` prints
    cur = st.currency
    extra = _pillar_inputs(portfolio, load, ymat, prof_rows, years, cur)

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
            "baseline_scope1_tco2e": (("site",), base["scope1_tco2e"].to_numpy(), _attrs("tCO2e", "baseline-year Scope 1")),
            "baseline_grid_mwh": (("site",), base["grid_mwh"].to_numpy(), _attrs("MWh", "baseline-year grid electricity")),
            "baseline_scope2_location_tco2e": (("site",), base["scope2_location_tco2e"].to_numpy(), _attrs("tCO2e", "baseline-year location-based Scope 2")),
            **extra["vars"],
        },
        coords={
            "site": sites,
            "array": arr_ids,
            "profile": prof_names,
            "year": years,
            "hour": np.arange(n_h),
            "certificate": cert_names,
            "kind": KINDS,
            **extra["coords"],
        },
        attrs={
            "currency": cur,
            "discount_rate": st.planning.discount_rate,
            "lifetime_years": st.pv.lifetime_years,
            "baseline_year": st.planning.baseline_year,
            "portfolio_name": st.name,
            "milestones_json": json.dumps([m.model_dump(mode="json") for m in st.milestones]),
            "hour_convention": "8760 local hours per year, hour-beginning; Feb 29 dropped in leap years",
            "scope2_matching": st.scope2_matching,
            "weather_note": str(yields.attrs.get("weather_note", "") or yields.attrs.get("weather_statement", "")),
            "weather_statement": str(yields.attrs.get("weather_statement", "")),
            "weather_sources_json": _weather_sources_json(yields),
        },
    )
    return ds


def _weather_sources_json(yields: xr.Dataset) -> str:
    """``{site: {"source": ..., "description": ...}}`` from the yield Dataset (empty when it has none)."""
    if "weather_description" not in yields or "sites" not in yields.coords:
        return "{}"
    src = yields["weather_source"].values if "weather_source" in yields else [""] * yields.sizes["sites"]
    return json.dumps({str(n): {"source": str(s), "description": str(d)}
                       for n, s, d in zip(yields["sites"].values, src, yields["weather_description"].values)})


def _measure_shape(kind: str, load_row: np.ndarray) -> np.ndarray:
    """Hourly shape of a measure, summing to 1 over the year."""
    if kind == "flat":
        w = np.ones(8760)
    elif kind == "daytime":
        w = ((np.arange(8760) % 24 >= 8) & (np.arange(8760) % 24 < 18)).astype(float)
    else:
        w = np.asarray(load_row, dtype=float)
    return w / w.sum()


def _pillar_inputs(portfolio: Portfolio, load: np.ndarray, ymat: np.ndarray, prof_rows: list, years: list[int], cur: str) -> dict:
    """Grid connection, demand charge, battery options, measures and certificate hourly profiles."""
    sites = portfolio.sites
    n_y = len(years)
    month = np.array([d.month for d in _nominal_days()], dtype=np.int64).repeat(24)
    v: dict = {
        "hour_month": (("hour",), month, _attrs("month", "calendar month of each hour (Feb 29 dropped)")),
        "import_limit_kw": (("site",), np.array([s.grid.import_limit_kw or np.nan for s in sites], dtype=float), _attrs("kW", "grid import limit (NaN: none)")),
        "demand_charge_per_kw_month": (("site",), np.array([s.grid.demand_charge_per_kw_month for s in sites], dtype=float),
                                       _attrs(f"{cur}/kW/month", "two-part tariff: charge on each month's peak import")),
    }
    bats = [(i, s.battery) for i, s in enumerate(sites) if s.battery is not None]
    bnames = [sites[i].name for i, _ in bats]
    y0 = years[0]
    v.update({
        "battery_site": (("battery",), np.array(bnames, dtype=object), _attrs("", "site of the battery option")),
        "battery_energy_capex_per_kwh": (("battery",), np.array([b.energy_capex_per_kwh for _, b in bats], dtype=float), _attrs(f"{cur}/kWh", "storage energy capex")),
        "battery_power_capex_per_kw": (("battery",), np.array([b.power_capex_per_kw for _, b in bats], dtype=float), _attrs(f"{cur}/kW", "converter power capex")),
        "battery_om_per_kwh_year": (("battery",), np.array([b.om_per_kwh_year for _, b in bats], dtype=float), _attrs(f"{cur}/kWh/yr", "battery O&M")),
        "battery_round_trip_efficiency": (("battery",), np.array([b.round_trip_efficiency for _, b in bats], dtype=float), _attrs("1", "AC round-trip efficiency")),
        "battery_max_energy_kwh": (("battery",), np.array([b.max_energy_kwh for _, b in bats], dtype=float), _attrs("kWh", "largest energy capacity")),
        "battery_max_power_kw": (("battery",), np.array([b.max_power_kw for _, b in bats], dtype=float), _attrs("kW", "largest power")),
        "battery_min_duration_h": (("battery",), np.array([b.min_duration_h for _, b in bats], dtype=float), _attrs("h", "energy/power at least")),
        "battery_lifetime_years": (("battery",), np.array([b.lifetime_years for _, b in bats], dtype=np.int64), _attrs("yr", "economic life")),
        "battery_available_from": (("battery",), np.array([b.available_from or y0 for _, b in bats], dtype=np.int64), _attrs("year", "first year it can be built")),
    })
    ms = [(i, m) for i, s in enumerate(sites) for m in s.measures]
    mnames = [f"{sites[i].name}/{m.name}" for i, m in ms]
    delta = np.zeros((len(ms), n_y, 8760))
    for k, (i, m) in enumerate(ms):
        sign = -1.0 if m.type == "efficiency" else 1.0
        for j in range(n_y):
            delta[k, j] = sign * m.annual_mwh * 1000.0 * _measure_shape(m.shape, load[i, j])
    v.update({
        "measure_site": (("measure",), np.array([sites[i].name for i, _ in ms], dtype=object), _attrs("", "site of the measure")),
        "measure_type": (("measure",), np.array([m.type for _, m in ms], dtype=object), _attrs("", "efficiency or electrification")),
        "measure_capex": (("measure",), np.array([m.capex for _, m in ms], dtype=float), _attrs(cur, "cost at full size")),
        "measure_om_per_year": (("measure",), np.array([m.om_per_year for _, m in ms], dtype=float), _attrs(f"{cur}/yr", "O&M at full size")),
        "measure_lifetime_years": (("measure",), np.array([m.lifetime_years for _, m in ms], dtype=np.int64), _attrs("yr", "economic life")),
        "measure_scope1_removed_tco2e": (("measure",), np.array([m.scope1_removed_tco2e for _, m in ms], dtype=float), _attrs("tCO2e/yr", "Scope 1 removed at full size")),
        "measure_available_from": (("measure",), np.array([m.available_from or y0 for _, m in ms], dtype=np.int64), _attrs("year", "first year it can be adopted")),
        "measure_max_fraction": (("measure",), np.array([m.max_fraction for _, m in ms], dtype=float), _attrs("1", "largest share of full size")),
        "measure_delta_kw": (("measure", "year", "hour"), delta, _attrs("kW", "change of site load at full size (negative: saving)")),
    })
    # certificate generation profiles (for hourly matching), each summing to 1 over the year
    solar = np.mean(np.array(prof_rows), axis=0) if prof_rows else np.ones(8760)
    solar = solar / solar.sum() if solar.sum() > 0 else np.ones(8760) / 8760
    shapes = [solar if c.hourly_profile == "solar" else np.ones(8760) / 8760 for c in portfolio.settings.certificates]
    v["certificate_hourly_share"] = (("certificate", "hour"), np.array(shapes).reshape(len(shapes), 8760),
                                     _attrs("1/h", "share of an instrument's annual volume generated in each hour (hourly matching)"))
    return {"vars": v, "coords": {"battery": bnames, "measure": mnames}}


def _nominal_days():
    import datetime as _dt

    d0 = _dt.date(2023, 1, 1)
    return [d0 + _dt.timedelta(days=k) for k in range(365)]
