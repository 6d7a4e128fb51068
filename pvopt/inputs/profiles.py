"""Hourly load and price profiles of a site, one calendar planning year at a time.

Inputs layer: numpy, pandas and :mod:`holidays` only (no pvlib, no Pyomo).

Hour convention
---------------
Every year has 8760 hours. In a leap year February 29 is dropped. Index
``t = 0 .. 8759`` is the hour of the year in the site's local wall-clock
time, hour-beginning: ``t = 0`` is 1 January 00:00-01:00. Each profile is
built for one *calendar* planning year, so weekdays and public holidays are
those of that year. For zones without daylight saving time (all Chinese
sites) this is the same grid as :func:`pvopt.pv.weather.hour_index`; in a zone
with DST the profiles still follow the wall clock (the tariff and the shift
pattern are wall-clock rules).

Scaling
-------
The load of year ``y`` sums exactly to ``annual_mwh * 1000 * growth_factor(y)``
[kWh]: each year's calendar shape is normalised on its own, so a year with
more holidays has the same total as a year with fewer, only distributed
differently. ``growth_factor`` compounds ``growth_pct_per_year`` year by year
from ``load.base_year`` (the growth given for year ``y`` takes ``y - 1`` to
``y``) and discounts backwards for years before it.

CSV inputs
----------
Load and hourly price CSVs must have 8760 or 8784 rows in the named column.
An 8784-row file is taken to be a leap year starting on 1 January; its
February 29 (rows 1417-1440, counting data rows from 1) is dropped. A CSV
shape is the same every year (it carries no calendar). NaN, non-numeric and
negative values are errors naming the file, the column and the rows. Reads
are cached on (resolved path, modification time, column).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from pvopt.inputs.schema import CsvProfile, Load, Site, series_value
from pvopt.errors import InputIssue, PortfolioError
from pvopt.inputs.files import resolve_input_path

__all__ = [
    "HOURS_PER_YEAR",
    "local_hours",
    "growth_factor",
    "load_shape",
    "load_profile_kw",
    "import_price_per_kwh",
    "export_price_per_kwh",
    "tou_period_labels",
    "read_hourly_csv",
]

from pvopt.constants import HOURS_PER_YEAR  # noqa: E402
_LEAP_HOURS = 8784
_FEB29_START = 59 * 24  # hour-of-year where February 29 begins in a leap year
_MAX_ROWS_SHOWN = 5


@functools.lru_cache(maxsize=256)
def _local_hours_cached(year: int) -> pd.DatetimeIndex:
    idx = pd.date_range(f"{year}-01-01", f"{year}-12-31 23:00", freq="h")
    idx = idx[~((idx.month == 2) & (idx.day == 29))]
    assert len(idx) == HOURS_PER_YEAR
    return idx


def local_hours(year: int) -> pd.DatetimeIndex:
    """Return the 8760 local wall-clock hour-beginning stamps of ``year``, naive, Feb 29 dropped.

    Examples
    --------
    >>> idx = local_hours(2024)
    >>> len(idx), str(idx[59 * 24])
    (8760, '2024-03-01 00:00:00')
    """
    return _local_hours_cached(int(year))


def growth_factor(load: Load, year: int) -> float:
    """Demand of ``year`` relative to ``load.base_year``.

    The growth of year ``y`` (``series_value(growth_pct_per_year, y)`` [%/yr])
    takes ``y - 1`` to ``y``; before the base year the factors are divided out.

    Examples
    --------
    >>> from pvopt.inputs.schema import Load
    >>> ld = Load(annual_mwh=100, base_year=2023, growth_pct_per_year=10)
    >>> round(growth_factor(ld, 2025), 6), round(growth_factor(ld, 2022), 6)
    (1.21, 0.909091)
    """
    f = 1.0
    if year >= load.base_year:
        for y in range(load.base_year + 1, year + 1):
            f *= 1.0 + series_value(load.growth_pct_per_year, y) / 100.0
    else:
        for y in range(year + 1, load.base_year + 1):
            f /= 1.0 + series_value(load.growth_pct_per_year, y) / 100.0
    return f


@functools.lru_cache(maxsize=256)
def _holiday_dates(code: str, year: int) -> frozenset:
    import holidays

    try:
        cal = holidays.country_holidays(code, years=year)
    except NotImplementedError:
        raise PortfolioError(
            [InputIssue("", "load.profile.holidays", f"unknown holiday country code '{code}' (python-holidays); use e.g. 'CN' or null")]
        ) from None
    return frozenset(cal.keys())


def _shift_shape(profile, year: int) -> np.ndarray:
    idx = local_hours(year)
    hour = idx.hour.to_numpy()
    weekday = idx.day_of_week.to_numpy()
    working = np.isin(weekday, profile.working_days)
    in_shift = (hour >= profile.shift_start_hour) & (hour < profile.shift_end_hour)
    shape = np.where(working, np.where(in_shift, 1.0, profile.base_load_fraction), profile.weekend_fraction)
    if profile.holidays:
        days = _holiday_dates(profile.holidays, year)
        is_hol = np.fromiter((d in days for d in idx.date), dtype=bool, count=len(idx))
        shape = np.where(is_hol, profile.holiday_fraction, shape)
    return shape.astype(float)


def _csv_issue(path: Path, column: str, message: str) -> PortfolioError:
    return PortfolioError([InputIssue(str(path), f"column '{column}'", message)])


def _rows(mask: np.ndarray) -> str:
    rows = (np.flatnonzero(mask) + 1).tolist()  # data rows counted from 1 (the header is not a row)
    shown = ", ".join(str(r) for r in rows[:_MAX_ROWS_SHOWN])
    more = f" and {len(rows) - _MAX_ROWS_SHOWN} more" if len(rows) > _MAX_ROWS_SHOWN else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


@functools.lru_cache(maxsize=128)
def _read_csv_cached(path: str, mtime_ns: int, column: str, what: str) -> np.ndarray:
    p = Path(path)
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise PortfolioError([InputIssue(path, "", f"cannot read the CSV: {e}")]) from None
    if column not in df.columns:
        raise _csv_issue(p, column, f"no such column; the file has columns {list(map(str, df.columns))}")
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    n = len(values)
    if n not in (HOURS_PER_YEAR, _LEAP_HOURS):
        raise _csv_issue(p, column, f"expected {HOURS_PER_YEAR} hourly rows (or {_LEAP_HOURS} for a leap year), got {n}")
    bad_text = np.isnan(values) & raw.notna().to_numpy()
    if bad_text.any():
        raise _csv_issue(p, column, f"expected numbers, got non-numeric text in {_rows(bad_text)}")
    nan = np.isnan(values)
    if nan.any():
        raise _csv_issue(p, column, f"expected a {what} in every row, got empty/NaN in {_rows(nan)}")
    if not np.isfinite(values).all():
        raise _csv_issue(p, column, f"expected finite numbers, got infinity in {_rows(~np.isfinite(values))}")
    neg = values < 0
    if neg.any():
        raise _csv_issue(p, column, f"expected a {what} >= 0, got negative values in {_rows(neg)} (first: {values[neg][0]})")
    if n == _LEAP_HOURS:  # documented repair: drop February 29 of a leap-year file
        values = np.delete(values, np.s_[_FEB29_START : _FEB29_START + 24])
    values.setflags(write=False)
    return values


def read_hourly_csv(portfolio_dir: str | Path, rel: str, column: str, *, field: str, what: str = "value") -> np.ndarray:
    """Read one hourly column (8760 values, read-only) from a CSV inside the portfolio directory.

    Parameters
    ----------
    portfolio_dir
        The portfolio directory; ``rel`` is resolved against it and must stay inside it.
    rel
        CSV path relative to ``portfolio_dir``.
    column
        Column to read.
    field
        Field path of the reference, used in error messages (e.g. ``load.profile.path``).
    what
        Noun used in error messages, e.g. ``"load [kW]"``.

    Raises
    ------
    PortfolioError
        Missing file or column, wrong row count, NaN, non-numeric or negative values.
    """
    d = Path(portfolio_dir)
    p = resolve_input_path(d, rel, file=str(d), field=field)
    return _read_csv_cached(str(p), p.stat().st_mtime_ns, column, what)


def load_shape(site: Site, year: int, portfolio_dir: str | Path) -> np.ndarray:
    """Unscaled hourly load shape of ``site`` in calendar ``year`` (8760,) [-]."""
    prof = site.load.profile
    if isinstance(prof, CsvProfile):
        return np.array(read_hourly_csv(portfolio_dir, prof.path, prof.column, field="load.profile.path", what="load [kW]"))
    return _shift_shape(prof, year)


def load_profile_kw(site: Site, year: int, portfolio_dir: str | Path) -> np.ndarray:
    """Hourly demand of ``site`` in ``year`` (8760,) [kW].

    The shape (shift pattern of ``year``'s calendar, or the CSV column) is
    scaled so the year sums exactly to ``annual_mwh * 1000 * growth_factor(year)`` [kWh].

    Raises
    ------
    PortfolioError
        Bad CSV, or a shape that is zero in every hour.
    """
    shape = load_shape(site, year, portfolio_dir)
    total = float(shape.sum())
    if total <= 0:
        raise PortfolioError(
            [InputIssue(str(portfolio_dir), f"{site.name}: load.profile", "the load shape is zero in every hour; cannot scale it to annual_mwh")]
        )
    target_kwh = site.load.annual_mwh * 1000.0 * growth_factor(site.load, year)
    return shape * (target_kwh / total)


def _tou_prices_and_labels(site: Site, year: int) -> tuple[np.ndarray, np.ndarray]:
    tariff = site.tariff
    month_to_season = {}
    for s in tariff.seasons or []:
        for m in s.months:
            month_to_season[m] = s.period_of_hour()
    table_label = np.empty((13, 24), dtype=object)
    for m, periods in month_to_season.items():
        table_label[m, :] = periods
    idx = local_hours(year)
    labels = table_label[idx.month.to_numpy(), idx.hour.to_numpy()].astype(str)
    price_of = tariff.prices_per_kwh or {}
    prices = np.vectorize(price_of.__getitem__, otypes=[float])(labels)
    return prices, labels


def import_price_per_kwh(site: Site, year: int, first_year: int, portfolio_dir: str | Path) -> np.ndarray:
    """Hourly grid import price of ``site`` in ``year`` (8760,) [currency/kWh].

    TOU prices by season (month) and hour, or an hourly CSV, multiplied by
    ``(1 + escalation_pct_per_year/100) ** (year - base_year)`` where
    ``base_year`` is ``tariff.base_year`` or, when unset, ``first_year``.

    Raises
    ------
    PortfolioError
        Bad hourly CSV (including negative prices).
    """
    tariff = site.tariff
    if tariff.type == "tou":
        base, _ = _tou_prices_and_labels(site, year)
    else:
        base = np.array(read_hourly_csv(portfolio_dir, str(tariff.path), tariff.column, field="tariff.path", what="price [currency/kWh]"))
    base_year = tariff.base_year if tariff.base_year is not None else first_year
    factor = (1.0 + tariff.escalation_pct_per_year / 100.0) ** (year - base_year)
    out = base * factor
    if (out < 0).any():  # unreachable with validated inputs; kept as a guard
        raise PortfolioError([InputIssue(str(portfolio_dir), f"{site.name}: tariff", "negative import price")])
    return out


def export_price_per_kwh(site: Site, year: int) -> np.ndarray:
    """Hourly export price of ``site`` in ``year`` (8760,) [currency/kWh]; zeros under ``zero_export``."""
    if site.export.policy == "zero_export":
        return np.zeros(HOURS_PER_YEAR)
    return np.full(HOURS_PER_YEAR, series_value(site.export.price_per_kwh, year))


def tou_period_labels(site: Site, year: int) -> np.ndarray:
    """TOU period name of every hour of ``year`` (8760,) [str]; ``"hourly"`` for an hourly-file tariff."""
    if site.tariff.type != "tou":
        return np.full(HOURS_PER_YEAR, "hourly")
    return _tou_prices_and_labels(site, year)[1]
