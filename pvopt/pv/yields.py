"""Hourly PV yield per kWp of every array (yield layer, pvlib).

For each array pvlib's :class:`~pvlib.modelchain.ModelChain` runs on a
:class:`~pvlib.pvsystem.PVSystem` of 1 kWp DC:

* weather: :func:`pvopt.pv.weather.site_weather` (8760 hour-beginning stamps in
  the site's zone). The sun position is taken at the **middle** of each hour
  (stamps + 30 min) because the irradiance of hour ``t`` is its mean over
  ``[t, t+1)``; results are handed back on hour ``t``;
* transposition: Perez (1990) with extraterrestrial DNI and relative air mass,
  albedo 0.25;
* AOI losses: the physical (Fresnel/Snell) IAM model; no spectral loss;
* cell temperature: SAPM, parameters by mount: ``close_mount`` ->
  ``close_mount_glass_glass``, ``open_rack`` -> ``open_rack_glass_glass``,
  ``insulated_back`` -> ``insulated_back_glass_polymer``;
* DC: PVWatts, ``pdc0 = 1 kW`` per kWp, ``gamma_pdc = -0.0037 /°C``;
* system losses: PVWatts losses with the array's ``losses_pct`` as the total;
* AC: PVWatts inverter with nominal efficiency 0.96. ``dc_ac_ratio`` is the
  PVWatts v5 DC-to-AC *nameplate* ratio: AC nameplate ``1/dc_ac_ratio`` kW
  per kWp, so the inverter's DC rating is ``pdc0 = 1/(dc_ac_ratio * 0.96)``
  kW and AC never exceeds ``1/dc_ac_ratio`` kW per kWp.

Output is AC kW per kWp DC, ``>= 0`` (night tare clipped to 0). Arrays with
the same site, tilt, azimuth, mount, losses and DC/AC ratio share one run.

This module never imports Pyomo.
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
from pvopt.pv.weather import HOURS_PER_YEAR, site_weather

__all__ = [
    "MOUNT_TO_SAPM",
    "GAMMA_PDC_PER_C",
    "ETA_INV_NOM",
    "ALBEDO",
    "Geometry",
    "array_yield",
    "simulate_yield",
    "write_yield",
    "read_yield",
    "yield_table",
]

MOUNT_TO_SAPM = {
    "close_mount": "close_mount_glass_glass",
    "open_rack": "open_rack_glass_glass",
    "insulated_back": "insulated_back_glass_polymer",
}
"""pvopt mount -> key of ``pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS['sapm']``."""

GAMMA_PDC_PER_C = -0.0037
"""PVWatts DC temperature coefficient [1/°C] (PVWatts v5 'standard' module)."""

ETA_INV_NOM = 0.96
"""PVWatts nominal inverter efficiency [-]."""

ETA_INV_REF = 0.9637
"""PVWatts reference inverter efficiency [-] (pvlib default)."""

ALBEDO = 0.25
"""Ground reflectance [-] used in the transposition."""

MODEL_CHAIN_DESCRIPTION = (
    "pvlib ModelChain per unique geometry: sun position at mid-hour; Perez transposition (dni_extra, airmass), "
    f"albedo {ALBEDO}; physical IAM; no spectral loss; SAPM cell temperature by mount; PVWatts DC "
    f"(pdc0 = 1 kW/kWp, gamma_pdc = {GAMMA_PDC_PER_C}/°C); PVWatts losses = losses_pct; PVWatts inverter "
    f"(eta_nom = {ETA_INV_NOM}, AC nameplate = 1/dc_ac_ratio kW per kWp); AC clipped at >= 0"
)


@dataclass(frozen=True)
class Geometry:
    """What determines an array's yield per kWp: its site's weather and its orientation and system."""

    site: str
    tilt_deg: float
    azimuth_deg: float
    mount: str
    losses_pct: float
    dc_ac_ratio: float


def _losses_parameters(losses_pct: float) -> dict[str, float]:
    # pvwatts_losses combines its components multiplicatively; one non-zero
    # component returns exactly losses_pct
    return {
        "soiling": float(losses_pct),
        "shading": 0.0,
        "snow": 0.0,
        "mismatch": 0.0,
        "wiring": 0.0,
        "connections": 0.0,
        "lid": 0.0,
        "nameplate_rating": 0.0,
        "age": 0.0,
        "availability": 0.0,
    }


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


def _run_chain(geometry: Geometry, weather_mid: pd.DataFrame, location) -> np.ndarray:
    """Run one ModelChain; return hourly AC kW per kWp DC (length 8760, >= 0).

    ``weather_mid`` is indexed at mid-hour stamps. Kept as a module function so
    tests can count the runs.
    """
    from pvlib.modelchain import ModelChain
    from pvlib.pvsystem import PVSystem
    from pvlib.temperature import TEMPERATURE_MODEL_PARAMETERS

    system = PVSystem(
        surface_tilt=geometry.tilt_deg,
        surface_azimuth=geometry.azimuth_deg,
        albedo=ALBEDO,
        module_parameters={"pdc0": 1.0, "gamma_pdc": GAMMA_PDC_PER_C},
        inverter_parameters={
            "pdc0": 1.0 / (geometry.dc_ac_ratio * ETA_INV_NOM),
            "eta_inv_nom": ETA_INV_NOM,
            "eta_inv_ref": ETA_INV_REF,
        },
        temperature_model_parameters=TEMPERATURE_MODEL_PARAMETERS["sapm"][MOUNT_TO_SAPM[geometry.mount]],
        losses_parameters=_losses_parameters(geometry.losses_pct),
    )
    mc = ModelChain(
        system,
        location,
        transposition_model="perez",
        solar_position_method="nrel_numpy",
        aoi_model="physical",
        spectral_model="no_loss",
        temperature_model="sapm",
        dc_model="pvwatts",
        ac_model="pvwatts",
        losses_model="pvwatts",
    )
    mc.run_model(weather_mid)
    ac = np.asarray(mc.results.ac, dtype=float)
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
        to simulate other weather years.

    Returns
    -------
    xarray.Dataset
        ``yield_kw_per_kwp[array, hour]`` [kW AC per kWp DC] with ``array =
        "<site>/<array>"`` and ``hour = 0..8759`` (hour-of-year in the site's
        local time, hour-beginning), array coordinates ``site``,
        ``array_name``, ``kind``, ``max_kwp``, ``tilt_deg``, ``azimuth_deg``,
        ``mount``, ``existing_kwp``, ``existing_year`` (-1 if none),
        ``degradation_pct_per_year``, ``dc_ac_ratio``; ``annual_kwh_per_kwp``
        and ``capacity_factor`` per array; ``weather_source[sites]`` and
        ``weather_description[sites]`` per site (the per-site dimension is
        ``sites`` because ``site`` is the array coordinate).
    """
    from pvlib.location import Location

    geoms: dict[Geometry, list[int]] = {}
    rows: list[tuple] = []
    for site in portfolio.sites:
        for a in site.arrays:
            g = _geometry(site, a)
            geoms.setdefault(g, []).append(len(rows))
            rows.append((site, a))
    total = len(geoms)
    data = np.zeros((len(rows), HOURS_PER_YEAR), dtype=float)
    site_names = [s.name for s in portfolio.sites]
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
            done += 1
            if progress is not None:
                progress(done, total)

    labels = [f"{s.name}/{a.name}" for s, a in rows]
    annual = data.sum(axis=1)
    ds = xr.Dataset(
        data_vars={
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
        },
        coords={
            "array": ("array", labels, {"units": "", "description": "'<site>/<array>'"}),
            "hour": ("hour", np.arange(HOURS_PER_YEAR), {"units": "h", "description": "hour-of-year t = 0..8759, site local time, hour-beginning; Feb 29 dropped"}),
            "sites": ("sites", site_names, {"units": "", "description": "site names (dimension of the per-site variables)"}),
            "site": ("array", [s.name for s, _ in rows], {"units": "", "description": "site of the array"}),
            "array_name": ("array", [a.name for _, a in rows], {"units": "", "description": "array name within its site"}),
            "kind": ("array", [a.kind for _, a in rows], {"units": "", "description": "rooftop or carport"}),
            "max_kwp": ("array", [a.max_kwp_value for _, a in rows], {"units": "kWp", "description": "maximum DC capacity"}),
            "tilt_deg": ("array", [float(a.tilt_deg) for _, a in rows], {"units": "deg", "description": "surface tilt from horizontal"}),
            "azimuth_deg": ("array", [float(a.azimuth_deg) for _, a in rows], {"units": "deg", "description": "surface azimuth clockwise from north (180 = south)"}),
            "mount": ("array", [a.mount_value for _, a in rows], {"units": "", "description": "SAPM temperature-model mount"}),
            "existing_kwp": ("array", [float(a.existing_kwp) for _, a in rows], {"units": "kWp", "description": "capacity installed before the first planning year"}),
            "existing_year": ("array", np.array([a.existing_year if a.existing_year is not None else -1 for _, a in rows], dtype=np.int64), {"units": "", "description": "install year of existing_kwp, -1 if none"}),
            "degradation_pct_per_year": ("array", [float(a.degradation_pct_per_year) for _, a in rows], {"units": "%/yr", "description": "capacity loss per year of age"}),
            "dc_ac_ratio": ("array", [float(a.dc_ac_ratio) for _, a in rows], {"units": "1", "description": "DC/AC nameplate ratio"}),
            "losses_pct": ("array", [float(a.losses_pct) for _, a in rows], {"units": "%", "description": "PVWatts system losses"}),
        },
    )
    synthetic = sorted(n for n, s in sources.items() if s == "synthetic")
    ds.attrs.update(
        {
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
    )
    return ds


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
