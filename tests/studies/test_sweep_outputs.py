"""Sweep outputs people read: labels, per-instrument certificate prices, the BAU summary columns, the discount-rate warning."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pvopt.studies import sweep as sw
from pvopt.testing import small_inputs

SUM_RTOL = 1e-9
"""Relative tolerance of a figure recomputed from the same stored float64 values."""


@pytest.fixture(scope="module")
def base() -> xr.Dataset:
    return small_inputs(n_sites=1, n_years=2, milestones=[{"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": 300.0}])


def test_labels_are_readable():
    assert sw.scenario_label({"certificate_price:GEC": 50.0, "capex_scale": 1.3}) == "GEC price=50,capex=+30%"
    assert sw.scenario_label({"capex_scale": 0.8, "discount_rate": 0.09}) == "capex=-20%,discount rate=9%"
    assert sw.scenario_label({"milestone_year:neutral": 2033, "offset_price": 80.0}) == "neutral year=2033,offset price=80"
    assert sw.scenario_label({}) == "base"


def test_certificate_price_per_instrument(base):
    assert sw.parse_vary(["certificate_price:GEC=50,60"]) == {"certificate_price:GEC": [50.0, 60.0]}
    sw.validate_grid(base, {"certificate_price:GEC": [50.0]})
    with pytest.raises(sw.VaryError, match="no certificate instrument 'XYZ'"):
        sw.validate_grid(base, {"certificate_price:XYZ": [50.0]})
    with pytest.raises(sw.VaryError, match=">= 0"):
        sw.parse_vary(["certificate_price:GEC=-1"])
    s = sw.apply_scenario(base, {"certificate_price:GEC": 50.0, "certificate_price_scale": 2.0})
    p, p0 = s["certificate_price_per_mwh"], base["certificate_price_per_mwh"]
    np.testing.assert_allclose(p.sel(certificate="GEC").values, 100.0)  # set, then scaled
    np.testing.assert_allclose(p.sel(certificate="I-REC").values, 2.0 * p0.sel(certificate="I-REC").values)


def test_discount_rate_note():
    assert sw.discount_rate_note([0.06, 0.06, np.nan]) == ""
    note = sw.discount_rate_note([0.03, 0.06, 0.09])
    assert "3 %, 6 %, 9 %" in note and "not comparable" in note


def test_scenario_result_carries_the_bau_comparison(base):
    rec = sw.solve_scenario(base, "x", {"certificate_price:GEC": 50.0})
    assert rec["status"] == "ok", rec["reason"]
    r = rec["result"]
    assert float(r["npc_saving"]) == pytest.approx(float(r["bau_npc"]) - float(r["npc"]), rel=SUM_RTOL)
    assert float(r["npc_saving_by_group"].sum()) == pytest.approx(float(r["npc_saving"]), rel=1e-8)
    assert float(r["discount_rate"]) == pytest.approx(float(base.attrs["discount_rate"]))


@pytest.mark.slow
def test_serial_sweep_index_has_labels_bau_and_summary_columns(base, tmp_path):
    vary = {"certificate_price:GEC": [2.0, 500.0], "discount_rate": [0.03, 0.09]}
    res = sw.run_sweep(base, vary, tmp_path / "sw", n_workers=0)
    idx = sw.read_index(tmp_path / "sw")
    assert res.n_ok == 4
    assert set(idx["label"]) == {f"GEC price={p:g},discount rate={r:g}%" for p in (2, 500) for r in (3, 9)}
    for k in sw.INDEX_METRICS:
        if not k.startswith("payback"):  # NaN when the plan has not paid back within the (two-year) horizon
            assert idx[k].notna().all(), k
    np.testing.assert_allclose(res.index["npc"], idx["npc"], rtol=SUM_RTOL)  # the index of the run itself has the figures
    np.testing.assert_allclose(idx["npc_saving"], idx["bau_npc"] - idx["npc"], rtol=SUM_RTOL)
    np.testing.assert_allclose(idx["discount_rate"], idx["discount_rate"].round(2))
    assert (idx["bau_npc"] >= idx["npc"]).all()  # only the certificate milestone, and certificates cost little next to the bill
    ds = sw.open_sweep(tmp_path / "sw")
    assert "not comparable" in ds.attrs["warning"]
    assert list(ds["label"].values) == list(idx["label"])
    dear = idx[idx["certificate_price:GEC"] == 500.0]["certificate_cost"].to_numpy()
    cheap = idx[idx["certificate_price:GEC"] == 2.0]["certificate_cost"].to_numpy()
    assert (dear >= cheap).all()
    one_rate = sw.open_sweep(tmp_path / "sw").where(ds["discount_rate"] == 0.03, drop=True)
    assert sw.discount_rate_note(one_rate["discount_rate"].values) == ""
