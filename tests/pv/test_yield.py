"""Tests of pvopt.pv.yields: validation against an independent pipeline, clipping, dedup, schema, I/O."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest
from conftest import flat_tariff

from pvopt.pv import yields as pvyield
from pvopt.pv import weather as W
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

PVLIB_DATA = Path(pvlib.__file__).parent / "data"
GREENSBORO = dict(latitude_deg=36.1, longitude_deg=-79.95, altitude_m=273.0, tz="Etc/GMT+5")  # TMY3 file: UTC-5 standard time

YIELD_RTOL = 0.05
"""pvopt's chain (Perez sky; physical IAM with AR coating on direct, sky and ground light) vs. the independent
reference (isotropic sky; physical IAM without coating on direct light only), both with SAPM open-rack
temperatures and no air-mass correction: Perez adds a few percent on a 20° south tilt in a humid climate and the
diffuse reflection loss takes about 1-2 % back; 5 % bounds that. (tests/pv/test_pvwatts.py checks against PVWatts v8.)"""

TEMPERATURE_EFFECT_MIN = 0.01
"""Smallest yield gain [-] expected from a cooler temperature model on a Greensboro 20° S array (about 1.5-4 %)."""

ROW_SHADING_LOSS = (0.003, 0.06)
"""Expected band of the annual loss [-] from row shading at GCR 0.4 and 20° tilt (about 1.5 % in PVWatts v8)."""

AIR_MASS_EFFECT_MAX = 0.02
"""Largest annual effect [-] expected from the air-mass modifier in Greensboro (it is below 1 %)."""

WUXI_KWH_PER_KWP = (1000.0, 1200.0)
"""Expected band for a low-tilt south rooftop on the 'wuxi' normals (weather/README.md explains the figure)."""


def _settings() -> PortfolioSettings:
    return PortfolioSettings(
        name="t",
        planning=Planning(first_year=2025, last_year=2030, baseline_year=2024),
        pv=PVCosts(capex_per_kwp={"rooftop": 3000, "carport": 4000}, om_per_kwp_year={"rooftop": 30, "carport": 40}),
    )


def _site(name: str, arrays: list[Array], weather: Weather | None = None, **kw) -> Site:
    pos = dict(latitude_deg=31.49, longitude_deg=120.31, timezone="Asia/Shanghai") | kw
    return Site(
        name=name,
        weather=weather or Weather(source="synthetic", normals="wuxi"),
        arrays=arrays,
        load=Load(annual_mwh=1000, base_year=2024),
        tariff=flat_tariff(),
        grid_ef_t_per_mwh=0.55,
        **pos,
    )


def _portfolio(sites: list[Site], directory: Path) -> Portfolio:
    return Portfolio(settings=_settings(), sites=sites, directory=directory)


def _geom(**kw) -> pvyield.Geometry:
    base = dict(site="g", tilt_deg=20.0, azimuth_deg=180.0, mount="open_rack", losses_pct=14.0, dc_ac_ratio=1.2)
    return pvyield.Geometry(**(base | kw))


@pytest.fixture(scope="module")
def greensboro():
    return W.to_site_time(W.read_weather_file(PVLIB_DATA / "723170TYA.CSV"), GREENSBORO["tz"])


def _reference_annual_kwh(weather: pd.DataFrame, tilt: float, azimuth: float, losses_pct: float, dc_ac: float) -> float:
    """Independent PVWatts-style pipeline from pvlib's functions, without ModelChain [kWh per kWp]."""
    from pvlib import iam, inverter, irradiance, pvsystem, solarposition, temperature

    mid = weather.index + pd.Timedelta(minutes=30)
    sp = solarposition.get_solarposition(mid, GREENSBORO["latitude_deg"], GREENSBORO["longitude_deg"], GREENSBORO["altitude_m"])
    ghi, dni, dhi = (weather[c].to_numpy() for c in ("ghi", "dni", "dhi"))
    poa = irradiance.get_total_irradiance(tilt, azimuth, sp["apparent_zenith"].to_numpy(), sp["azimuth"].to_numpy(), dni, ghi, dhi, albedo=0.2, model="isotropic")
    aoi = irradiance.aoi(tilt, azimuth, sp["apparent_zenith"].to_numpy(), sp["azimuth"].to_numpy())
    eff = np.nan_to_num(poa["poa_direct"] * iam.physical(aoi)) + np.nan_to_num(poa["poa_diffuse"])
    p = temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_glass"]
    tcell = temperature.sapm_cell(np.asarray(eff), weather["temp_air"].to_numpy(), weather["wind_speed"].to_numpy(), **p)
    dc = pvsystem.pvwatts_dc(np.asarray(eff), tcell, pdc0=1.0, gamma_pdc=-0.0037) * (1 - losses_pct / 100)
    ac = inverter.pvwatts(dc, pdc0=1.0 / (dc_ac * 0.96), eta_inv_nom=0.96)
    return float(np.clip(np.nan_to_num(ac), 0, None).sum())


