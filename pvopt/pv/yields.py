"""Hourly PV yield per kWp of every array (yield layer, pvlib).

The chain follows NREL's PVWatts v8 closely (``docs/yield.md`` explains every
choice and compares the result with PVWatts v8 itself). Per unique geometry, on
1 kWp DC, with pvlib's functions:

* weather: :func:`pvopt.pv.weather.site_weather` (8760 hour-beginning stamps in
  the site's zone). The sun position is taken at the **middle** of each hour
  (stamps + 30 min) because the irradiance of hour ``t`` is its mean over
  ``[t, t+1)``; results are handed back on hour ``t``;
* transposition: Perez (1990) with extraterrestrial DNI and relative air mass;
  ground reflection with the array's ``albedo`` (default 0.2, as PVWatts);
* row shading (only when the array gives ``gcr``): the shaded fraction of the
  row from :func:`pvlib.shading.shaded_fraction1d` (infinitely long rows)
  removes that share of the direct light, and the sky diffuse is scaled by the
  sky view factor left by the row in front, averaged over the row's slant
  height (2-D isotropic view factor with :func:`pvlib.shading.masking_angle`);
  ground-reflected light is not reduced;
* reflection (cover) losses: the physical Fresnel/Snell model
  (:func:`pvlib.iam.physical`, glass n = 1.526 with an anti-reflective layer
  n = 1.3) on direct light at its angle of incidence, and on sky diffuse and
  ground-reflected light at the Brandemuehl-Beckman effective angles, as
  PVWatts v8 does;
* spectral: the PVWatts v8 / De Soto air-mass modifier of a crystalline-silicon
  module on absolute air mass (``air_mass_correction``, on by default);
* cell temperature: a named model (:data:`TEMPERATURE_MODELS`), by default from
  the mount: ``close_mount`` -> ``pvwatts_roof`` (:func:`pvlib.temperature.noct_sam`,
  NOCT 49 °C, PVWatts' roof mount), ``open_rack`` -> ``pvwatts_rack`` (NOCT
  45 °C, PVWatts' open rack), ``insulated_back`` -> ``sapm_insulated_back``; the
  SAPM sets are selectable by name;
* DC: PVWatts, ``pdc0 = 1 kW`` per kWp, the array's temperature coefficient
  (default -0.37 %/°C);
* system losses: ``losses_pct`` as one total DC derate (PVWatts);
* AC: PVWatts inverter with the array's nominal efficiency (default 96 %).
  ``dc_ac_ratio`` is the PVWatts DC-to-AC *nameplate* ratio: AC nameplate
  ``1/dc_ac_ratio`` kW per kWp, so the inverter's DC rating is
  ``pdc0 = 1/(dc_ac_ratio * eta)`` kW and AC never exceeds ``1/dc_ac_ratio``
  kW per kWp.

Output is AC kW per kWp DC, ``>= 0``. Arrays with the same site and the same
values of every :class:`Geometry` field share one run.

This module is the only pvlib importer besides :mod:`pvopt.pv.weather`; it never
imports Pyomo.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import xarray as xr

from pvopt.constants import __version__
from pvopt.errors import InputIssue, WeatherError, warn_input
from pvopt.inputs.plausibility import SPECIFIC_YIELD_ERROR_KWH_PER_KWP, SPECIFIC_YIELD_WARNING_KWH_PER_KWP
from pvopt.pv.weather import HOURS_PER_YEAR, site_weather

__all__ = [
    "TEMPERATURE_MODELS",
    "GAMMA_PDC_PER_C",
    "ETA_INV_NOM",
    "ALBEDO",
    "AIR_MASS_COEFFICIENTS",
    "Geometry",
    "array_yield",
    "simulate_yield",
    "check_specific_yield",
    "write_yield",
    "read_yield",
    "yield_table",
]

TEMPERATURE_MODELS: dict[str, tuple[str, dict[str, float]]] = {
    "pvwatts_roof": ("noct_sam", {"noct": 49.0, "module_efficiency": 0.19}),
    "pvwatts_rack": ("noct_sam", {"noct": 45.0, "module_efficiency": 0.19}),
    "sapm_close_mount": ("sapm", {"a": -2.98, "b": -0.0471, "deltaT": 1.0}),
    "sapm_open_rack": ("sapm", {"a": -3.47, "b": -0.0594, "deltaT": 3.0}),
    "sapm_insulated_back": ("sapm", {"a": -2.81, "b": -0.0455, "deltaT": 0.0}),
}
"""Cell-temperature model name -> (pvlib.temperature function, parameters).

