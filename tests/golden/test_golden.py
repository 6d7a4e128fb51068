"""Golden tests: the built LP and the example plan do not change unless meant to.

A restructuring that preserves behaviour shows no diff here. A change that is
meant to alter the model re-records the files (``python -m tests.golden._golden``)
and says why in its commit.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from tests.golden._golden import HERE, lp_cases, lp_fingerprint, plan_record, golden_plan, write_lp

#: relative tolerance on plan values (HiGHS answers agree to ~1e-9; degenerate ties are not expected here)
PLAN_RTOL = 1e-6
#: absolute tolerance on plan values, in the variable's own unit (kW, kWh, CNY, tCO2e)
PLAN_ATOL = 1e-3

CASES = sorted(lp_cases())

#: Variables whose split between sites is a tie in the example: a certificate costs the same and
#: counts the same (equal residual factors) at every site, so the solver may buy it for any site
#: with the same NPC. They are compared as portfolio totals per year; everything else per site.
SITE_TIES = ("certificates_mwh", "certificates_by_instrument_mwh", "scope2_market_tco2e", "net_tco2e", "certificate_cost", "total_cost")


@pytest.mark.parametrize("name", CASES)
def test_lp_structure_matches_golden(name, tmp_path):
    d = lp_cases()[name]
    got = lp_fingerprint(write_lp(d, tmp_path / f"{name}.lp"))
    want = json.loads((HERE / f"lp_{name}.json").read_text())
    assert got["columns"] == want["columns"], "variable families differ from the golden record"
    assert got["rows"] == want["rows"], "constraint families differ from the golden record"
    assert (got["n_rows"], got["n_cols"], got["nnz"]) == (want["n_rows"], want["n_cols"], want["nnz"])
    assert got["triplets_sha256"] == want["triplets_sha256"], "same family totals but different coefficients"


def test_lp_fingerprint_sees_a_changed_coefficient(tmp_path):
    """The fingerprint is not blind: a changed price moves a family total."""
    name = CASES[0]
    d = lp_cases()[name].copy(deep=True)
    d["import_price_per_kwh"] = d["import_price_per_kwh"] * 1.01
    got = lp_fingerprint(write_lp(d, tmp_path / "changed.lp"))
    want = json.loads((HERE / f"lp_{name}.json").read_text())
    assert got["triplets_sha256"] != want["triplets_sha256"] or got["columns"] != want["columns"]


def test_example_plan_matches_golden():
    want = xr.open_dataset(HERE / "lead_plan_record.nc").load()
    got = plan_record(golden_plan())
    common = sorted(set(want.data_vars) & set(got.data_vars))
    missing = sorted(set(want.data_vars) - set(got.data_vars))
    assert not missing, f"plan variables disappeared: {missing}"
    per_site = [k for k in common if k not in SITE_TIES]
    xr.testing.assert_allclose(got[per_site], want[per_site], rtol=PLAN_RTOL, atol=PLAN_ATOL)
    for k in SITE_TIES:
        xr.testing.assert_allclose(got[k].sum("site"), want[k].sum("site"), rtol=PLAN_RTOL, atol=PLAN_ATOL)
    assert np.isclose(float(got["total_cost"].sum()), float(want["total_cost"].sum()), rtol=PLAN_RTOL)
