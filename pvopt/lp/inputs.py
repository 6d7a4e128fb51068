"""Assemble every input the LP uses into one xarray Dataset.

This is the handover between the input/yield layers and the optimiser: the
optimiser reads only this Dataset (never a config model, never pvlib), and
the plan file carries it whole, so that anyone can audit or re-solve a plan
without pvopt.

Dimensions: ``site``, ``array``, ``profile`` (a distinct hourly yield shape
of one site; arrays that share weather and geometry share one), ``year``,
``hour`` (0..8759, local hour-beginning, Feb 29 dropped), ``certificate``,
``kind``. Milestones travel as JSON in the attribute ``milestones_json``.
Every variable, its dims and unit are declared in :data:`pvopt.datasets.LP_INPUTS`
(the ``units`` and ``description`` attrs come from there). Attributes
``weather_statement`` (from the yield: says when weather is synthetic) and
``portfolio_fingerprint`` (:func:`pvopt.inputs.fingerprint.portfolio_fingerprint`)
travel into the plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import xarray as xr

from pvopt.inputs.schema import Portfolio, series_value
from pvopt.inputs.profiles import export_price_per_kwh, import_price_per_kwh, load_profile_kw
from pvopt.inputs.summary import baseline_emissions
from pvopt.inputs.fingerprint import portfolio_fingerprint
from pvopt.datasets import annotate

__all__ = ["build_plan_inputs", "ArrayTable"]

KINDS: list[Literal["rooftop", "carport"]] = ["rooftop", "carport"]
N_HOURS = 8760


@dataclass
class ArrayTable:
    """The PV arrays and their distinct yield profiles, row by row, as the LP inputs list them."""

    profile_rows: list[np.ndarray] = field(default_factory=list)
    profile_site: list[str] = field(default_factory=list)
    profile_names: list[str] = field(default_factory=list)
    array_ids: list[str] = field(default_factory=list)
    array_site: list[str] = field(default_factory=list)
    array_kind: list[str] = field(default_factory=list)
    array_profile: list[str] = field(default_factory=list)
    max_kwp: list[float] = field(default_factory=list)
    existing_kwp: list[float] = field(default_factory=list)
    existing_year: list[int] = field(default_factory=list)
    degradation_per_year: list[float] = field(default_factory=list)

    def add_profile(self, site: str, name: str, row: np.ndarray) -> None:
        """Append one hourly yield profile [kW/kWp] of ``site``."""
        self.profile_rows.append(row)
        self.profile_site.append(site)
        self.profile_names.append(name)

    def add_array(self, array_id: str, site: str, kind: str, profile: str, max_kwp: float, existing_kwp: float, existing_year: int, degradation_per_year: float) -> None:
        """Append one array (``existing_year`` -1 when none; degradation as a fraction per year)."""
        self.array_ids.append(array_id)
        self.array_site.append(site)
        self.array_kind.append(kind)
        self.array_profile.append(profile)
        self.max_kwp.append(max_kwp)
        self.existing_kwp.append(existing_kwp)
        self.existing_year.append(existing_year)
        self.degradation_per_year.append(degradation_per_year)

    def variables(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        """Return the Dataset variables over ``profile`` and ``array``."""
        return {
            "yield_kw_per_kwp": (("profile", "hour"), np.array(self.profile_rows).reshape(len(self.profile_rows), N_HOURS)),
            "profile_site": (("profile",), np.array(self.profile_site, dtype=object)),
            "array_site": (("array",), np.array(self.array_site, dtype=object)),
            "array_kind": (("array",), np.array(self.array_kind, dtype=object)),
            "array_profile": (("array",), np.array(self.array_profile, dtype=object)),
            "max_kwp": (("array",), np.array(self.max_kwp)),
            "existing_kwp": (("array",), np.array(self.existing_kwp)),
            "existing_year": (("array",), np.array(self.existing_year, dtype=np.int64)),
            "degradation_per_year": (("array",), np.array(self.degradation_per_year)),
        }


def build_plan_inputs(portfolio: Portfolio, yields: xr.Dataset) -> xr.Dataset:
    """Build the LP input Dataset from a portfolio and its yield Dataset.

    Parameters
    ----------
    portfolio
        Validated portfolio.
    yields
        Output of :func:`pvopt.pv.yields.simulate_yield` (``yield_kw_per_kwp[array, hour]``).

    Returns
    -------
    xarray.Dataset
        The LP inputs, annotated from :data:`pvopt.datasets.LP_INPUTS`.
    """
    years = portfolio.years
    cur = portfolio.settings.currency
    ymat = np.asarray(yields["yield_kw_per_kwp"].values, dtype=float)
    table = _array_table(portfolio, yields, ymat)
    load, hourly = _hourly_site_vars(portfolio, years)
    extra = _pillar_inputs(portfolio, load, ymat, table.profile_rows, years, cur)
    ds = xr.Dataset(
        {**table.variables(), **hourly, **_yearly_vars(portfolio, years), **_baseline_vars(portfolio), **extra["vars"]},
        coords={
            "site": [s.name for s in portfolio.sites],
            "array": table.array_ids,
            "profile": table.profile_names,
            "year": years,
            "hour": np.arange(N_HOURS),
            "certificate": [c.name for c in portfolio.settings.certificates],
            "kind": KINDS,
            **extra["coords"],
        },
        attrs=_plan_input_attrs(portfolio, yields),
    )
    return annotate(ds, "inputs", currency=cur)


def _array_table(portfolio: Portfolio, yields: xr.Dataset, ymat: np.ndarray) -> ArrayTable:
    """Tabulate the arrays, sharing one profile among identical yield rows of a site."""
    table = ArrayTable()
    prof_key: dict[tuple[str, bytes], int] = {}
    yrow = {str(name): i for i, name in enumerate(yields["array"].values)}
    for s in portfolio.sites:
        for a in s.arrays:
            aid = f"{s.name}/{a.name}"
            if aid not in yrow:
                raise KeyError(f"the yield data has no array '{aid}'; re-run `pvopt yield`")
            row = ymat[yrow[aid]]
            key = (s.name, np.round(row, 9).tobytes())
            if key not in prof_key:
                prof_key[key] = len(table.profile_rows)
                table.add_profile(s.name, f"{s.name}/p{table.profile_site.count(s.name)}", row)
            table.add_array(
                aid, s.name, a.kind, table.profile_names[prof_key[key]], a.max_kwp_value, a.existing_kwp,
                a.existing_year if a.existing_year is not None else -1, a.degradation_pct_per_year / 100.0,
            )
    return table


def _hourly_site_vars(portfolio: Portfolio, years: list[int]) -> tuple[np.ndarray, dict[str, Any]]:
    """Return the load [kW] and the hourly and per-site grid variables (prices, export rules)."""
    sites = portfolio.sites
    load = np.zeros((len(sites), len(years), N_HOURS))
    imp = np.zeros_like(load)
    exp_ = np.zeros_like(load)
    for i, s in enumerate(sites):
        for j, y in enumerate(years):
            load[i, j] = load_profile_kw(s, y, portfolio.directory)
            imp[i, j] = import_price_per_kwh(s, y, years[0], portfolio.directory)
            exp_[i, j] = export_price_per_kwh(s, y)
    return load, {
        "load_kw": (("site", "year", "hour"), load),
        "import_price_per_kwh": (("site", "year", "hour"), imp),
        "export_price_per_kwh": (("site", "year", "hour"), exp_),
        "export_allowed": (("site",), np.array([s.export.policy == "surplus" for s in sites])),
        "export_limit_kw": (("site",), np.array([s.export.limit_kw if s.export.limit_kw else np.nan for s in sites], dtype=float)),
    }


def _yearly_vars(portfolio: Portfolio, years: list[int]) -> dict[str, Any]:
    """Return the yearly emission factors, Scope 1, PV costs, certificate and offset prices."""
    st = portfolio.settings
    sites = portfolio.sites
    n_cert = len(st.certificates)
    return {
        "grid_ef_t_per_mwh": (("site", "year"), np.array([[series_value(s.grid_ef_t_per_mwh, y) for y in years] for s in sites])),
        "residual_ef_t_per_mwh": (("site", "year"), np.array([[s.residual_ef(y) for y in years] for s in sites])),
        "scope1_tco2e": (("site", "year"), np.array([[series_value(s.scope1_tco2e, y) for y in years] for s in sites])),
        "capex_per_kwp": (("kind", "year"), np.array([[series_value(st.pv.capex_per_kwp[k], y) for y in years] for k in KINDS])),
        "om_per_kwp_year": (("kind", "year"), np.array([[series_value(st.pv.om_per_kwp_year[k], y) for y in years] for k in KINDS])),
        "certificate_price_per_mwh": (
            ("certificate", "year"),
            np.array([[series_value(c.price_per_mwh, y) for y in years] for c in st.certificates]).reshape(n_cert, len(years)),
        ),
        "certificate_available": (
            ("certificate", "year"),
            np.array([[c.first_year <= y <= c.last_year for y in years] for c in st.certificates], dtype=bool).reshape(n_cert, len(years)),
        ),
        "offset_price_per_tco2e": (("year",), np.array([series_value(st.offsets.price_per_tco2e, y) if st.offsets else np.nan for y in years])),
    }


def _baseline_vars(portfolio: Portfolio) -> dict[str, Any]:
    """Return the baseline-year figures per site, the same that ``pvopt validate`` prints."""
    base = baseline_emissions(portfolio)
    return {
        "baseline_scope1_tco2e": (("site",), base["scope1_tco2e"].to_numpy()),
        "baseline_grid_mwh": (("site",), base["grid_mwh"].to_numpy()),
        "baseline_scope2_location_tco2e": (("site",), base["scope2_location_tco2e"].to_numpy()),
    }


def _plan_input_attrs(portfolio: Portfolio, yields: xr.Dataset) -> dict[str, Any]:
    """Return the Dataset attributes: settings, milestones, weather statement and fingerprint."""
    st = portfolio.settings
    return {
        "currency": st.currency,
        "discount_rate": st.planning.discount_rate,
        "lifetime_years": st.pv.lifetime_years,
        "baseline_year": st.planning.baseline_year,
        "portfolio_name": st.name,
        "milestones_json": json.dumps([m.model_dump(mode="json") for m in st.milestones]),
        "hour_convention": "8760 local hours per year, hour-beginning; Feb 29 dropped in leap years",
        "scope2_matching": st.scope2_matching,
        "weather_statement": str(yields.attrs.get("weather_statement", "")),
        "weather_sources_json": _weather_sources_json(yields),
        "any_synthetic_weather": int(yields.attrs.get("any_synthetic_weather", 0)),
        "portfolio_fingerprint": portfolio_fingerprint(portfolio),
    }


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
        "hour_month": (("hour",), month),
        "import_limit_kw": (("site",), np.array([s.grid.import_limit_kw or np.nan for s in sites], dtype=float)),
        "demand_charge_per_kw_month": (("site",), np.array([s.grid.demand_charge_per_kw_month for s in sites], dtype=float)),
    }
    bats = [(i, s.battery) for i, s in enumerate(sites) if s.battery is not None]
    bnames = [sites[i].name for i, _ in bats]
    y0 = years[0]
    v.update({
        "battery_site": (("battery",), np.array(bnames, dtype=object)),
        "battery_energy_capex_per_kwh": (("battery",), np.array([b.energy_capex_per_kwh for _, b in bats], dtype=float)),
        "battery_power_capex_per_kw": (("battery",), np.array([b.power_capex_per_kw for _, b in bats], dtype=float)),
        "battery_om_per_kwh_year": (("battery",), np.array([b.om_per_kwh_year for _, b in bats], dtype=float)),
        "battery_round_trip_efficiency": (("battery",), np.array([b.round_trip_efficiency for _, b in bats], dtype=float)),
        "battery_max_energy_kwh": (("battery",), np.array([b.max_energy_kwh for _, b in bats], dtype=float)),
        "battery_max_power_kw": (("battery",), np.array([b.max_power_kw for _, b in bats], dtype=float)),
        "battery_min_duration_h": (("battery",), np.array([b.min_duration_h for _, b in bats], dtype=float)),
        "battery_lifetime_years": (("battery",), np.array([b.lifetime_years for _, b in bats], dtype=np.int64)),
        "battery_available_from": (("battery",), np.array([b.available_from or y0 for _, b in bats], dtype=np.int64)),
    })
    ms = [(i, m) for i, s in enumerate(sites) for m in s.measures]
    mnames = [f"{sites[i].name}/{m.name}" for i, m in ms]
    delta = np.zeros((len(ms), n_y, 8760))
    for k, (i, m) in enumerate(ms):
        sign = -1.0 if m.type == "efficiency" else 1.0
        for j in range(n_y):
            delta[k, j] = sign * m.annual_mwh * 1000.0 * _measure_shape(m.shape, load[i, j])
    v.update({
        "measure_site": (("measure",), np.array([sites[i].name for i, _ in ms], dtype=object)),
        "measure_type": (("measure",), np.array([m.type for _, m in ms], dtype=object)),
        "measure_capex": (("measure",), np.array([m.capex for _, m in ms], dtype=float)),
        "measure_om_per_year": (("measure",), np.array([m.om_per_year for _, m in ms], dtype=float)),
        "measure_lifetime_years": (("measure",), np.array([m.lifetime_years for _, m in ms], dtype=np.int64)),
        "measure_scope1_removed_tco2e": (("measure",), np.array([m.scope1_removed_tco2e for _, m in ms], dtype=float)),
        "measure_available_from": (("measure",), np.array([m.available_from or y0 for _, m in ms], dtype=np.int64)),
        "measure_max_fraction": (("measure",), np.array([m.max_fraction for _, m in ms], dtype=float)),
        "measure_delta_kw": (("measure", "year", "hour"), delta),
    })
    # certificate generation profiles (for hourly matching), each summing to 1 over the year
    solar = np.mean(np.array(prof_rows), axis=0) if prof_rows else np.ones(8760)
    solar = solar / solar.sum() if solar.sum() > 0 else np.ones(8760) / 8760
    shapes = [solar if c.hourly_profile == "solar" else np.ones(8760) / 8760 for c in portfolio.settings.certificates]
    v["certificate_hourly_share"] = (("certificate", "hour"), np.array(shapes).reshape(len(shapes), 8760))
    return {"vars": v, "coords": {"battery": bnames, "measure": mnames}}


def _nominal_days():
    import datetime as _dt

    d0 = _dt.date(2023, 1, 1)
    return [d0 + _dt.timedelta(days=k) for k in range(365)]
