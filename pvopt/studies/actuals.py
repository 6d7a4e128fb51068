"""Metered actuals against the plan: performance index, IEC 61724-1 performance ratio, yield gap, emissions gap.

:func:`read_meter` reads an hourly meter CSV::

    # comment lines start with '#'
    timestamp,site,pv_kwh,load_kwh
    2025-03-01T00:00:00+08:00,suzhou,0.0,812.4

* ``timestamp``: ISO 8601 **with a UTC offset** (``+08:00`` or ``Z``), the
  *beginning* of the metered hour; a naive stamp is refused (pvopt never
  guesses a zone);
* ``site``: a site name of the plan;
* ``pv_kwh``: PV energy metered in the hour [kWh AC];
* ``load_kwh``: site consumption metered in the hour [kWh];
* ``poa_kwh_m2`` (optional): plane-of-array irradiation metered in the hour
  [kWh/m²] by the site's irradiance sensor; leave a field empty for an hour
  without a reading. Where it is metered, the IEC 61724-1 performance ratio is
  computed.

Every site's rows must be consecutive hours: a gap, a duplicated hour, a
missing or non-numeric value, a NaN or a negative value is an error naming the
file, the line and the column.

:func:`compare_actuals` maps each metered hour onto the plan's hour-of-year in
the site's time zone (Feb 29 dropped, as everywhere in pvopt) and compares it
with the plan's hourly expectation of the same planning year. See
docs/risk-and-actuals.md.

This module imports neither pvlib nor Pyomo.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import numpy as np
import pandas as pd
import xarray as xr

from pvopt.errors import InputIssue, PortfolioError

if TYPE_CHECKING:  # pragma: no cover
    from pvopt.inputs.schema import Portfolio

__all__ = ["METER_COLUMNS", "POA_COLUMN", "G_REF_KW_M2", "ACTUALS_UNITS", "read_meter", "compare_actuals", "site_timezones"]

METER_COLUMNS = ("timestamp", "site", "pv_kwh", "load_kwh")
"""Required columns of a meter CSV."""

POA_COLUMN = "poa_kwh_m2"
"""Optional meter column: plane-of-array irradiation in the hour [kWh/m²] (empty where not metered)."""

G_REF_KW_M2 = 1.0
"""Reference irradiance of IEC 61724-1 (STC) [kW/m²]."""

MAX_ISSUES = 10
"""At most this many problems are listed per file."""

_OFFSET_RE = re.compile(r"(Z|[+-]\d{2}(:?\d{2})?)$")

ACTUALS_UNITS: dict[str, str] = {
    "hours": "h",
    "expected_pv_mwh": "MWh",
    "metered_pv_mwh": "MWh",
    "performance_index_pct": "%",
    "poa_hours": "h",
    "iec_performance_ratio": "1",
    "yield_gap_mwh": "MWh",
    "yield_gap_pct": "%",
    "planned_load_mwh": "MWh",
    "metered_load_mwh": "MWh",
    "load_gap_mwh": "MWh",
    "planned_grid_mwh": "MWh",
    "metered_grid_mwh": "MWh",
    "extra_grid_mwh": "MWh",
    "emissions_gap_location_tco2e": "tCO2e",
    "emissions_gap_market_tco2e": "tCO2e",
}
"""Units of the columns of :func:`compare_actuals`."""

ACTUALS_DESCRIPTIONS: dict[str, str] = {
    "hours": "metered hours compared",
    "expected_pv_mwh": "the plan's PV generation in the metered hours (pv_generated_kw of that planning year)",
    "metered_pv_mwh": "metered PV",
    "performance_index_pct": "performance index: 100 x metered PV / expected PV (relative to the plan's pvlib yield; not the IEC 61724 PR)",
    "poa_hours": "metered hours with a plane-of-array irradiation reading (poa_kwh_m2)",
    "iec_performance_ratio": "IEC 61724-1 performance ratio PR = (E_ac / P_0) / (H_poa / G_ref) over the hours with a POA reading: "
                             "E_ac metered PV [kWh], P_0 the site's installed DC kWp of the plan's year, H_poa the metered "
                             "irradiation [kWh/m2], G_ref = 1 kW/m2; empty where no irradiance is metered",
    "yield_gap_mwh": "metered PV - expected PV",
    "yield_gap_pct": "yield gap as a share of expected PV",
    "planned_load_mwh": "the plan's site load after measures in the metered hours",
    "metered_load_mwh": "metered load",
    "load_gap_mwh": "metered load - planned load",
    "planned_grid_mwh": "sum over hours of max(planned load - expected PV, 0)",
    "metered_grid_mwh": "sum over hours of max(metered load - metered PV, 0)",
    "extra_grid_mwh": "metered grid - planned grid (same hourly formula on both sides: battery and export ignored)",
    "emissions_gap_location_tco2e": "extra grid MWh x location-based grid factor of the year",
    "emissions_gap_market_tco2e": "extra grid MWh x residual-mix factor (the plan's certificates do not cover the extra MWh)",
}


def _issue(file: str, line: int | None, column: str, message: str) -> InputIssue:
    where = f"line {line}" if line is not None else ""
    field = f"{where}: {column}" if where and column else (where or column)
    return InputIssue(file, field, message)


def read_meter(path: str | Path) -> pd.DataFrame:
    """Read and check an hourly meter CSV.

    Parameters
    ----------
    path
        CSV with columns :data:`METER_COLUMNS` (others are ignored); lines
        starting with ``#`` and blank lines are skipped.

    Returns
    -------
    pandas.DataFrame
        Columns ``timestamp`` (tz-aware, UTC), ``site``, ``pv_kwh`` [kWh],
        ``load_kwh`` [kWh], ``poa_kwh_m2`` [kWh/m², NaN where not metered] and
        ``line`` (line number in the file), sorted by
        site and time; ``attrs["file"]`` is the path.

    Raises
    ------
    PortfolioError
        Exit code 2; every issue names the file, the line and the column.

    Examples
    --------
    >>> df = read_meter("sites/lead/meter_sample.csv")  # doctest: +SKIP
    >>> list(df.columns)  # doctest: +SKIP
    ['timestamp', 'site', 'pv_kwh', 'load_kwh', 'poa_kwh_m2', 'line']
    """
    file = str(Path(path))
    header_line, header, rows = _meter_rows(Path(path))
    issues: list[InputIssue] = []

    def add(line: int, column: str, msg: str) -> None:
        if len(issues) < MAX_ISSUES:
            issues.append(_issue(file, line, column, msg))

    col = {c: header.index(c) for c in (*METER_COLUMNS, POA_COLUMN) if c in header}
    parsed = [_meter_record(no, r, header, col, add) for no, r in rows]
    if issues:
        raise PortfolioError(issues)
    recs = [r for r in parsed if r is not None]
    stamps = [r[1] for r in recs]
    df = pd.DataFrame({"timestamp": pd.DatetimeIndex(stamps, tz="UTC") if stamps else pd.DatetimeIndex([], tz="UTC"),
                       "site": [r[2] for r in recs], "pv_kwh": [r[3] for r in recs], "load_kwh": [r[4] for r in recs],
                       POA_COLUMN: [r[5] for r in recs], "line": [r[0] for r in recs]})
    df = df.sort_values(["site", "timestamp", "line"], kind="stable").reset_index(drop=True)
    _check_hourly_steps(df, add)
    if issues:
        raise PortfolioError(issues)
    df.attrs["file"] = file
    return df


def _meter_rows(p: Path) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    """Header line number, header and data rows of a meter CSV (comments and blank lines skipped)."""
    file = str(p)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PortfolioError([InputIssue(file, "", "the meter file does not exist")]) from None
    except UnicodeDecodeError as e:
        raise PortfolioError([InputIssue(file, "", f"expected UTF-8 text, got undecodable bytes ({e.reason} at byte {e.start})")]) from None
    except OSError as e:
        raise PortfolioError([InputIssue(file, "", f"cannot read the meter file: {e.strerror}")]) from None
    rows: list[tuple[int, list[str]]] = []
    for no, ln in enumerate(text.splitlines(), start=1):
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        rows.append((no, next(csv.reader([ln]))))
    if not rows:
        raise PortfolioError([InputIssue(file, "", f"no header and no data; expected a header line with {', '.join(METER_COLUMNS)}")])
    header_line, header = rows[0]
    header = [h.strip() for h in header]
    missing = [c for c in METER_COLUMNS if c not in header]
    if missing:
        raise PortfolioError([_issue(file, header_line, ",".join(missing),
                                     f"missing column(s) {missing}; expected columns {list(METER_COLUMNS)}, got {header}")])
    if len(rows) == 1:
        raise PortfolioError([InputIssue(file, "", "the meter file has a header but no data rows")])
    return header_line, header, rows[1:]


def _meter_stamp(no: int, ts: str, add) -> pd.Timestamp | None:
    """Return a tz-aware stamp in UTC, or ``None`` after reporting why not."""
    try:
        stamp = pd.Timestamp(ts)
    except (ValueError, TypeError):
        add(no, "timestamp", f"expected an ISO 8601 time with a UTC offset such as 2025-03-01T08:00:00+08:00, got {ts!r}")
        return None
    if stamp is pd.NaT:
        add(no, "timestamp", f"expected an ISO 8601 time with a UTC offset, got {ts!r}")
        return None
    if stamp.tzinfo is None or not _OFFSET_RE.search(ts):
        add(no, "timestamp", f"naive time stamp {ts!r}: expected a UTC offset such as +08:00 or Z (pvopt does not guess the zone)")
        return None
    return stamp.tz_convert("UTC")


def _meter_value(no: int, raw: str, column: str, unit: str, add, *, optional: bool = False) -> float:
    """Parse one metered value (finite, >= 0); an empty optional field is NaN (not metered)."""
    raw = raw.strip()
    if optional and not raw:
        return math.nan
    try:
        v = float(raw)
    except ValueError:
        add(no, column, f"expected a number [{unit}]{' or an empty field' if optional else ''}, got {raw!r}")
        return math.nan
    if not math.isfinite(v):
        add(no, column, f"expected a finite number [{unit}], got {raw!r}")
    elif v < 0:
        add(no, column, f"expected a value >= 0 {unit}, got {v:g}")
    return v


def _meter_record(no: int, r: list[str], header: list[str], col: dict[str, int], add) -> tuple | None:
    """Return ``(line, stamp, site, pv_kwh, load_kwh, poa_kwh_m2)`` of one data row; problems go to ``add``."""
    if len(r) != len(header):
        add(no, "", f"expected {len(header)} fields (as in the header), got {len(r)}")
        return None
    stamp = _meter_stamp(no, r[col["timestamp"]].strip(), add)
    pv = _meter_value(no, r[col["pv_kwh"]], "pv_kwh", "kWh", add)
    load = _meter_value(no, r[col["load_kwh"]], "load_kwh", "kWh", add)
    poa = _meter_value(no, r[col[POA_COLUMN]], POA_COLUMN, "kWh/m2", add, optional=True) if POA_COLUMN in col else math.nan
    site = r[col["site"]].strip()
    if not site:
        add(no, "site", "expected a site name, got an empty field")
    return (no, stamp if stamp is not None else pd.NaT, site, pv, load, poa)


def _check_hourly_steps(df: pd.DataFrame, add) -> None:
    """Each site's rows must be consecutive hours: report repeats and gaps."""
    for site, g in df.groupby("site", sort=False):
        stamps_s = pd.DatetimeIndex(g["timestamp"])
        ts = [t.isoformat() for t in stamps_s]
        ln = g["line"].to_numpy()
        step = np.asarray((stamps_s[1:] - stamps_s[:-1]).total_seconds(), dtype=float)
        for k in np.flatnonzero(step != 3600):
            a, b = int(ln[k]), int(ln[k + 1])
            if step[k] == 0:
                add(b, "timestamp", f"site {site!r}: hour {ts[k]} appears twice (lines {min(a, b)} and {max(a, b)}); expected each hour once")
            else:
                add(b, "timestamp", f"site {site!r}: gap of {step[k] / 3600:g} h after line {a} ({ts[k]}); "
                    "expected consecutive hourly rows")