``pvwatts_*``: :func:`pvlib.temperature.noct_sam` with PVWatts v8's installed
NOCT (49 °C for a fixed roof mount, 45 °C for every other array type) and the
PVWatts standard module's 19 % efficiency. ``sapm_*``: pvlib's SAPM parameter
sets ``close_mount_glass_glass``, ``open_rack_glass_glass`` and
``insulated_back_glass_polymer`` (a test checks they equal pvlib's table)."""

GAMMA_PDC_PER_C = -0.0037
"""PVWatts standard-module DC temperature coefficient [1/°C] (the schema's default -0.37 %/°C)."""

ETA_INV_NOM = 0.96
"""PVWatts nominal inverter efficiency [-] (the schema's default 96 %)."""

ETA_INV_REF = 0.9637
"""PVWatts reference inverter efficiency [-] (the efficiency curve's normalisation)."""

ALBEDO = 0.2
"""Default ground reflectance [-] (PVWatts' default when the weather carries none)."""

AIR_MASS_COEFFICIENTS = {"A0": 0.918093, "A1": 0.086257, "A2": -0.024459, "A3": 0.002816, "A4": -0.000126}
"""PVWatts v8 / De Soto (2006) air-mass modifier polynomial of a crystalline-silicon module."""

ZENITH_MAX_AIR_MASS_DEG = 86.0
"""The air-mass modifier is evaluated at zenith angles up to this [deg], as PVWatts does."""

GLASS_N = 1.526
"""Refractive index of the module glass (PVWatts, De Soto)."""

AR_COATING_N = 1.3
"""Refractive index of the anti-reflective coating of the PVWatts standard module."""

ROW_SHADING_POINTS = 200
"""Points along the slant height over which the sky view factor of a shaded row is averaged."""

MODEL_CHAIN_DESCRIPTION = (
    "pvlib functions per unique geometry, PVWatts v8-like: sun position at mid-hour; Perez transposition "
    "(dni_extra, airmass), albedo per array (default 0.2); row shading of direct light (pvlib.shading.shaded_fraction1d) "
    "and sky diffuse (view factor) when gcr is given; physical IAM with AR coating on direct, sky and ground light "
    "(Brandemuehl-Beckman effective angles); PVWatts v8 air-mass modifier (optional); named cell-temperature model "
    "(default pvwatts_roof = noct_sam NOCT 49 C on close_mount, pvwatts_rack = NOCT 45 C on open_rack); PVWatts DC "
    "(pdc0 = 1 kW/kWp, temperature coefficient per array); PVWatts losses = losses_pct; PVWatts inverter "
    "(eta_nom per array, AC nameplate = 1/dc_ac_ratio kW per kWp); AC clipped at >= 0"
)


@dataclass(frozen=True)
class Geometry:
    """What determines an array's yield per kWp: its site's weather and its orientation and system.

    Attributes
    ----------
    temperature_model
        A key of :data:`TEMPERATURE_MODELS`; empty = the default of ``mount``.
    gcr
        Ground coverage ratio of racked rows; ``None`` = one row, no row shading.
    """

    site: str
    tilt_deg: float
    azimuth_deg: float
    mount: str
    losses_pct: float
    dc_ac_ratio: float
    temperature_model: str = ""
    albedo: float = ALBEDO
    temp_coeff_pct_per_c: float = 100.0 * GAMMA_PDC_PER_C
    inverter_efficiency_pct: float = 100.0 * ETA_INV_NOM
    gcr: float | None = None
    air_mass_correction: bool = True

    @property
    def temperature_model_value(self) -> str:
        """The temperature model used (``temperature_model`` or the mount's default)."""
        from pvopt.inputs.schema import MOUNT_TEMPERATURE_MODEL

        return self.temperature_model or MOUNT_TEMPERATURE_MODEL[self.mount]


class _SolposLocation:
    """A pvlib Location that hands out a precomputed solar position (one per site, not per array)."""

    def __new__(cls, location, solpos: pd.DataFrame):  # noqa: D102
        from pvlib.location import Location

        class _Loc(Location):
            def get_solarposition(self, times, pressure=None, temperature=12, **kwargs):  # noqa: ARG002
                if len(times) == len(solpos) and (times == solpos.index).all():
                    return solpos
                return super().get_solarposition(times, pressure=pressure, temperature=temperature, **kwargs)

        return _Loc(location.latitude, location.longitude, tz=location.tz, altitude=location.altitude, name=location.name)


def _effective_angles_deg(tilt_deg: float) -> tuple[float, float]:
    """Brandemuehl-Beckman effective incidence angles [deg] of isotropic sky diffuse and ground-reflected light.

    Duffie & Beckman, *Solar Engineering of Thermal Processes*, eq. 5.4.1-5.4.2; PVWatts v8 uses the same.
    """
    t = float(tilt_deg)
    return 59.7 - 0.1388 * t + 0.001497 * t * t, 90.0 - 0.5788 * t + 0.002693 * t * t


def _row_sky_view_factor(tilt_deg: float, gcr: float) -> float:
    """Share of a tilted row's isotropic sky view left by the row in front [-], averaged over the slant height.

    For a surface tilted ``b`` that sees the sky above the masking angle ``psi``
    in front (2-D, infinitely long rows) the sky view factor is
    ``(1 + cos(b + psi)) / 2`` instead of ``(1 + cos b) / 2``; ``psi`` falls
    from its largest value at the bottom edge to zero at the top
    (:func:`pvlib.shading.masking_angle`).
    """
    from pvlib import shading

    if tilt_deg <= 0:
        return 1.0
    x = (np.arange(ROW_SHADING_POINTS) + 0.5) / ROW_SHADING_POINTS
    psi = np.radians(np.asarray(shading.masking_angle(tilt_deg, gcr, x), dtype=float))
    b = np.radians(tilt_deg)
    return float(np.mean((1.0 + np.cos(b + psi)) / (1.0 + np.cos(b))))


def _cell_temperature_c(name: str, poa_global: np.ndarray, temp_air: np.ndarray, wind_speed: np.ndarray) -> np.ndarray:
    from pvlib import temperature

    if name not in TEMPERATURE_MODELS:  # pragma: no cover - the schema only admits known names
        raise ValueError(f"unknown temperature model '{name}'; expected one of {sorted(TEMPERATURE_MODELS)}")
    kind, p = TEMPERATURE_MODELS[name]
    if kind == "noct_sam":
        return np.asarray(temperature.noct_sam(poa_global, temp_air, wind_speed, **p), dtype=float)
    return np.asarray(temperature.sapm_cell(poa_global, temp_air, wind_speed, **p), dtype=float)


def _plane_of_array(g: Geometry, weather_mid: pd.DataFrame, location) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Series, pd.Series]:
    """Beam, sky-diffuse and ground-reflected plane-of-array irradiance [W/m²] (row shading applied), and the sun's zenith and azimuth."""
    from pvlib import atmosphere, irradiance, shading

    times = weather_mid.index
    sp = location.get_solarposition(times, temperature=weather_mid["temp_air"], method="nrel_numpy")
    zenith, sun_az = sp["apparent_zenith"], sp["azimuth"]
    poa = irradiance.get_total_irradiance(
        g.tilt_deg, g.azimuth_deg, zenith, sun_az,
        weather_mid["dni"], weather_mid["ghi"], weather_mid["dhi"],
        dni_extra=irradiance.get_extra_radiation(times),
        airmass=atmosphere.get_relative_airmass(zenith),
        albedo=g.albedo,
        model="perez",
    )
    beam = np.nan_to_num(poa["poa_direct"].to_numpy(dtype=float))
    sky = np.nan_to_num(poa["poa_sky_diffuse"].to_numpy(dtype=float))
    ground = np.nan_to_num(poa["poa_ground_diffuse"].to_numpy(dtype=float))
    if g.gcr is not None and g.tilt_deg > 0:
        shaded = shading.shaded_fraction1d(
            zenith, sun_az, (g.azimuth_deg - 90.0) % 360.0, g.tilt_deg, collector_width=1.0, pitch=1.0 / g.gcr
        )
        beam = beam * (1.0 - np.clip(np.nan_to_num(np.asarray(shaded, dtype=float)), 0.0, 1.0))
        sky = sky * _row_sky_view_factor(g.tilt_deg, g.gcr)
    return beam, sky, ground, zenith, sun_az


