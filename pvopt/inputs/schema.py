"""Typed, frozen input models for a pvopt portfolio.

A portfolio is a directory holding ``portfolio.yaml`` (portfolio-wide
settings) and one YAML file per site (every other ``*.yaml`` file in the
directory). Every model forbids unknown keys, so a misspelt key is an error,
not a silent default. Every physical quantity carries its unit in its name.

Year series
-----------
Fields typed :data:`YearSeries` take either one number (the same every year)
or a mapping ``{year: value}``. Between given years the value is
interpolated linearly; before the first and after the last given year it is
held flat. :func:`series_value` resolves a year.
"""

from __future__ import annotations

import math
import zoneinfo
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

__all__ = [
    "Array",
    "CertificateInstrument",
    "ExportPolicy",
    "Load",
    "Milestone",
    "Offsets",
    "Planning",
    "Portfolio",
    "PortfolioSettings",
    "PVCosts",
    "Site",
    "Tariff",
    "Weather",
    "YearSeries",
    "series_value",
]


class _Model(BaseModel):
    # allow_inf_nan=False: NaN, +-inf and overflowing literals (1e400 -> inf) are errors in every float field
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


def _finite_series(v: object) -> object:
    """Refuse NaN, infinity and overflowing numbers in a year series, naming the year (before the union splits the error)."""
    items = list(v.items()) if isinstance(v, dict) else [(None, v)]
    for year, x in items:
        if isinstance(x, bool):
            continue  # the union reports the type
        try:
            finite = math.isfinite(float(x))  # type: ignore[arg-type]
        except OverflowError:
            finite = False
        except (TypeError, ValueError):
            continue  # not a number: the union reports the type
        if not finite:
            where = f" for {year}" if year is not None else ""
            shown = repr(x) if len(repr(x)) <= 30 else repr(x)[:27] + "..."
            raise ValueError(f"expected a finite number{where}, got {shown}")
    return v


YearSeries = Annotated[Union[float, dict[int, float]], BeforeValidator(_finite_series)]
"""A number, or ``{year: number}`` interpolated linearly and held flat outside; every number finite."""


def series_value(series: YearSeries, year: int) -> float:
    """Resolve a :data:`YearSeries` for ``year``.

    Examples
    --------
    >>> series_value({2020: 1.0, 2030: 2.0}, 2025)
    1.5
    >>> series_value({2020: 1.0, 2030: 2.0}, 2040)
    2.0
    >>> series_value(3.0, 1999)
    3.0
    """
    if isinstance(series, (int, float)):
        return float(series)
    years = sorted(series)
    if year <= years[0]:
        return float(series[years[0]])
    if year >= years[-1]:
        return float(series[years[-1]])
    for lo, hi in zip(years[:-1], years[1:]):
        if lo <= year <= hi:
            f = (year - lo) / (hi - lo)
            return float(series[lo] + f * (series[hi] - series[lo]))
    raise AssertionError("unreachable")  # pragma: no cover


def _check_series(v: YearSeries, *, lo: float | None = 0.0, hi: float | None = None) -> YearSeries:
    values = [v] if isinstance(v, (int, float)) else list(v.values())
    if isinstance(v, dict) and not v:
        raise ValueError("expected a number or a non-empty {year: value} mapping, got an empty mapping")
    for x in values:
        if not math.isfinite(x):
            raise ValueError(f"expected a finite number, got {x}")
        if lo is not None and x < lo:
            raise ValueError(f"expected a value >= {lo}, got {x}")
        if hi is not None and x > hi:
            raise ValueError(f"expected a value <= {hi}, got {x}")
    if isinstance(v, dict):
        for y in v:
            if not 1900 <= y <= 2200:
                raise ValueError(f"expected years between 1900 and 2200, got {y}")
    return v


NonNegSeries = Annotated[YearSeries, Field(description="number or {year: number}, >= 0")]