def site_timezones(portfolio: "Portfolio") -> dict[str, str]:
    """``{site name: IANA zone}`` of a portfolio (the plan file does not carry zones)."""
    return {s.name: s.timezone for s in portfolio.sites}


def _site_kwp(plan: xr.Dataset, sites: list[str]) -> np.ndarray:
    """Installed DC capacity P_0 [kWp] per site and planning year (site x year), from ``installed_kwp`` of the plan."""
    inst = plan["installed_kwp"].transpose("array", "year").values
    of = [str(s) for s in plan["array_site"].values]
    out = np.zeros((len(sites), inst.shape[1]))
    for a, s in enumerate(of):
        out[sites.index(s)] += inst[a]
    return out


def _hourly(plan: xr.Dataset, meter: pd.DataFrame, timezones: Mapping[str, str]) -> pd.DataFrame:
    """One row per metered hour with the plan's expectation beside it."""
    from pvopt.pv.weather import hour_index

    file = str(meter.attrs.get("file", "<meter>"))
    need = ("pv_generated_kw", "load_after_measures_kw")
    if any(k not in plan for k in need):
        raise PortfolioError([InputIssue("plan", ",".join(need), "the plan has no hourly dispatch (solved with --no-hourly); "
                                         "re-run `pvopt plan` without --no-hourly")])
    sites = [str(s) for s in plan["site"].values]
    years = [int(y) for y in plan["year"].values]
    unknown = sorted(set(meter["site"]) - set(sites))
    if unknown:
        line = int(meter.loc[meter["site"] == unknown[0], "line"].iloc[0])
        raise PortfolioError([_issue(file, line, "site", f"site {unknown[0]!r} is not in the plan; expected one of {sites}")])
    no_tz = sorted(set(meter["site"]) - set(timezones))
    if no_tz:
        raise PortfolioError([InputIssue(file, "site", f"no time zone known for site(s) {no_tz}")])
    pvk = plan["pv_generated_kw"].transpose("site", "year", "hour").values
    ldk = plan["load_after_measures_kw"].transpose("site", "year", "hour").values
    p0 = _site_kwp(plan, sites)
    gef = plan["grid_ef_t_per_mwh"].transpose("site", "year").values
    ref = plan["residual_ef_t_per_mwh"].transpose("site", "year").values
    parts = []
    for site, g in meter.groupby("site", sort=True):
        tz = timezones[site]
        local = pd.DatetimeIndex(g["timestamp"]).tz_convert(tz)
        i = sites.index(site)
        hour = np.full(len(g), -1, dtype=np.int64)
        yidx = np.full(len(g), -1, dtype=np.int64)
        feb29 = (local.month == 2) & (local.day == 29)
        for y in np.unique(local.year):
            sel = np.asarray(local.year == y) & ~feb29
            if not sel.any():
                continue
            if int(y) not in years:
                line = int(g["line"].to_numpy()[np.flatnonzero(sel)[0]])
                raise PortfolioError([_issue(file, line, "timestamp", f"year {int(y)} (site {site!r}, {tz}) is outside the plan's years "
                                                                      f"{years[0]}-{years[-1]}")])
            pos = hour_index(int(y), tz).get_indexer(local[sel])
            bad = np.flatnonzero(pos < 0)
            if len(bad):
                line = int(g["line"].to_numpy()[np.flatnonzero(sel)[bad[0]]])
                raise PortfolioError([_issue(file, line, "timestamp", f"{local[sel][bad[0]].isoformat()} is not the start of an hour in {tz}; "
                                                                      "expected hour-beginning stamps on the full hour")])
            hour[sel] = pos
            yidx[sel] = years.index(int(y))
        keep = hour >= 0  # Feb 29 hours are dropped (pvopt's 8760-hour convention)
        h, j = hour[keep], yidx[keep]
        loc = local[keep]
        parts.append(pd.DataFrame({
            "site": site, "local_time": loc.tz_localize(None), "year": loc.year, "month": loc.month,
            "date": loc.tz_localize(None).normalize(),
            "expected_pv_kwh": pvk[i, j, h].astype(float), "metered_pv_kwh": g["pv_kwh"].to_numpy()[keep],
            "planned_load_kwh": ldk[i, j, h].astype(float), "metered_load_kwh": g["load_kwh"].to_numpy()[keep],
            "grid_ef_t_per_mwh": gef[i, j], "residual_ef_t_per_mwh": ref[i, j],
            "poa_kwh_m2": (g[POA_COLUMN].to_numpy() if POA_COLUMN in g else np.full(len(g), np.nan))[keep], "p0_kwp": p0[i, j],
        }))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    out.attrs["feb29_hours_dropped"] = int(len(meter) - len(out))
    return out


