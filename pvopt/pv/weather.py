"""Hourly weather of a typical year for each site (inputs layer).

Conventions
-----------
* Every year has 8760 hours. In a leap year Feb 29 is dropped.
* Hour-of-year ``t = 0..8759`` is counted in the site's local time from
  Jan 1 00:00. Stamps are time-zone aware (the site's IANA zone) and label
  the *beginning* of the hour: the irradiance of hour ``t`` is the mean of
  what falls during ``[t, t+1)``. In a zone with daylight saving time the
  8760 stamps are 8760 consecutive real hours (the wall clock skips one hour
  in spring and repeats one in autumn).
* Columns use pvlib's names verbatim: ``ghi``, ``dni``, ``dhi`` [W/m2],
  ``temp_air`` [°C], ``wind_speed`` [m/s].
* A weather file's year is relabelled to :data:`NOMINAL_YEAR`: a typical
  meteorological year (TMY) takes each month from a different year, and pvopt
  uses every weather year as a typical year.

Vendor files are read with :mod:`pvlib.iotools` and their column names are
mapped once, in :data:`COLUMN_MAP`. Bad data raise
:class:`pvopt.errors.WeatherError` naming file, field, what was expected and
what arrived; pvopt never shows a raw traceback for bad weather.

This module never imports Pyomo.
"""

from __future__ import annotations

import datetime as _dt
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from pvopt.errors import InputIssue, WeatherError
from pvopt.inputs.files import normals_path, resolve_input_path, weather_dir

if TYPE_CHECKING:  # pragma: no cover
    from pvopt.inputs.schema import Site

__all__ = [
    "NOMINAL_YEAR",
    "HOURS_PER_YEAR",
    "REQUIRED_COLUMNS",
    "COLUMN_MAP",
    "GHI_MAX_W_M2",
    "hour_index",
    "normals_path",
    "read_normals",
    "display_path",
    "weather_label",
    "read_weather_file",
    "check_weather",
    "to_site_time",
    "synthetic_year",
    "site_weather",
]

NOMINAL_YEAR = 2023
"""Non-leap year that labels the stamps of every typical year."""

from pvopt.constants import HOURS_PER_YEAR  # noqa: E402

REQUIRED_COLUMNS = ("ghi", "dni", "dhi", "temp_air", "wind_speed")
"""Columns of every weather frame pvopt hands to the yield layer."""

IRRADIANCE_COLUMNS = ("ghi", "dni", "dhi")

GHI_MAX_W_M2 = 1500.0
"""Sanity limit of hourly irradiance [W/m2]; above it the data are wrong (or a missing-value code)."""

TEMP_AIR_RANGE_C = (-70.0, 65.0)
WIND_SPEED_MAX_M_S = 75.0

COLUMN_MAP: dict[str, str] = {
    # TMY3 raw names (read_tmy3 with map_variables=False)
    "GHI": "ghi",
    "DNI": "dni",
    "DHI": "dhi",
    "DryBulb": "temp_air",
    "Wspd": "wind_speed",
    # EPW raw names as pvlib.iotools.read_epw returns them (already pvlib names, listed for completeness)
    "temp_air": "temp_air",
    "wind_speed": "wind_speed",
    # PVGIS TMY raw names (read_pvgis_tmy with map_variables=False)
    "G(h)": "ghi",
    "Gb(n)": "dni",
    "Gd(h)": "dhi",
    "T2m": "temp_air",
    "WS10m": "wind_speed",
}
"""The one mapping from vendor column names to pvlib names."""

WeatherFormat = Literal["epw", "tmy3", "pvgis_tmy"]

_NORMALS_COLUMNS = ("month", "ghi_kwh_m2", "temp_air_c", "wind_speed_m_s")

NORMALS_HEADER_KEYS = {
    "label": str,
    "ghi_annual_mean_kwh_m2": float,
    "ghi_annual_sd_kwh_m2": float,
}
"""Optional ``# key: value`` header lines of a normals file, read into ``attrs``: ``label`` (a short name of the
source, printed in every output), ``ghi_annual_mean_kwh_m2`` and ``ghi_annual_sd_kwh_m2`` (the year-to-year
standard deviation of the annual GHI total; :mod:`pvopt.studies.risk` draws weather years from it)."""

WEATHER_LABEL_SEPARATOR = " | "
"""A ``weather_description`` starts with a short label, then this separator, then the details."""

_ONE_HOUR = pd.Timedelta(hours=1)


# --------------------------------------------------------------------------- #
# Hour index
# --------------------------------------------------------------------------- #
def hour_index(year: int, tz: str | _dt.tzinfo) -> pd.DatetimeIndex:
    """Return the 8760 hour-beginning stamps of calendar ``year`` in zone ``tz``.

    Parameters
    ----------
    year
        Calendar year; in a leap year Feb 29 is dropped.
    tz
        IANA time zone name such as ``"Asia/Shanghai"`` (or a tzinfo).

    Returns
    -------
    pandas.DatetimeIndex
        8760 tz-aware stamps; stamp ``t`` opens hour-of-year ``t``.

    Examples
    --------
    >>> idx = hour_index(2024, "Asia/Shanghai")
    >>> len(idx), str(idx[0]), str(idx[-1])
    (8760, '2024-01-01 00:00:00+08:00', '2024-12-31 23:00:00+08:00')
    >>> bool(((idx.month == 2) & (idx.day == 29)).any())
    False
    """
    start = pd.Timestamp(year=year, month=1, day=1).tz_localize(tz)
    end = pd.Timestamp(year=year + 1, month=1, day=1).tz_localize(tz)
    idx = pd.date_range(start, end, freq="h", inclusive="left")
    idx = idx[~((idx.month == 2) & (idx.day == 29))]
    if len(idx) != HOURS_PER_YEAR:  # pragma: no cover - only for zones that change offset across years
        raise ValueError(f"zone {tz}: year {year} has {len(idx)} hours after dropping Feb 29, expected {HOURS_PER_YEAR}")
    return idx