# --------------------------------------------------------------------------- #
# Site level
# --------------------------------------------------------------------------- #
class Weather(_Model):
    """Where a site's hourly weather comes from.

    ``source: synthetic`` (default) builds a deterministic typical year from
    monthly climate normals in ``weather/normals/<normals>.csv``; it is
    synthetic and every output says so. ``source: file`` reads an EPW, TMY3
    or PVGIS TMY file with :mod:`pvlib.iotools`. ``source: pvgis`` (PVGIS
    typical meteorological year) and ``source: nasa_power`` (NASA POWER hourly
    data of one calendar year) are fetched once at the site's coordinates with
    ``pvopt weather fetch PORTFOLIO`` into the weather cache
    (``$PVOPT_CACHE_DIR``, else ``~/.cache/pvopt/weather``) and read offline
    from there.
    """

    source: Literal["synthetic", "file", "pvgis", "nasa_power"] = Field(
        "synthetic", description="synthetic typical year from normals, a weather file, or data fetched from pvgis / nasa_power (cached)"
    )
    normals: str | None = Field(None, description="name of the monthly-normals file in weather/normals/ (synthetic source)")
    path: str | None = Field(None, description="weather file, relative to the portfolio directory (file source)")
    format: Literal["epw", "tmy3", "pvgis_tmy"] | None = Field(None, description="file format; guessed from the extension when omitted")
    seed: int | None = Field(
        None, ge=0, le=2**32 - 1, description="random seed of the synthetic year, 0 to 4294967295; derived from the normals name when omitted"
    )
    year: int | None = Field(None, ge=2001, le=2100, description="calendar year fetched from NASA POWER (nasa_power source); default 2023")

    @model_validator(mode="after")
    def _source_fields(self) -> "Weather":
        if self.source == "file" and not self.path:
            raise ValueError("source 'file' needs 'path' (a weather file relative to the portfolio directory)")
        if self.source == "synthetic" and not self.normals:
            raise ValueError("source 'synthetic' needs 'normals' (a file name in weather/normals/, without .csv)")
        if self.year is not None and self.source != "nasa_power":
            raise ValueError("'year' applies only to source 'nasa_power'")
        return self


TemperatureModelName = Literal["pvwatts_roof", "pvwatts_rack", "sapm_close_mount", "sapm_open_rack", "sapm_insulated_back"]
"""Names of the cell-temperature models (their parameters live in :mod:`pvopt.pv.yields`)."""

MOUNT_TEMPERATURE_MODEL: dict[str, str] = {
    "close_mount": "pvwatts_roof",
    "open_rack": "pvwatts_rack",
    "insulated_back": "sapm_insulated_back",
}
"""Default cell-temperature model of each mount."""