def _gyield(greensboro, **kw) -> np.ndarray:
    return pvyield.array_yield(greensboro, GREENSBORO["latitude_deg"], GREENSBORO["longitude_deg"], GREENSBORO["altitude_m"], GREENSBORO["tz"], _geom(**kw))


def test_greensboro_matches_independent_reference(greensboro):
    # the reference uses SAPM open-rack temperatures and no spectral loss: select the same in pvopt
    y = _gyield(greensboro, temperature_model="sapm_open_rack", air_mass_correction=False)
    ref = _reference_annual_kwh(greensboro, 20.0, 180.0, 14.0, 1.2)
    assert len(y) == 8760
    assert y.sum() == pytest.approx(ref, rel=YIELD_RTOL)
    assert 1100 < y.sum() < 1700  # plausible specific yield for North Carolina


def test_yield_peaks_near_solar_noon(greensboro):
    y = pvyield.array_yield(greensboro, GREENSBORO["latitude_deg"], GREENSBORO["longitude_deg"], GREENSBORO["altitude_m"], GREENSBORO["tz"], _geom())
    by_hour = pd.Series(y, index=greensboro.index).groupby(greensboro.index.hour).mean()
    # Greensboro (79.95 W) in UTC-5: solar noon near 12:20 standard time -> hour 12 (12:00-13:00) is the brightest
    assert int(by_hour.idxmax()) == 12
    assert by_hour[12] == pytest.approx(by_hour[11], rel=0.15)


def test_clipping_limits_ac_per_kwp(greensboro):
    args = (greensboro, GREENSBORO["latitude_deg"], GREENSBORO["longitude_deg"], GREENSBORO["altitude_m"], GREENSBORO["tz"])
    y15 = pvyield.array_yield(*args, _geom(dc_ac_ratio=1.5))
    y11 = pvyield.array_yield(*args, _geom(dc_ac_ratio=1.1))
    assert y15.max() <= 1 / 1.5 + 1e-9
    assert y15.max() == pytest.approx(1 / 1.5, rel=1e-6)  # the inverter does clip at its nameplate
    assert y15.sum() < y11.sum()
    assert (y15 >= 0).all() and (y11 >= 0).all()


def test_dedup_runs_one_chain_per_geometry(monkeypatch, tmp_path):
    calls: list[pvyield.Geometry] = []
    real = pvyield._run_chain

    def counting(g, w, loc):
        calls.append(g)
        return real(g, w, loc)

    monkeypatch.setattr(pvyield, "_run_chain", counting)
    arrays = [
        Array(name="a", kind="rooftop", max_kwp=100, tilt_deg=8, azimuth_deg=180),
        Array(name="b", kind="rooftop", max_kwp=300, tilt_deg=8, azimuth_deg=180),  # same geometry as a
        Array(name="c", kind="carport", max_kwp=50, tilt_deg=8, azimuth_deg=180),  # open rack: different
    ]
    ds = pvyield.simulate_yield(_portfolio([_site("wuxi", arrays)], tmp_path))
    assert len(calls) == 2
    y = ds["yield_kw_per_kwp"]
    np.testing.assert_array_equal(y.sel(array="wuxi/a").values, y.sel(array="wuxi/b").values)
    assert not np.array_equal(y.sel(array="wuxi/a").values, y.sel(array="wuxi/c").values)
    assert ds.attrs["unique_geometries"] == 2