def _add_hourly_terms(h: pd.DataFrame) -> None:
    """Add the hourly terms summed per period: grid on each side, the emissions gap, and the IEC PR's energies."""
    h["hours"] = 1.0
    h["planned_grid_kwh"] = np.clip(h["planned_load_kwh"] - h["expected_pv_kwh"], 0.0, None)
    h["metered_grid_kwh"] = np.clip(h["metered_load_kwh"] - h["metered_pv_kwh"], 0.0, None)
    h["extra_grid_kwh"] = h["metered_grid_kwh"] - h["planned_grid_kwh"]
    h["loc_t"] = h["extra_grid_kwh"] / 1000.0 * h["grid_ef_t_per_mwh"]
    h["mkt_t"] = h["extra_grid_kwh"] / 1000.0 * h["residual_ef_t_per_mwh"]
    has_poa = h["poa_kwh_m2"].notna() if "poa_kwh_m2" in h else pd.Series(False, index=h.index)
    h["poa_hours"] = has_poa.astype(float)
    h["pr_energy_kwh"] = np.where(has_poa, h["metered_pv_kwh"], 0.0)  # E_ac over the hours with an irradiance reading
    h["pr_reference_kwh"] = np.where(has_poa, h["p0_kwp"] * h["poa_kwh_m2"].fillna(0.0) / G_REF_KW_M2, 0.0)  # P_0 x H_poa / G_ref