class Array(_Model):
    """One PV surface: a rooftop or a carport."""

    name: str = Field(description="unique within the site")
    kind: Literal["rooftop", "carport"] = Field(description="surface kind; sets the default mount and costs")
    area_m2: float | None = Field(None, gt=0, description="usable area [m2]; max_kwp = area_m2 * power_density_kwp_per_m2")
    max_kwp: float | None = Field(None, gt=0, description="maximum DC capacity [kWp], instead of area_m2")
    tilt_deg: float = Field(ge=0, le=90, description="surface tilt from horizontal [deg]")
    azimuth_deg: float = Field(ge=0, lt=360, description="surface azimuth, clockwise from north, 180 = south [deg]")
    mount: Literal["close_mount", "open_rack", "insulated_back"] | None = Field(
        None,
        description=(
            "how the modules are mounted; picks the default temperature_model (close_mount -> pvwatts_roof, "
            "open_rack -> pvwatts_rack, insulated_back -> sapm_insulated_back); default close_mount for rooftops, "
            "open_rack for carports"
        ),
    )
    temperature_model: TemperatureModelName | None = Field(
        None,
        description=(
            "cell-temperature model by name: pvwatts_roof (pvlib noct_sam, NOCT 49 C, PVWatts v8 roof mount), "
            "pvwatts_rack (noct_sam, NOCT 45 C, PVWatts v8 open rack), sapm_close_mount, sapm_open_rack, "
            "sapm_insulated_back (pvlib SAPM parameter sets); default from mount"
        ),
    )
    power_density_kwp_per_m2: float | None = Field(
        None, gt=0, le=0.3, description="DC capacity per usable area [kWp/m2]; default 0.15 rooftop, 0.18 carport"
    )
    dc_ac_ratio: float = Field(1.2, ge=0.8, le=2.0, description="DC/AC ratio; the inverter clips above nameplate AC")
    losses_pct: float = Field(14.0, ge=0, lt=50, description="PVWatts system losses [%]")
    albedo: float = Field(0.2, ge=0, le=0.95, description="ground reflectance seen by the array, 0-0.95; PVWatts default 0.2 [1]")
    temp_coeff_pct_per_c: float = Field(
        -0.37, ge=-1.0, le=0.0, description="DC power temperature coefficient, -1 to 0; PVWatts standard module -0.37 [%/°C]"
    )
    inverter_efficiency_pct: float = Field(96.0, ge=90.0, le=99.5, description="inverter nominal efficiency, 90-99.5 (PVWatts default 96) [%]")
    gcr: float | None = Field(
        None,
        ge=0.01,
        le=0.99,
        description=(
            "ground coverage ratio of racked rows (module slant length / row pitch), 0.01-0.99 [1]; when set, row-to-row shading of "
            "direct and sky-diffuse light is modelled; null = a single row, no row shading (PVWatts uses 0.4 for open racks)"
        ),
    )
    air_mass_correction: bool = Field(
        True, description="apply the PVWatts v8 air-mass (spectral) modifier of a crystalline-silicon module"
    )
    degradation_pct_per_year: float = Field(0.5, ge=0, le=3, description="capacity loss per year of age [%/yr]")
    existing_kwp: float = Field(0.0, ge=0, description="capacity installed before the first planning year [kWp]")
    existing_year: int | None = Field(None, ge=1990, le=2100, description="install year of existing_kwp")

    @model_validator(mode="after")
    def _size(self) -> "Array":
        if (self.area_m2 is None) == (self.max_kwp is None):
            raise ValueError("give exactly one of 'area_m2' or 'max_kwp'")
        if self.existing_kwp > 0 and self.existing_year is None:
            raise ValueError("'existing_kwp' > 0 needs 'existing_year'")
        if self.existing_kwp > self.max_kwp_value + 1e-9:
            raise ValueError(f"'existing_kwp' ({self.existing_kwp}) exceeds the array's max kWp ({self.max_kwp_value:.1f})")
        return self

    @property
    def density_kwp_per_m2(self) -> float:
        """Power density used [kWp/m2]."""
        if self.power_density_kwp_per_m2 is not None:
            return self.power_density_kwp_per_m2
        return 0.15 if self.kind == "rooftop" else 0.18

    @property
    def max_kwp_value(self) -> float:
        """Maximum DC capacity [kWp]."""
        if self.max_kwp is not None:
            return float(self.max_kwp)
        return float(self.area_m2) * self.density_kwp_per_m2  # type: ignore[arg-type]

    @property
    def mount_value(self) -> str:
        """Temperature-model mount used."""
        if self.mount is not None:
            return self.mount
        return "close_mount" if self.kind == "rooftop" else "open_rack"

    @property
    def temperature_model_value(self) -> str:
        """Cell-temperature model used: ``temperature_model`` if given, else the mount's default."""
        if self.temperature_model is not None:
            return self.temperature_model
        return MOUNT_TEMPERATURE_MODEL[self.mount_value]


class ShiftProfile(_Model):
    """A built-in shift pattern: production hours on working days, base load otherwise."""

    type: Literal["shift"] = "shift"
    shift_start_hour: int = Field(default=8, ge=0, le=23, description="first production hour on a working day (local time)")
    shift_end_hour: int = Field(default=24, ge=1, le=24, description="hour production stops (exclusive)")
    working_days: list[int] = Field(default=[0, 1, 2, 3, 4], description="working weekdays, 0 = Monday")
    base_load_fraction: float = Field(default=0.3, ge=0, le=1, description="load outside shifts as a fraction of shift load")
    weekend_fraction: float = Field(default=0.4, ge=0, le=1, description="load on non-working days as a fraction of shift load")
    holidays: str | None = Field(default="CN", description="country code of public holidays (python-holidays), or null")
    holiday_fraction: float = Field(default=0.25, ge=0, le=1, description="load on public holidays as a fraction of shift load")

    @model_validator(mode="after")
    def _hours(self) -> "ShiftProfile":
        if self.shift_end_hour <= self.shift_start_hour:
            raise ValueError("'shift_end_hour' must be after 'shift_start_hour'")
        if not self.working_days or any(d < 0 or d > 6 for d in self.working_days):
            raise ValueError(f"'working_days' must list weekdays 0..6 (0 = Monday), got {self.working_days}")
        return self


