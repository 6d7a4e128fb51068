"""Weather from online sources, fetched once into a cache and read offline.

A site whose ``weather.source`` is ``pvgis`` or ``nasa_power`` takes its
hourly weather from a cache file named by source and coordinates:

* ``pvgis``: the PVGIS typical meteorological year (European Commission JRC),
  fetched with :func:`pvlib.iotools.get_pvgis_tmy`;
  file ``pvgis_tmy_<lat>_<lon>.csv``;
* ``nasa_power``: NASA POWER hourly data of one calendar year
  (``weather.year``, default :data:`NASA_POWER_DEFAULT_YEAR`), fetched with
  :func:`pvlib.iotools.get_nasa_power`; file
  ``nasa_power_<year>_<lat>_<lon>.csv``.

Coordinates are rounded to 3 decimals (about 100 m) in the name. The cache
folder is :func:`pvopt.inputs.files.weather_cache_dir` (``$PVOPT_CACHE_DIR``,
else ``~/.cache/pvopt/weather``). ``pvopt weather fetch PORTFOLIO`` fills it;
planning never goes online: without the cache file it stops with an error
that names the site, the missing file, the folder and the command.

Cache file format: ``#`` header lines (``key: value``: source, coordinates,
time of the fetch, pvlib version, the source's description), then the columns
``time_utc`` (ISO 8601, UTC, hour-beginning), ``ghi``, ``dni``, ``dhi`` [W/m2],
``temp_air`` [°C], ``wind_speed`` [m/s]. Users behind a firewall can write
such a file themselves.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pvopt.errors import InputIssue, PortfolioError, WeatherError
from pvopt.inputs.files import weather_cache_dir

if TYPE_CHECKING:  # pragma: no cover
    from pvopt.inputs.schema import Portfolio, Site

__all__ = ["ONLINE_SOURCES", "NASA_POWER_DEFAULT_YEAR", "cache_path", "fetch_site_weather", "fetch_portfolio_weather",
           "read_cache", "write_cache"]

ONLINE_SOURCES = ("pvgis", "nasa_power")
"""Weather sources fetched online (once) and read from the cache."""

NASA_POWER_DEFAULT_YEAR = 2023
"""Calendar year fetched from NASA POWER when ``weather.year`` is not given (matches the nominal year)."""

_COLUMNS = ("ghi", "dni", "dhi", "temp_air", "wind_speed")

SOURCE_NAMES = {
    "pvgis": "PVGIS TMY (European Commission JRC)",
    "nasa_power": "NASA POWER hourly (NASA Langley)",
}


def _year(site: "Site") -> int:
    return int(site.weather.year or NASA_POWER_DEFAULT_YEAR)


def cache_path(site: "Site") -> Path:
    """Cache file of an online-weather site (it may not exist yet)."""
    src = site.weather.source
    lat, lon = f"{site.latitude_deg:.3f}", f"{site.longitude_deg:.3f}"
    if src == "pvgis":
        name = f"pvgis_tmy_{lat}_{lon}.csv"
    elif src == "nasa_power":
        name = f"nasa_power_{_year(site)}_{lat}_{lon}.csv"
    else:
        raise ValueError(f"site '{site.name}': weather source '{src}' is not fetched online")
    return weather_cache_dir() / name


def missing_cache_error(site: "Site", portfolio_dir: Path | str | None = None) -> PortfolioError:
    """Return the error for an online-weather site that has no cache file."""
    p = cache_path(site)
    where = str(portfolio_dir) if portfolio_dir is not None else "PORTFOLIO"
    return PortfolioError([InputIssue(
        f"site '{site.name}'", "weather.source",
        f"{SOURCE_NAMES[site.weather.source]} weather is not in the cache: missing file {p.name} in {p.parent}. "
        f"Fetch it once with `pvopt weather fetch {where}` (needs network), or put a file of that name there "
        "(format in weather/README.md); set PVOPT_CACHE_DIR to use another folder.",
    )])


def write_cache(df: pd.DataFrame, path: Path, header: dict[str, str]) -> Path:
    """Write a cache file atomically (``#`` header lines, then ``time_utc`` and the weather columns)."""
    from pvopt.io import write_text_atomic

    idx = pd.DatetimeIndex(df.index)
    if idx.tz is None:
        raise WeatherError(str(path), "time", "time stamps are naive; expected UTC-aware stamps from the fetch")
    out = df[list(_COLUMNS)].astype(float).copy()
    out.index = idx.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    out.index.name = "time_utc"
    lines = [f"# {k}: {str(v).replace(chr(10), ' ')}" for k, v in header.items()]
    text = "\n".join(lines) + "\n" + out.to_csv(float_format="%.3f", lineterminator="\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(text, path)
    return path


def read_cache(path: Path) -> pd.DataFrame:
    """Read a cache file: UTC stamps, :data:`_COLUMNS`; ``attrs['header']`` holds the ``#`` lines as a dict."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise WeatherError(file, "", f"cannot read the weather cache file: {e.strerror}") from None
    header = {}
    for ln in text.splitlines():
        if not ln.startswith("#"):
            break
        k, _, v = ln[1:].partition(":")
        header[k.strip()] = v.strip()
    try:
        df = pd.read_csv(path, comment="#")
    except (ValueError, pd.errors.ParserError) as e:
        raise WeatherError(file, "", f"malformed CSV: {str(e).splitlines()[0]}") from None
    missing = [c for c in ("time_utc", *_COLUMNS) if c not in df.columns]
    if missing:
        raise WeatherError(file, ",".join(missing), f"missing column(s); expected time_utc and {list(_COLUMNS)}")
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(df["time_utc"], utc=True))
    except (ValueError, TypeError) as e:
        raise WeatherError(file, "time_utc", f"expected ISO 8601 UTC stamps: {e}") from None
    out = df[list(_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    out.index = idx
    out.attrs["header"] = header
    out.attrs["file"] = file
    return out


def _fetch(site: "Site") -> tuple[pd.DataFrame, dict[str, str]]:
    """Call pvlib's fetch function of the site's source; return the data (UTC) and header fields."""
    import pvlib
    from pvlib import iotools

    src = site.weather.source
    lat, lon = float(site.latitude_deg), float(site.longitude_deg)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = {"source": src, "latitude": f"{lat:.4f}", "longitude": f"{lon:.4f}", "fetched_utc": now, "pvlib": pvlib.__version__}
    if src == "pvgis":
        data, meta = iotools.get_pvgis_tmy(lat, lon, outputformat="json", usehorizon=True, map_variables=True,
                                           roll_utc_offset=None, coerce_year=None)
        months = ""
        if isinstance(meta, dict):
            sel = meta.get("months_selected") or []
            if sel:
                months = ", years per month " + " ".join(str(m.get("year", "?")) for m in sel if isinstance(m, dict))
            inputs = meta.get("inputs", {}) if isinstance(meta.get("inputs"), dict) else {}
            db = (inputs.get("meteo_data", {}) or {}).get("radiation_db", "") if isinstance(inputs.get("meteo_data", {}), dict) else ""
            if db:
                months = f", radiation database {db}" + months
        head["description"] = f"PVGIS typical meteorological year at {lat:.3f}, {lon:.3f}{months}"
    elif src == "nasa_power":
        if not hasattr(iotools, "get_nasa_power"):
            raise PortfolioError([InputIssue(f"site '{site.name}'", "weather.source",
                                             f"the installed pvlib {pvlib.__version__} has no iotools.get_nasa_power; "
                                             "install pvlib >= 0.12 or use source 'pvgis'")])
        y = _year(site)
        data, meta = iotools.get_nasa_power(lat, lon, start=f"{y}-01-01", end=f"{y}-12-31",
                                            parameters=["ghi", "dni", "dhi", "temp_air", "wind_speed"], community="re",
                                            map_variables=True)
        head["description"] = f"NASA POWER hourly data of {y} at {lat:.3f}, {lon:.3f} (satellite and reanalysis based)"
        head["year"] = str(y)
    else:  # pragma: no cover - guarded by the callers
        raise ValueError(src)
    missing = [c for c in _COLUMNS if c not in data.columns]
    if missing:
        raise WeatherError(f"{src} response for site '{site.name}'", ",".join(missing), f"missing column(s) in the fetched data; got {list(data.columns)}")
    return data, head


def fetch_site_weather(site: "Site", *, force: bool = False) -> tuple[Path, bool]:
    """Fetch the weather of an online-source site into the cache (once).

    Returns
    -------
    (path, fetched)
        The cache file, and whether it was fetched now (``False``: it was there already).

    Raises
    ------
    PortfolioError
        When the fetch fails (no network, the service refuses): names the site and the cause.
    """
    p = cache_path(site)
    if p.is_file() and not force:
        return p, False
    try:
        data, head = _fetch(site)
    except (PortfolioError, WeatherError):
        raise
    except Exception as e:  # network errors come in many kinds (requests, urllib3, socket)
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise PortfolioError([InputIssue(f"site '{site.name}'", "weather.source",
                                         f"fetching {SOURCE_NAMES[site.weather.source]} failed ({type(e).__name__}: {msg}); "
                                         f"check the network, or put the file {p.name} into {p.parent} yourself")]) from None
    write_cache(data, p, head)
    return p, True


def fetch_portfolio_weather(pf: "Portfolio", *, force: bool = False) -> list[dict[str, object]]:
    """Fetch every online-source site of ``pf``; one row per site: site, source, file, status."""
    rows: list[dict[str, object]] = []
    for s in pf.sites:
        if s.weather.source not in ONLINE_SOURCES:
            rows.append({"site": s.name, "source": s.weather.source, "file": "", "status": "not online (nothing to fetch)"})
            continue
        p, fetched = fetch_site_weather(s, force=force)
        rows.append({"site": s.name, "source": s.weather.source, "file": str(p), "status": "fetched" if fetched else "in cache"})
    return rows


def cached_weather(site: "Site", portfolio_dir: Path | str | None = None) -> pd.DataFrame:
    """Read the cached weather of an online-source site in UTC with ``month``/``day``/``hour`` (never goes online)."""
    p = cache_path(site)
    if not p.is_file():
        raise missing_cache_error(site, portfolio_dir)
    df = read_cache(p)
    if df.isna().any().any():
        col = df.columns[df.isna().any()][0]
        raise WeatherError(str(p), str(col), f"{int(df[col].isna().sum())} empty or non-numeric value(s); expected a number every hour")
    # NASA POWER marks missing values with -999
    bad = (df[list(_COLUMNS)] <= -999).any(axis=1).to_numpy()
    if bad.any():
        raise WeatherError(str(p), "values", f"{int(bad.sum())} hour(s) carry the missing-value code -999 (first at {df.index[bad][0]}); "
                                             "fetch another year (weather.year) or use source 'pvgis'")
    return df