# --------------------------------------------------------------------------- #
# Monthly normals
# --------------------------------------------------------------------------- #


def read_normals(source: str | Path) -> pd.DataFrame:
    """Read a monthly-normals CSV (a name in ``weather/normals`` or a path).

    The file holds ``#`` comment lines naming the source of every column,
    then the columns ``month`` (1..12), ``ghi_kwh_m2`` (monthly total
    [kWh/m2]), ``temp_air_c`` (monthly mean [°C]) and ``wind_speed_m_s``
    (monthly mean [m/s]).

    Returns
    -------
    pandas.DataFrame
        Indexed by month 1..12; ``attrs['file']`` is the path and
        ``attrs['source']`` the comment lines joined.
    """
    path = Path(source) if (isinstance(source, Path) or str(source).endswith(".csv")) else normals_path(str(source))
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise WeatherError(file, "", f"cannot read the normals file: {e.strerror}") from None
    comments = [ln.lstrip()[1:].strip() for ln in text.splitlines() if ln.lstrip().startswith("#")]
    header: dict[str, object] = {}
    for ln in comments:
        key, sep, value = ln.partition(":")
        key = key.strip()
        if sep and key in NORMALS_HEADER_KEYS:
            try:
                header[key] = NORMALS_HEADER_KEYS[key](value.strip())
            except ValueError:
                raise WeatherError(file, f"# {key}", f"expected a number after '# {key}:', got {value.strip()!r}") from None
    mean = header.get("ghi_annual_mean_kwh_m2")
    if mean is not None and not (0.0 < float(mean) < 4000.0):  # type: ignore[arg-type]  # NaN and inf fail too
        raise WeatherError(file, "# ghi_annual_mean_kwh_m2", f"expected an annual GHI between 0 and 4000 kWh/m2, got {mean}")
    sd = header.get("ghi_annual_sd_kwh_m2")
    if sd is not None and not (0.0 <= float(sd) < 1000.0):  # type: ignore[arg-type]
        raise WeatherError(file, "# ghi_annual_sd_kwh_m2", f"expected a year-to-year standard deviation between 0 and 1000 kWh/m2, got {sd}")
    try:
        df = pd.read_csv(path, comment="#", skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError) as e:
        raise WeatherError(file, "", f"malformed CSV: {str(e).splitlines()[0]}") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in _NORMALS_COLUMNS if c not in df.columns]
    if missing:
        raise WeatherError(file, ",".join(missing), f"missing column(s); expected columns {list(_NORMALS_COLUMNS)}, got {list(df.columns)}")
    for c in _NORMALS_COLUMNS:
        vals = pd.to_numeric(df[c], errors="coerce")
        if vals.isna().any():
            row = int(np.flatnonzero(vals.isna().to_numpy())[0])
            raise WeatherError(file, c, f"expected a number in every row, got {df[c].iloc[row]!r} in data row {row + 1}")
        df[c] = vals
    months = df["month"].astype(int).tolist()
    if sorted(months) != list(range(1, 13)) or len(months) != 12:
        raise WeatherError(file, "month", f"expected the 12 months 1..12 once each, got {months}")
    df = df.astype({"month": int}).set_index("month").sort_index()[list(_NORMALS_COLUMNS[1:])]
    bad = df.index[(df["ghi_kwh_m2"] <= 0) | (df["ghi_kwh_m2"] > 400)].tolist()
    if bad:
        raise WeatherError(file, "ghi_kwh_m2", f"expected monthly totals between 0 and 400 kWh/m2, got {df.loc[bad, 'ghi_kwh_m2'].tolist()} in month(s) {bad}")
    bad = df.index[(df["temp_air_c"] < TEMP_AIR_RANGE_C[0]) | (df["temp_air_c"] > TEMP_AIR_RANGE_C[1])].tolist()
    if bad:
        raise WeatherError(file, "temp_air_c", f"expected monthly means within {TEMP_AIR_RANGE_C} °C, got {df.loc[bad, 'temp_air_c'].tolist()} in month(s) {bad}")
    bad = df.index[(df["wind_speed_m_s"] < 0) | (df["wind_speed_m_s"] > 30)].tolist()
    if bad:
        raise WeatherError(file, "wind_speed_m_s", f"expected monthly means between 0 and 30 m/s, got {df.loc[bad, 'wind_speed_m_s'].tolist()} in month(s) {bad}")
    df.attrs["file"] = file
    df.attrs["name"] = path.stem
    df.attrs["source"] = " ".join(comments)
    df.attrs.update(header)
    return df