class CsvProfile(_Model):
    """An hourly load profile from a CSV file of 8760 rows (or 8784)."""

    type: Literal["csv"] = "csv"
    path: str = Field(description="CSV file relative to the portfolio directory")
    column: str = Field("load_kw", description="column holding the hourly load [kW]")


class Load(_Model):
    """A site's electricity demand."""

    annual_mwh: float = Field(gt=0, description="demand in the base year [MWh]; the profile is scaled to it")
    base_year: int = Field(ge=1990, le=2100, description="year annual_mwh refers to")
    growth_pct_per_year: NonNegSeries = Field(0.0, description="demand growth per year [%/yr] (may be negative)")
    profile: Annotated[Union[ShiftProfile, CsvProfile], Field(discriminator="type")] = Field(
        default_factory=ShiftProfile, description="hourly shape"
    )

    @field_validator("growth_pct_per_year")
    @classmethod
    def _growth(cls, v: YearSeries) -> YearSeries:
        return _check_series(v, lo=-50.0, hi=100.0)


class TouWindow(_Model):
    period: str = Field(description="name of a price period, e.g. peak, flat, valley")
    start_hour: int = Field(ge=0, le=23, description="first hour (local time)")
    end_hour: int = Field(ge=1, le=24, description="hour the window ends (exclusive); a window may wrap past midnight if end_hour <= start_hour")


class TouSeason(_Model):
    name: str
    months: list[int] = Field(description="months 1..12 of the season")
    windows: list[TouWindow]

    @model_validator(mode="after")
    def _cover(self) -> "TouSeason":
        owner: dict[int, str] = {}
        for w in self.windows:
            hours = range(w.start_hour, w.end_hour) if w.end_hour > w.start_hour else [*range(w.start_hour, 24), *range(0, w.end_hour)]
            for h in hours:
                if h in owner:
                    raise ValueError(f"season '{self.name}': hour {h} is in two windows ({owner[h]} and {w.period}); windows must not overlap")
                owner[h] = w.period
        missing = sorted(set(range(24)) - set(owner))
        if missing:
            raise ValueError(f"season '{self.name}': hours {missing} are in no window; windows must cover 0-24")
        bad = [m for m in self.months if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"season '{self.name}': months must be 1..12, got {bad}")
        return self

    def period_of_hour(self) -> list[str]:
        """Return the period name of each hour 0..23."""
        out = [""] * 24
        for w in self.windows:
            hours = range(w.start_hour, w.end_hour) if w.end_hour > w.start_hour else [*range(w.start_hour, 24), *range(0, w.end_hour)]
            for h in hours:
                out[h] = w.period
        return out


class Tariff(_Model):
    """Grid import price: time-of-use windows by season, or an hourly file."""

    type: Literal["tou", "hourly_file"] = "tou"
    prices_per_kwh: dict[str, float] | None = Field(None, description="price of each TOU period [currency/kWh]")
    seasons: list[TouSeason] | None = Field(None, description="TOU seasons, together covering months 1..12 once")
    path: str | None = Field(None, description="hourly price CSV relative to the portfolio (hourly_file)")
    column: str = Field("price_per_kwh", description="price column of the hourly file [currency/kWh]")
    escalation_pct_per_year: float = Field(0.0, ge=-20, le=50, description="price change per year after base_year [%/yr]")
    base_year: int | None = Field(None, ge=1990, le=2100, description="year the prices refer to; default the portfolio's first planning year")
    source: str | None = Field(None, description="where the figures come from")

    @model_validator(mode="after")
    def _shape(self) -> "Tariff":
        if self.type == "tou":
            if not self.prices_per_kwh or not self.seasons:
                raise ValueError("a 'tou' tariff needs 'prices_per_kwh' and 'seasons'")
            for k, p in self.prices_per_kwh.items():
                if not (math.isfinite(p) and p >= 0):
                    raise ValueError(f"price of period '{k}' must be a finite number >= 0, got {p}")
            months: dict[int, str] = {}
            for s in self.seasons:
                for m in s.months:
                    if m in months:
                        raise ValueError(f"month {m} is in seasons '{months[m]}' and '{s.name}'")
                    months[m] = s.name
                for w in s.windows:
                    if w.period not in self.prices_per_kwh:
                        raise ValueError(
                            f"season '{s.name}' uses period '{w.period}' that has no price in prices_per_kwh "
                            f"(known: {sorted(self.prices_per_kwh)})"
                        )
            missing = sorted(set(range(1, 13)) - set(months))
            if missing:
                raise ValueError(f"months {missing} are in no season; seasons must cover months 1..12")
        elif not self.path:
            raise ValueError("an 'hourly_file' tariff needs 'path'")
        return self


