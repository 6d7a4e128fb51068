"""Tests of pvopt.pv.weather: hour index, readers on real files, checks, synthetic year, normals."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest
from conftest import flat_tariff

from pvopt.pv import weather as W
from pvopt.errors import PortfolioError, WeatherError

PVLIB_DATA = Path(pvlib.__file__).parent / "data"
TMY3_FILES = ["723170TYA.CSV", "703165TY.csv"]  # Greensboro NC (UTC-5), Sand Point AK (UTC-9)

GHI_RTOL = 1e-9  # reading only relabels stamps; the annual sum must not change
MONTHLY_GHI_RTOL = 1e-6  # synthetic monthly totals equal the normals
CLOSURE_ATOL_W_M2 = 1.0  # ghi = dni cos(zenith) + dhi, hour by hour
SYNTHETIC_MAX_S = 2.0  # target 0.5 s; generous here so a slow CI machine does not fail the suite
NORMALS = ["wuxi", "suzhou", "changzhou", "nanjing", "shanghai"]
WUXI = dict(latitude_deg=31.49, longitude_deg=120.31, altitude_m=5.0, tz="Asia/Shanghai")


def _raw_tmy3_ghi_kwh_m2(path: Path) -> float:
    """Annual GHI straight from the CSV text, independent of pvlib and pvopt [kWh/m2]."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    col = rows[1].index("GHI (W/m^2)")
    return sum(float(r[col]) for r in rows[2:]) / 1000.0


def _good_frame() -> pd.DataFrame:
    return W.read_weather_file(PVLIB_DATA / "723170TYA.CSV")


# --------------------------------------------------------------------------- #
# hour index
# --------------------------------------------------------------------------- #
def test_hour_index_leap_year_drops_feb_29():
    idx = W.hour_index(2024, "Asia/Shanghai")
    assert len(idx) == 8760
    assert not ((idx.month == 2) & (idx.day == 29)).any()
    assert idx[0] == pd.Timestamp("2024-01-01 00:00", tz="Asia/Shanghai")
    assert idx[-1] == pd.Timestamp("2024-12-31 23:00", tz="Asia/Shanghai")


def test_hour_index_dst_is_consecutive_real_hours():
    idx = W.hour_index(W.NOMINAL_YEAR, "America/New_York")
    assert len(idx) == 8760
    steps = np.diff(idx.tz_convert("UTC").asi8)
    assert (steps == steps[0]).all()  # every step one real hour, across both DST changes
    assert idx.tz is not None
    assert pd.Timestamp(W.NOMINAL_YEAR, 1, 1).is_leap_year is False


# --------------------------------------------------------------------------- #
# readers on real files
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", TMY3_FILES)
def test_read_tmy3_real_file(name):
    path = PVLIB_DATA / name
    df = W.read_weather_file(path)
    assert len(df) == 8760
    assert df.index.tz is not None
    assert list(df.columns) == list(W.REQUIRED_COLUMNS)
    assert df.index[0].year == W.NOMINAL_YEAR and df.index[0].hour == 0 and df.index[0].day_of_year == 1
    assert df.attrs["format"] == "tmy3"
    assert df["ghi"].sum() / 1000.0 == pytest.approx(_raw_tmy3_ghi_kwh_m2(path), rel=GHI_RTOL)


def test_tmy3_hour_ending_is_shifted_to_hour_beginning():
    path = PVLIB_DATA / "723170TYA.CSV"
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    col = rows[1].index("GHI (W/m^2)")
    # the raw row "01/01/1988,13:00" holds the irradiance of 12:00-13:00
    raw = next(float(r[col]) for r in rows[2:] if r[0].startswith("01/01/") and r[1] == "13:00")
    df = W.read_weather_file(path)
    assert df["ghi"].iloc[12] == raw
    assert df.index[12].hour == 12


