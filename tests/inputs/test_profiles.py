"""Hourly load and price profiles: calendar, scaling, growth, TOU mapping, CSV rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pvopt.inputs.schema import Site
from pvopt.errors import PortfolioError
from pvopt.inputs.profiles import (
    HOURS_PER_YEAR,
    export_price_per_kwh,
    growth_factor,
    import_price_per_kwh,
    load_profile_kw,
    local_hours,
    tou_period_labels,
)

SUM_RTOL = 1e-12  # annual sums are exact up to float rounding
PRICE_ABS = 1e-12  # [currency/kWh]
RATIO_RTOL = 1e-12

PEAK, FLAT, VALLEY = 1.0358, 0.739, 0.4634
JIANGSU_TOU = {
    "type": "tou",
    "prices_per_kwh": {"peak": PEAK, "flat": FLAT, "valley": VALLEY},
    "seasons": [
        {
            "name": "summer-winter",
            "months": [6, 7, 8, 12, 1, 2],
            "windows": [
                {"period": "valley", "start_hour": 0, "end_hour": 6},
                {"period": "flat", "start_hour": 6, "end_hour": 11},
                {"period": "valley", "start_hour": 11, "end_hour": 13},
                {"period": "flat", "start_hour": 13, "end_hour": 14},
                {"period": "peak", "start_hour": 14, "end_hour": 22},
                {"period": "flat", "start_hour": 22, "end_hour": 24},
            ],
        },
        {
            "name": "spring-autumn",
            "months": [3, 4, 5, 9, 10, 11],
            "windows": [
                {"period": "valley", "start_hour": 2, "end_hour": 6},
                {"period": "flat", "start_hour": 6, "end_hour": 10},
                {"period": "valley", "start_hour": 10, "end_hour": 14},
                {"period": "flat", "start_hour": 14, "end_hour": 15},
                {"period": "peak", "start_hour": 15, "end_hour": 22},
                {"period": "flat", "start_hour": 22, "end_hour": 2},
            ],
        },
    ],
}

SHIFT = {
    "type": "shift",
    "shift_start_hour": 8,
    "shift_end_hour": 24,
    "working_days": [0, 1, 2, 3, 4, 5],
    "base_load_fraction": 0.3,
    "weekend_fraction": 0.4,
    "holidays": "CN",
    "holiday_fraction": 0.25,
}


def make_site(*, load: dict | None = None, tariff: dict | None = None, export: dict | None = None) -> Site:
    raw = {
        "name": "t",
        "latitude_deg": 31.5,
        "longitude_deg": 120.3,
        "timezone": "Asia/Shanghai",
        "weather": {"source": "synthetic", "normals": "wuxi"},
        "load": load or {"annual_mwh": 8760.0, "base_year": 2025, "profile": SHIFT},
        "tariff": tariff or JIANGSU_TOU,
        "grid_ef_t_per_mwh": 0.5827,
    }
    if export is not None:
        raw["export"] = export
    return Site.model_validate(raw)


def t_of(stamp: str) -> int:
    """Hour-of-year index of a local wall-clock stamp."""
    ts = pd.Timestamp(stamp)
    return int(local_hours(ts.year).get_loc(ts))


# --------------------------------------------------------------------------- #
# Hour grid
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("year", [2023, 2024, 2100])
def test_local_hours_is_8760_without_feb29(year):
    idx = local_hours(year)
    assert len(idx) == HOURS_PER_YEAR
    assert not ((idx.month == 2) & (idx.day == 29)).any()
    assert str(idx[0]) == f"{year}-01-01 00:00:00" and str(idx[-1]) == f"{year}-12-31 23:00:00"
    gaps = (idx[1:] - idx[:-1]) != pd.Timedelta(hours=1)
    assert int(gaps.sum()) == (1 if year == 2024 else 0)  # only the dropped Feb 29 (2100 is not a leap year)


def test_local_hours_matches_weather_hour_index_in_china():
    weather = pytest.importorskip("pvopt.pv.weather")
    for year in (2024, 2025):
        ref = weather.hour_index(year, "Asia/Shanghai").tz_localize(None)
        assert (local_hours(year) == ref).all()


# --------------------------------------------------------------------------- #
# Shift profile
# --------------------------------------------------------------------------- #
def test_shift_profile_day_types_2025():
    site = make_site()
    kw = load_profile_kw(site, 2025, ".")
    level = kw[t_of("2025-07-16 10:00")]  # Wednesday, in shift
    assert kw[t_of("2025-07-16 07:00")] / level == pytest.approx(0.3, rel=RATIO_RTOL)  # before the shift
    assert kw[t_of("2025-07-16 23:00")] / level == pytest.approx(1.0, rel=RATIO_RTOL)  # last shift hour
    assert kw[t_of("2025-07-19 12:00")] / level == pytest.approx(1.0, rel=RATIO_RTOL)  # Saturday is a working day here
    assert kw[t_of("2025-07-20 12:00")] / level == pytest.approx(0.4, rel=RATIO_RTOL)  # Sunday
    assert kw[t_of("2025-07-20 03:00")] / level == pytest.approx(0.4, rel=RATIO_RTOL)
    assert kw[t_of("2025-10-01 12:00")] / level == pytest.approx(0.25, rel=RATIO_RTOL)  # National Day (Wednesday)
    assert kw[t_of("2025-01-29 12:00")] / level == pytest.approx(0.25, rel=RATIO_RTOL)  # Spring Festival


def test_holidays_can_be_switched_off():
    site = make_site(load={"annual_mwh": 1000, "base_year": 2025, "profile": {**SHIFT, "holidays": None}})
    kw = load_profile_kw(site, 2025, ".")
    assert kw[t_of("2025-10-01 12:00")] == pytest.approx(kw[t_of("2025-10-08 12:00")], rel=RATIO_RTOL)


def test_holidays_follow_the_calendar_year():
    site = make_site()
    kw24 = load_profile_kw(site, 2024, ".")
    kw25 = load_profile_kw(site, 2025, ".")
    # 2024-02-10 is Spring Festival (a Saturday, a working day in this pattern); 2025-02-10 is a plain Monday
    assert kw24[t_of("2024-02-10 12:00")] / kw24[t_of("2024-02-21 12:00")] == pytest.approx(0.25, rel=RATIO_RTOL)
    assert kw25[t_of("2025-02-10 12:00")] / kw25[t_of("2025-02-11 12:00")] == pytest.approx(1.0, rel=RATIO_RTOL)


@pytest.mark.parametrize("year", [2023, 2024, 2025, 2030])
def test_annual_sum_equals_annual_mwh_times_growth(year):
    load = {"annual_mwh": 12000.0, "base_year": 2023, "growth_pct_per_year": 4.0, "profile": SHIFT}
    site = make_site(load=load)
    kw = load_profile_kw(site, year, ".")
    assert kw.shape == (HOURS_PER_YEAR,)
    assert (kw > 0).all()
    assert kw.sum() == pytest.approx(12000.0 * 1000.0 * 1.04 ** (year - 2023), rel=SUM_RTOL)


def test_growth_compounds_year_by_year_with_a_series():
    site = make_site(load={"annual_mwh": 100.0, "base_year": 2023, "growth_pct_per_year": {2024: 10.0, 2026: 0.0}})
    ld = site.load
    # growth of 2024 = 10 %, 2025 = 5 % (interpolated), 2026 on = 0 %
    assert growth_factor(ld, 2023) == 1.0
    assert growth_factor(ld, 2024) == pytest.approx(1.10, rel=SUM_RTOL)
    assert growth_factor(ld, 2025) == pytest.approx(1.10 * 1.05, rel=SUM_RTOL)
    assert growth_factor(ld, 2030) == pytest.approx(1.10 * 1.05, rel=SUM_RTOL)
    assert growth_factor(ld, 2022) == pytest.approx(1 / 1.10, rel=SUM_RTOL)  # growth of 2023 held at 10 %
    kw = load_profile_kw(site, 2025, ".")
    assert kw.sum() == pytest.approx(100.0 * 1000 * 1.10 * 1.05, rel=SUM_RTOL)


def test_negative_growth_discounts():
    site = make_site(load={"annual_mwh": 100.0, "base_year": 2025, "growth_pct_per_year": -2.0})
    assert growth_factor(site.load, 2027) == pytest.approx(0.98**2, rel=SUM_RTOL)
    assert growth_factor(site.load, 2024) == pytest.approx(1 / 0.98, rel=SUM_RTOL)


def test_leap_year_profile_is_8760_and_skips_feb29():
    site = make_site()
    kw = load_profile_kw(site, 2024, ".")
    assert kw.shape == (HOURS_PER_YEAR,)
    # t = 1416 is 2024-03-01 00:00 (a Friday): hour 12 of that day is in shift, level 1
    t = 59 * 24 + 12
    assert local_hours(2024)[t] == pd.Timestamp("2024-03-01 12:00")
    level = kw[t_of("2024-03-05 12:00")]  # Tuesday
    assert kw[t] == pytest.approx(level, rel=RATIO_RTOL)
    assert kw[t_of("2024-03-03 12:00")] / level == pytest.approx(0.4, rel=RATIO_RTOL)  # Sunday


# --------------------------------------------------------------------------- #
# CSV load profile
# --------------------------------------------------------------------------- #
def _write_csv(path: Path, values, column: str = "load_kw") -> None:
    pd.DataFrame({"hour": range(len(values)), column: values}).to_csv(path, index=False)


def test_csv_profile_scaled(tmp_path):
    shape = 1.0 + (np.arange(HOURS_PER_YEAR) % 24 >= 8)
    _write_csv(tmp_path / "load.csv", shape)
    site = make_site(load={"annual_mwh": 500.0, "base_year": 2025, "profile": {"type": "csv", "path": "load.csv"}})
    kw = load_profile_kw(site, 2026, tmp_path)
    assert kw.sum() == pytest.approx(500e3, rel=SUM_RTOL)
    assert kw[9] / kw[3] == pytest.approx(2.0, rel=RATIO_RTOL)


def test_csv_profile_8784_rows_drops_feb29(tmp_path):
    values = np.ones(8784)
    values[59 * 24 : 60 * 24] = 99.0  # Feb 29 of a leap-year file
    _write_csv(tmp_path / "leap.csv", values)
    site = make_site(load={"annual_mwh": 8.76, "base_year": 2025, "profile": {"type": "csv", "path": "leap.csv"}})
    kw = load_profile_kw(site, 2025, tmp_path)
    assert kw.shape == (HOURS_PER_YEAR,)
    assert np.allclose(kw, 1.0, rtol=RATIO_RTOL)  # no 99 left


def test_csv_cache_sees_a_rewritten_file(tmp_path):
    import os

    p = tmp_path / "load.csv"
    _write_csv(p, np.ones(HOURS_PER_YEAR))
    site = make_site(load={"annual_mwh": 8.76, "base_year": 2025, "profile": {"type": "csv", "path": "load.csv"}})
    first = load_profile_kw(site, 2025, tmp_path)
    values = np.ones(HOURS_PER_YEAR)
    values[0] = 2.0
    _write_csv(p, values)
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    second = load_profile_kw(site, 2025, tmp_path)
    assert second[0] / second[1] == pytest.approx(2.0) and first[0] == pytest.approx(first[1])


@pytest.mark.parametrize(
    ("values", "expect"),
    [
        (np.r_[np.ones(100), np.nan, np.ones(HOURS_PER_YEAR - 101)], "empty/NaN in row 101"),
        (np.r_[np.ones(5), -3.0, np.ones(HOURS_PER_YEAR - 6)], "negative values in row 6 (first: -3.0)"),
        (np.ones(8700), "expected 8760 hourly rows (or 8784 for a leap year), got 8700"),
        (np.array(["x"] + ["1"] * (HOURS_PER_YEAR - 1), dtype=object), "non-numeric text in row 1"),
    ],
    ids=["nan", "negative", "length", "text"],
)
def test_csv_profile_errors_name_file_column_and_row(tmp_path, values, expect):
    _write_csv(tmp_path / "bad.csv", values, column="kw")
    site = make_site(load={"annual_mwh": 1.0, "base_year": 2025, "profile": {"type": "csv", "path": "bad.csv", "column": "kw"}})
    with pytest.raises(PortfolioError) as exc:
        load_profile_kw(site, 2025, tmp_path)
    (issue,) = exc.value.issues
    assert Path(issue.file).name == "bad.csv"
    assert issue.field == "column 'kw'"
    assert expect in issue.message


def test_csv_profile_missing_column(tmp_path):
    _write_csv(tmp_path / "load.csv", np.ones(HOURS_PER_YEAR), column="demand")
    site = make_site(load={"annual_mwh": 1.0, "base_year": 2025, "profile": {"type": "csv", "path": "load.csv"}})
    with pytest.raises(PortfolioError) as exc:
        load_profile_kw(site, 2025, tmp_path)
    assert "no such column" in exc.value.issues[0].message and "'demand'" in exc.value.issues[0].message


def test_csv_profile_outside_portfolio_refused(tmp_path):
    (tmp_path / "p").mkdir()
    _write_csv(tmp_path / "load.csv", np.ones(HOURS_PER_YEAR))
    site = make_site(load={"annual_mwh": 1.0, "base_year": 2025, "profile": {"type": "csv", "path": "../load.csv"}})
    with pytest.raises(PortfolioError, match="leaves the portfolio directory"):
        load_profile_kw(site, 2025, tmp_path / "p")


def test_all_zero_shape_refused(tmp_path):
    _write_csv(tmp_path / "zero.csv", np.zeros(HOURS_PER_YEAR))
    site = make_site(load={"annual_mwh": 1.0, "base_year": 2025, "profile": {"type": "csv", "path": "zero.csv"}})
    with pytest.raises(PortfolioError, match="zero in every hour"):
        load_profile_kw(site, 2025, tmp_path)


# --------------------------------------------------------------------------- #
# Tariffs
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("stamp", "period", "price"),
    [
        ("2025-07-15 12:00", "valley", VALLEY),
        ("2025-07-15 15:00", "peak", PEAK),
        ("2025-07-15 13:00", "flat", FLAT),
        ("2025-07-15 22:00", "flat", FLAT),
        ("2025-07-15 05:00", "valley", VALLEY),
        ("2025-12-31 21:00", "peak", PEAK),
        ("2025-04-15 12:00", "valley", VALLEY),
        ("2025-04-15 02:00", "valley", VALLEY),
        ("2025-04-15 23:00", "flat", FLAT),
        ("2025-04-15 01:00", "flat", FLAT),
        ("2025-04-15 14:00", "flat", FLAT),
        ("2025-04-15 15:00", "peak", PEAK),
        ("2025-04-15 10:00", "valley", VALLEY),
        ("2025-09-01 09:00", "flat", FLAT),
    ],
)
def test_tou_mapping(stamp, period, price):
    site = make_site()
    t = t_of(stamp)
    assert tou_period_labels(site, 2025)[t] == period
    assert import_price_per_kwh(site, 2025, 2025, ".")[t] == pytest.approx(price, abs=PRICE_ABS)


def test_tou_escalation_from_base_year():
    site = make_site(tariff={**JIANGSU_TOU, "escalation_pct_per_year": 3.0, "base_year": 2025})
    p25 = import_price_per_kwh(site, 2025, 2024, ".")
    p27 = import_price_per_kwh(site, 2027, 2024, ".")
    p24 = import_price_per_kwh(site, 2024, 2024, ".")
    t = t_of("2025-07-15 15:00")
    assert p25[t] == pytest.approx(PEAK, abs=PRICE_ABS)
    assert p27[t_of("2027-07-15 15:00")] == pytest.approx(PEAK * 1.03**2, rel=SUM_RTOL)
    assert p24[t_of("2024-07-15 15:00")] == pytest.approx(PEAK / 1.03, rel=SUM_RTOL)


def test_tou_escalation_base_defaults_to_first_year():
    site = make_site(tariff={**JIANGSU_TOU, "escalation_pct_per_year": 2.0})
    p = import_price_per_kwh(site, 2026, 2024, ".")
    assert p.min() == pytest.approx(VALLEY * 1.02**2, rel=SUM_RTOL)
    assert p.max() == pytest.approx(PEAK * 1.02**2, rel=SUM_RTOL)


def test_hourly_price_file(tmp_path):
    prices = np.where(np.arange(HOURS_PER_YEAR) % 24 < 8, 0.3, 0.8)
    _write_csv(tmp_path / "price.csv", prices, column="price_per_kwh")
    site = make_site(tariff={"type": "hourly_file", "path": "price.csv", "escalation_pct_per_year": 10.0, "base_year": 2025})
    p = import_price_per_kwh(site, 2026, 2024, tmp_path)
    assert p[3] == pytest.approx(0.33, rel=SUM_RTOL) and p[12] == pytest.approx(0.88, rel=SUM_RTOL)
    assert (tou_period_labels(site, 2026) == "hourly").all()


def test_hourly_price_file_negative_refused(tmp_path):
    prices = np.full(HOURS_PER_YEAR, 0.5)
    prices[4000] = -0.01
    _write_csv(tmp_path / "price.csv", prices, column="price_per_kwh")
    site = make_site(tariff={"type": "hourly_file", "path": "price.csv"})
    with pytest.raises(PortfolioError) as exc:
        import_price_per_kwh(site, 2025, 2025, tmp_path)
    (issue,) = exc.value.issues
    assert Path(issue.file).name == "price.csv" and issue.field == "column 'price_per_kwh'"
    assert "negative values in row 4001" in issue.message


def test_export_prices():
    zero = make_site()
    assert (export_price_per_kwh(zero, 2030) == 0).all()
    surplus = make_site(export={"policy": "surplus", "price_per_kwh": {2025: 0.391, 2035: 0.291}})
    p = export_price_per_kwh(surplus, 2030)
    assert p.shape == (HOURS_PER_YEAR,)
    assert p == pytest.approx(np.full(HOURS_PER_YEAR, 0.341), abs=PRICE_ABS)


def test_profiles_module_stays_in_the_inputs_layer():
    import ast
    import pvopt.inputs.profiles as mod

    tree = ast.parse(Path(mod.__file__).read_text(encoding="utf-8"))
    imported = {n.names[0].name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"pvlib", "pyomo"}


def test_example_site_profiles(lead_portfolio):
    """Every example site yields full, finite hourly arrays for every planning year."""
    first = lead_portfolio.settings.planning.first_year
    for site in lead_portfolio.sites:
        for year in (first, 2028, lead_portfolio.settings.planning.last_year):
            kw = load_profile_kw(site, year, lead_portfolio.directory)
            price = import_price_per_kwh(site, year, first, lead_portfolio.directory)
            assert kw.shape == price.shape == (HOURS_PER_YEAR,)
            assert np.isfinite(kw).all() and (kw > 0).all() and (price > 0).all()