class ExportPolicy(_Model):
    """What may happen to PV the site does not use."""

    policy: Literal["zero_export", "surplus"] = Field(
        default="zero_export", description="zero_export: unused PV is curtailed; surplus: it may be sold"
    )
    price_per_kwh: NonNegSeries = Field(default=0.0, description="export price [currency/kWh]")
    limit_kw: float | None = Field(default=None, gt=0, description="export limit [kW]; none = unlimited")

    @field_validator("price_per_kwh")
    @classmethod
    def _price(cls, v: YearSeries) -> YearSeries:
        return _check_series(v, lo=0.0)


class GridConnection(_Model):
    """Grid connection limits and the capacity part of a two-part tariff."""

    import_limit_kw: float | None = Field(
        default=None, gt=0, description="most the site may draw from the grid in any hour [kW]; none = unlimited. Without a battery the site "
        "keeps its exact hour reductions (rows only for hours that could exceed it); if some hour's load cannot be brought under "
        "it even with every array full, the plan stops naming the site, the hour and the amount"
    )
    demand_charge_per_kw_month: float = Field(
        default=0.0, ge=0, description="two-part tariff: charge on each month's peak grid import [currency/kW/month]; without a battery "
        "only hours that can set a month's peak get a row, so the site stays small"
    )
    source: str | None = None


class BatteryOption(_Model):
    """A battery the plan may build at the site (energy and power sized separately)."""

    energy_capex_per_kwh: float = Field(gt=0, description="installed cost of storage energy [currency/kWh]")
    power_capex_per_kw: float = Field(0.0, ge=0, description="installed cost of converter power [currency/kW]")
    om_per_kwh_year: float = Field(0.0, ge=0, description="O&M [currency/kWh/yr]")
    round_trip_efficiency: float = Field(0.88, gt=0.3, le=1.0, description="AC-to-AC round-trip efficiency")
    max_energy_kwh: float = Field(gt=0, description="largest energy capacity that fits [kWh]")
    max_power_kw: float = Field(gt=0, description="largest converter power [kW]")
    min_duration_h: float = Field(0.5, gt=0, description="energy/power ratio at least this [h]")
    lifetime_years: int = Field(12, ge=1, le=40, description="life [yr]: energy and power built in year v work in v .. v+L-1, "
                                "then must be rebuilt (paid again) or are gone; life left after the horizon is salvage")
    available_from: int | None = Field(None, ge=1990, le=2100, description="first year it can be built; default the first planning year")
    source: str | None = None


class Measure(_Model):
    """An efficiency or electrification project the plan may adopt (continuously, up to its full size).

    Efficiency saves ``annual_mwh`` of electricity a year at full size, with the hourly
    shape ``shape``; electrification removes ``scope1_removed_tco2e`` of Scope 1 a year
    and adds ``annual_mwh`` of electric load with that shape.
    """

    name: str
    type: Literal["efficiency", "electrification"]
    capex: float = Field(ge=0, description="cost at full size [currency]")
    om_per_year: float = Field(0.0, ge=0, description="O&M at full size [currency/yr]")
    lifetime_years: int = Field(15, ge=1, le=50, description="life [yr]: a share adopted in year v works in v .. v+L-1, "
                                "then must be adopted again (paid again) or its effect stops; life left after the horizon is salvage")
    annual_mwh: float = Field(ge=0, description="electricity saved (efficiency) or added (electrification) at full size [MWh/yr]")
    scope1_removed_tco2e: float = Field(0.0, ge=0, description="Scope 1 removed at full size [tCO2e/yr] (electrification)")
    shape: Literal["flat", "load", "daytime"] = Field(
        "load", description="hourly shape: flat, proportional to the site load, or 08-18 on every day"
    )
    available_from: int | None = Field(None, ge=1990, le=2100, description="first year it can be adopted; default the first planning year")
    max_fraction: float = Field(1.0, gt=0, le=1.0, description="largest share of the full size that can be adopted")
    source: str | None = None

    @model_validator(mode="after")
    def _effect(self) -> "Measure":
        if self.type == "efficiency" and self.scope1_removed_tco2e > 0:
            raise ValueError("an efficiency measure saves electricity; put Scope 1 removal on an electrification measure")
        if self.annual_mwh == 0 and self.scope1_removed_tco2e == 0:
            raise ValueError("a measure needs an effect: annual_mwh > 0 or scope1_removed_tco2e > 0")
        return self