def _write_epw(df: pd.DataFrame, path: Path, tz_hours: float, lat: float, lon: float) -> None:
    """Write a minimal valid EPW (8 header lines, 35 fields a row) from a pvopt weather frame."""
    header = [
        f"LOCATION,Test,NC,USA,TMY3-derived,723170,{lat},{lon},{tz_hours},273.0",
        "DESIGN CONDITIONS,0",
        "TYPICAL/EXTREME PERIODS,0",
        "GROUND TEMPERATURES,0",
        "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0",
        "COMMENTS 1,written by the pvopt test suite from pvlib's 723170TYA.CSV",
        "COMMENTS 2,",
        "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31",
    ]
    lines = []
    for ts, r in df.iterrows():
        hour_ending = ts.hour + 1  # EPW hour 1..24 labels the end of the hour
        fields = [ts.year, ts.month, ts.day, hour_ending, 60, "?9?9?9?9E0?9?9?9?9?9?9?9?9?9?9?9?9?9?9?9*9*9?9?9?9",
                  r.temp_air, 5.0, 60, 101300, 0, 0, 300, r.ghi, r.dni, r.dhi, 0, 0, 0, 0, 180, r.wind_speed,
                  5, 5, 20.0, 77777, 9, 999999999, 10, 0.1, 0, 88, 0.2, 0, 0]
        assert len(fields) == 35
        lines.append(",".join(str(x) for x in fields))
    path.write_text("\n".join(header + lines) + "\n")


def test_epw_written_from_tmy3_reads_back(tmp_path):
    ref = _good_frame()
    p = tmp_path / "greensboro.epw"
    _write_epw(ref, p, -5.0, 36.1, -79.95)
    df = W.read_weather_file(p)
    assert df.attrs["format"] == "epw"
    assert len(df) == 8760 and df.index.tz is not None
    assert (df.index == ref.index).all()
    np.testing.assert_allclose(df[["ghi", "dni", "dhi"]].to_numpy(), ref[["ghi", "dni", "dhi"]].to_numpy())


# --------------------------------------------------------------------------- #
# bad weather
# --------------------------------------------------------------------------- #
def _expect(df: pd.DataFrame, *words: str) -> WeatherError:
    with pytest.raises(WeatherError) as ei:
        W.check_weather(df, "bad.csv")
    text = str(ei.value)
    assert "bad.csv" in text
    for w in words:
        assert w in text, text
    return ei.value


def test_truncated_year_is_refused():
    _expect(_good_frame().iloc[:-1], "expected 8760 hourly rows, got 8759")


def test_nan_is_refused_with_count_and_first_stamp():
    df = _good_frame()
    df.iloc[[100, 200], df.columns.get_loc("ghi")] = np.nan
    err = _expect(df, "2 NaN value(s) in column ghi", str(df.index[100]))
    assert err.issues[0].field == "ghi"


def test_negative_ghi_is_refused():
    df = _good_frame()
    df.iloc[3000, df.columns.get_loc("ghi")] = -5.0
    _expect(df, "negative", "ghi", ">= 0")


def test_ghi_above_1500_is_refused():
    df = _good_frame()
    df.iloc[3000, df.columns.get_loc("ghi")] = 9999.0
    _expect(df, "above 1500")


def test_naive_timestamps_are_refused():
    df = _good_frame()
    df.index = df.index.tz_localize(None)
    _expect(df, "naive")


def test_duplicated_hours_are_refused():
    df = _good_frame()
    idx = df.index.tolist()
    idx[5] = idx[4]
    df.index = pd.DatetimeIndex(idx)
    _expect(df, "duplicated")


def test_gap_is_refused():
    df = _good_frame()
    df = pd.concat([df.iloc[:100], df.iloc[101:], df.iloc[:1].set_axis(df.index[:1] + pd.Timedelta(days=365))])
    _expect(df, "missing hour")