def monthly_poa_kwh_per_m2(g: Geometry, weather_mid: pd.DataFrame, location) -> np.ndarray:
    """Plane-of-array irradiance per calendar month [kWh/m²] (12 values; hour-beginning local months of the weather index)."""
    beam, sky, ground, _, _ = _plane_of_array(g, weather_mid, location)
    month = (weather_mid.index - pd.Timedelta(minutes=30)).month.to_numpy()
    total = beam + sky + ground
    return np.array([total[month == m].sum() / 1000.0 for m in range(1, 13)])


def _run_chain(geometry: Geometry, weather_mid: pd.DataFrame, location) -> np.ndarray:
    """Run the chain for one geometry; return hourly AC kW per kWp DC (length 8760, >= 0).

    ``weather_mid`` is indexed at mid-hour stamps; ``location`` is a
    :class:`pvlib.location.Location` (a site's shares its solar position
    between geometries). Kept as a module function so tests can count the runs.
    """
    from pvlib import atmosphere, iam, inverter, irradiance, pvsystem
    from pvlib.spectrum import spectral_factor_sapm

    g = geometry
    beam, sky, ground, zenith, sun_az = _plane_of_array(g, weather_mid, location)
    poa_global = beam + sky + ground

    aoi = irradiance.aoi(g.tilt_deg, g.azimuth_deg, zenith, sun_az).to_numpy(dtype=float)
    iam_beam = np.nan_to_num(np.asarray(iam.physical(aoi, n=GLASS_N, n_ar=AR_COATING_N), dtype=float))
    sky_deg, ground_deg = _effective_angles_deg(g.tilt_deg)
    iam_sky = float(iam.physical(sky_deg, n=GLASS_N, n_ar=AR_COATING_N))
    iam_ground = float(iam.physical(ground_deg, n=GLASS_N, n_ar=AR_COATING_N))
    effective = beam * iam_beam + sky * iam_sky + ground * iam_ground
    if g.air_mass_correction:
        zen = np.minimum(zenith.to_numpy(dtype=float), ZENITH_MAX_AIR_MASS_DEG)
        am_abs = atmosphere.get_absolute_airmass(
            atmosphere.get_relative_airmass(zen, model="kastenyoung1989"), atmosphere.alt2pres(location.altitude)
        )
        effective = effective * np.nan_to_num(np.asarray(spectral_factor_sapm(am_abs, AIR_MASS_COEFFICIENTS), dtype=float))

    temp_air = weather_mid["temp_air"].to_numpy(dtype=float)
    wind = np.clip(weather_mid["wind_speed"].to_numpy(dtype=float), 0.0, None)
    t_cell = _cell_temperature_c(g.temperature_model_value, poa_global, temp_air, wind)
    dc = pvsystem.pvwatts_dc(effective, t_cell, pdc0=1.0, gamma_pdc=g.temp_coeff_pct_per_c / 100.0)
    dc = np.asarray(dc, dtype=float) * (1.0 - g.losses_pct / 100.0)
    eta = g.inverter_efficiency_pct / 100.0
    ac = np.asarray(
        inverter.pvwatts(dc, pdc0=1.0 / (g.dc_ac_ratio * eta), eta_inv_nom=eta, eta_inv_ref=ETA_INV_REF), dtype=float
    )
    if np.isnan(ac).any():  # pragma: no cover - checked weather never yields NaN
        raise RuntimeError(f"pvlib returned {int(np.isnan(ac).sum())} NaN AC values for {geometry}")
    return np.clip(ac, 0.0, None)