class Site(_Model):
    """A production base."""

    name: str = Field(description="unique site name")
    latitude_deg: float = Field(ge=-90, le=90, description="latitude [deg north]")
    longitude_deg: float = Field(ge=-180, le=180, description="longitude [deg east]")
    altitude_m: float = Field(0.0, ge=-500, le=9000, description="altitude above sea level [m]")
    timezone: str = Field(description="IANA time zone, e.g. Asia/Shanghai")
    weather: Weather
    arrays: list[Array] = Field(default_factory=list)
    load: Load
    tariff: Tariff
    export: ExportPolicy = Field(default_factory=ExportPolicy)
    grid: GridConnection = Field(default_factory=GridConnection, description="import limit and demand charge")
    battery: BatteryOption | None = Field(None, description="a battery the plan may build")
    measures: list[Measure] = Field(default_factory=list, description="efficiency and electrification options")
    grid_ef_t_per_mwh: YearSeries = Field(description="location-based grid emission factor [tCO2/MWh] by year")
    residual_ef_t_per_mwh: YearSeries | None = Field(
        None, description="market-based residual-mix factor [tCO2/MWh]; defaults to grid_ef_t_per_mwh"
    )
    scope1_tco2e: YearSeries = Field(0.0, description="Scope 1 emissions [tCO2e] by year")
    notes: str | None = Field(None, description="free text: sources and assumptions")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as 'Asia/Shanghai', got '{v}'") from None
        return v

    @field_validator("grid_ef_t_per_mwh", "residual_ef_t_per_mwh")
    @classmethod
    def _ef(cls, v: YearSeries | None) -> YearSeries | None:
        return None if v is None else _check_series(v, lo=0.0, hi=2.0)

    @field_validator("scope1_tco2e")
    @classmethod
    def _s1(cls, v: YearSeries) -> YearSeries:
        return _check_series(v, lo=0.0)

    @model_validator(mode="after")
    def _unique(self) -> "Site":
        seen: set[str] = set()
        for a in self.arrays:
            if a.name in seen:
                raise ValueError(f"array name '{a.name}' is used twice; array names must be unique within a site")
            seen.add(a.name)
        return self

    def residual_ef(self, year: int) -> float:
        """Market-based residual factor [tCO2/MWh] of ``year``."""
        return series_value(self.residual_ef_t_per_mwh if self.residual_ef_t_per_mwh is not None else self.grid_ef_t_per_mwh, year)


# --------------------------------------------------------------------------- #
# Portfolio level
# --------------------------------------------------------------------------- #
class Planning(_Model):
    """The planning horizon and the discount rate."""

    first_year: int = Field(ge=2000, le=2100, description="first planning year (y0)")
    last_year: int = Field(ge=2000, le=2100, description="last planning year")
    baseline_year: int = Field(ge=1990, le=2100, description="year of the emissions baseline (before planning)")
    discount_rate: float = Field(0.06, ge=0, le=0.5, description="real discount rate [1/yr]")

    @model_validator(mode="after")
    def _order(self) -> "Planning":
        if self.last_year < self.first_year:
            raise ValueError(f"'last_year' ({self.last_year}) is before 'first_year' ({self.first_year})")
        if self.last_year - self.first_year > 60:
            raise ValueError("the planning horizon is longer than 60 years")
        if self.baseline_year > self.first_year:
            raise ValueError(f"'baseline_year' ({self.baseline_year}) must not be after 'first_year' ({self.first_year})")
        return self

    @property
    def years(self) -> list[int]:
        """The planning years, ``first_year`` to ``last_year``."""
        return list(range(self.first_year, self.last_year + 1))


