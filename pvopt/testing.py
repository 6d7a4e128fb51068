"""Small, fully specified LP input Datasets for tests and property checks.

:func:`small_inputs` makes an input Dataset of the same form as
:func:`pvopt.lp.inputs.build_plan_inputs`, from simple analytic shapes (a
sine-day yield with day-to-day variation, a shift load, a three-band
tariff), without pvlib. Units and descriptions come from the declared table
:data:`pvopt.datasets.LP_INPUTS`; absent optional inputs take its defaults. It exists so that optimiser tests (exactness of the
reductions, invariants) are small, fast and independent of weather files.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import xarray as xr

from pvopt.datasets import annotate
from pvopt.lp.inputs import ArrayTable

__all__ = ["small_inputs"]

N_HOURS = 8760


def _yield_shape(rng: np.random.Generator, orientation_shift_h: float, peak: float) -> np.ndarray:
    """Return a sine-day yield [kW/kWp] with random clear-sky days, shifted by ``orientation_shift_h``."""
    h = np.arange(N_HOURS) % 24
    day = np.arange(N_HOURS) // 24
    daylen = 12 + 2.5 * np.sin(2 * np.pi * (day - 80) / 365)
    rise = 12 - daylen / 2 + orientation_shift_h
    x = (h + 0.5 - rise) / daylen
    base = np.where((x > 0) & (x < 1), np.sin(np.pi * np.clip(x, 0, 1)), 0.0)
    clear = rng.uniform(0.2, 1.0, size=365)[day]
    return np.clip(base * clear * peak, 0, None)


def small_inputs(
    *,
    n_sites: int = 2,
    n_years: int = 3,
    first_year: int = 2024,
    arrays_per_site: int = 2,
    pv_to_load: float = 2.0,
    export: bool | list[bool] = False,
    export_price: float = 0.2,
    export_limit_kw: float | None = None,
    milestones: list[dict[str, Any]] | None = None,
    certificates: bool = True,
    offsets: bool = True,
    existing_kwp: float = 0.0,
    seed: int = 0,
    battery_sites: tuple[int, ...] = (),
    battery_capex_per_kwh: float = 600.0,
    measures: bool = False,
    demand_charge_per_kw_month: float = 0.0,
    import_limit_kw: float | None = None,
    matching: str = "annual",
) -> xr.Dataset:
    """Make a small LP input Dataset.

    Parameters
    ----------
    pv_to_load
        Each site's max PV [kWp] divided by its average load [kW]; below ~1 the
        load exceeds the PV in most hours, above ~3 PV exceeds it at midday.
    export
        Export allowed (per site when a list).
    battery_sites
        Sites (indices) with a battery option.
    measures
        Give every site one efficiency measure (10 % of load, daytime shape) and one
        electrification measure (removes 200 t of Scope 1, adds 5 % of load).
    demand_charge_per_kw_month, import_limit_kw
        Applied to site 0 (makes it a full-hour site).
    matching
        ``"annual"`` or ``"hourly"`` certificate matching.

    Returns
    -------
    xarray.Dataset
        LP inputs of the same form as :func:`pvopt.lp.inputs.build_plan_inputs`.
    """
    call = json.dumps(dict(locals()), sort_keys=True, default=str)  # the arguments: this case's fingerprint
    years = list(range(first_year, first_year + n_years))
    sites = [f"s{i}" for i in range(n_sites)]
    exp_flags = export if isinstance(export, list) else [export] * n_sites
    load, avg_kw = _loads(np.random.default_rng(seed), n_sites, n_years)
    table = _arrays(sites, avg_kw, arrays_per_site, pv_to_load, existing_kwp, first_year, seed)
    cert_names = ["I-REC", "GEC"] if certificates else []
    extra, extra_coords = _pillars(
        sites, years, load, battery_sites, battery_capex_per_kwh, measures, demand_charge_per_kw_month, import_limit_kw, len(cert_names)
    )
    ds = xr.Dataset(
        {
            **extra,
            **table.variables(),
            **_grid_vars(load, exp_flags, export_price, export_limit_kw),
            **_yearly_vars(n_sites, years, len(cert_names), offsets),
            **_baseline_vars(load),
        },
        coords={
            "site": sites,
            "array": table.array_ids,
            "profile": table.profile_names,
            "year": years,
            "hour": np.arange(N_HOURS),
            "certificate": cert_names,
            "kind": ["rooftop", "carport"],
            **extra_coords,
        },
        attrs=_attrs(first_year, milestones, matching, call),
    )
    return annotate(ds, "inputs", fill_defaults=True)


def _loads(rng: np.random.Generator, n_sites: int, n_years: int) -> tuple[np.ndarray, list[float]]:
    """Return the shift load ``[site, year, hour]`` [kW] (3 %/yr growth) and each site's average in year one [kW]."""
    h = np.arange(N_HOURS) % 24
    dow = (np.arange(N_HOURS) // 24) % 7
    load = np.zeros((n_sites, n_years, N_HOURS))
    avg = []
    for i in range(n_sites):
        avg_kw = float(rng.uniform(500, 2000))
        shape = np.where((h >= 8) & (h < 20), 1.0, 0.4) * np.where(dow < 5, 1.0, 0.5)
        shape = shape * rng.uniform(0.9, 1.1, N_HOURS)
        shape = shape / shape.mean() * avg_kw
        for j in range(n_years):
            load[i, j] = shape * (1.03**j)
        avg.append(avg_kw)
    return load, avg


def _arrays(sites: list[str], avg_kw: list[float], arrays_per_site: int, pv_to_load: float, existing_kwp: float, first_year: int, seed: int) -> ArrayTable:
    """Tabulate ``arrays_per_site`` arrays per site, alternately rooftop and carport, each with its own profile."""
    table = ArrayTable()
    for i, s in enumerate(sites):
        per_array = pv_to_load * avg_kw[i] / arrays_per_site
        for a in range(arrays_per_site):
            shift = [-1.5, 1.5, 0.0, -0.7][a % 4]
            table.add_profile(s, f"{s}/p{a}", _yield_shape(np.random.default_rng(seed * 100 + i * 10 + a), shift, 0.8))
            table.add_array(
                f"{s}/a{a}", s, "rooftop" if a % 2 == 0 else "carport", f"{s}/p{a}", per_array,
                min(existing_kwp, per_array), first_year - 2 if existing_kwp > 0 else -1, 0.005,
            )
    return table


def _grid_vars(load: np.ndarray, exp_flags: list[bool], export_price: float, export_limit_kw: float | None) -> dict[str, Any]:
    """Return the load, a three-band import tariff and the export prices and rules."""
    h = np.arange(N_HOURS) % 24
    tariff = np.select([(h >= 14) & (h < 22), (h < 6) | ((h >= 11) & (h < 13))], [1.0, 0.46], 0.74)
    exp_ = np.zeros_like(load)
    for i, f in enumerate(exp_flags):
        if f:
            exp_[i] = export_price
    return {
        "load_kw": (("site", "year", "hour"), load),
        "import_price_per_kwh": (("site", "year", "hour"), np.broadcast_to(tariff, load.shape).copy()),
        "export_price_per_kwh": (("site", "year", "hour"), exp_),
        "export_allowed": (("site",), np.array(exp_flags, dtype=bool)),
        "export_limit_kw": (("site",), np.full(len(exp_flags), np.nan if export_limit_kw is None else export_limit_kw)),
    }


def _yearly_vars(n_sites: int, years: list[int], n_cert: int, offsets: bool) -> dict[str, Any]:
    """Return the flat emission factors and Scope 1, falling PV costs, certificate and offset prices."""
    n_y, first_year = len(years), years[0]
    cert_price = np.array([[5.0 if y < first_year + 1 else 0.0 for y in years], [3.0 + 0.5 * j for j in range(n_y)]])[:n_cert]
    cert_ok = np.array([[y < first_year + 1 for y in years], [y >= first_year + 1 for y in years]], dtype=bool)[:n_cert]
    return {
        "grid_ef_t_per_mwh": (("site", "year"), np.full((n_sites, n_y), 0.58)),
        "residual_ef_t_per_mwh": (("site", "year"), np.full((n_sites, n_y), 0.61)),
        "scope1_tco2e": (("site", "year"), np.full((n_sites, n_y), 300.0)),
        "capex_per_kwp": (("kind", "year"), np.array([[3300.0 - 100 * j for j in range(n_y)], [4600.0 - 100 * j for j in range(n_y)]])),
        "om_per_kwp_year": (("kind", "year"), np.array([[66.0] * n_y, [92.0] * n_y])),
        "certificate_price_per_mwh": (("certificate", "year"), cert_price.reshape(n_cert, n_y)),
        "certificate_available": (("certificate", "year"), cert_ok.reshape(n_cert, n_y)),
        "offset_price_per_tco2e": (("year",), np.full(n_y, 70.0 if offsets else np.nan)),
    }


def _baseline_vars(load: np.ndarray) -> dict[str, Any]:
    """Return the baseline figures per site: Scope 1, grid purchase and location-based Scope 2 of year one."""
    n_sites = load.shape[0]
    return {
        "baseline_scope1_tco2e": (("site",), np.full(n_sites, 300.0)),
        "baseline_grid_mwh": (("site",), load[:, 0].sum(axis=1) / 1000),
        "baseline_scope2_location_tco2e": (("site",), load[:, 0].sum(axis=1) / 1000 * 0.58),
    }


def _pillars(sites, years, load, battery_sites, battery_capex, measures, charge, limit, n_cert):
    """Return the grid-connection, battery, measure and hourly-certificate variables and their coords."""
    n_s, n_y = len(sites), len(years)
    h = np.arange(N_HOURS) % 24
    month = np.repeat([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [31 * 24, 28 * 24, 31 * 24, 30 * 24, 31 * 24, 30 * 24, 31 * 24, 31 * 24, 30 * 24, 31 * 24, 30 * 24, 31 * 24])
    dc = np.zeros(n_s)
    dc[0] = charge
    il = np.full(n_s, np.nan)
    if limit is not None:
        il[0] = limit
    nb = len(battery_sites)
    v = {
        "hour_month": (("hour",), month),
        "demand_charge_per_kw_month": (("site",), dc),
        "import_limit_kw": (("site",), il),
        "battery_site": (("battery",), np.array([sites[i] for i in battery_sites], dtype=object)),
        "battery_energy_capex_per_kwh": (("battery",), np.full(nb, battery_capex)),
        "battery_power_capex_per_kw": (("battery",), np.full(nb, 150.0)),
        "battery_om_per_kwh_year": (("battery",), np.full(nb, 5.0)),
        "battery_round_trip_efficiency": (("battery",), np.full(nb, 0.88)),
        "battery_max_energy_kwh": (("battery",), np.full(nb, 4000.0)),
        "battery_max_power_kw": (("battery",), np.full(nb, 1000.0)),
        "battery_min_duration_h": (("battery",), np.full(nb, 1.0)),
        "battery_lifetime_years": (("battery",), np.full(nb, 12, dtype=np.int64)),
        "battery_available_from": (("battery",), np.full(nb, years[0], dtype=np.int64)),
    }
    mnames, msite, mtype, delta, s1r, cap = [], [], [], [], [], []
    if measures:
        day = ((h >= 8) & (h < 18)).astype(float)
        for i, s in enumerate(sites):
            annual = load[i].sum(axis=1)  # kWh per year
            mnames += [f"{s}/led", f"{s}/e-forklifts"]
            msite += [s, s]
            mtype += ["efficiency", "electrification"]
            delta.append(-0.10 * annual[:, None] * day[None, :] / day.sum())
            delta.append(0.05 * load[i] / load[i].sum(axis=1, keepdims=True) * annual[:, None])
            s1r += [0.0, 200.0]
            cap += [0.10 * annual[0] * 0.8, 0.05 * annual[0] * 1.0]
    nm = len(mnames)
    v.update({
        "measure_site": (("measure",), np.array(msite, dtype=object)),
        "measure_type": (("measure",), np.array(mtype, dtype=object)),
        "measure_capex": (("measure",), np.array(cap, dtype=float)),
        "measure_om_per_year": (("measure",), np.zeros(nm)),
        "measure_lifetime_years": (("measure",), np.full(nm, 15, dtype=np.int64)),
        "measure_scope1_removed_tco2e": (("measure",), np.array(s1r, dtype=float)),
        "measure_available_from": (("measure",), np.full(nm, years[0], dtype=np.int64)),
        "measure_max_fraction": (("measure",), np.ones(nm)),
        "measure_delta_kw": (("measure", "year", "hour"), np.array(delta).reshape(nm, n_y, N_HOURS)),
        "certificate_hourly_share": (("certificate", "hour"), np.full((n_cert, N_HOURS), 1.0 / N_HOURS)),
    })
    return v, {"battery": [sites[i] for i in battery_sites], "measure": mnames}


def _attrs(first_year: int, milestones: list[dict[str, Any]] | None, matching: str, call: str) -> dict[str, Any]:
    """Return the Dataset attributes; the fingerprint is a hash of the call's arguments."""
    return {
        "currency": "CNY",
        "discount_rate": 0.06,
        "lifetime_years": 25,
        "baseline_year": first_year - 1,
        "portfolio_name": "small test case",
        "milestones_json": json.dumps(milestones or []),
        "scope2_matching": matching,
        "weather_statement": "SYNTHETIC WEATHER: analytic sine-day yield shapes (pvopt.testing.small_inputs), not measured weather.",
        "any_synthetic_weather": 1,
        "portfolio_fingerprint": hashlib.sha256(call.encode()).hexdigest()[:16],
    }