def display_path(path: str | Path) -> str:
    """``path`` as shown in outputs: relative to the weather folder's parent or the working directory, else the name.

    Outputs never carry a machine's absolute path (``weather/normals/wuxi.csv``, not ``/home/.../wuxi.csv``).
    """
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    for base in (weather_dir().resolve().parent, Path.cwd().resolve()):
        try:
            return p.resolve().relative_to(base).as_posix()
        except ValueError:
            continue
    return p.name


def weather_label(description: str) -> str:
    """Return the short label at the start of a ``weather_description`` (the text before :data:`WEATHER_LABEL_SEPARATOR`)."""
    return str(description).split(WEATHER_LABEL_SEPARATOR, 1)[0].strip()


# --------------------------------------------------------------------------- #
# Weather files
# --------------------------------------------------------------------------- #
def _guess_format(path: Path) -> WeatherFormat:
    ext = path.suffix.lower()
    if ext == ".epw":
        return "epw"
    if ext == ".json":
        return "pvgis_tmy"
    if ext == ".csv":
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            head = f.readline() + f.readline()
        if head.startswith("Latitude") or "G(h)" in head:
            return "pvgis_tmy"
        return "tmy3"
    raise WeatherError(str(path), "format", f"cannot tell the weather format from the extension '{ext}'; expected .epw, .csv (TMY3 or PVGIS) or .json (PVGIS), or set weather.format")


def read_weather_file(path: str | Path, format: WeatherFormat | None = None) -> pd.DataFrame:
    """Read an EPW, TMY3 or PVGIS TMY file into a checked typical year.

    Parameters
    ----------
    path
        The weather file.
    format
        ``"epw"``, ``"tmy3"`` or ``"pvgis_tmy"``; guessed from the extension
        (and, for ``.csv``, the first line) when omitted.

    Returns
    -------
    pandas.DataFrame
        8760 rows of :data:`REQUIRED_COLUMNS`, stamped in the file's own
        time zone (the fixed standard-time offset of TMY3/EPW, UTC for PVGIS),
        hour-beginning, in :data:`NOMINAL_YEAR`. Use :func:`to_site_time` to
        move it onto a site's hour index. ``attrs`` carries ``file``,
        ``format`` and the reader's ``metadata`` (latitude, longitude, ...).

    Notes
    -----
    Time stamps:

    * **TMY3** stamps are hour-*ending* (``01:00`` holds the irradiance of
      00:00-01:00); pvlib keeps them, so they are shifted back one hour here.
    * **EPW** hours 1..24 are hour-ending too, but
      :func:`pvlib.iotools.read_epw` already labels hour ``h`` as ``h-1``, the
      beginning of the hour; no further shift.
    * **PVGIS TMY** stamps are UTC at ``HH:00``; they are taken as the
      beginning of the hour.

    Each row keeps its month, day and clock hour; only the year is replaced by
    :data:`NOMINAL_YEAR` (a TMY mixes years). A Feb 29 of a leap source month
    is dropped.
    """
    p = Path(path)
    file = str(p)
    if not p.is_file():
        raise WeatherError(file, "path", "the weather file does not exist")
    fmt = format or _guess_format(p)
    _check_header(p, fmt)
    raw, meta = _read_raw(p, fmt)
    df = raw.rename(columns=COLUMN_MAP)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise WeatherError(file, ",".join(missing), f"missing column(s) after reading as {fmt}; expected {list(REQUIRED_COLUMNS)}")
    idx = pd.DatetimeIndex(df.index)
    if idx.tz is None:
        raise WeatherError(file, "time", "time stamps are naive (no time zone); expected time-zone-aware stamps")
    month, day, hour = _month_day_hour(raw, idx, fmt, file)
    df = _numeric_columns(df[list(REQUIRED_COLUMNS)], file)
    df.index = idx
    df = _coerce_year(df, month, day, hour, idx.tz, file)
    df.attrs.update(file=file, format=fmt, metadata=dict(meta) if isinstance(meta, dict) else {"meta": meta})
    return check_weather(df, file)


def _numeric_columns(df: pd.DataFrame, file: str) -> pd.DataFrame:
    """Columns as floats; text in a column (``"abc"`` in GHI) is an error naming the column and the first data rows."""
    out = pd.DataFrame(index=df.index)
    issues: list[InputIssue] = []
    for c in df.columns:
        raw = df[c]
        vals = pd.to_numeric(raw, errors="coerce")
        text = (vals.isna() & raw.notna()).to_numpy()
        if text.any():
            rows = np.flatnonzero(text)
            first = ", ".join(str(int(r) + 1) for r in rows[:3])
            issues.append(InputIssue(file, c, f"expected numbers, got text {raw.iloc[rows[0]]!r} in {len(rows)} row(s) (data row {first})"))
        out[c] = vals.astype(float)
    if issues:
        err = WeatherError(issues[0].file, issues[0].field, issues[0].message)
        err.issues.extend(issues[1:])
        raise err
    return out


def _read_raw(p: Path, fmt: str) -> tuple[pd.DataFrame, object]:
    """Parse a weather file with :mod:`pvlib.iotools`; reader errors become a :class:`WeatherError`."""
    import warnings

    from pvlib import iotools  # imported here so that the portfolio loader stays light

    file = str(p)
    with warnings.catch_warnings():
        # text in a numeric column makes pandas warn about mixed types; _numeric_columns reports it as an error instead
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        return _read_with_pvlib(iotools, p, fmt, file)