class PVCosts(_Model):
    """PV installed cost and O&M by surface kind."""

    capex_per_kwp: dict[Literal["rooftop", "carport"], YearSeries] = Field(description="installed cost [currency/kWp] by kind and year")
    om_per_kwp_year: dict[Literal["rooftop", "carport"], YearSeries] = Field(description="O&M [currency/kWp/yr] by kind")
    lifetime_years: int = Field(25, ge=1, le=60, description="PV life [yr]: kWp built in year v work in v .. v+L-1 and existing kWp "
                                "until existing_year+L-1, then are rebuilt (a new build, paid again) or gone; life left after the "
                                "horizon is salvage")
    source: str | None = None

    @field_validator("capex_per_kwp", "om_per_kwp_year")
    @classmethod
    def _kinds(cls, v: dict) -> dict:
        missing = {"rooftop", "carport"} - set(v)
        if missing:
            raise ValueError(f"needs a value for every kind; missing {sorted(missing)}")
        for s in v.values():
            _check_series(s, lo=0.0)
        return v


class CertificateInstrument(_Model):
    """An energy attribute certificate (I-REC, GEC, ...): 1 certificate = 1 MWh."""

    name: str
    hourly_profile: Literal["flat", "solar"] = Field(
        "flat", description="when the certificates' generation happens, for hourly matching: flat (baseload) or solar"
    )
    price_per_mwh: YearSeries = Field(description="price [currency/MWh] by year")
    first_year: int = Field(description="first year it can be bought")
    last_year: int = Field(description="last year it can be bought")
    source: str | None = None

    @field_validator("price_per_mwh")
    @classmethod
    def _p(cls, v: YearSeries) -> YearSeries:
        return _check_series(v, lo=0.0)

    @model_validator(mode="after")
    def _yrs(self) -> "CertificateInstrument":
        if self.last_year < self.first_year:
            raise ValueError(f"'last_year' ({self.last_year}) is before 'first_year' ({self.first_year})")
        return self


class Offsets(_Model):
    """Offset credits the plan may buy."""

    price_per_tco2e: YearSeries = Field(description="offset credit price [currency/tCO2e]")
    source: str | None = None

    @field_validator("price_per_tco2e")
    @classmethod
    def _p(cls, v: YearSeries) -> YearSeries:
        return _check_series(v, lo=0.0)


class _Milestone(_Model):
    name: str = Field(description="unique milestone name, used in reports and error messages")
    description: str | None = None


class MinPortfolioKwp(_Milestone):
    """Installed PV across the portfolio at least ``kwp`` from ``year`` on."""

    type: Literal["min_portfolio_kwp"]
    year: int
    kwp: float = Field(gt=0, description="[kWp]")


class RooftopCoverage(_Milestone):
    """Every rooftop array at least ``fraction`` of its max kWp from ``year`` on."""

    type: Literal["rooftop_coverage"]
    year: int
    fraction: float = Field(1.0, gt=0, le=1)


class MinPvOnsite(_Milestone):
    """PV used onsite across the portfolio at least ``mwh`` per year from ``year`` on."""

    type: Literal["min_pv_onsite_mwh"]
    year: int
    mwh: float = Field(gt=0, description="[MWh/yr]")


class MinCertificates(_Milestone):
    """Certificates bought in ``year`` at least ``mwh`` (portfolio-wide)."""

    type: Literal["min_certificates_mwh"]
    year: int
    mwh: float = Field(gt=0, description="[MWh]; certificates cannot exceed the grid import, so the plan may curtail PV in "
                       "``year`` to import enough (every PV hour of that year stays free to do so)")