def compare_actuals(
    plan: xr.Dataset,
    meter: pd.DataFrame,
    *,
    timezones: "Mapping[str, str] | Portfolio",
    freq: Literal["month", "day", "period"] = "month",
) -> pd.DataFrame:
    """Compare metered PV and load with the plan's expectation, per site and month (or day, or period).

    Parameters
    ----------
    plan
        A plan Dataset with hourly dispatch (``pv_generated_kw``, ``load_after_measures_kw``).
    meter
        From :func:`read_meter`.
    timezones
        ``{site: IANA zone}`` or the portfolio (:func:`site_timezones`).
    freq
        ``"month"`` (default), ``"day"`` or ``"period"`` (the whole metered period).

    Returns
    -------
    pandas.DataFrame
        One row per site and period, plus one ``site = "ALL"`` row per period;
        columns ``site``, ``year``, ``month`` (and ``date`` for days), then
        :data:`ACTUALS_UNITS` (units in ``attrs["units"]``, descriptions in
        ``attrs["descriptions"]``).

    Notes
    -----
    Metered hour ``[t, t+1)`` is mapped to the plan's hour-of-year of the
    same local clock hour in the site's zone and the same planning year.
    ``performance_index_pct = 100 x metered PV / expected PV`` (relative to the
    plan); ``yield_gap = metered - expected``. Where the meter has plane-of-array
    irradiation (``poa_kwh_m2``), ``iec_performance_ratio`` is the IEC 61724-1
    PR = (E_ac / P_0) / (H_poa / G_ref) summed over those hours, with P_0 the
    site's installed DC kWp in the plan's year and G_ref = 1 kW/m² (one sensor
    per site: arrays facing other ways than the sensor bias it). The emissions gap prices the extra grid electricity:
    grid import on each side is ``max(load - PV, 0)`` hour by hour (surplus PV
    neither exported nor stored), and ``extra_grid = metered - planned`` is
    multiplied by the location-based grid factor and by the residual-mix factor
    (market-based: the plan's certificates were bought for the planned grid MWh).
    """
    tz = site_timezones(cast("Portfolio", timezones)) if hasattr(timezones, "sites") else dict(cast("Mapping[str, str]", timezones))
    h = _hourly(plan, meter, tz)
    _add_hourly_terms(h)
    keys = {"month": ["year", "month"], "day": ["year", "month", "date"], "period": []}[freq]
    sums = ["hours", "expected_pv_kwh", "metered_pv_kwh", "planned_load_kwh", "metered_load_kwh", "planned_grid_kwh",
            "metered_grid_kwh", "extra_grid_kwh", "loc_t", "mkt_t", "poa_hours", "pr_energy_kwh", "pr_reference_kwh"]
    by_site = h.groupby(["site", *keys], sort=True)[sums].sum().reset_index()
    if keys:
        tot = h.groupby(keys, sort=True)[sums].sum().reset_index()
    else:
        tot = h[sums].sum().to_frame().T
    tot.insert(0, "site", "ALL")
    g = pd.concat([by_site, tot], ignore_index=True)
    out = g[["site", *keys]].copy()
    out["hours"] = g["hours"].astype(int)
    out["expected_pv_mwh"] = g["expected_pv_kwh"] / 1000.0
    out["metered_pv_mwh"] = g["metered_pv_kwh"] / 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out["performance_index_pct"] = np.where(g["expected_pv_kwh"] > 0, 100.0 * g["metered_pv_kwh"] / g["expected_pv_kwh"], np.nan)
        out["poa_hours"] = g["poa_hours"].astype(int)
        out["iec_performance_ratio"] = np.where(g["pr_reference_kwh"] > 0, g["pr_energy_kwh"] / g["pr_reference_kwh"], np.nan)
    out["yield_gap_mwh"] = out["metered_pv_mwh"] - out["expected_pv_mwh"]
    out["yield_gap_pct"] = out["performance_index_pct"] - 100.0
    out["planned_load_mwh"] = g["planned_load_kwh"] / 1000.0
    out["metered_load_mwh"] = g["metered_load_kwh"] / 1000.0
    out["load_gap_mwh"] = out["metered_load_mwh"] - out["planned_load_mwh"]
    out["planned_grid_mwh"] = g["planned_grid_kwh"] / 1000.0
    out["metered_grid_mwh"] = g["metered_grid_kwh"] / 1000.0
    out["extra_grid_mwh"] = g["extra_grid_kwh"] / 1000.0
    out["emissions_gap_location_tco2e"] = g["loc_t"]
    out["emissions_gap_market_tco2e"] = g["mkt_t"]
    if "date" in out:
        out["date"] = pd.to_datetime(out["date"]).dt.date
    out.attrs["units"] = dict(ACTUALS_UNITS)
    out.attrs["descriptions"] = dict(ACTUALS_DESCRIPTIONS)
    out.attrs["feb29_hours_dropped"] = h.attrs.get("feb29_hours_dropped", 0)
    return out
