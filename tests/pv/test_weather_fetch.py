"""Online weather sources (pvgis, nasa_power): fetched once into a cache, then read offline.

The tests never touch the network: pvlib's fetch functions are replaced by recorded responses
(tests/data/pvgis_tmy_recorded.csv.gz, a PVGIS TMY from pvlib's own test data; see its README),
and ``requests`` is made to fail so that any accidental request is an error.
"""

from __future__ import annotations

import gzip
import io

import numpy as np
import pandas as pd
import pytest

from conftest import edit_yaml, mini_portfolio
from pvopt.errors import PortfolioError

from pathlib import Path

RECORDED = Path(__file__).resolve().parents[1] / "data" / "pvgis_tmy_recorded.csv.gz"
GHI_RTOL = 1e-6  # the cache round trip keeps 3 decimals of W/m2; annual totals agree to this
SITE = dict(latitude_deg=45.0, longitude_deg=8.0, timezone="Europe/Rome")


def _recorded_pvgis() -> tuple[pd.DataFrame, dict]:
    """The recorded PVGIS TMY response as pvlib's get_pvgis_tmy returns it (UTC stamps, pvlib names)."""
    from pvlib.iotools.pvgis import VARIABLE_MAP

    raw = pd.read_csv(io.BytesIO(gzip.decompress(RECORDED.read_bytes())))
    idx = pd.to_datetime(raw.pop("time(UTC)"), format="%Y%m%d:%H%M", utc=True)
    data = raw.rename(columns=VARIABLE_MAP)
    data.index = pd.DatetimeIndex(idx, name="time(UTC)")
    meta = {"inputs": {"location": {"latitude": 45.0, "longitude": 8.0}, "meteo_data": {"radiation_db": "PVGIS-SARAH"}},
            "months_selected": [{"month": m, "year": 2005 + m} for m in range(1, 13)]}
    return data, meta


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network; a private cache folder; recorded pvlib responses counting their calls."""
    import requests
    from pvlib import iotools

    def no_network(*a, **k):
        raise requests.ConnectionError("network disabled in tests")

    monkeypatch.setattr(requests, "get", no_network)
    monkeypatch.setattr(requests.Session, "request", no_network)
    cache = tmp_path / "cache"
    monkeypatch.setenv("PVOPT_CACHE_DIR", str(cache))
    calls = {"pvgis": 0, "nasa_power": 0}

    def fake_pvgis(latitude, longitude, **kw):
        calls["pvgis"] += 1
        assert kw.get("coerce_year") is None and kw.get("roll_utc_offset") is None  # raw UTC stamps wanted
        return _recorded_pvgis()

    def fake_nasa(latitude, longitude, start, end, parameters=None, **kw):
        calls["nasa_power"] += 1
        data, _ = _recorded_pvgis()
        y = pd.Timestamp(start).year
        idx = pd.date_range(f"{y}-01-01", periods=len(data), freq="h", tz="UTC")
        out = data[["ghi", "dni", "dhi", "temp_air", "wind_speed"]].copy()
        out.index = idx
        return out, {"header": "recorded"}

    monkeypatch.setattr(iotools, "get_pvgis_tmy", fake_pvgis)
    monkeypatch.setattr(iotools, "get_nasa_power", fake_nasa)
    return cache, calls


def _pf(tmp_path, weather):
    d = mini_portfolio(tmp_path / "pf")
    edit_yaml(d / "alpha.yaml", lambda s: s.update(**SITE, weather=weather))
    return d


def test_missing_cache_names_site_file_folder_and_command(offline, tmp_path):
    from pvopt import load_portfolio
    from pvopt.pv.weather import site_weather

    cache, calls = offline
    d = _pf(tmp_path, {"source": "pvgis"})
    pf = load_portfolio(d)  # validation does not need the cache
    with pytest.raises(PortfolioError) as e:
        site_weather(pf.sites[0], pf.directory)
    msg = str(e.value)
    assert "site 'alpha'" in msg and "pvgis_tmy_45.000_8.000.csv" in msg and str(cache) in msg
    assert "pvopt weather fetch" in msg and "PVOPT_CACHE_DIR" in msg
    assert calls["pvgis"] == 0  # never online while planning


def test_fetch_once_then_offline(offline, tmp_path):
    from pvopt import load_portfolio
    from pvopt.pv.fetch import fetch_portfolio_weather
    from pvopt.pv.weather import site_weather

    cache, calls = offline
    pf = load_portfolio(_pf(tmp_path, {"source": "pvgis"}))
    rows = fetch_portfolio_weather(pf)
    assert rows[0]["status"] == "fetched" and calls["pvgis"] == 1
    assert (cache / "pvgis_tmy_45.000_8.000.csv").is_file()
    assert fetch_portfolio_weather(pf)[0]["status"] == "in cache" and calls["pvgis"] == 1  # once only
    w = site_weather(pf.sites[0], pf.directory)
    assert len(w) == 8760 and str(w.index.tz) == "Europe/Rome"
    raw, _ = _recorded_pvgis()
    assert w["ghi"].sum() == pytest.approx(raw["ghi"].clip(lower=0).sum(), rel=GHI_RTOL)
    assert w.attrs["weather_source"] == "pvgis"
    assert w.attrs["weather_description"].startswith("PVGIS typical meteorological year at 45.00, 8.00 | ")
    assert "PVGIS-SARAH" in w.attrs["weather_description"]
    # midday sun in the site's local time (UTC+1 in winter): the recorded data were moved, not just relabelled
    jan = w[(w.index.month == 1)]
    assert jan.groupby(jan.index.hour)["ghi"].mean().idxmax() in (11, 12, 13)


def test_cli_weather_fetch_and_plan_offline(offline, tmp_path, cli):
    cache, calls = offline
    d = _pf(tmp_path, {"source": "pvgis"})
    out = tmp_path / "out"
    miss = cli("plan", d, "--out", out)
    assert miss.exit_code == 2 and "pvopt weather fetch" in miss.stderr and "Traceback" not in miss.stderr
    r = cli("weather", "fetch", d)
    assert r.exit_code == 0, r.stderr
    assert "fetched 1" in r.stdout
    p = cli("plan", d, "--out", out)
    assert p.exit_code == 0, p.stderr
    assert "alpha: PVGIS typical meteorological year at 45.00, 8.00" in p.stdout
    assert calls["pvgis"] == 1


def test_fetch_failure_is_a_clear_error(monkeypatch, tmp_path):
    """Without network (and without the fake), the fetch reports the site and the cause, no traceback."""
    import requests
    from pvlib import iotools

    monkeypatch.setenv("PVOPT_CACHE_DIR", str(tmp_path / "cache"))

    def down(*a, **k):
        raise requests.ConnectionError("Max retries exceeded (no network)")

    monkeypatch.setattr(iotools, "get_pvgis_tmy", down)
    from pvopt import load_portfolio
    from pvopt.pv.fetch import fetch_site_weather

    pf = load_portfolio(_pf(tmp_path, {"source": "pvgis"}))
    with pytest.raises(PortfolioError) as e:
        fetch_site_weather(pf.sites[0])
    assert "site 'alpha'" in str(e.value) and "ConnectionError" in str(e.value) and "pvgis_tmy_45.000_8.000.csv" in str(e.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_nasa_power_year_in_key_and_missing_code_refused(offline, tmp_path):
    from pvopt import load_portfolio
    from pvopt.pv.fetch import cache_path, fetch_site_weather, read_cache, write_cache
    from pvopt.pv.weather import site_weather
    from pvopt.errors import WeatherError

    cache, calls = offline
    pf = load_portfolio(_pf(tmp_path, {"source": "nasa_power", "year": 2021}))
    s = pf.sites[0]
    assert cache_path(s).name == "nasa_power_2021_45.000_8.000.csv"
    fetch_site_weather(s)
    w = site_weather(s, pf.directory)
    assert w.attrs["weather_source"] == "nasa_power" and "NASA POWER hourly year 2021" in w.attrs["weather_description"]
    df = read_cache(cache_path(s))
    df.iloc[100, 0] = -999.0
    write_cache(df, cache_path(s), df.attrs["header"])
    with pytest.raises(WeatherError, match="-999"):
        site_weather(s, pf.directory)


def test_year_only_for_nasa_power(tmp_path):
    from pvopt import load_portfolio

    d = _pf(tmp_path, {"source": "pvgis", "year": 2020})
    with pytest.raises(PortfolioError, match="year"):
        load_portfolio(d)


def test_recorded_response_is_small():
    assert RECORDED.stat().st_size < 100_000
    assert np.isfinite(_recorded_pvgis()[0]["ghi"]).all()