def test_leap_year_8784_rows_drops_feb_29():
    idx = pd.date_range("2024-01-01", "2025-01-01", freq="h", inclusive="left", tz="Asia/Shanghai")
    assert len(idx) == 8784
    df = pd.DataFrame({c: 0.0 for c in W.REQUIRED_COLUMNS}, index=idx)
    out = W.check_weather(df, "leap.csv")
    assert len(out) == 8760
    assert not ((out.index.month == 2) & (out.index.day == 29)).any()
    assert "Feb 29" in out.attrs["repairs"][0]


def test_truncated_tmy3_file_reports_the_file(tmp_path):
    src = (PVLIB_DATA / "723170TYA.CSV").read_text().splitlines()
    p = tmp_path / "short.csv"
    p.write_text("\n".join(src[:-1]) + "\n")
    with pytest.raises(WeatherError) as ei:
        W.read_weather_file(p, "tmy3")
    assert "short.csv" in str(ei.value) and "got 8759" in str(ei.value)


def test_garbage_file_is_a_weather_error_not_a_traceback(tmp_path):
    p = tmp_path / "junk.epw"
    p.write_text("this is not an EPW file\n")
    with pytest.raises(WeatherError) as ei:
        W.read_weather_file(p)
    assert "junk.epw" in str(ei.value)


# --------------------------------------------------------------------------- #
# synthetic year and normals
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def wuxi_normals():
    return W.read_normals(W.normals_path("wuxi"))


def test_synthetic_year_is_deterministic(wuxi_normals):
    a = W.synthetic_year(wuxi_normals, seed=7, **WUXI)
    b = W.synthetic_year(wuxi_normals, seed=7, **WUXI)
    c = W.synthetic_year(wuxi_normals, seed=8, **WUXI)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["ghi"].to_numpy(), c["ghi"].to_numpy())
    assert a.attrs["weather_source"] == "synthetic"
    assert "SYNTHETIC" in a.attrs["weather_description"] and "wuxi" in a.attrs["weather_description"]


def test_synthetic_monthly_ghi_matches_normals(wuxi_normals):
    df = W.synthetic_year(wuxi_normals, seed=1, **WUXI)
    monthly = df["ghi"].groupby(df.index.month).sum() / 1000.0
    np.testing.assert_allclose(monthly.to_numpy(), wuxi_normals["ghi_kwh_m2"].to_numpy(), rtol=MONTHLY_GHI_RTOL)
    temp = df["temp_air"].groupby(df.index.month).mean()
    np.testing.assert_allclose(temp.to_numpy(), wuxi_normals["temp_air_c"].to_numpy(), atol=1e-9)


def test_synthetic_has_day_to_day_variability(wuxi_normals):
    df = W.synthetic_year(wuxi_normals, seed=1, **WUXI)
    daily = df["ghi"].resample("D").sum() / 1000.0
    july = daily[daily.index.month == 7]
    assert july.std() / july.mean() > 0.15  # not one clear-sky shape scaled by a constant


def test_synthetic_closure_and_night(wuxi_normals):
    df = W.synthetic_year(wuxi_normals, seed=3, **WUXI)
    mid = df.index + pd.Timedelta(minutes=30)
    sp = pvlib.solarposition.get_solarposition(mid, WUXI["latitude_deg"], WUXI["longitude_deg"], WUXI["altitude_m"])
    cosz = np.cos(np.radians(sp["zenith"].to_numpy()))
    recon = df["dni"].to_numpy() * cosz + df["dhi"].to_numpy()
    np.testing.assert_allclose(recon, df["ghi"].to_numpy(), atol=CLOSURE_ATOL_W_M2)
    night = sp["apparent_elevation"].to_numpy() <= 0
    assert night.sum() > 3000
    assert (df.loc[night, ["ghi", "dni", "dhi"]].to_numpy() == 0).all()
    assert (df[["ghi", "dni", "dhi"]].to_numpy() >= 0).all()
    W.check_weather(df, "synthetic")  # passes every check


