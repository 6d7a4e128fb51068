"""pvopt's yield against NREL PVWatts v8 (run through nrel-pysam) on pvlib's shipped TMY3 files.

The pvopt side goes through :func:`pvopt.pv.yields.simulate_yield` on a portfolio
built from the schema (weather files read by pvopt's own reader, arrays with the
schema's defaults), the path the planner uses. The PVWatts side reads the same
TMY3 file itself (SAM's own reader) with the same system: 14 % losses, DC/AC
1.2, 96 % inverter, standard module, albedo 0.2, and for the rack case an open
rack with ground coverage ratio 0.4.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest
from conftest import flat_tariff

import PySAM.Pvwattsv8 as pvwattsv8  # test dependency (the `test` extra): a missing install fails, never skips

from pvopt.inputs.schema import (
    Array,
    Load,
    Planning,
    Portfolio,
    PortfolioSettings,
    PVCosts,
    Site,
    Weather,
)
from pvopt.pv import yields as pvyield

PVLIB_DATA = Path(pvlib.__file__).parent / "data"

ANNUAL_RTOL = 0.03
"""Largest accepted annual deviation from PVWatts v8 [-]."""

MONTHLY_RTOL = 0.06
"""Largest accepted deviation from PVWatts v8 in a month that holds at least MONTH_SHARE_MIN of the year's energy [-]."""

MONTH_SHARE_MIN = 0.05
"""Months below this share of the annual PVWatts energy are not held to MONTHLY_RTOL (few kWh, large relative noise)."""

HOURLY_CORRELATION_MIN = 0.99
"""Smallest accepted correlation of the 8760 hourly values (about 0.9999 when aligned; a one-hour shift drops it to 0.89-0.92)."""

PVWATTS_SYSTEM_KW = 1000.0
"""PVWatts system size [kW DC]: large, so that its row self-shading sees many long rows, as pvopt's infinite rows do."""

ALBEDO = 0.2
GCR = 0.4
LOSSES_PCT = 14.0
DC_AC_RATIO = 1.2
INVERTER_EFFICIENCY_PCT = 96.0


@dataclass(frozen=True)
class Station:
    """A TMY3 file shipped with pvlib and the site pvopt builds for it."""

    name: str
    file: str
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    timezone: str  # the file's standard time, so that pvopt's hours are PVWatts' hours


@dataclass(frozen=True)
class Case:
    """One array, as pvopt describes it and as PVWatts does (array_type 0 = open rack, 1 = roof mount)."""

    name: str
    kind: str
    tilt_deg: float
    azimuth_deg: float
    pvwatts_array_type: int
    gcr: float | None


STATIONS = [
    Station("greensboro", "723170TYA.CSV", 36.1, -79.95, 273.0, "Etc/GMT+5"),
    Station("sandpoint", "703165TY.csv", 55.317, -160.517, 7.0, "Etc/GMT+9"),
]
CASES = [
    Case("roof-10s", "rooftop", 10.0, 180.0, 1, None),  # rooftop default: close_mount -> pvwatts_roof (NOCT 49 C)
    Case("rack-25s", "carport", 25.0, 180.0, 0, GCR),  # carport default: open_rack -> pvwatts_rack (NOCT 45 C), rows at GCR
    Case("roof-5e", "rooftop", 5.0, 90.0, 1, None),
]


def _pvwatts_hourly_kw_per_kwp(tmy3: Path, case: Case) -> np.ndarray:
    """Hourly AC kW per kWp DC of PVWatts v8 on the TMY3 file (hour-beginning, the file's standard time)."""
    m = pvwattsv8.new()
    m.SolarResource.solar_resource_file = str(tmy3)
    m.SolarResource.albedo = [ALBEDO]  # overrides the file's own albedo column, as pvopt does not read it
    sd = m.SystemDesign
    sd.system_capacity = PVWATTS_SYSTEM_KW
    sd.module_type = 0  # standard: -0.37 %/C, AR glass
    sd.array_type = case.pvwatts_array_type
    sd.tilt = case.tilt_deg
    sd.azimuth = case.azimuth_deg
    sd.gcr = case.gcr if case.gcr is not None else GCR  # unused by PVWatts for roof mounts
    sd.losses = LOSSES_PCT
    sd.dc_ac_ratio = DC_AC_RATIO
    sd.inv_eff = INVERTER_EFFICIENCY_PCT
    sd.bifaciality = 0.0
    m.execute(0)
    gen = np.asarray(m.Outputs.gen, dtype=float)
    assert len(gen) == 8760
    return gen / PVWATTS_SYSTEM_KW