def array_yield(weather: pd.DataFrame, latitude_deg: float, longitude_deg: float, altitude_m: float, tz: str, geometry: Geometry) -> np.ndarray:
    """Hourly AC yield [kW per kWp DC] of one geometry on a checked 8760-hour weather frame."""
    from pvlib.location import Location

    wmid = weather.copy()
    wmid.index = weather.index + pd.Timedelta(minutes=30)
    loc = Location(latitude_deg, longitude_deg, tz=tz, altitude=altitude_m)
    return _run_chain(geometry, wmid, loc)


def _geometry(site, array) -> Geometry:
    return Geometry(
        site=site.name,
        tilt_deg=float(array.tilt_deg),
        azimuth_deg=float(array.azimuth_deg),
        mount=array.mount_value,
        losses_pct=float(array.losses_pct),
        dc_ac_ratio=float(array.dc_ac_ratio),
        temperature_model=array.temperature_model_value,
        albedo=float(array.albedo),
        temp_coeff_pct_per_c=float(array.temp_coeff_pct_per_c),
        inverter_efficiency_pct=float(array.inverter_efficiency_pct),
        gcr=None if array.gcr is None else float(array.gcr),
        air_mass_correction=bool(array.air_mass_correction),
    )


def simulate_yield(portfolio, *, progress: Callable[[int, int], None] | None = None,
                   weather: Callable[[Any], pd.DataFrame] | None = None) -> xr.Dataset:
    """Hourly AC yield per kWp DC of every array of ``portfolio``.

    Parameters
    ----------
    portfolio
        A :class:`pvopt.inputs.schema.Portfolio`.
    progress
        Optional ``callable(done, total)``, called after each unique geometry.
    weather
        Optional ``callable(site) -> DataFrame`` giving a site's checked 8760-hour
        weather (as :func:`pvopt.pv.weather.site_weather` returns it); default
        ``site_weather(site, portfolio.directory)``. :mod:`pvopt.studies.risk` uses it
        to simulate other weather years. With the default weather each array's
        annual yield is checked by :func:`check_specific_yield`.

    Returns
    -------
    xarray.Dataset
        ``yield_kw_per_kwp[array, hour]`` [kW AC per kWp DC] with ``array =
        "<site>/<array>"`` and ``hour = 0..8759`` (hour-of-year in the site's
        local time, hour-beginning), array coordinates ``site``,
        ``array_name``, ``kind``, ``max_kwp``, ``tilt_deg``, ``azimuth_deg``,
        ``mount``, ``temperature_model``, ``existing_kwp``, ``existing_year`` (-1 if none),
        ``degradation_pct_per_year``, ``dc_ac_ratio``; ``annual_kwh_per_kwp``
        and ``capacity_factor`` per array; ``weather_source[sites]`` and
        ``weather_description[sites]`` per site (the per-site dimension is
        ``sites`` because ``site`` is the array coordinate).
    """
    geoms, rows = _unique_geometries(portfolio)
    data, poa, sources, descriptions = _simulate_sites(portfolio, geoms, len(rows), weather, progress)
    if weather is None:  # the design weather; other weather years (pvopt risk) are meant to differ
        check_specific_yield(portfolio, data.sum(axis=1))
    site_names = [s.name for s in portfolio.sites]
    labels = [f"{s.name}/{a.name}" for s, a in rows]
    ds = xr.Dataset(
        data_vars={**_yield_data_vars(data, site_names, sources, descriptions),
                   "poa_kwh_per_m2_month": (("array", "month"), poa,
                                            {"units": "kWh/m2", "description": "plane-of-array irradiance per calendar month (row shading applied)"})},
        coords=_array_coords(rows, labels, site_names),
    )
    ds.attrs.update(_yield_attrs(sources, len(geoms)))
    return ds