def test_synthetic_year_is_fast(wuxi_normals):
    W.synthetic_year(wuxi_normals, seed=0, **WUXI)  # warm the Linke turbidity file cache
    t = time.perf_counter()
    W.synthetic_year(wuxi_normals, seed=0, **WUXI)
    assert time.perf_counter() - t < SYNTHETIC_MAX_S


def test_normals_brighter_than_clear_sky_are_refused(wuxi_normals):
    bright = wuxi_normals.copy()
    bright.loc[6, "ghi_kwh_m2"] = 390.0
    with pytest.raises(WeatherError, match="month 6"):
        W.synthetic_year(bright, seed=0, **WUXI)


# station normals (docs/sources.md S8): annual mean and year-to-year sd [kWh/m2] of the station each file uses
STATION_NORMALS = {
    "wuxi": ("Wuxi 58354", 1270.0, 63.0),
    "changzhou": ("Wuxi 58354", 1270.0, 63.0),  # no Changzhou station: Wuxi stands in
    "nanjing": ("Nanjing 58238", 1303.0, 57.0),
    "suzhou": ("Suzhou 58349", 1228.0, 75.0),
    "shanghai": ("Shanghai Baoshan 58362", 1208.0, 54.0),
}
STATION_ANNUAL_ATOL_KWH_M2 = 1.0  # the 12 rounded monthly means sum to the station's annual mean within this


@pytest.mark.parametrize("name", NORMALS)
def test_shipped_normals_are_station_normals(name):
    df = W.read_normals(W.normals_path(name))
    station, annual, sd = STATION_NORMALS[name]
    assert df.attrs["label"].startswith(f"station normals CSRDD {station}, 1991-2017")
    assert df["ghi_kwh_m2"].sum() == pytest.approx(annual, abs=STATION_ANNUAL_ATOL_KWH_M2)
    assert df.attrs["ghi_annual_sd_kwh_m2"] == sd
    assert 0.04 <= sd / annual <= 0.065  # the stations' year-to-year spread, 4-6 % of the annual total
    assert "docs/sources.md S8" in df.attrs["source"] and "reanalysis-grade" in df.attrs["source"]
    if name == "changzhou":
        assert "stands in" in df.attrs["source"]
    if name == "shanghai":
        assert "Xujiahui" in df.attrs["source"]  # the choice is explained


def test_normals_header_sd_is_checked_and_optional(tmp_path):
    text = W.normals_path("wuxi").read_text()
    p = tmp_path / "nosd.csv"
    p.write_text("\n".join(ln for ln in text.splitlines() if "ghi_annual_sd_kwh_m2:" not in ln and "label:" not in ln) + "\n")
    df = W.read_normals(p)
    assert "ghi_annual_sd_kwh_m2" not in df.attrs and "label" not in df.attrs
    bad = tmp_path / "badsd.csv"
    bad.write_text(text.replace("# ghi_annual_sd_kwh_m2: 63", "# ghi_annual_sd_kwh_m2: lots"))
    with pytest.raises(WeatherError) as ei:
        W.read_normals(bad)
    assert ei.value.issues[0].field == "# ghi_annual_sd_kwh_m2" and "badsd.csv" in str(ei.value)


def test_synthetic_description_has_label_and_no_machine_path(wuxi_normals):
    a = W.synthetic_year(wuxi_normals, seed=1, **WUXI)
    d = a.attrs["weather_description"]
    assert W.weather_label(d) == "station normals CSRDD Wuxi 58354, 1991-2017, synthetic hourly year"
    assert "weather/normals/wuxi.csv" in d and str(W.normals_path("wuxi").resolve()) not in d


@pytest.mark.parametrize("name", NORMALS)
def test_shipped_normals_read_and_cite_sources(name):
    df = W.read_normals(W.normals_path(name))
    assert list(df.index) == list(range(1, 13))
    src = df.attrs["source"]
    assert "ghi_kwh_m2" in src and "temp_air_c" in src and "wind_speed_m_s" in src
    assert "ASSUMPTION" in src  # the assumed columns say so
    assert 1000 < df["ghi_kwh_m2"].sum() < 1800