def test_wuxi_low_tilt_rooftop_specific_yield(tmp_path):
    arrays = [Array(name="roof", kind="rooftop", max_kwp=500, tilt_deg=7, azimuth_deg=180)]
    ds = pvyield.simulate_yield(_portfolio([_site("wuxi", arrays)], tmp_path))
    annual = float(ds["annual_kwh_per_kwp"].sel(array="wuxi/roof"))
    lo, hi = WUXI_KWH_PER_KWP
    assert lo < annual < hi
    assert float(ds["capacity_factor"].sel(array="wuxi/roof")) == pytest.approx(annual / 8760)


@pytest.fixture(scope="module")
def two_site_ds(tmp_path_factory):
    d = tmp_path_factory.mktemp("pf")
    (d / "w.csv").write_bytes((PVLIB_DATA / "723170TYA.CSV").read_bytes())
    sites = [
        _site("wuxi", [Array(name="r1", kind="rooftop", max_kwp=100, tilt_deg=5, azimuth_deg=180, existing_kwp=20, existing_year=2020)]),
        _site(
            "nc",
            [
                Array(name="r1", kind="rooftop", area_m2=1000, tilt_deg=20, azimuth_deg=180),
                Array(name="cp", kind="carport", max_kwp=40, tilt_deg=5, azimuth_deg=90, dc_ac_ratio=1.3),
            ],
            weather=Weather(source="file", path="w.csv"),
            latitude_deg=36.1,
            longitude_deg=-79.95,
            timezone="America/New_York",
        ),
    ]
    progress: list[tuple[int, int]] = []
    ds = pvyield.simulate_yield(_portfolio(sites, d), progress=lambda done, total: progress.append((done, total)))
    return ds, progress


def test_dataset_schema(two_site_ds):
    ds, progress = two_site_ds
    assert ds["yield_kw_per_kwp"].dims == ("array", "hour")
    assert list(ds["array"].values) == ["wuxi/r1", "nc/r1", "nc/cp"]
    assert (ds["hour"].values == np.arange(8760)).all()
    for c in ["site", "array_name", "kind", "max_kwp", "tilt_deg", "azimuth_deg", "mount", "existing_kwp", "existing_year", "degradation_pct_per_year", "dc_ac_ratio"]:
        assert ds[c].dims == ("array",), c
    assert list(ds["existing_year"].values) == [2020, -1, -1]
    assert ds["existing_year"].dtype.kind == "i"
    assert ds["max_kwp"].sel(array="nc/r1") == pytest.approx(150.0)  # 1000 m2 x 0.15 kWp/m2
    assert list(ds["mount"].values) == ["close_mount", "close_mount", "open_rack"]
    assert list(ds["temperature_model"].values) == ["pvwatts_roof", "pvwatts_roof", "pvwatts_rack"]
    assert dict(zip(ds["sites"].values, ds["weather_source"].values)) == {"wuxi": "synthetic", "nc": "file"}
    for name in list(ds.data_vars) + list(ds.coords):
        assert "units" in ds[name].attrs and "description" in ds[name].attrs, name
    assert ds.attrs["any_synthetic_weather"] == 1 and "SYNTHETIC" in ds.attrs["weather_statement"]
    assert "Perez" in ds.attrs["model_chain"] and ds.attrs["pvopt_version"]
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert float(ds["yield_kw_per_kwp"].min()) >= 0


def test_write_read_roundtrip(two_site_ds, tmp_path):
    ds, _ = two_site_ds
    path = pvyield.write_yield(ds, tmp_path / "out" / "yield.nc")
    assert sorted(p.name for p in path.parent.iterdir()) == ["yield.nc"]  # no temp file left behind
    back = pvyield.read_yield(path)
    np.testing.assert_array_equal(back["yield_kw_per_kwp"].values, ds["yield_kw_per_kwp"].values)
    assert list(back["array"].values) == list(ds["array"].values)
    assert back.attrs["weather_statement"] == ds.attrs["weather_statement"]
    assert back["yield_kw_per_kwp"].attrs["units"] == "kW/kWp"
    pvyield.write_yield(ds, path)  # overwrite in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["yield.nc"]