def _weather_file(site, directory: Path) -> str:
    """Return the file a site's weather comes from, as shown in a yield-range message."""
    w = site.weather
    if w.source == "file":
        return str(Path(directory) / str(w.path))
    if w.source == "synthetic":
        return f"weather/normals/{w.normals}.csv"
    return f"{w.source} weather cache of site '{site.name}'"


def check_specific_yield(portfolio, annual_kwh_per_kwp: np.ndarray) -> list[InputIssue]:
    """Check every array's annual specific yield against the plausibility range.

    Outside :data:`pvopt.inputs.plausibility.SPECIFIC_YIELD_ERROR_KWH_PER_KWP`
    (no fixed array on Earth yields so little or so much) is an error; outside
    :data:`pvopt.inputs.plausibility.SPECIFIC_YIELD_WARNING_KWH_PER_KWP` a
    warning, printed as one ``warning:`` line each.

    Parameters
    ----------
    portfolio
        The :class:`pvopt.inputs.schema.Portfolio` simulated.
    annual_kwh_per_kwp
        Annual AC yield per kWp DC [kWh/kWp] of every array, in portfolio order.

    Returns
    -------
    list of InputIssue
        The warnings (already printed).

    Raises
    ------
    WeatherError
        Naming each array outside the error range, its site's weather source and the fix.
    """
    (elo, ehi), (wlo, whi) = SPECIFIC_YIELD_ERROR_KWH_PER_KWP, SPECIFIC_YIELD_WARNING_KWH_PER_KWP
    errors: list[InputIssue] = []
    warnings: list[InputIssue] = []
    k = 0
    for site in portfolio.sites:
        for i, a in enumerate(site.arrays):
            y = float(annual_kwh_per_kwp[k])
            k += 1
            if wlo <= y <= whi:
                continue
            fatal = not elo <= y <= ehi
            lo, hi = (elo, ehi) if fatal else (wlo, whi)
            what = "physical range" if fatal else "usual range"
            issue = InputIssue(
                _weather_file(site, portfolio.directory), f"{site.name}: arrays[{i}]",
                f"array '{a.name}' yields {y:,.0f} kWh/kWp a year, outside the {what} {lo:,.0f}-{hi:,.0f} kWh/kWp: "
                "check the weather (irradiance unit, time zone), tilt_deg and azimuth_deg (180 = south)",
            )
            (errors if fatal else warnings).append(issue)
    if errors:
        err = WeatherError(errors[0].file, errors[0].field, errors[0].message)
        err.issues.extend(errors[1:])
        raise err
    for w in warnings:
        warn_input(w)
    return warnings