def _read_with_pvlib(iotools, p: Path, fmt: str, file: str) -> tuple[pd.DataFrame, object]:
    """Call the pvlib reader of ``fmt``; its errors become a :class:`WeatherError`."""
    try:
        if fmt == "epw":
            raw, meta = iotools.read_epw(str(p))
        elif fmt == "tmy3":
            raw, meta = iotools.read_tmy3(str(p), map_variables=True)
        elif fmt == "pvgis_tmy":
            raw, meta = iotools.read_pvgis_tmy(str(p), map_variables=True)
        else:
            raise WeatherError(file, "format", f"expected one of epw, tmy3, pvgis_tmy, got '{fmt}'")
    except WeatherError:
        raise
    except Exception as e:  # pvlib raises many kinds on malformed files; report, never trace back
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise WeatherError(file, "", f"cannot read as {fmt}: {type(e).__name__}: {msg}") from None
    return raw, meta


def _month_day_hour(raw: pd.DataFrame, idx: pd.DatetimeIndex, fmt: str, file: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Month, day and hour-beginning clock hour of every row, as the file's format states them."""
    try:
        if fmt == "tmy3":
            # hour-ending "HH:MM" 01:00..24:00 of the row's own date -> hour-beginning 0..23 of that date
            date = pd.to_datetime(raw["Date (MM/DD/YYYY)"], format="%m/%d/%Y")
            month, day = date.dt.month.to_numpy(), date.dt.day.to_numpy()
            hour = raw["Time (HH:MM)"].str.split(":").str[0].astype(int).to_numpy() - 1
        elif "month" in raw.columns and "hour" in raw.columns:  # EPW: hour 1..24, hour-ending
            month, day = raw["month"].to_numpy(int), raw["day"].to_numpy(int)
            hour = raw["hour"].to_numpy(int) - 1
        else:  # PVGIS json/csv: UTC stamps at HH:00, taken as hour-beginning
            month, day, hour = idx.month.to_numpy(), idx.day.to_numpy(), idx.hour.to_numpy()
    except (KeyError, ValueError, TypeError) as e:
        raise WeatherError(file, "time", f"cannot read the date/hour columns as {fmt}: {e}") from None
    return month, day, hour


_HEADER_FIELDS = {
    # format: (first-line fields, index of the UTC offset, names of the numeric fields by index)
    "tmy3": (7, 3, {3: "TZ", 4: "latitude", 5: "longitude", 6: "altitude"}),
    "epw": (10, 8, {6: "latitude", 7: "longitude", 8: "TZ", 9: "altitude"}),
}


def _check_header(p: Path, fmt: str) -> None:
    """Check the first line of a TMY3 or EPW file before pvlib parses it.

    pvlib's own errors on a bad header ("could not convert string to float: ''")
    name neither the field nor what was expected; the UTC offset ``TZ`` matters
    most, because without it the stamps would be naive.
    """
    if fmt not in _HEADER_FIELDS:
        return
    import csv

    n_fields, _, numeric = _HEADER_FIELDS[fmt]
    file = str(p)
    try:
        with open(p, encoding="utf-8", errors="strict", newline="") as f:
            first = next(csv.reader([f.readline()]), [])
    except UnicodeDecodeError as e:
        raise WeatherError(file, "line 1", f"expected a {fmt.upper()} text header, got undecodable bytes ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise WeatherError(file, "", f"cannot read the weather file: {e.strerror}") from None
    if fmt == "epw" and (not first or first[0].strip().upper() != "LOCATION"):
        raise WeatherError(file, "line 1", f"expected an EPW 'LOCATION,...' header, got {(','.join(first))[:40]!r}")
    if len(first) < n_fields:
        raise WeatherError(file, "line 1", f"expected a {fmt.upper()} header of {n_fields} fields, got {len(first)}: {(','.join(first))[:60]!r}")
    for i, name in numeric.items():
        try:
            float(first[i])
        except ValueError:
            extra = " (the file's UTC offset in hours, e.g. -5.0; pvopt refuses naive time stamps)" if name == "TZ" else ""
            raise WeatherError(file, f"line 1: {name}", f"expected a number{extra}, got {first[i]!r}") from None


def _coerce_year(df: pd.DataFrame, month, day, hour, tz, file: str) -> pd.DataFrame:
    """Relabel every row to NOMINAL_YEAR, keeping its month, day and hour-beginning clock hour in zone ``tz``."""
    month, day, hour = (np.asarray(a, dtype=int) for a in (month, day, hour))
    bad = (hour < 0) | (hour > 23) | (month < 1) | (month > 12) | (day < 1) | (day > 31)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WeatherError(file, "time", f"{int(bad.sum())} row(s) with an impossible month/day/hour (first: data row {i + 1}, month {month[i]}, day {day[i]}, hour-beginning {hour[i]})")
    keep = ~((month == 2) & (day == 29))
    try:
        new = pd.to_datetime({"year": NOMINAL_YEAR, "month": month[keep], "day": day[keep], "hour": hour[keep]})
    except (ValueError, OverflowError) as e:
        raise WeatherError(file, "time", f"impossible date in the file: {e}") from None
    out = df.loc[keep].copy()
    out.index = pd.DatetimeIndex(new).tz_localize(tz)
    return out.sort_index()


def _first(idx: pd.Index) -> str:
    return str(idx[0]) if len(idx) else "?"


def check_weather(df: pd.DataFrame, file: str) -> pd.DataFrame:
    """Check an hourly weather frame and return it (possibly repaired).

    Checks, each reported with file, field, expectation and what arrived:

    * the index is a time-zone-aware DatetimeIndex (naive stamps are refused,
      not assumed UTC);
    * the columns :data:`REQUIRED_COLUMNS` are present;
    * no duplicated hours;
    * 8760 rows making one whole year ``[Jan 1 00:00, Jan 1 00:00 next year)``
      of consecutive hours (Feb 29 excluded). **Repair:** 8784 rows of a leap
      year lose Feb 29, recorded in ``attrs['repairs']``; any other count is
      an error;
    * no NaN; irradiance >= 0 and <= :data:`GHI_MAX_W_M2`; temperature and
      wind speed in physical ranges (catches missing-value codes such as
      99.9 or 999).

    Raises
    ------
    WeatherError
        Carrying every problem found (the first in ``issues[0]``).
    """
    if not isinstance(df.index, pd.DatetimeIndex):
        raise WeatherError(file, "time", f"expected a DatetimeIndex of hourly stamps, got {type(df.index).__name__}")
    if df.index.tz is None:
        raise WeatherError(file, "time", "time stamps are naive (no time zone); expected time-zone-aware stamps (pvopt does not assume UTC)")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise WeatherError(file, ",".join(missing), f"missing column(s); expected {list(REQUIRED_COLUMNS)}, got {list(df.columns)}")
    repairs = list(df.attrs.get("repairs", []))
    issues: list[InputIssue] = []
    df = _check_hours(df, file, issues, repairs)
    for c in REQUIRED_COLUMNS:
        issues.extend(_column_issues(df, c, file))
    if issues:
        err = WeatherError(issues[0].file, issues[0].field, issues[0].message)
        err.issues.extend(issues[1:])
        raise err
    out = df.sort_index()
    out.attrs = dict(df.attrs)
    if repairs:
        out.attrs["repairs"] = repairs
    return out


def _check_hours(df: pd.DataFrame, file: str, issues: list[InputIssue], repairs: list[str]) -> pd.DataFrame:
    """Append the issues of the time stamps to ``issues``; return ``df`` without Feb 29 of an 8784-row leap year."""
    dup = df.index.duplicated(keep="first")
    if dup.any():
        issues.append(InputIssue(file, "time", f"{int(dup.sum())} duplicated hour(s) (first at {_first(df.index[dup])}); expected each hour once"))
        return df
    idx = pd.DatetimeIndex(df.index)
    n = len(df)
    leap_day = (idx.month == 2) & (idx.day == 29)
    if n == HOURS_PER_YEAR + 24 and int(leap_day.sum()) == 24:
        df = df.loc[~leap_day]
        repairs.append("dropped the 24 hours of Feb 29 (8784-row leap year -> 8760 hours)")
        idx = pd.DatetimeIndex(df.index)
        n = len(df)
    if n != HOURS_PER_YEAR:
        issues.append(InputIssue(file, "time", f"expected {HOURS_PER_YEAR} hourly rows, got {n}"))
    if n:
        year = int(idx.sort_values()[0].year)
        expected = hour_index(year, idx.tz)
        gone = expected.difference(idx)
        extra = idx.difference(expected)
        if len(gone):
            issues.append(InputIssue(file, "time", f"{len(gone)} missing hour(s) of {year} (first at {_first(gone)}); expected consecutive hourly stamps"))
        if len(extra):
            issues.append(InputIssue(file, "time", f"{len(extra)} stamp(s) outside the hours of {year} or not on the hour (first at {_first(extra)})"))
    return df


def _column_issues(df: pd.DataFrame, c: str, file: str) -> list[InputIssue]:
    """List the NaN and out-of-range values of weather column ``c``."""
    issues: list[InputIssue] = []
    col = pd.to_numeric(df[c], errors="coerce")
    nan = col.isna().to_numpy()
    if nan.any():
        issues.append(InputIssue(file, c, f"{int(nan.sum())} NaN value(s) in column {c} (first at {_first(df.index[nan])}); expected a number every hour"))
    vals = col.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        if c in IRRADIANCE_COLUMNS:
            neg = vals < 0
            if neg.any():
                issues.append(InputIssue(file, c, f"{int(neg.sum())} negative value(s) in column {c} (min {np.nanmin(vals):g} W/m2, first at {_first(df.index[neg])}); expected >= 0 W/m2"))
            hi = vals > GHI_MAX_W_M2
            if hi.any():
                issues.append(InputIssue(file, c, f"{int(hi.sum())} value(s) above {GHI_MAX_W_M2:g} W/m2 in column {c} (max {np.nanmax(vals):g}, first at {_first(df.index[hi])}); expected hourly irradiance <= {GHI_MAX_W_M2:g} W/m2 (a missing-value code?)"))
        elif c == "temp_air":
            out = (vals < TEMP_AIR_RANGE_C[0]) | (vals > TEMP_AIR_RANGE_C[1])
            if out.any():
                issues.append(InputIssue(file, c, f"{int(out.sum())} value(s) outside {TEMP_AIR_RANGE_C[0]:g}..{TEMP_AIR_RANGE_C[1]:g} °C (first {vals[out][0]:g} at {_first(df.index[out])}); a missing-value code?"))
        elif c == "wind_speed":
            out = (vals < 0) | (vals > WIND_SPEED_MAX_M_S)
            if out.any():
                issues.append(InputIssue(file, c, f"{int(out.sum())} value(s) outside 0..{WIND_SPEED_MAX_M_S:g} m/s (first {vals[out][0]:g} at {_first(df.index[out])}); a missing-value code?"))
    return issues


def to_site_time(df: pd.DataFrame, tz: str, file: str = "<weather>") -> pd.DataFrame:
    """Move a checked typical year onto ``hour_index(NOMINAL_YEAR, tz)``.

    The frame's hours are converted to ``tz``; hours that then fall outside
    the site's nominal year (a file in UTC or another offset) wrap around by
    365 days, which keeps a typical year whole. The result is checked again.
    """
    idx = pd.DatetimeIndex(df.index).tz_convert(tz)
    target = hour_index(NOMINAL_YEAR, tz)
    start, end = target[0], target[-1] + _ONE_HOUR
    span = pd.Timedelta(days=365)
    shifted = idx.where(idx >= start, idx + span)
    shifted = shifted.where(shifted < end, shifted - span)
    out = df.copy()
    out.index = pd.DatetimeIndex(shifted).tz_convert(tz)
    out = out.sort_index()
    out.attrs = dict(df.attrs)
    return check_weather(out, file)


# --------------------------------------------------------------------------- #
# Synthetic typical year
# --------------------------------------------------------------------------- #
DAILY_CLEARNESS_CONCENTRATION = 4.0
"""Beta(a, b) concentration ``a + b`` of the daily clearness draw: for a monthly mean clear-sky index of 0.6 the
daily standard deviation is about 0.22, the spread of daily clearness in a humid monsoon climate (assumption)."""

DIURNAL_TEMP_AMPLITUDE_C = 3.5
"""Half the daily temperature range [°C] (assumption: 7 °C day-night range), peak at 15:00 local time."""

K_CLEAR_MAX = 1.0
"""A day is at most as bright as the Ineichen clear sky."""


def _seed_from_name(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def synthetic_year(
    normals: pd.DataFrame,
    latitude_deg: float,
    longitude_deg: float,
    altitude_m: float,
    tz: str,
    seed: int,
) -> pd.DataFrame:
    """Build a deterministic synthetic typical year matching monthly normals.

    Steps:

    1. Ineichen clear sky at the middle of every hour of
       ``hour_index(NOMINAL_YEAR, tz)``, with pvlib's shipped monthly Linke
       turbidity climatology (:func:`pvlib.clearsky.lookup_linke_turbidity`).
    2. A daily clear-sky index ``k_d`` per day, drawn from a Beta
       distribution with the month's mean ``K_m = GHI_m / GHI_clear,m``
       (seeded; concentration :data:`DAILY_CLEARNESS_CONCENTRATION`), then
       rescaled (capped at :data:`K_CLEAR_MAX`) so that every month's GHI total
       equals the normal exactly: ``ghi = k_d * ghi_clear``.
    3. DNI and DHI from GHI by the Erbs decomposition
       (:func:`pvlib.irradiance.erbs`), so ``ghi = dni cos(zenith) + dhi``.
    4. ``temp_air``: monthly means interpolated to days, corrected so every
       month's mean is exact, plus a diurnal cosine of amplitude
       :data:`DIURNAL_TEMP_AMPLITUDE_C` peaking at 15:00.
    5. ``wind_speed``: the monthly mean, constant within the month.

    Parameters
    ----------
    normals
        From :func:`read_normals`: index month 1..12, columns ``ghi_kwh_m2``
        [kWh/m2 per month], ``temp_air_c`` [°C], ``wind_speed_m_s`` [m/s].
    latitude_deg, longitude_deg
        Site position [deg].
    altitude_m
        Site altitude [m].
    tz
        Site IANA time zone.
    seed
        Seed of the daily clearness draw; same seed, identical output.

    Returns
    -------
    pandas.DataFrame
        8760 rows, :data:`REQUIRED_COLUMNS`, ``attrs['weather_source'] =
        'synthetic'`` and a ``weather_description``.

    Raises
    ------
    WeatherError
        If a month's GHI exceeds its clear-sky GHI.
    """
    from pvlib import irradiance

    file = str(normals.attrs.get("file", "<normals>"))
    idx = hour_index(NOMINAL_YEAR, tz)
    mid = idx + pd.Timedelta(minutes=30)
    solpos, ghi_cs = _clear_sky(mid, latitude_deg, longitude_deg, altitude_m, tz)

    month = idx.month.to_numpy()
    # day number 0..364 over the 8760 hours (Feb 29 is already absent)
    day = np.repeat(np.arange(365), 24)
    assert len(day) == len(idx)
    cs_day = np.bincount(day, weights=ghi_cs, minlength=365) / 1000.0  # kWh/m2 per day
    month_of_day = month[::24]

    k = _daily_clearness(normals, cs_day, month_of_day, seed, file, latitude_deg, longitude_deg)
    ghi = k[day] * ghi_cs
    zenith = solpos["zenith"].to_numpy(dtype=float)
    dec = irradiance.erbs(ghi, zenith, mid.day_of_year.to_numpy())
    dni = np.nan_to_num(np.asarray(dec["dni"], dtype=float))
    dhi = np.nan_to_num(np.asarray(dec["dhi"], dtype=float))
    temp = _hourly_temperature(normals, idx, month_of_day, day)
    wind = normals["wind_speed_m_s"].to_numpy(dtype=float)[month - 1]

    out = pd.DataFrame({"ghi": ghi, "dni": dni, "dhi": dhi, "temp_air": temp, "wind_speed": wind}, index=idx)
    out.attrs.update(_synthetic_attrs(normals, file, seed))
    return out


def _clear_sky(mid: pd.DatetimeIndex, latitude_deg: float, longitude_deg: float, altitude_m: float, tz: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Compute the solar position and the Ineichen clear-sky GHI [W/m2] (0 at night) at the stamps ``mid``."""
    from pvlib import clearsky, location

    loc = location.Location(latitude_deg, longitude_deg, tz=tz, altitude=altitude_m)
    solpos = loc.get_solarposition(mid, method="nrel_numpy")
    linke = clearsky.lookup_linke_turbidity(mid, latitude_deg, longitude_deg)
    cs = loc.get_clearsky(mid, model="ineichen", solar_position=solpos, linke_turbidity=linke)
    ghi_cs = cs["ghi"].to_numpy(dtype=float)
    ghi_cs = np.where(solpos["apparent_elevation"].to_numpy() > 0, np.clip(ghi_cs, 0, None), 0.0)
    return solpos, ghi_cs


def _daily_clearness(
    normals: pd.DataFrame,
    cs_day: np.ndarray,
    month_of_day: np.ndarray,
    seed: int,
    file: str,
    latitude_deg: float,
    longitude_deg: float,
) -> np.ndarray:
    """Draw the 365 daily clear-sky indices, rescaled so every month's GHI total equals the normal."""
    rng = np.random.default_rng(seed)
    k = np.empty(365)
    for m in range(1, 13):
        sel = month_of_day == m
        target = float(normals.loc[m, "ghi_kwh_m2"])
        clear = float(cs_day[sel].sum())
        k_mean = target / clear
        if k_mean > K_CLEAR_MAX:
            raise WeatherError(
                file,
                "ghi_kwh_m2",
                f"month {m}: {target:.1f} kWh/m2 exceeds the clear-sky total {clear:.1f} kWh/m2 at "
                f"({latitude_deg:.2f}, {longitude_deg:.2f}); expected at most the clear-sky total",
            )
        a = DAILY_CLEARNESS_CONCENTRATION * k_mean
        b = DAILY_CLEARNESS_CONCENTRATION * (1.0 - k_mean)
        km = rng.beta(a, b, size=int(sel.sum())) if b > 0 else np.full(int(sel.sum()), K_CLEAR_MAX)
        km = _rescale_capped(km, cs_day[sel], target, K_CLEAR_MAX)
        k[sel] = km
    return k


def _hourly_temperature(normals: pd.DataFrame, idx: pd.DatetimeIndex, month_of_day: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Build the hourly air temperature [°C]: exact monthly means plus a diurnal cosine peaking at 15:00."""
    # monthly means interpolated (periodic) at mid-month, corrected to exact monthly means
    t_m = normals["temp_air_c"].to_numpy(dtype=float)
    mid_days = np.array([month_of_day.tolist().index(m) + (month_of_day == m).sum() / 2.0 for m in range(1, 13)])
    xs = np.concatenate([mid_days - 365, mid_days, mid_days + 365])
    t_daily = np.interp(np.arange(365) + 0.5, xs, np.tile(t_m, 3))
    for m in range(1, 13):
        sel = month_of_day == m
        t_daily[sel] += t_m[m - 1] - t_daily[sel].mean()
    hour_mid = idx.hour.to_numpy() + 0.5
    return t_daily[day] + DIURNAL_TEMP_AMPLITUDE_C * np.cos(2 * np.pi * (hour_mid - 15.0) / 24.0)


def _synthetic_attrs(normals: pd.DataFrame, file: str, seed: int) -> dict[str, str]:
    """Return the ``attrs`` of a synthetic year: source, label, description and normals file."""
    src = normals.attrs.get("source", "")
    name = normals.attrs.get("name", Path(file).stem)
    label = str(normals.attrs.get("label") or f"monthly normals '{name}'")
    return {
        "weather_source": "synthetic",
        "weather_label": f"{label}, synthetic hourly year",
        "weather_description": (
            f"{label}, synthetic hourly year{WEATHER_LABEL_SEPARATOR}"
            f"SYNTHETIC typical year (not measured weather): Ineichen clear sky with pvlib's Linke turbidity, "
            f"scaled day by day (seed {seed}) so monthly GHI equals the normals '{name}' ({display_path(file)}); DNI/DHI by Erbs; "
            f"temperature from monthly means with a {2 * DIURNAL_TEMP_AMPLITUDE_C:g} °C diurnal range; "
            f"wind at the monthly mean. Normals source: {src}"
        ),
        "file": file,
    }


def _rescale_capped(k: np.ndarray, weight: np.ndarray, target: float, cap: float) -> np.ndarray:
    """Scale ``k`` so that ``sum(k * weight) == target`` with every ``k <= cap``."""
    k = k.astype(float).copy()
    for _ in range(100):
        capped = k >= cap
        fixed = float((k[capped] * weight[capped]).sum())
        free = float((k[~capped] * weight[~capped]).sum())
        if free <= 0:
            break
        k[~capped] *= (target - fixed) / free
        if (k <= cap * (1 + 1e-12)).all():
            break
        k = np.minimum(k, cap)
    return k


# --------------------------------------------------------------------------- #
# Dispatch
# --------------------------------------------------------------------------- #
def site_weather(site: "Site", portfolio_dir: Path) -> pd.DataFrame:
    """Return the checked 8760-hour weather of ``site`` in its own time zone.

    ``site.weather.source == "synthetic"`` builds :func:`synthetic_year` from
    the named normals (seed: ``site.weather.seed``, else a CRC32 of the
    normals name); ``"file"`` reads the file (relative to ``portfolio_dir``)
    with :func:`read_weather_file` and moves it with :func:`to_site_time`;
    ``"pvgis"`` / ``"nasa_power"`` read the weather cache filled by
    ``pvopt weather fetch`` (:mod:`pvopt.pv.fetch`); they never go online.

    Returns
    -------
    pandas.DataFrame
        Index ``hour_index(NOMINAL_YEAR, site.timezone)``; ``attrs`` holds
        ``weather_source`` (``"synthetic"``, ``"file"``, ``"pvgis"`` or
        ``"nasa_power"``), ``weather_label`` (short) and ``weather_description``
        (the label, :data:`WEATHER_LABEL_SEPARATOR`, the details).
    """
    w = site.weather
    if w.source == "synthetic":
        normals = read_normals(normals_path(str(w.normals)))
        seed = w.seed if w.seed is not None else _seed_from_name(str(w.normals))
        df = synthetic_year(normals, site.latitude_deg, site.longitude_deg, site.altitude_m, site.timezone, seed)
        df = check_weather(df, normals.attrs["file"])
        return df

    if w.source in ("pvgis", "nasa_power"):
        return _online_weather(site, portfolio_dir)

    path = resolve_input_path(Path(portfolio_dir), str(w.path), file=f"site '{site.name}'", field="weather.path")
    raw = read_weather_file(path, w.format)
    _check_offset(raw, site, str(path))
    df = to_site_time(raw, site.timezone, str(path))
    meta = raw.attrs.get("metadata", {})
    df.attrs["weather_source"] = "file"
    where = ""
    if isinstance(meta, dict) and "latitude" in meta and "longitude" in meta:
        where = f" (file location {float(meta['latitude']):.3f}, {float(meta['longitude']):.3f})"
    shown = _portfolio_relative(path, portfolio_dir)
    df.attrs["weather_label"] = f"{raw.attrs.get('format')} weather file {shown}"
    df.attrs["weather_description"] = (
        f"{df.attrs['weather_label']}{WEATHER_LABEL_SEPARATOR}{raw.attrs.get('format')} weather file {shown}{where}, relabelled to {NOMINAL_YEAR}"
    )
    return df


def _portfolio_relative(path: Path, portfolio_dir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(portfolio_dir).resolve()).as_posix()
    except ValueError:
        return display_path(path)


def _online_weather(site: "Site", portfolio_dir: Path) -> pd.DataFrame:
    """Weather of a ``pvgis`` / ``nasa_power`` site from the cache (never online; see :mod:`pvopt.pv.fetch`)."""
    from pvopt.pv.fetch import SOURCE_NAMES, cached_weather

    raw = cached_weather(site, portfolio_dir)
    file = str(raw.attrs["file"])
    idx = pd.DatetimeIndex(raw.index)
    df = raw.copy()
    df = _coerce_year(df, idx.month, idx.day, idx.hour, idx.tz, file)
    df = check_weather(df, file)
    df = to_site_time(df, site.timezone, file)
    head = raw.attrs.get("header", {})
    what = "PVGIS typical meteorological year" if site.weather.source == "pvgis" else f"NASA POWER hourly year {head.get('year', site.weather.year or '')}".strip()
    label = f"{what} at {site.latitude_deg:.2f}, {site.longitude_deg:.2f}"
    df.attrs["weather_source"] = site.weather.source
    df.attrs["weather_label"] = label
    df.attrs["weather_description"] = (
        f"{label}{WEATHER_LABEL_SEPARATOR}{head.get('description', SOURCE_NAMES[site.weather.source])}; "
        f"fetched {head.get('fetched_utc', '?')} with pvlib {head.get('pvlib', '?')}; cache file {Path(file).name}; "
        f"relabelled to {NOMINAL_YEAR}"
    )
    return df


def _check_offset(raw: pd.DataFrame, site: "Site", file: str) -> None:
    """Refuse a TMY3/EPW file whose standard-time offset is not the site zone's."""
    meta = raw.attrs.get("metadata", {})
    if raw.attrs.get("format") == "pvgis_tmy" or not isinstance(meta, dict) or "TZ" not in meta:
        return
    file_h = float(meta["TZ"])
    offs = {
        pd.Timestamp(year=NOMINAL_YEAR, month=m, day=15).tz_localize(site.timezone).utcoffset().total_seconds() / 3600
        for m in (1, 7)
    }
    if file_h not in offs:
        shown = " or ".join(f"UTC{o:+g}" for o in sorted(offs))
        raise WeatherError(
            file,
            "TZ",
            f"file time zone UTC{file_h:+g} does not match site '{site.name}' zone {site.timezone} ({shown}); "
            "is this the right weather file?",
        )