def test_yield_table(two_site_ds):
    ds, _ = two_site_ds
    t = pvyield.yield_table(ds)
    assert list(t.columns) == ["site", "array", "kind", "max_kwp", "annual_kwh_per_kwp", "capacity_factor_pct"]
    assert len(t) == 3
    row = t[(t.site == "nc") & (t.array == "r1")].iloc[0]
    assert row.capacity_factor_pct == pytest.approx(100 * row.annual_kwh_per_kwp / 8760)
    # an east-facing carport at 5° yields less than a 20° south roof on the same weather
    east = t[(t.site == "nc") & (t.array == "cp")].iloc[0]
    assert east.annual_kwh_per_kwp < row.annual_kwh_per_kwp


def test_temperature_models_named_and_sapm_sets_are_pvlibs():
    from typing import get_args

    from pvlib.temperature import TEMPERATURE_MODEL_PARAMETERS
    from pvopt.inputs.schema import MOUNT_TEMPERATURE_MODEL, TemperatureModelName

    assert set(pvyield.TEMPERATURE_MODELS) == set(get_args(TemperatureModelName))
    assert set(MOUNT_TEMPERATURE_MODEL.values()) <= set(pvyield.TEMPERATURE_MODELS)
    sapm = TEMPERATURE_MODEL_PARAMETERS["sapm"]
    for name, key in [("sapm_close_mount", "close_mount_glass_glass"), ("sapm_open_rack", "open_rack_glass_glass"), ("sapm_insulated_back", "insulated_back_glass_polymer")]:
        assert pvyield.TEMPERATURE_MODELS[name] == ("sapm", dict(sapm[key])), name


def test_temperature_model_order(greensboro):
    """Hotter mounts yield less: SAPM close mount < PVWatts roof (NOCT 49) < PVWatts rack (NOCT 45)."""
    close = _gyield(greensboro, temperature_model="sapm_close_mount").sum()
    roof = _gyield(greensboro, temperature_model="pvwatts_roof").sum()
    rack = _gyield(greensboro, temperature_model="pvwatts_rack").sum()
    default_rack = _gyield(greensboro).sum()  # mount open_rack, no temperature_model given
    assert default_rack == rack
    assert roof > close * (1 + TEMPERATURE_EFFECT_MIN)
    assert rack > roof * (1 + TEMPERATURE_EFFECT_MIN / 2)


def test_row_shading_loss(greensboro):
    free = _gyield(greensboro).sum()
    assert _gyield(greensboro, gcr=None).sum() == free
    loss_04 = 1 - _gyield(greensboro, gcr=0.4).sum() / free
    loss_07 = 1 - _gyield(greensboro, gcr=0.7).sum() / free
    lo, hi = ROW_SHADING_LOSS
    assert lo < loss_04 < hi
    assert loss_07 > loss_04  # denser rows shade more
    # flat modules cast no shadow on each other
    assert _gyield(greensboro, tilt_deg=0.0, gcr=0.9).sum() == pytest.approx(_gyield(greensboro, tilt_deg=0.0).sum(), rel=1e-12)


def test_system_inputs_move_yield(greensboro):
    base = _gyield(greensboro)
    # a worse temperature coefficient costs energy (cells run above 25 °C when the sun shines)
    assert _gyield(greensboro, temp_coeff_pct_per_c=-0.5).sum() < base.sum()
    # inverter efficiency scales AC below clipping about proportionally
    y94 = _gyield(greensboro, inverter_efficiency_pct=94.0)
    assert y94.sum() / base.sum() == pytest.approx(94.0 / 96.0, rel=0.005)
    assert y94.max() <= 1 / 1.2 + 1e-9
    # more ground reflectance, more light
    assert _gyield(greensboro, albedo=0.6).sum() > base.sum()
    no_am = _gyield(greensboro, air_mass_correction=False).sum()
    assert no_am != base.sum()
    assert abs(no_am / base.sum() - 1) < AIR_MASS_EFFECT_MAX


