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
from pvopt.errors import InputIssue, warn_input
from pvopt.io import check_target as _check_target
from pvopt.io import content_digest, output_error, prepare_out_dir, run_lock
from pvopt.io import discard as _discard
from pvopt.io import prepare_for_netcdf as _prepare_for_netcdf
from pvopt.io import temp_beside as _temp_beside
from pvopt.io import write_netcdf_atomic
from pvopt.workers import sigint_deferred
from pvopt.lp.model import PlanModel, PlanSolution, SolveOptions
from pvopt.lp.outcome import solve
from pvopt.lp.inputs import build_plan_inputs
from pvopt.inputs.loading import load_portfolio

__all__ = ["portfolio_fingerprint", "PlanRun", "run_yield", "run_plan", "plan_portfolio", "plan_from_inputs", "with_business_as_usual", "yield_fingerprint", "write_netcdf_atomic", "write_plan_atomic", "summary_frame", "recover_run", "cached_yield", "write_yield_cache", "SUMMARY_BACKUP"]

SUMMARY_BACKUP = ".summary.csv.prev"
"""The previous ``summary.csv``, kept (hard link) while a result is replaced, until the new ``plan.nc`` is in place."""

Phase = Callable[[str], None]
"""``phase(description)``: called as each step of a run starts (the CLI shows it and times it)."""


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