def test_missing_normals_lists_available(monkeypatch, tmp_path):
    with pytest.raises(PortfolioError) as ei:
        W.normals_path("atlantis")
    assert "wuxi" in str(ei.value) and "atlantis" in str(ei.value)
    (tmp_path / "normals").mkdir()
    (tmp_path / "normals" / "mine.csv").write_text((W.normals_path("wuxi")).read_text())
    monkeypatch.setenv("PVOPT_WEATHER_DIR", str(tmp_path))
    assert W.normals_path("mine") == tmp_path / "normals" / "mine.csv"
    with pytest.raises(PortfolioError, match="mine"):
        W.normals_path("wuxi")


def test_bad_normals_file_names_field(tmp_path):
    text = W.normals_path("wuxi").read_text().replace("\n6,", "\n6x,")
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(WeatherError) as ei:
        W.read_normals(p)
    assert ei.value.issues[0].field == "month" and "bad.csv" in str(ei.value)


# --------------------------------------------------------------------------- #
# site dispatch
# --------------------------------------------------------------------------- #
def _site(weather, tz="America/New_York", lat=36.1, lon=-79.95):
    from pvopt.inputs.schema import Load, Site

    return Site(
        name="s",
        latitude_deg=lat,
        longitude_deg=lon,
        timezone=tz,
        weather=weather,
        load=Load(annual_mwh=100, base_year=2024),
        tariff=flat_tariff(),
        grid_ef_t_per_mwh=0.55,
    )


def test_site_weather_from_file_in_dst_zone(tmp_path):
    from pvopt.inputs.schema import Weather

    (tmp_path / "w.csv").write_bytes((PVLIB_DATA / "723170TYA.CSV").read_bytes())
    site = _site(Weather(source="file", path="w.csv"))
    df = W.site_weather(site, tmp_path)
    assert (df.index == W.hour_index(W.NOMINAL_YEAR, "America/New_York")).all()
    assert df.attrs["weather_source"] == "file" and "w.csv" in df.attrs["weather_description"]
    assert df["ghi"].sum() / 1000 == pytest.approx(_raw_tmy3_ghi_kwh_m2(PVLIB_DATA / "723170TYA.CSV"), rel=GHI_RTOL)
    # in July (EDT, UTC-4) local noon is 11:00 standard time: the hour at 12:00 EDT holds the file's 11:00-12:00 value
    raw = _good_frame()
    assert df.loc[f"{W.NOMINAL_YEAR}-07-01 12:00", "ghi"] == raw.loc[f"{W.NOMINAL_YEAR}-07-01 11:00", "ghi"]


def test_site_weather_refuses_file_from_another_zone(tmp_path):
    from pvopt.inputs.schema import Weather

    (tmp_path / "w.csv").write_bytes((PVLIB_DATA / "723170TYA.CSV").read_bytes())
    with pytest.raises(WeatherError, match="UTC-5"):
        W.site_weather(_site(Weather(source="file", path="w.csv"), tz="Asia/Shanghai", lat=31.5, lon=120.3), tmp_path)


def test_site_weather_synthetic():
    from pvopt.inputs.schema import Weather

    site = _site(Weather(source="synthetic", normals="shanghai"), tz="Asia/Shanghai", lat=31.23, lon=121.47)
    df = W.site_weather(site, Path("."))
    assert len(df) == 8760 and str(df.index.tz) == "Asia/Shanghai"
    assert df.attrs["weather_source"] == "synthetic"


def test_weather_module_does_not_import_pyomo():
    code = "import sys, pvopt.pv.weather, pvopt.pv.yields; sys.exit(1 if any(m.startswith('pyomo') for m in sys.modules) else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