@pytest.mark.parametrize(
    "field,value",
    [("albedo", 1.2), ("albedo", -0.1), ("temp_coeff_pct_per_c", 0.3), ("inverter_efficiency_pct", 80), ("gcr", 0.0), ("gcr", 1.0), ("temperature_model", "sapm")],
)
def test_array_yield_inputs_validated(field, value):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as e:
        Array(name="a", kind="rooftop", max_kwp=1, tilt_deg=10, azimuth_deg=180, **{field: value})
    assert field in str(e.value)


def test_array_yield_input_defaults():
    a = Array(name="a", kind="rooftop", max_kwp=1, tilt_deg=10, azimuth_deg=180)
    assert (a.albedo, a.temp_coeff_pct_per_c, a.inverter_efficiency_pct, a.gcr, a.air_mass_correction) == (0.2, -0.37, 96.0, None, True)
    assert a.temperature_model_value == "pvwatts_roof"
    b = Array(name="b", kind="rooftop", max_kwp=1, tilt_deg=10, azimuth_deg=180, mount="insulated_back")
    assert b.temperature_model_value == "sapm_insulated_back"
    c = Array(name="c", kind="carport", max_kwp=1, tilt_deg=10, azimuth_deg=180, temperature_model="sapm_close_mount")
    assert c.mount_value == "open_rack" and c.temperature_model_value == "sapm_close_mount"


# --------------------------------------------------------------------------- #
# plausibility of the specific yield (issue 15)
# --------------------------------------------------------------------------- #
def _three_arrays(tmp_path: Path) -> Portfolio:
    arrays = [Array(name=n, kind="rooftop", max_kwp=100, tilt_deg=10, azimuth_deg=180) for n in ("a", "b", "c")]
    return _portfolio([_site("wuxi", arrays)], tmp_path)


def test_specific_yield_in_the_usual_range_passes_quietly(tmp_path, capsys):
    assert pvyield.check_specific_yield(_three_arrays(tmp_path), np.array([300.0, 1100.0, 2600.0])) == []
    assert capsys.readouterr().err == ""


def test_specific_yield_outside_the_usual_range_warns_per_array(tmp_path, capsys):
    warned = pvyield.check_specific_yield(_three_arrays(tmp_path), np.array([250.0, 1100.0, 2800.0]))
    assert [(w.field, w.file) for w in warned] == [("wuxi: arrays[0]", "weather/normals/wuxi.csv"), ("wuxi: arrays[2]", "weather/normals/wuxi.csv")]
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "warning: weather/normals/wuxi.csv: wuxi: arrays[0]: array 'a' yields 250 kWh/kWp a year, outside the usual range "
        "300-2,600 kWh/kWp: check the weather (irradiance unit, time zone), tilt_deg and azimuth_deg (180 = south)"
    )
    assert "array 'c' yields 2,800 kWh/kWp" in err[1] and len(err) == 2


def test_specific_yield_outside_the_physical_range_is_an_error_naming_every_array(tmp_path, capsys):
    from pvopt.errors import WeatherError

    with pytest.raises(WeatherError) as exc:
        pvyield.check_specific_yield(_three_arrays(tmp_path), np.array([10.0, 200.0, 3500.0]))
    assert [i.field for i in exc.value.issues] == ["wuxi: arrays[0]", "wuxi: arrays[2]"]
    assert "outside the physical range 50-3,000 kWh/kWp" in exc.value.issues[1].message
    assert capsys.readouterr().err == ""  # no warning printed for a run that stops


def test_other_weather_years_are_not_checked(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(pvyield, "check_specific_yield", lambda pf, annual: calls.append(annual))
    pf = _portfolio([_site("wuxi", [Array(name="a", kind="rooftop", max_kwp=10, tilt_deg=10, azimuth_deg=180)])], tmp_path)
    pvyield.simulate_yield(pf)
    assert len(calls) == 1 and 1000 < calls[0][0] < 1200
    pvyield.simulate_yield(pf, weather=lambda site: W.site_weather(site, tmp_path))  # e.g. a drawn weather year in `pvopt risk`
    assert len(calls) == 1
