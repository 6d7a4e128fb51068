"""Golden records of the built LP and of the example plan (see ``test_golden.py``).

Run ``python -m tests.golden._golden`` to re-record them after a change that is
*meant* to alter the model or the plan; say why in the commit message.

The LP record is written by Pyomo's own LP writer (symbolic labels) and read
back by HiGHS's LP parser, so it checks the model as a solver sees it. It is
stored as a structural fingerprint per constraint family and per variable
family (counts, non-zeros, coefficient and bound sums) plus one hash of the
whole sorted triplet list, so a diff names the family that changed.

The plan record is the example portfolio ``sites/lead`` as it stood when the
record was taken (copied into ``tests/data/golden_lead``) solved on a stored
yield table, so that changes to the weather or yield layers do not move it.
Hourly variables are stored as annual sums and maxima to keep the file small.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "golden_lead"

MILESTONES_ALL = [
    {"name": "pv-min", "type": "min_portfolio_kwp", "year": 2025, "kwp": 1500.0},
    {"name": "cover", "type": "rooftop_coverage", "year": 2025, "fraction": 0.5},
    {"name": "onsite", "type": "min_pv_onsite_mwh", "year": 2025, "mwh": 500.0},
    {"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": 300.0},
    {"name": "peak", "type": "emissions_peak", "year": 2025},
    {"name": "neutral", "type": "neutrality", "year": 2026},
]


def lp_cases() -> dict[str, Any]:
    from pvopt.testing import small_inputs

    return {
        "reduced_all_milestones": small_inputs(milestones=MILESTONES_ALL, measures=True),
        "battery_demand_charge": small_inputs(
            n_sites=1, n_years=2, battery_sites=(0,), measures=True, demand_charge_per_kw_month=30.0
        ),
    }


def _family(name: str) -> str:
    """Family of a Pyomo LP-writer label: the component name before its index."""
    name = re.sub(r"^[cxr]_[ulen]_", "", name)
    name = re.sub(r"^x_", "", name)
    return re.split(r"[(\[]", name, maxsplit=1)[0]


def lp_fingerprint(lp_path: Path) -> dict[str, Any]:
    """Read an LP file with HiGHS and summarise it per family."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    st = h.readModel(str(lp_path))
    if st != highspy.HighsStatus.kOk:
        raise RuntimeError(f"HiGHS could not read {lp_path}")
    lp = h.getLp()
    n_col, n_row = lp.num_col_, lp.num_row_
    col_names = [h.getColName(j)[1] for j in range(n_col)]
    row_names = [h.getRowName(i)[1] for i in range(n_row)]
    import scipy.sparse as sp

    a = lp.a_matrix_
    A = sp.csc_matrix((np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_)), shape=(n_row, n_col)).tocoo()
    cost = np.asarray(lp.col_cost_)
    clo, chi = np.asarray(lp.col_lower_), np.asarray(lp.col_upper_)
    rlo, rhi = np.asarray(lp.row_lower_), np.asarray(lp.row_upper_)

    def fin(x: np.ndarray) -> float:
        x = x[np.isfinite(x)]
        return float(np.round(x.sum(), 6))

    cols: dict[str, dict[str, float]] = {}
    cfam = np.array([_family(n) for n in col_names])
    for f in sorted(set(cfam)):
        k = cfam == f
        cols[f] = {"n": int(k.sum()), "cost": float(np.round(cost[k].sum(), 6)), "lower": fin(clo[k]), "upper": fin(chi[k]),
                   "n_upper_inf": int(np.isinf(chi[k]).sum())}
    rows: dict[str, dict[str, float]] = {}
    rfam = np.array([_family(n) for n in row_names])
    for f in sorted(set(rfam)):
        k = rfam == f
        in_rows = k[A.row]
        rows[f] = {"n": int(k.sum()), "nnz": int(in_rows.sum()), "coef": float(np.round(A.data[in_rows].sum(), 6)),
                   "abs_coef": float(np.round(np.abs(A.data[in_rows]).sum(), 6)), "lower": fin(rlo[k]), "upper": fin(rhi[k])}
    trip = sorted(
        (row_names[i], col_names[j], f"{v:.10g}") for i, j, v in zip(A.row.tolist(), A.col.tolist(), A.data.tolist())
    )
    digest = hashlib.sha256(json.dumps(trip).encode()).hexdigest()
    return {"n_rows": n_row, "n_cols": n_col, "nnz": int(A.nnz), "triplets_sha256": digest, "columns": cols, "rows": rows}


def write_lp(d: xr.Dataset, path: Path) -> Path:
    from pvopt.lp.model import build_model

    pm = build_model(d, matrix=False)
    pm.model.write(str(path), io_options={"symbolic_solver_labels": True})
    return path


def plan_record(plan: xr.Dataset) -> xr.Dataset:
    """The plan Dataset with hourly variables folded to annual sums and maxima."""
    out = {}
    for k, v in plan.data_vars.items():
        if v.dtype.kind not in "fiub":
            continue
        if "hour" in v.dims:
            out[f"{k}__hsum"] = v.sum("hour")
            out[f"{k}__hmax"] = v.max("hour")
        else:
            out[k] = v
    ds = xr.Dataset(out)
    return ds.drop_vars([c for c in ds.coords if c == "hour"], errors="ignore")


def golden_plan() -> xr.Dataset:
    from pvopt.pipeline import plan_portfolio
    from pvopt.inputs.loading import load_portfolio

    pf = load_portfolio(DATA)
    yields = xr.open_dataset(DATA.parent / "golden_lead_yield.nc").load()
    return plan_portfolio(pf, yields).plan


def record() -> None:  # pragma: no cover - run by hand
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name, d in lp_cases().items():
            fp = lp_fingerprint(write_lp(d, Path(tmp) / f"{name}.lp"))
            (HERE / f"lp_{name}.json").write_text(json.dumps(fp, indent=1, sort_keys=True) + "\n")
    rec = plan_record(golden_plan())
    enc = {k: {"zlib": True, "complevel": 6} for k in rec.data_vars}
    rec.to_netcdf(HERE / "lead_plan_record.nc", engine="h5netcdf", encoding=enc)


if __name__ == "__main__":  # pragma: no cover
    record()
