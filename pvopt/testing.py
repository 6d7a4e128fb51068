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

__all__ = ["small_inputs"]

N_HOURS = 8760


def _yield_shape(rng: np.random.Generator, orientation_shift_h: float, peak: float) -> np.ndarray:
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
    """A small LP input Dataset.

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
    """
    call = json.dumps(dict(locals()), sort_keys=True, default=str)  # the arguments: this case's fingerprint
    rng = np.random.default_rng(seed)
    years = list(range(first_year, first_year + n_years))
    sites = [f"s{i}" for i in range(n_sites)]
    exp_flags = export if isinstance(export, list) else [export] * n_sites
    prof_rows, prof_site, prof_names = [], [], []
    arr_ids, arr_site, arr_kind, arr_prof, arr_max, arr_exist, arr_eyear, arr_deg = [], [], [], [], [], [], [], []
    load = np.zeros((n_sites, n_years, N_HOURS))
    h = np.arange(N_HOURS) % 24
    dow = (np.arange(N_HOURS) // 24) % 7
    for i, s in enumerate(sites):
        avg_kw = float(rng.uniform(500, 2000))
        shape = np.where((h >= 8) & (h < 20), 1.0, 0.4) * np.where(dow < 5, 1.0, 0.5)
        shape = shape * rng.uniform(0.9, 1.1, N_HOURS)
        shape = shape / shape.mean() * avg_kw
        for j in range(n_years):
            load[i, j] = shape * (1.03**j)
        total_max = pv_to_load * avg_kw
        for a in range(arrays_per_site):
            shift = [-1.5, 1.5, 0.0, -0.7][a % 4]
            prof_rows.append(_yield_shape(np.random.default_rng(seed * 100 + i * 10 + a), shift, 0.8))
            prof_site.append(s)
            pname = f"{s}/p{a}"
            prof_names.append(pname)
            arr_ids.append(f"{s}/a{a}")
            arr_site.append(s)
            arr_kind.append("rooftop" if a % 2 == 0 else "carport")
            arr_prof.append(pname)
            arr_max.append(total_max / arrays_per_site)
            arr_exist.append(min(existing_kwp, total_max / arrays_per_site))
            arr_eyear.append(first_year - 2 if existing_kwp > 0 else -1)
            arr_deg.append(0.005)
    tariff = np.select([(h >= 14) & (h < 22), (h < 6) | ((h >= 11) & (h < 13))], [1.0, 0.46], 0.74)
    imp = np.broadcast_to(tariff, load.shape).copy()
    exp_ = np.zeros_like(load)
    for i, f in enumerate(exp_flags):
        if f:
            exp_[i] = export_price
    cert_names = ["I-REC", "GEC"] if certificates else []
    cert_price = np.array([[5.0 if y < first_year + 1 else 0.0 for y in years], [3.0 + 0.5 * j for j in range(n_years)]])[: len(cert_names)]
    cert_ok = np.array([[y < first_year + 1 for y in years], [y >= first_year + 1 for y in years]], dtype=bool)[: len(cert_names)]
    extra, extra_coords = _pillars(
        sites, years, load, battery_sites, battery_capex_per_kwh, measures, demand_charge_per_kw_month, import_limit_kw, len(cert_names)
    )
    ds = xr.Dataset(
        {
            **extra,
            "yield_kw_per_kwp": (("profile", "hour"), np.array(prof_rows)),
            "profile_site": (("profile",), np.array(prof_site, dtype=object)),
            "array_site": (("array",), np.array(arr_site, dtype=object)),
            "array_kind": (("array",), np.array(arr_kind, dtype=object)),
            "array_profile": (("array",), np.array(arr_prof, dtype=object)),
            "max_kwp": (("array",), np.array(arr_max)),
            "existing_kwp": (("array",), np.array(arr_exist)),
            "existing_year": (("array",), np.array(arr_eyear, dtype=np.int64)),
            "degradation_per_year": (("array",), np.array(arr_deg)),
            "load_kw": (("site", "year", "hour"), load),
            "import_price_per_kwh": (("site", "year", "hour"), imp),
            "export_price_per_kwh": (("site", "year", "hour"), exp_),
            "export_allowed": (("site",), np.array(exp_flags, dtype=bool)),
            "export_limit_kw": (("site",), np.full(n_sites, np.nan if export_limit_kw is None else export_limit_kw)),
            "grid_ef_t_per_mwh": (("site", "year"), np.full((n_sites, n_years), 0.58)),
            "residual_ef_t_per_mwh": (("site", "year"), np.full((n_sites, n_years), 0.61)),
            "scope1_tco2e": (("site", "year"), np.full((n_sites, n_years), 300.0)),
            "capex_per_kwp": (("kind", "year"), np.array([[3300.0 - 100 * j for j in range(n_years)], [4600.0 - 100 * j for j in range(n_years)]])),
            "om_per_kwp_year": (("kind", "year"), np.array([[66.0] * n_years, [92.0] * n_years])),
            "certificate_price_per_mwh": (("certificate", "year"), cert_price.reshape(len(cert_names), n_years)),
            "certificate_available": (("certificate", "year"), cert_ok.reshape(len(cert_names), n_years)),
            "offset_price_per_tco2e": (("year",), np.full(n_years, 70.0 if offsets else np.nan)),
            "baseline_scope1_tco2e": (("site",), np.full(n_sites, 300.0)),
            "baseline_grid_mwh": (("site",), load[:, 0].sum(axis=1) / 1000),
            "baseline_scope2_location_tco2e": (("site",), load[:, 0].sum(axis=1) / 1000 * 0.58),
        },
        coords={
            "site": sites,
            "array": arr_ids,
            "profile": prof_names,
            "year": years,
            "hour": np.arange(N_HOURS),
            "certificate": cert_names,
            "kind": ["rooftop", "carport"],
            **extra_coords,
        },
        attrs={
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
        },
    )
    return annotate(ds, "inputs", fill_defaults=True)


def _pillars(sites, years, load, battery_sites, battery_capex, measures, charge, limit, n_cert):
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