class EmissionsPeak(_Milestone):
    """Gross Scope 1+2 (market-based by default) non-increasing from ``year`` on.

    Rows ``gross[y+1] <= gross[y]`` for every ``y >= year``: a higher ``gross[y]`` loosens them,
    so the plan may curtail PV (import more) in ``year .. last-1`` when that is cheaper than
    cutting later emissions; the exact reductions keep those years' PV hours free to do so.
    """

    type: Literal["emissions_peak"]
    year: int
    scope2: Literal["market", "location"] = Field(
        "market", description="Scope 2 basis of the peak: market (certificates count) or location (grid factor; only PV, "
        "measures and curtailment move it). Either way the years year .. last-1 keep every PV hour free to curtail, "
        "so the reduced model equals the full hourly one"
    )


class Neutrality(_Milestone):
    """Scope 1 + market-based Scope 2 - offsets <= 0 from ``year`` on, portfolio-wide or for one ``site``."""

    type: Literal["neutrality"]
    year: int
    site: str | None = Field(None, description="a site name; portfolio-wide when omitted")


class OffsetCap(_Milestone):
    """Offsets each year at most ``share_of_baseline`` of baseline Scope 1+2."""

    type: Literal["offset_cap"]
    share_of_baseline: float = Field(ge=0, le=1)


class CapexBudget(_Milestone):
    """PV capex at most ``per_year`` [currency] in every planning year."""

    type: Literal["capex_budget"]
    per_year: float = Field(gt=0)


class BuildRate(_Milestone):
    """New PV at most ``kwp_per_year`` a year, portfolio-wide or for one ``site``."""

    type: Literal["build_rate"]
    kwp_per_year: float = Field(gt=0)
    site: str | None = None


Milestone = Annotated[
    Union[
        MinPortfolioKwp,
        RooftopCoverage,
        MinPvOnsite,
        MinCertificates,
        EmissionsPeak,
        Neutrality,
        OffsetCap,
        CapexBudget,
        BuildRate,
    ],
    Field(discriminator="type"),
]


class PortfolioSettings(_Model):
    """The content of ``portfolio.yaml``."""

    name: str
    currency: str = Field("CNY", description="ISO 4217 code; every price is in it")
    planning: Planning
    pv: PVCosts
    certificates: list[CertificateInstrument] = Field(default_factory=list)
    offsets: Offsets | None = None
    milestones: list[Milestone] = Field(default_factory=list)
    scope2_matching: Literal["annual", "hourly"] = Field(
        "annual",
        description="how certificates cover grid electricity: annual totals (GHG Protocol 2015) or hour by hour (2025 consultation proposal)",
    )
    notes: str | None = None

    # Field validators (not one model validator) so that errors carry the field path.
    @field_validator("milestones")
    @classmethod
    def _milestones(cls, v: list, info: ValidationInfo) -> list:
        years = info.data.get("planning")  # absent when 'planning' itself is invalid
        names: set[str] = set()
        for i, m in enumerate(v):
            if m.name in names:
                raise ValueError(f"milestone name '{m.name}' is used twice (again at milestones[{i}])")
            names.add(m.name)
            y = getattr(m, "year", None)
            if years is not None and y is not None and not years.first_year <= y <= years.last_year:
                raise ValueError(
                    f"milestone '{m.name}' (milestones[{i}]): year {y} is outside the planning horizon "
                    f"{years.first_year}-{years.last_year}"
                )
        return v

    @field_validator("certificates")
    @classmethod
    def _certificate_names(cls, v: list) -> list:
        cnames = [c.name for c in v]
        if len(set(cnames)) != len(cnames):
            raise ValueError(f"certificate names must be unique, got {cnames}")
        return v


class Portfolio(_Model):
    """A whole portfolio: settings plus sites, and the directory it came from."""

    settings: PortfolioSettings
    sites: list[Site]
    directory: Path

    @model_validator(mode="after")
    def _sites(self) -> "Portfolio":
        names = [s.name for s in self.sites]
        if len(set(names)) != len(names):
            raise ValueError(f"site names must be unique, got {names}")
        for m in self.settings.milestones:
            site = getattr(m, "site", None)
            if site is not None and site not in names:
                raise ValueError(f"milestone '{m.name}' names site '{site}', which is not in the portfolio (sites: {names})")
        return self

    @property
    def years(self) -> list[int]:
        """The planning years."""
        return self.settings.planning.years

    def site(self, name: str) -> Site:
        """Return the site called ``name``; ``KeyError`` if there is none."""
        for s in self.sites:
            if s.name == name:
                return s
        raise KeyError(name)