def _site(st: Station, path: str) -> Site:
    return Site(
        name=st.name,
        latitude_deg=st.latitude_deg,
        longitude_deg=st.longitude_deg,
        altitude_m=st.altitude_m,
        timezone=st.timezone,
        weather=Weather(source="file", path=path, format="tmy3"),
        arrays=[
            Array(
                name=c.name,
                kind=c.kind,
                max_kwp=100,
                tilt_deg=c.tilt_deg,
                azimuth_deg=c.azimuth_deg,
                gcr=c.gcr,
                albedo=ALBEDO,
                losses_pct=LOSSES_PCT,
                dc_ac_ratio=DC_AC_RATIO,
                inverter_efficiency_pct=INVERTER_EFFICIENCY_PCT,
            )
            for c in CASES
        ],
        load=Load(annual_mwh=1000, base_year=2024),
        tariff=flat_tariff(0.1),
        grid_ef_t_per_mwh=0.4,
    )


@pytest.fixture(scope="module")
def comparison(tmp_path_factory) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(station, case) -> (pvopt hourly kW/kWp, PVWatts hourly kW/kWp); one pvopt run for all arrays."""
    d = tmp_path_factory.mktemp("pvwatts")
    for st in STATIONS:
        shutil.copyfile(PVLIB_DATA / st.file, d / st.file)
    settings = PortfolioSettings(
        name="pvwatts-check",
        planning=Planning(first_year=2025, last_year=2026, baseline_year=2024),
        pv=PVCosts(capex_per_kwp={"rooftop": 1000, "carport": 1500}, om_per_kwp_year={"rooftop": 10, "carport": 15}),
    )
    pf = Portfolio(settings=settings, sites=[_site(st, st.file) for st in STATIONS], directory=d)
    ds = pvyield.simulate_yield(pf)
    out = {}
    for st in STATIONS:
        for c in CASES:
            ours = ds["yield_kw_per_kwp"].sel(array=f"{st.name}/{c.name}").values
            out[(st.name, c.name)] = (ours, _pvwatts_hourly_kw_per_kwp(PVLIB_DATA / st.file, c))
    return out


def _monthly(hourly: np.ndarray) -> np.ndarray:
    months = pd.date_range("2019-01-01", periods=8760, freq="h").month  # a non-leap year, as both sides use
    return pd.Series(hourly).groupby(np.asarray(months)).sum().to_numpy()


PAIRS = [(st.name, c.name) for st in STATIONS for c in CASES]


def test_rooftop_and_carport_defaults_are_the_pvwatts_mounts():
    roof = Array(name="r", kind="rooftop", max_kwp=1, tilt_deg=10, azimuth_deg=180)
    car = Array(name="c", kind="carport", max_kwp=1, tilt_deg=10, azimuth_deg=180)
    assert roof.temperature_model_value == "pvwatts_roof"
    assert car.temperature_model_value == "pvwatts_rack"
    assert pvyield.TEMPERATURE_MODELS["pvwatts_roof"][1]["noct"] == 49.0  # PVWatts v8 fixed roof mount
    assert pvyield.TEMPERATURE_MODELS["pvwatts_rack"][1]["noct"] == 45.0  # PVWatts v8 every other array type


@pytest.mark.parametrize("station,case", PAIRS)
def test_annual_yield_matches_pvwatts(comparison, station, case):
    ours, ref = comparison[(station, case)]
    assert ours.sum() == pytest.approx(ref.sum(), rel=ANNUAL_RTOL), f"pvopt {ours.sum():.1f} vs PVWatts v8 {ref.sum():.1f} kWh/kWp"


@pytest.mark.parametrize("station,case", PAIRS)
def test_monthly_yield_matches_pvwatts(comparison, station, case):
    ours, ref = comparison[(station, case)]
    m_ours, m_ref = _monthly(ours), _monthly(ref)
    held = m_ref >= MONTH_SHARE_MIN * m_ref.sum()
    assert held.sum() >= 6  # the check covers most of the year
    dev = m_ours[held] / m_ref[held] - 1.0
    worst = int(np.argmax(np.abs(dev)))
    assert np.all(np.abs(dev) <= MONTHLY_RTOL), f"month {np.flatnonzero(held)[worst] + 1}: {100 * dev[worst]:+.1f} %"


@pytest.mark.parametrize("station,case", PAIRS)
def test_hourly_profile_aligned_with_pvwatts(comparison, station, case):
    ours, ref = comparison[(station, case)]
    assert np.corrcoef(ours, ref)[0, 1] >= HOURLY_CORRELATION_MIN
    assert ours.max() <= 1.0 / DC_AC_RATIO + 1e-9 and ref.max() <= 1.0 / DC_AC_RATIO + 1e-6
