"""Plausibility checks: inputs that pass the schema but cannot be what was meant.

The schema checks each field on its own (type, range, finite). These checks
compare fields with each other and with the physical world, after a whole
portfolio has loaded. Each rule is an **error** (exit 2, nothing is planned)
where the input is certainly wrong, and a **warning** (one ``warning:`` line
on stderr, the run goes on) where it is possible but unusual. :data:`RULES`
lists them; :func:`rules_markdown` renders the table shown in
``docs/reliability.md`` and ``docs/input-reference.md``. The yield rule runs in
the yield layer (:func:`pvopt.pv.yields.check_specific_yield`) because it needs
the simulated yield; its thresholds live here with the others.

Inputs layer: no pvlib, no Pyomo.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from pvopt.errors import InputIssue, PortfolioError, warn_input
from pvopt.inputs.profiles import read_hourly_csv
from pvopt.inputs.schema import CsvProfile, PortfolioSettings, Site, YearSeries

__all__ = [
    "Rule",
    "RULES",
    "rules_markdown",
    "plausibility_issues",
    "report_warnings",
    "TZ_SOLAR_MAX_H",
    "BASE_YEAR_ERROR_YEARS",
    "BASE_YEAR_WARNING_YEARS",
    "LOAD_MIN_MWH",
    "LOAD_MIN_NONZERO_HOURS",
    "SPECIFIC_YIELD_ERROR_KWH_PER_KWP",
    "SPECIFIC_YIELD_WARNING_KWH_PER_KWP",
    "REFERENCE_CURRENCY",
    "CERTIFICATE_REFERENCE_PER_MWH",
    "OFFSET_REFERENCE_PER_TCO2E",
    "PRICE_FACTOR",
]

TZ_SOLAR_MAX_H = 3.0
"""Largest distance [h] between a site's time zone (the nearer of its January and July offsets) and its solar
time, ``longitude_deg / 15``; western China on Beijing time is 2.9 h off."""
BASE_YEAR_ERROR_YEARS = 20
"""A load or tariff base year more than this many years [yr] outside the planning horizon is an error."""
BASE_YEAR_WARNING_YEARS = 5
"""A base year more than this many years [yr] before the first planning year, or after the last, is a warning."""
LOAD_MIN_MWH = 1.0
"""A site demand below this [MWh/yr] (an average of 114 W) is a warning."""
LOAD_MIN_NONZERO_HOURS = 876
"""A CSV load shape that is non-zero in fewer hours than this (10 % of the year) is a warning."""
SPECIFIC_YIELD_ERROR_KWH_PER_KWP = (50.0, 3000.0)
"""Annual AC yield per kWp DC [kWh/kWp] outside this range is an error: no fixed array on Earth yields it."""
SPECIFIC_YIELD_WARNING_KWH_PER_KWP = (300.0, 2600.0)
"""Annual AC yield per kWp DC [kWh/kWp] outside this range (and inside the error range) is a warning."""
REFERENCE_CURRENCY = "CNY"
"""Currency of the reference prices; prices in other currencies are not compared."""
CERTIFICATE_REFERENCE_PER_MWH = (2.31, 10.0)
"""Reference certificate prices [CNY/MWh]: GEC national average of April 2025 and the example's 2035 assumption
(``sites/lead/portfolio.yaml``, ``docs/sources.md`` S2)."""
OFFSET_REFERENCE_PER_TCO2E = (61.32, 70.0)
"""Reference offset prices [CNY/tCO2e]: CCER at its relaunch in January 2024 and the 2025 midpoint
(``sites/lead/portfolio.yaml``, ``docs/sources.md`` S7)."""
PRICE_FACTOR = 10.0
"""A price below the low reference / PRICE_FACTOR or above the high reference x PRICE_FACTOR is a warning."""


@dataclass(frozen=True)
class Rule:
    """One plausibility rule, as documented."""

    check: str  #: what is compared
    error: str  #: when it is an error ("" for never)
    warning: str  #: when it is a warning ("" for never)
    fix: str  #: what to do


def _band(lo: float, hi: float) -> str:
    return f"{lo:,.4g}-{hi:,.4g}"


RULES: tuple[Rule, ...] = (
    Rule("time zone against longitude (site file: `timezone`, `longitude_deg`)",
         f"the zone's UTC offset (standard and summer time alike) is more than {TZ_SOLAR_MAX_H:g} h from solar time "
         "(`longitude_deg / 15` h, on the 24 h clock)", "",
         "check the sign of `longitude_deg` (east is positive) and the IANA `timezone`"),
    Rule("existing PV (`arrays[i].existing_year`)", "`existing_year` after the first planning year", "",
         "existing capacity is what stands before the plan starts; leave later builds to the plan"),
    Rule("load and tariff base years (`load.base_year`, `tariff.base_year`)",
         f"more than {BASE_YEAR_ERROR_YEARS} years before the first or after the last planning year",
         f"more than {BASE_YEAR_WARNING_YEARS} years before the first planning year, or after the last",
         "give the year the load or the prices were measured in; growth and escalation compound from it"),
    Rule("load size (`load.annual_mwh`, CSV `load.profile`)", "a CSV load column that is zero in every row",
         f"`annual_mwh` below {LOAD_MIN_MWH:g} MWh; a CSV load non-zero in fewer than {LOAD_MIN_NONZERO_HOURS} hours",
         "check the unit (MWh, not GWh) and the column named in `load.profile.column`"),
    Rule("annual specific yield of each array [kWh/kWp] (checked by `yield` and `plan`)",
         f"below {SPECIFIC_YIELD_ERROR_KWH_PER_KWP[0]:g} or above {SPECIFIC_YIELD_ERROR_KWH_PER_KWP[1]:,.0f}",
         f"below {SPECIFIC_YIELD_WARNING_KWH_PER_KWP[0]:g} or above {SPECIFIC_YIELD_WARNING_KWH_PER_KWP[1]:,.0f}",
         "check the weather (irradiance unit, time zone), `tilt_deg` and `azimuth_deg` (180 = south)"),
    Rule(f"certificate prices (`certificates[i].price_per_mwh`, {REFERENCE_CURRENCY} portfolios)", "",
         f"outside {_band(CERTIFICATE_REFERENCE_PER_MWH[0] / PRICE_FACTOR, CERTIFICATE_REFERENCE_PER_MWH[1] * PRICE_FACTOR)} "
         f"{REFERENCE_CURRENCY}/MWh (a factor {PRICE_FACTOR:g} around the shipped references)",
         "check the unit (per MWh) and the currency"),
    Rule(f"offset prices (`offsets.price_per_tco2e`, {REFERENCE_CURRENCY} portfolios)", "",
         f"outside {_band(OFFSET_REFERENCE_PER_TCO2E[0] / PRICE_FACTOR, OFFSET_REFERENCE_PER_TCO2E[1] * PRICE_FACTOR)} "
         f"{REFERENCE_CURRENCY}/tCO2e (a factor {PRICE_FACTOR:g} around the shipped references)",
         "check the unit (per tCO2e) and the currency"),
)
"""Every plausibility rule: what is checked, when it is an error, when a warning, and the fix."""


def rules_markdown() -> str:
    """Render the plausibility rules as a Markdown table (one row per rule of :data:`RULES`)."""
    lines = ["| check | error when | warning when | fix |", "|---|---|---|---|"]
    lines += [f"| {r.check} | {r.error or '-'} | {r.warning or '-'} | {r.fix} |" for r in RULES]
    return "\n".join(lines)


@dataclass
class _Found:
    errors: list[InputIssue]
    warnings: list[InputIssue]


def _standard_offsets_h(tz: str, year: int) -> list[float]:
    """UTC offsets [h] of zone ``tz`` in mid-January and mid-July of ``year``."""
    zone = zoneinfo.ZoneInfo(tz)
    out = []
    for month in (1, 7):
        off = dt.datetime(year, month, 15, 12, tzinfo=zone).utcoffset()
        out.append(off.total_seconds() / 3600.0 if off is not None else 0.0)
    return out


def _check_timezone(site: Site, file: str, year: int, found: _Found) -> None:
    solar_h = site.longitude_deg / 15.0
    offsets = _standard_offsets_h(site.timezone, year)
    # distance on the 24 h clock: UTC+13 at 172 W is 0.5 h from its solar time, not 23.5 h
    gap = min(min(abs(o - solar_h) % 24.0, 24.0 - abs(o - solar_h) % 24.0) for o in offsets)
    if gap > TZ_SOLAR_MAX_H:
        shown = " / ".join(f"UTC{o:+g}" for o in sorted(set(offsets)))
        found.errors.append(InputIssue(
            file, "timezone",
            f"time zone {site.timezone} ({shown}) is {gap:.1f} h from the solar time at longitude_deg {site.longitude_deg:g} "
            f"(UTC{solar_h:+.1f}); expected within {TZ_SOLAR_MAX_H:g} h: check the sign of longitude_deg (east is positive) "
            "and the time zone",
        ))


def _check_existing(site: Site, file: str, first_year: int, found: _Found) -> None:
    for i, a in enumerate(site.arrays):
        if a.existing_kwp > 0 and a.existing_year is not None and a.existing_year > first_year:
            found.errors.append(InputIssue(
                file, f"arrays[{i}].existing_year",
                f"array '{a.name}': existing PV dated {a.existing_year}, after the first planning year {first_year}; "
                f"existing capacity stands before the plan starts: set existing_year <= {first_year}, or set existing_kwp to 0 "
                "and let the plan build it",
            ))


def _check_base_year(year: int | None, field: str, what: str, file: str, years: tuple[int, int], found: _Found) -> None:
    if year is None:
        return
    first, last = years
    msg = f"{field} {year} is {{}} the planning horizon {first}-{last}; {what} compounds from it"
    if year < first - BASE_YEAR_ERROR_YEARS or year > last + BASE_YEAR_ERROR_YEARS:
        where = f"{first - year} years before" if year < first else f"{year - last} years after"
        found.errors.append(InputIssue(file, field, msg.format(where) + f"; expected a year within {BASE_YEAR_ERROR_YEARS} years of it"))
    elif year < first - BASE_YEAR_WARNING_YEARS or year > last:
        where = f"{first - year} years before" if year < first else f"{year - last} years after"
        found.warnings.append(InputIssue(file, field, msg.format(where) + "; is it the year the figures were measured in?"))


def _check_load(site: Site, file: str, directory: Path | None, found: _Found) -> None:
    if site.load.annual_mwh < LOAD_MIN_MWH:
        avg_kw = site.load.annual_mwh * 1000.0 / 8760.0
        found.warnings.append(InputIssue(
            file, "load.annual_mwh",
            f"a near-zero load: {site.load.annual_mwh:g} MWh/yr (an average of {avg_kw:.3g} kW); expected the site's demand in MWh "
            f"(at least {LOAD_MIN_MWH:g} MWh/yr)",
        ))
    prof = site.load.profile
    if directory is None or not isinstance(prof, CsvProfile):
        return
    try:
        values = read_hourly_csv(directory, prof.path, prof.column, field="load.profile.path", what="load [kW]")
    except PortfolioError:
        return  # reported by the file checks
    nonzero = int(np.count_nonzero(values))
    if 0 < nonzero < LOAD_MIN_NONZERO_HOURS:
        found.warnings.append(InputIssue(
            file, "load.profile",
            f"the load in {prof.path} (column '{prof.column}') is non-zero in only {nonzero} of 8760 hours; scaled to annual_mwh "
            f"its peak is {site.load.annual_mwh * 1000.0 * float(values.max()) / float(values.sum()):,.0f} kW: is it the right column?",
        ))


def _series_outside(series: YearSeries, lo: float, hi: float) -> tuple[int | None, float] | None:
    """Return the first (year, value) of ``series`` outside ``[lo, hi]`` (year None for a single number), or None."""
    items = [(None, float(series))] if isinstance(series, (int, float)) else sorted((y, float(v)) for y, v in series.items())
    for y, v in items:
        if not lo <= v <= hi:
            return y, v
    return None


def _check_prices(settings: PortfolioSettings, pfile: str, found: _Found) -> None:
    if settings.currency != REFERENCE_CURRENCY:
        return
    cases: list[tuple[str, YearSeries, tuple[float, float], str]] = [
        (f"certificates[{i}].price_per_mwh", c.price_per_mwh, CERTIFICATE_REFERENCE_PER_MWH, f"{REFERENCE_CURRENCY}/MWh")
        for i, c in enumerate(settings.certificates)
    ]
    if settings.offsets is not None:
        cases.append(("offsets.price_per_tco2e", settings.offsets.price_per_tco2e, OFFSET_REFERENCE_PER_TCO2E, f"{REFERENCE_CURRENCY}/tCO2e"))
    for field, series, (ref_lo, ref_hi), unit in cases:
        lo, hi = ref_lo / PRICE_FACTOR, ref_hi * PRICE_FACTOR
        bad = _series_outside(series, lo, hi)
        if bad is not None:
            year, value = bad
            when = f" in {year}" if year is not None else ""
            found.warnings.append(InputIssue(
                pfile, field,
                f"price {value:g} {unit}{when} is far from the shipped references {ref_lo:g}-{ref_hi:g} {unit} "
                f"(expected {lo:.3g}-{hi:.3g}); check the unit and the currency",
            ))


def plausibility_issues(
    settings: PortfolioSettings,
    sites: Sequence[Site],
    *,
    pfile: str,
    site_files: Sequence[str] | None = None,
    directory: Path | None = None,
) -> tuple[list[InputIssue], list[InputIssue]]:
    """Check a loaded portfolio against the rules of :data:`RULES` (all but the yield rule).

    Parameters
    ----------
    settings, sites
        The validated ``portfolio.yaml`` and site files.
    pfile
        Name shown for ``portfolio.yaml``.
    site_files
        Name shown for each site, in the order of ``sites``; default ``pfile``.
    directory
        The portfolio folder, to read CSV load shapes; None skips the CSV rule.

    Returns
    -------
    tuple of list of InputIssue
        ``(errors, warnings)``.
    """
    found = _Found([], [])
    plan = settings.planning
    horizon = (plan.first_year, plan.last_year)
    for k, site in enumerate(sites):
        file = site_files[k] if site_files is not None else pfile
        _check_timezone(site, file, plan.first_year, found)
        _check_existing(site, file, plan.first_year, found)
        _check_base_year(site.load.base_year, "load.base_year", "load growth", file, horizon, found)
        _check_base_year(site.tariff.base_year, "tariff.base_year", "price escalation", file, horizon, found)
        _check_load(site, file, directory, found)
    _check_prices(settings, pfile, found)
    return found.errors, found.warnings


def report_warnings(issues: Sequence[InputIssue]) -> None:
    """Print each warning as one ``warning:`` line on stderr (:func:`pvopt.errors.warn_input`)."""
    for issue in issues:
        warn_input(issue)