def _sha256_file(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _keep_copy(src: Path, dst: Path) -> None:
    """Keep ``src`` also as ``dst``: a hard link (instant), or a copy where the file system has none."""
    try:
        os.link(src, dst)
    except OSError:
        import shutil

        shutil.copyfile(src, dst)


def recover_run(out: Path) -> str:
    """Bring a run folder left by a run killed while replacing its result back to a consistent pair.

    A replacement moves the new ``summary.csv`` into place first and the new
    ``plan.nc`` last; the old summary is kept as ``.summary.csv.prev`` until
    then. Killed in between, the folder holds the old ``plan.nc`` (complete),
    the new ``summary.csv`` and the old summary: this puts the old summary back.

    Returns
    -------
    str
        ``"ok"`` (nothing to do, or no result), ``"restored"`` (the old summary was put back).
    """
    plan, summary, backup = out / "plan.nc", out / "summary.csv", out / SUMMARY_BACKUP
    if not backup.exists():
        return "ok"
    if plan.exists():
        try:
            with xr.open_dataset(plan, engine="h5netcdf") as ds:
                want = str(ds.attrs.get("summary_csv_sha256", ""))
        except Exception:  # noqa: BLE001 - an unreadable plan.nc is reported by whoever reads it
            return "ok"
        if want and _sha256_file(summary) != want and _sha256_file(backup) == want:
            os.replace(backup, summary)
            return "restored"
    _discard(str(backup))
    return "ok"


def write_plan_atomic(plan: xr.Dataset, out: Path, *, force: bool) -> None:
    """Write ``out/plan.nc`` and ``out/summary.csv`` so that the folder always holds a whole result (old or new) or none.

    Both files are first written completely (and flushed to disk) as hidden
    ``.plan.nc.*.tmp`` / ``.summary.csv.*.tmp`` files beside the old ones. The
    old ``plan.nc`` is never deleted: the old ``summary.csv`` is kept as a hard
    link ``.summary.csv.prev``, the new summary is renamed over the old one and
    the new ``plan.nc`` over the old one **last** (``plan.nc`` is the commit
    marker); then the backup is removed. Killed at any moment, the folder holds
    the old pair, the new pair, or (fresh folder) no ``plan.nc``; killed between
    the two renames, :func:`recover_run` (run by every command that reads or
    writes the folder) puts the old summary back. The plan records the SHA-256
    of its summary (attribute ``summary_csv_sha256``) so that the pair can be checked.
    """
    out = prepare_out_dir(out)
    recover_run(out)
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
        with sigint_deferred():  # a Ctrl-C waits for the commit: the folder ends with the old or the new pair
            _commit(out, tmp_sum, tmp_plan)
        tmp_sum = tmp_plan = None
    except OSError as e:
        raise output_error(out / "plan.nc", e) from e
    finally:
        _discard(tmp_plan)
        _discard(tmp_sum)


def write_yield_cache(ds: xr.Dataset, path: Path) -> None:
    """Write the yield study to ``path`` with its checksum (attribute ``content_sha256``), atomically."""
    ds = ds.copy()
    ds.attrs["content_sha256"] = content_digest(_prepare_for_netcdf(ds))
    write_netcdf_atomic(ds, path)


def cached_yield(pf: Portfolio, out: Path | None, progress: Callable[[int, int], None] | None = None) -> tuple[xr.Dataset, bool]:
    """Return the yield of ``pf``: ``out/yield.nc`` when it is readable, whole and of the same inputs, else simulated (and cached).

    A ``yield.nc`` is reused only when its fingerprint (attribute
    ``yield_fingerprint``: sites, weather and arrays) matches and its data pass
    their checksum (``content_sha256``). A cache that cannot be read or fails its
    checksum is reported with a warning (:func:`pvopt.errors.warn_input`) and replaced.

    Returns
    -------
    tuple
        The yield Dataset and whether the cache was reused.
    """
    from pvopt.pv.yields import read_yield, simulate_yield

    fp = yield_fingerprint(pf)
    yp = out / "yield.nc" if out is not None else None
    if yp is not None and yp.exists():
        try:
            cached = read_yield(yp)
        except Exception as e:  # noqa: BLE001 - truncated or not a netCDF file: computed again
            _warn_cache(yp, f"it cannot be read ({type(e).__name__}: {e})")
        else:
            if cached.attrs.get("yield_fingerprint") == fp:
                if cached.attrs.get("content_sha256") == content_digest(cached):
                    return cached, True
                if cached.attrs.get("content_sha256"):
                    _warn_cache(yp, "its data fail their checksum (the file is damaged or was edited)")
    yields = simulate_yield(pf, progress=progress)
    yields.attrs["yield_fingerprint"] = fp
    yields.attrs[FINGERPRINT_ATTR] = portfolio_fingerprint(pf)
    if yp is not None:
        write_yield_cache(yields, yp)
    return yields, False


def _warn_cache(path: Path, why: str) -> None:
    """One ``warning:`` line naming the corrupt cache file (the run goes on and rebuilds it)."""
    warn_input(InputIssue(str(path), "", f"corrupt yield cache: {why}; the yield is computed again and the file replaced"))


def _commit(out: Path, tmp_sum: str, tmp_plan: str) -> None:
    """Rename the new summary, then the new plan (the commit marker), over the old pair; keep the old summary until then."""
    backup = out / SUMMARY_BACKUP
    _discard(str(backup))
    if (out / "summary.csv").exists() and (out / "plan.nc").exists():
        _keep_copy(out / "summary.csv", backup)
    os.replace(tmp_sum, out / "summary.csv")
    try:
        os.replace(tmp_plan, out / "plan.nc")
    except BaseException:
        if backup.exists():  # the old plan.nc is still in place: put its summary back
            os.replace(backup, out / "summary.csv")
        raise
    _discard(str(backup))
    _fsync_dir(out)


def run_yield(portfolio_dir: str | Path, out_dir: str | Path | None = None, *, force: bool = False,
              progress: Callable[[int, int], None] | None = None) -> tuple[Portfolio, xr.Dataset]:
    """Load a portfolio, simulate every array's yield, and write ``out_dir/yield.nc``."""
    from pvopt.pv.yields import simulate_yield

    pf = load_portfolio(portfolio_dir)
    if out_dir is None:
        ds = simulate_yield(pf, progress=progress)
        ds.attrs["yield_fingerprint"] = yield_fingerprint(pf)
        ds.attrs[FINGERPRINT_ATTR] = portfolio_fingerprint(pf)
        return pf, ds
    out = Path(out_dir)
    _check_target(out / "yield.nc", force)
    with run_lock(out, "yield"):
        _check_target(out / "yield.nc", force)
        ds = simulate_yield(pf, progress=progress)
        ds.attrs["yield_fingerprint"] = yield_fingerprint(pf)
        ds.attrs[FINGERPRINT_ATTR] = portfolio_fingerprint(pf)
        write_yield_cache(ds, out / "yield.nc")
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


def plan_portfolio(pf: Portfolio, yields: xr.Dataset, opts: SolveOptions = SolveOptions(), *, hourly: bool = True,
                   phase: Phase | None = None) -> PlanRun:
    """Build inputs, solve, and assemble the plan Dataset (no files written); ``phase`` hears of each step."""
    t = time.perf_counter()
    if phase is not None:
        phase("LP inputs")
    inputs = build_plan_inputs(pf, yields)
    t_inputs = time.perf_counter() - t
    if phase is not None:
        phase("LP build and HiGHS solve")
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
             hourly: bool = True, progress: Callable[[int, int], None] | None = None, phase: Phase | None = None) -> PlanRun:
    """Yield (reusing ``out_dir/yield.nc`` when it matches), plan, and write ``plan.nc`` and ``summary.csv``.

    Before any work the output folder is created and checked (writable, not a
    file), an existing result without ``force`` is refused, and the folder's
    lock is taken (a second run into the same folder is refused at once).
    """
    t0 = time.perf_counter()
    pf = load_portfolio(portfolio_dir)
    if out_dir is None:
        return _plan_run(pf, None, force, opts, hourly, progress, phase, t0)
    out = Path(out_dir)
    _check_target(out / "plan.nc", force)
    _check_target(out / "summary.csv", force)
    with run_lock(out, "plan"):
        recover_run(out)
        _check_target(out / "plan.nc", force)  # again, under the lock: a run that held it may have finished meanwhile
        _check_target(out / "summary.csv", force)
        return _plan_run(pf, out, force, opts, hourly, progress, phase, t0)


def _plan_run(pf: Portfolio, out: Path | None, force: bool, opts: SolveOptions, hourly: bool,
              progress: Callable[[int, int], None] | None, phase: Phase | None, t0: float) -> PlanRun:
    t = time.perf_counter()
    if phase is not None:
        phase("yield (pvlib, or the cached yield.nc)")
    yields, reused = cached_yield(pf, out, progress)
    t_yield = time.perf_counter() - t
    run = plan_portfolio(pf, yields, opts, hourly=hourly, phase=phase)
    run.timings_s["yield"] = t_yield
    run.timings_s["yield_reused"] = float(reused)
    if out is not None:
        if phase is not None:
            phase("write plan.nc and summary.csv")
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
