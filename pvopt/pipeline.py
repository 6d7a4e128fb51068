"""End-to-end jobs: yield study and plan, with atomic outputs.

Output files are written to a temporary file in the target directory and
moved into place only when complete (``os.replace``), so a run killed midway
never leaves a partial file that looks complete. An existing result is not
overwritten without ``force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from pvopt.costs import COST_NAMES, TOTAL_COST
from pvopt.inputs.fingerprint import FINGERPRINT_ATTR, portfolio_fingerprint
from pvopt.inputs.schema import Portfolio
from pvopt.io import check_target as _check_target
from pvopt.io import discard as _discard
from pvopt.io import prepare_for_netcdf as _prepare_for_netcdf
from pvopt.io import temp_beside as _temp_beside
from pvopt.io import write_netcdf_atomic
from pvopt.lp.model import PlanModel, PlanSolution, SolveOptions
from pvopt.lp.outcome import solve
from pvopt.lp.inputs import build_plan_inputs
from pvopt.inputs.loading import load_portfolio

__all__ = ["portfolio_fingerprint", "PlanRun", "run_yield", "run_plan", "plan_portfolio", "plan_from_inputs", "with_business_as_usual", "yield_fingerprint", "write_netcdf_atomic", "write_plan_atomic", "summary_frame"]


def yield_fingerprint(portfolio: Portfolio) -> str:
    """Hash of everything the yield depends on (sites' location, weather and array geometry)."""
    parts = []
    for s in portfolio.sites:
        parts.append(
            s.model_dump(mode="json", include={"name", "latitude_deg", "longitude_deg", "altitude_m", "timezone", "weather", "arrays"})
        )
        if s.weather.source == "file" and s.weather.path:  # the schema requires a path for file weather
            p = (portfolio.directory / s.weather.path).resolve()
            parts.append({"weather_mtime": p.stat().st_mtime_ns if p.exists() else 0})
        elif s.weather.source == "synthetic":
            # the normals' content, so that new normals never reuse a stale yield.nc
            from pvopt.inputs.files import normals_path

            try:
                parts.append({"normals_sha": hashlib.sha256(normals_path(str(s.weather.normals)).read_bytes()).hexdigest()})
            except Exception:  # noqa: BLE001 - a missing file is reported by the yield itself
                parts.append({"normals_sha": ""})
        else:  # pvgis / nasa_power: the cache file
            from pvopt.pv.fetch import cache_path

            c = cache_path(s)
            parts.append({"weather_mtime": c.stat().st_mtime_ns if c.exists() else 0})
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def write_plan_atomic(plan: xr.Dataset, out: Path, *, force: bool) -> None:
    """Write ``out/plan.nc`` and ``out/summary.csv`` so that a reader sees a whole result or none.

    Both files are first written completely (and flushed to disk) as hidden
    ``.plan.nc.*.tmp`` / ``.summary.csv.*.tmp`` files. Then the old ``plan.nc``
    (if any, with ``force``) is removed, ``summary.csv`` is moved into place and
    ``plan.nc`` last: **``plan.nc`` is the commit marker**. A run killed at any
    moment leaves the old pair, the new pair, or no ``plan.nc`` (an incomplete
    result, never one that looks complete). The plan records the SHA-256 of its
    summary (attribute ``summary_csv_sha256``) so that the pair can be checked.
    """
    out.mkdir(parents=True, exist_ok=True)
    text = summary_frame(plan).to_csv(index=False)
    plan = plan.copy()
    plan.attrs["summary_csv_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    tmp_plan = tmp_sum = None
    try:
        tmp_plan = _temp_beside(out / "plan.nc")
        _prepare_for_netcdf(plan).to_netcdf(tmp_plan, engine="h5netcdf")
        tmp_sum = _temp_beside(out / "summary.csv")
        with open(tmp_sum, "w", encoding="utf-8") as f:
            f.write(text)
        for tmp in (tmp_plan, tmp_sum):
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        _check_target(out / "plan.nc", force)  # again: another run may have written one meanwhile
        _check_target(out / "summary.csv", force)
        if (out / "plan.nc").exists():
            os.unlink(out / "plan.nc")
        os.replace(tmp_sum, out / "summary.csv")
        tmp_sum = None
        os.replace(tmp_plan, out / "plan.nc")
        tmp_plan = None
    finally:
        _discard(tmp_plan)
        _discard(tmp_sum)


def run_yield(portfolio_dir: str | Path, out_dir: str | Path | None = None, *, force: bool = False,
              progress: Callable[[int, int], None] | None = None) -> tuple[Portfolio, xr.Dataset]:
    """Load a portfolio, simulate every array's yield, and write ``out_dir/yield.nc``."""
    from pvopt.pv.yields import simulate_yield

    pf = load_portfolio(portfolio_dir)
    if out_dir is not None:
        _check_target(Path(out_dir) / "yield.nc", force)
    ds = simulate_yield(pf, progress=progress)
    ds.attrs["yield_fingerprint"] = yield_fingerprint(pf)
    ds.attrs[FINGERPRINT_ATTR] = portfolio_fingerprint(pf)
    if out_dir is not None:
        write_netcdf_atomic(ds, Path(out_dir) / "yield.nc")
    return pf, ds


@dataclass
class PlanRun:
    """Everything a plan run produced."""

    portfolio: Portfolio
    inputs: xr.Dataset
    plan: xr.Dataset
    milestones: list[dict[str, Any]]
    model: PlanModel
    solution: PlanSolution
    timings_s: dict[str, float] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Return the summary table of the plan (:func:`summary_frame`)."""
        return summary_frame(self.plan)


def plan_portfolio(pf: Portfolio, yields: xr.Dataset, opts: SolveOptions = SolveOptions(), *, hourly: bool = True) -> PlanRun:
    """Build inputs, solve, and assemble the plan Dataset (no files written)."""
    t = time.perf_counter()
    inputs = build_plan_inputs(pf, yields)
    t_inputs = time.perf_counter() - t
    run = plan_from_inputs(pf, inputs, opts, hourly=hourly)
    run.timings_s = {"inputs": t_inputs, **run.timings_s}
    return run


def plan_from_inputs(pf: Portfolio, inputs: xr.Dataset, opts: SolveOptions = SolveOptions(), *, hourly: bool = True, bau: bool = True) -> PlanRun:
    """Solve given LP inputs (e.g. a scenario of :func:`pvopt.studies.sweep.apply_scenario`) and assemble the plan (no files written).

    With ``bau`` the business-as-usual case is solved too and the plan gains the comparison
    against it (:func:`with_business_as_usual`).
    """
    out = solve(inputs, opts, hourly=hourly)
    plan, timings = out.plan, dict(out.timings_s)
    if bau:
        t = time.perf_counter()
        plan = with_business_as_usual(inputs, plan, opts)
        timings["bau"] = time.perf_counter() - t
    return PlanRun(pf, inputs, plan, out.milestones, out.model, out.solution, timings)


def with_business_as_usual(inputs: xr.Dataset, plan: xr.Dataset, opts: SolveOptions = SolveOptions()) -> xr.Dataset:
    """Solve the business-as-usual case of ``inputs`` and return ``plan`` with the comparison (:mod:`pvopt.results.bau`).

    BAU is the LP with ``SolveOptions(business_as_usual=True)``: nothing new, no milestone rows (cheap:
    no builds, almost every hour folds away). When even BAU has no solution (an import limit below the
    load existing PV leaves), ``plan`` is returned unchanged with the reason in ``attrs["business_as_usual"]``.
    """
    import dataclasses

    from pvopt.errors import InfeasiblePlanError, SolverError
    from pvopt.results.bau import add_business_as_usual

    bau_opts = dataclasses.replace(opts, business_as_usual=True, log=False, progress=None)
    try:
        bau = solve(inputs, bau_opts, hourly=False).plan
    except (InfeasiblePlanError, SolverError) as e:
        plan = plan.copy()
        plan.attrs["business_as_usual"] = f"not solved: {type(e).__name__}: {e}"
        return plan
    return add_business_as_usual(plan, bau)


def run_plan(portfolio_dir: str | Path, out_dir: str | Path | None = None, *, force: bool = False, opts: SolveOptions = SolveOptions(),
             hourly: bool = True, progress: Callable[[int, int], None] | None = None) -> PlanRun:
    """Yield (reusing ``out_dir/yield.nc`` when it matches), plan, and write ``plan.nc`` and ``summary.csv``."""
    from pvopt.pv.yields import read_yield, simulate_yield

    t0 = time.perf_counter()
    pf = load_portfolio(portfolio_dir)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        _check_target(out / "plan.nc", force)
        _check_target(out / "summary.csv", force)
    fp = yield_fingerprint(pf)
    yields = None
    reused = False
    if out is not None and (out / "yield.nc").exists():
        cached = read_yield(out / "yield.nc")
        if cached.attrs.get("yield_fingerprint") == fp:
            yields, reused = cached.load(), True
    t = time.perf_counter()
    if yields is None:
        yields = simulate_yield(pf, progress=progress)
        yields.attrs["yield_fingerprint"] = fp
        yields.attrs[FINGERPRINT_ATTR] = portfolio_fingerprint(pf)
        if out is not None:
            write_netcdf_atomic(yields, out / "yield.nc")
    t_yield = time.perf_counter() - t
    run = plan_portfolio(pf, yields, opts, hourly=hourly)
    run.timings_s["yield"] = t_yield
    run.timings_s["yield_reused"] = float(reused)
    if out is not None:
        t = time.perf_counter()
        write_plan_atomic(run.plan, out, force=force)
        run.timings_s["write"] = time.perf_counter() - t
    run.timings_s["total"] = time.perf_counter() - t0
    return run


SUMMARY_VARS = [
    "load_mwh", "pv_generated_mwh", "pv_onsite_mwh", "curtailed_mwh", "export_mwh", "grid_import_mwh",
    "certificates_mwh", "offsets_tco2e", "scope1_after_measures_tco2e", "scope2_location_tco2e", "scope2_market_tco2e", "net_tco2e",
    *COST_NAMES, TOTAL_COST,
]
"""Plan variables of ``summary.csv``; the costs are :data:`pvopt.costs.COST_CATEGORIES` (signed sum = ``total_cost``)."""


BAU_SUMMARY_VARS = ["bau_grid_import_mwh", "bau_net_tco2e", "bau_total_cost"]
"""Business-as-usual variables of ``summary.csv`` (when the plan has them), followed by ``cost_saving`` (BAU - plan total cost),
``emissions_cut_net_tco2e`` and, on the ``ALL`` rows, ``cumulative_saving`` and ``cumulative_saving_discounted``."""


def summary_frame(plan: xr.Dataset) -> pd.DataFrame:
    """Per site and year: capacity, energy, emissions and costs (one row each), plus portfolio rows (site = 'ALL').

    A plan with the business-as-usual comparison also has :data:`BAU_SUMMARY_VARS`, the cost saving and
    emissions cut against it, and (portfolio rows only) the cumulative savings.
    """
    inst = plan["installed_kwp"]
    kinds = plan["array_kind"]
    cols = {}
    for kind in ("rooftop", "carport"):
        cols[f"installed_{kind}_kwp"] = inst.where(kinds == kind, 0.0).groupby(plan["array_site"].rename("site")).sum("array")
    base = xr.Dataset({k: plan[k] for k in SUMMARY_VARS})
    for k, v in cols.items():
        base[k] = v.reindex(site=plan["site"].values, fill_value=0.0)
    if "bau_total_cost" in plan:  # the business-as-usual comparison (pvopt.results.bau)
        for k in BAU_SUMMARY_VARS:
            base[k] = plan[k]
        base["cost_saving"] = plan["bau_total_cost"] - plan[TOTAL_COST]
        base["emissions_cut_net_tco2e"] = plan["bau_net_tco2e"] - plan["net_tco2e"]
    df = base.to_dataframe().reset_index()
    tot = base.sum("site").to_dataframe().reset_index()
    tot.insert(0, "site", "ALL")
    if "cumulative_saving" in plan:  # portfolio-only: on the ALL rows
        for k in ("cumulative_saving", "cumulative_saving_discounted"):
            tot[k] = plan[k].values
    df = pd.concat([df, tot], ignore_index=True)
    first = ["site", "year", "installed_rooftop_kwp", "installed_carport_kwp"]
    return df[first + [c for c in df.columns if c not in first]]