def _unique_geometries(portfolio) -> tuple[dict[Geometry, list[int]], list[tuple]]:
    """Map every unique geometry to its array rows; list the ``(site, array)`` rows in portfolio order."""
    geoms: dict[Geometry, list[int]] = {}
    rows: list[tuple] = []
    for site in portfolio.sites:
        for a in site.arrays:
            g = _geometry(site, a)
            geoms.setdefault(g, []).append(len(rows))
            rows.append((site, a))
    return geoms, rows


def _simulate_sites(
    portfolio,
    geoms: dict[Geometry, list[int]],
    n_rows: int,
    weather: Callable[[Any], pd.DataFrame] | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[np.ndarray, np.ndarray, dict[str, str], dict[str, str]]:
    """Run the chain once per geometry, site by site; return the yields [kW/kWp], monthly POA [kWh/m²], each site's weather source and description."""
    from pvlib.location import Location

    total = len(geoms)
    data = np.zeros((n_rows, HOURS_PER_YEAR), dtype=float)
    poa = np.full((n_rows, 12), np.nan)
    sources: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    done = 0
    by_site: dict[str, list[Geometry]] = {}
    for g in geoms:
        by_site.setdefault(g.site, []).append(g)
    for site in portfolio.sites:
        w = weather(site) if weather is not None else site_weather(site, portfolio.directory)
        sources[site.name] = str(w.attrs.get("weather_source", "unknown"))
        descriptions[site.name] = str(w.attrs.get("weather_description", ""))
        if site.name not in by_site:
            continue
        wmid = w.copy()
        wmid.index = w.index + pd.Timedelta(minutes=30)
        base = Location(site.latitude_deg, site.longitude_deg, tz=site.timezone, altitude=site.altitude_m, name=site.name)
        solpos = base.get_solarposition(wmid.index, temperature=wmid["temp_air"], method="nrel_numpy")
        loc = _SolposLocation(base, solpos)
        for g in by_site[site.name]:
            ac = _run_chain(g, wmid, loc)
            data[geoms[g], :] = ac
            poa[geoms[g], :] = monthly_poa_kwh_per_m2(g, wmid, loc)
            done += 1
            if progress is not None:
                progress(done, total)
    return data, poa, sources, descriptions


def _yield_data_vars(data: np.ndarray, site_names: list[str], sources: dict[str, str], descriptions: dict[str, str]) -> dict[str, tuple]:
    """Build the data variables of the yield Dataset: hourly and annual yield per array, weather per site."""
    annual = data.sum(axis=1)
    return {
        "yield_kw_per_kwp": (
            ("array", "hour"),
            data,
            {"units": "kW/kWp", "description": "hourly AC output per kWp DC installed (mean power over hour-of-year t, hour-beginning, site local time)"},
        ),
        "annual_kwh_per_kwp": (
            ("array",),
            annual,
            {"units": "kWh/kWp", "description": "annual AC energy per kWp DC (specific yield), before degradation"},
        ),
        "capacity_factor": (
            ("array",),
            annual / HOURS_PER_YEAR,
            {"units": "1", "description": "AC kWh per kWp DC divided by 8760 h"},
        ),
        "weather_source": (
            ("sites",),
            np.array([sources.get(n, "") for n in site_names], dtype=object),
            {"units": "", "description": "'synthetic' (typical year built from monthly normals) or 'file' (weather file)"},
        ),
        "weather_description": (
            ("sites",),
            np.array([descriptions.get(n, "") for n in site_names], dtype=object),
            {"units": "", "description": "where the site's weather comes from"},
        ),
    }


def _array_coords(rows: list[tuple], labels: list[str], site_names: list[str]) -> dict[str, tuple]:
    """Build the coordinates of the yield Dataset: array, hour, sites and each array's properties."""
    return {
        "array": ("array", labels, {"units": "", "description": "'<site>/<array>'"}),
        "hour": ("hour", np.arange(HOURS_PER_YEAR), {"units": "h", "description": "hour-of-year t = 0..8759, site local time, hour-beginning; Feb 29 dropped"}),
        "sites": ("sites", site_names, {"units": "", "description": "site names (dimension of the per-site variables)"}),
        "site": ("array", [s.name for s, _ in rows], {"units": "", "description": "site of the array"}),
        "array_name": ("array", [a.name for _, a in rows], {"units": "", "description": "array name within its site"}),
        "kind": ("array", [a.kind for _, a in rows], {"units": "", "description": "rooftop or carport"}),
        "max_kwp": ("array", [a.max_kwp_value for _, a in rows], {"units": "kWp", "description": "maximum DC capacity"}),
        "tilt_deg": ("array", [float(a.tilt_deg) for _, a in rows], {"units": "deg", "description": "surface tilt from horizontal"}),
        "azimuth_deg": ("array", [float(a.azimuth_deg) for _, a in rows], {"units": "deg", "description": "surface azimuth clockwise from north (180 = south)"}),
        "mount": ("array", [a.mount_value for _, a in rows], {"units": "", "description": "how the modules are mounted (close_mount, open_rack, insulated_back)"}),
        "temperature_model": ("array", [a.temperature_model_value for _, a in rows], {"units": "", "description": "cell-temperature model used (pvopt.pv.yields.TEMPERATURE_MODELS)"}),
        "existing_kwp": ("array", [float(a.existing_kwp) for _, a in rows], {"units": "kWp", "description": "capacity installed before the first planning year"}),
        "existing_year": ("array", np.array([a.existing_year if a.existing_year is not None else -1 for _, a in rows], dtype=np.int64), {"units": "", "description": "install year of existing_kwp, -1 if none"}),
        "degradation_pct_per_year": ("array", [float(a.degradation_pct_per_year) for _, a in rows], {"units": "%/yr", "description": "capacity loss per year of age"}),
        "dc_ac_ratio": ("array", [float(a.dc_ac_ratio) for _, a in rows], {"units": "1", "description": "DC/AC nameplate ratio"}),
        "losses_pct": ("array", [float(a.losses_pct) for _, a in rows], {"units": "%", "description": "PVWatts system losses"}),
    }


def _yield_attrs(sources: dict[str, str], total: int) -> dict[str, Any]:
    """Build the global attributes of the yield Dataset, with the statement on synthetic weather."""
    synthetic = sorted(n for n, s in sources.items() if s == "synthetic")
    return {
        "title": "pvopt hourly PV yield per kWp",
        "pvopt_version": __version__,
        "model_chain": MODEL_CHAIN_DESCRIPTION,
        "unique_geometries": total,
        "any_synthetic_weather": int(bool(synthetic)),
        "weather_statement": (
            (
                f"SYNTHETIC WEATHER at {len(synthetic)} site(s) ({', '.join(synthetic)}): a typical year built from monthly "
                "climate normals in weather/normals/ (see weather/README.md for their sources and assumptions); "
                "hourly values are not measured weather."
            )
            if synthetic
            else "All weather from weather files."
        ),
    }


def write_yield(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` to NetCDF (h5netcdf) atomically: a temp file in the same folder, then ``os.replace``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=p.name + ".", suffix=".tmp", dir=p.parent)
    os.close(fd)
    try:
        out = ds.copy()
        for name in list(out.data_vars) + list(out.coords):
            if out[name].dtype == object:
                out[name] = out[name].astype(str)
        out.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p


def read_yield(path: str | Path) -> xr.Dataset:
    """Read a dataset written by :func:`write_yield` (fully loaded, file closed)."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def yield_table(ds: xr.Dataset) -> pd.DataFrame:
    """One row per array: site, array, kind, max_kwp, annual_kwh_per_kwp, capacity_factor_pct."""
    return pd.DataFrame(
        {
            "site": ds["site"].values.astype(str),
            "array": ds["array_name"].values.astype(str),
            "kind": ds["kind"].values.astype(str),
            "max_kwp": ds["max_kwp"].values.astype(float),
            "annual_kwh_per_kwp": ds["annual_kwh_per_kwp"].values.astype(float),
            "capacity_factor_pct": 100.0 * ds["capacity_factor"].values.astype(float),
        }
    )
