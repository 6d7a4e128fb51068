"""Scenario sweeps: many independent plans over a grid of input variations, on dask.distributed.

A sweep varies a few inputs (certificate price, capex, grid factors, tariff,
discount rate, milestone years) over the Cartesian product of their values.
The yield and the LP input Dataset are built **once**; each scenario is a
pure transformation of that Dataset (:func:`apply_scenario`) followed by a
solve. Scenarios run on a dask.distributed cluster: a ``LocalCluster`` on the
machine by default, or an existing cluster given by its scheduler address.

The store (``out_dir``)::

    sweep.json                  the spec: varied names and values, input fingerprint
    scenarios/<id>.nc           one compact result per solved scenario (no hourly data)
    scenarios/<id>.failed.json  one record per failed scenario, with the reason
    index.csv                   one row per stored scenario: id, readable label, values, status, npc, the cost
                                categories (pvopt.costs.COST_CATEGORIES) and total_cost summed over sites and
                                years (undiscounted, portfolio currency), the summary figures of
                                :data:`INDEX_METRICS` (against business as usual, PV, certificates, offsets,
                                emissions, discount rate), reason, seconds

Scenarios whose discount rates differ have NPCs that are not comparable: :func:`discount_rate_note`
says so (``open_sweep(...).attrs["warning"]`` and the ``pvopt sweep`` command).

Only the parent process writes, each file atomically (temporary file, then
``os.replace``), as each scenario completes; workers only return results. A
sweep started again into the same directory skips every scenario that has a
result or a failure record, so an interrupted sweep (Ctrl-C, a lost worker)
computes only what is missing and nothing is written twice. Scenarios that
could not be computed at all (the cluster lost the task's workers too often,
the sweep's time limit ran out) are not stored and are computed by the next run.

:func:`open_sweep` combines the store into one Dataset with a ``scenario``
dimension and the varied values as coordinates.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pvopt.costs import COST_NAMES, TOTAL_COST
from pvopt.errors import EXIT_INPUT, InfeasiblePlanError, OutputExistsError, PvoptError, SolverError
from pvopt.io import run_lock, write_netcdf_atomic, write_text_atomic as _write_text_atomic

__all__ = [
    "KNOWN_PARAMETERS",
    "Scenario",
    "SweepResult",
    "VaryError",
    "ScenarioError",
    "SweepSpecError",
    "SweepError",
    "parse_vary",
    "scenario_grid",
    "validate_grid",
    "apply_scenario",
    "inputs_fingerprint",
    "solve_scenario",
    "run_sweep",
    "open_sweep",
    "read_index",
    "sweep_inputs",
    "scenario_label",
    "discount_rate_note",
    "INDEX_METRICS",
]

log = logging.getLogger(__name__)

FORMAT = "pvopt-sweep/1"
MILESTONE_YEAR = "milestone_year:"
CERTIFICATE_PRICE = "certificate_price:"
TEST_SLEEP = "_sleep_s"

#: Parameters a sweep may vary, with their meaning (also the text of the error for an unknown name).
KNOWN_PARAMETERS: dict[str, str] = {
    "certificate_price": "price of every certificate instrument in every year [currency/MWh]",
    "certificate_price:<instrument>": "price of one certificate instrument (e.g. certificate_price:GEC) in every year [currency/MWh]",
    "certificate_price_scale": "factor on every certificate price [-]",
    "capex_scale": "factor on PV capex of every kind and year [-]",
    "grid_factor_scale": "factor on the grid and residual-mix emission factors of every site and year [-]",
    "tariff_scale": "factor on the grid import price of every site, year and hour [-]",
    "discount_rate": "discount rate [1/yr]",
    "offset_price": "offset credit price in every year [currency/tCO2e]",
    "milestone_year:<name>": "year of the milestone <name> (must lie in the planning horizon) [year]",
    TEST_SLEEP: "testing knob: seconds the worker sleeps before solving (makes scenarios slow on purpose) [s]",
}
_SCALES = {"certificate_price_scale", "capex_scale", "grid_factor_scale", "tariff_scale"}
_PRICES = {"certificate_price", "offset_price"}


class VaryError(PvoptError):
    """A ``--vary`` argument is malformed, names an unknown input, or has a value out of range."""

    exit_code = EXIT_INPUT


class ScenarioError(ValueError):
    """One scenario cannot be built from the base inputs (e.g. a milestone year outside the horizon)."""


class SweepSpecError(OutputExistsError):
    """The output directory holds a sweep with a different spec or base inputs (use ``force``)."""


class SweepError(PvoptError):
    """The sweep could not run (e.g. the scheduler cannot be reached)."""


# --------------------------------------------------------------------------- #
# grid
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Scenario:
    """One point of the grid: a stable id and the varied values."""

    id: str
    values: Mapping[str, float | int]


def _is_known(name: str) -> bool:
    return name in KNOWN_PARAMETERS or any(name.startswith(p) and len(name) > len(p) for p in (MILESTONE_YEAR, CERTIFICATE_PRICE))


def _parse_value(name: str, text: str, arg: str) -> float | int:
    t = text.strip()
    try:
        v = float(t)
    except ValueError:
        raise VaryError(f"--vary {arg!r}: value {t!r} of {name} is not a number") from None
    if not math.isfinite(v):
        raise VaryError(f"--vary {arg!r}: value {t!r} of {name} is not finite")
    if name.startswith(MILESTONE_YEAR):
        if v != int(v):
            raise VaryError(f"--vary {arg!r}: {name} takes whole years, got {t!r}")
        return int(v)
    if name in _SCALES or name in _PRICES or name == TEST_SLEEP or name.startswith(CERTIFICATE_PRICE):
        if v < 0:
            raise VaryError(f"--vary {arg!r}: {name} must be >= 0 (as every price and cost in the portfolio), got {t!r}")
    if name == "discount_rate":
        lo, hi = discount_rate_range()
        if not lo <= v <= hi:
            raise VaryError(f"--vary {arg!r}: discount_rate must be between {lo:g} and {hi:g} (the range of "
                            f"planning.discount_rate in portfolio.yaml; 0.06 is 6 %/yr), got {t!r}")
    return v


def discount_rate_range() -> tuple[float, float]:
    """Return the range the input schema allows for ``planning.discount_rate`` (``ge`` / ``le`` of the field) [1/yr]."""
    from pvopt.inputs.schema import Planning

    lo, hi = -math.inf, math.inf
    for m in Planning.model_fields["discount_rate"].metadata:
        lo = float(getattr(m, "ge", getattr(m, "gt", lo)))
        hi = float(getattr(m, "le", getattr(m, "lt", hi))) if hasattr(m, "le") or hasattr(m, "lt") else hi
    return lo, hi


def parse_vary(args: Iterable[str]) -> dict[str, list[float | int]]:
    """Parse ``NAME=V1,V2,...`` arguments into ``{name: [values]}`` (in the order given).

    Examples
    --------
    >>> parse_vary(["certificate_price=2,50", "milestone_year:neutral=2033,2035"])
    {'certificate_price': [2.0, 50.0], 'milestone_year:neutral': [2033, 2035]}
    """
    out: dict[str, list[float | int]] = {}
    for arg in args:
        if "=" not in arg:
            raise VaryError(f"--vary {arg!r}: expected NAME=V1,V2,..., e.g. capex_scale=0.8,1.0,1.2")
        name, _, rest = arg.partition("=")
        name = name.strip()
        if not _is_known(name):
            known = ", ".join(KNOWN_PARAMETERS)
            raise VaryError(f"--vary {arg!r}: unknown input {name!r}; expected one of: {known}")
        if name in out:
            raise VaryError(f"--vary {arg!r}: {name} is varied twice; give all its values in one --vary")
        parts = [p for p in rest.split(",")]
        if not rest.strip() or any(not p.strip() for p in parts):
            raise VaryError(f"--vary {arg!r}: expected a comma-separated list of values after '{name}='")
        vals = [_parse_value(name, p, arg) for p in parts]
        if len(set(vals)) != len(vals):
            raise VaryError(f"--vary {arg!r}: a value of {name} is repeated")
        out[name] = vals
    if not out:
        raise VaryError("nothing to sweep: give at least one --vary NAME=V1,V2,...")
    return out


def _canonical(values: Mapping[str, Any]) -> str:
    return json.dumps({k: values[k] for k in sorted(values)}, sort_keys=True, separators=(",", ":"))


def scenario_id(values: Mapping[str, float | int]) -> str:
    """Stable id of a value combination (independent of the order of the varied names)."""
    return "sc-" + hashlib.sha256(_canonical(values).encode()).hexdigest()[:10]


def scenario_label(values: Mapping[str, float | int]) -> str:
    """Readable label of a value combination, in the order given.

    Scales read as a change in percent, prices and years as themselves, the discount rate in percent.

    Examples
    --------
    >>> scenario_label({"certificate_price:GEC": 50.0, "capex_scale": 1.3, "discount_rate": 0.06})
    'GEC price=50,capex=+30%,discount rate=6%'
    >>> scenario_label({"milestone_year:neutral-2035": 2033, "certificate_price": 2.0})
    'neutral-2035 year=2033,certificate price=2'
    """
    parts = []
    for name, v in values.items():
        if name == TEST_SLEEP:
            continue
        if name in _SCALES:
            parts.append(f"{name.removesuffix('_scale').replace('_', ' ')}={100 * (float(v) - 1):+g}%")
        elif name == "discount_rate":
            parts.append(f"discount rate={100 * float(v):g}%")
        elif name.startswith(CERTIFICATE_PRICE):
            parts.append(f"{name[len(CERTIFICATE_PRICE):]} price={float(v):g}")
        elif name.startswith(MILESTONE_YEAR):
            parts.append(f"{name[len(MILESTONE_YEAR):]} year={int(v)}")
        else:
            parts.append(f"{name.replace('_', ' ')}={float(v):g}")
    return ",".join(parts) or "base"


def discount_rate_note(rates: Iterable[float]) -> str:
    """Return a warning when scenarios have different discount rates (their NPCs are then not comparable), else ``""``."""
    vals = sorted({round(float(r), 12) for r in rates if r == r})
    if len(vals) <= 1:
        return ""
    return (f"discount rates differ across scenarios ({', '.join(f'{100 * r:g} %' for r in vals)}): NPCs and savings of scenarios "
            "at different rates are not comparable; compare within one rate, or compare undiscounted costs")


def scenario_grid(vary: Mapping[str, Sequence[float | int]]) -> list[Scenario]:
    """Return the Cartesian product of the varied values, in ``--vary`` order (last name varies fastest).

    Examples
    --------
    >>> [dict(s.values) for s in scenario_grid({"capex_scale": [0.8, 1.2], "discount_rate": [0.05]})]
    [{'capex_scale': 0.8, 'discount_rate': 0.05}, {'capex_scale': 1.2, 'discount_rate': 0.05}]
    """
    names = list(vary)
    grid = []
    for combo in itertools.product(*(vary[n] for n in names)):
        values = dict(zip(names, combo))
        grid.append(Scenario(scenario_id(values), values))
    return grid


def validate_grid(inputs: xr.Dataset, vary: Mapping[str, Sequence[float | int]]) -> None:
    """Check the varied names against the base inputs; raise :class:`VaryError` on a mismatch.

    Values that only some scenarios cannot use (a milestone year outside the
    horizon) are not errors here: those scenarios fail with their reason.
    """
    ms = {m["name"]: m for m in json.loads(inputs.attrs.get("milestones_json", "[]"))}
    for name in vary:
        if not _is_known(name):
            raise VaryError(f"unknown input {name!r}; expected one of: {', '.join(KNOWN_PARAMETERS)}")
        if name.startswith(MILESTONE_YEAR):
            mname = name[len(MILESTONE_YEAR):]
            if mname not in ms:
                raise VaryError(f"{name}: the portfolio has no milestone {mname!r}; milestones: {', '.join(ms) or '(none)'}")
            if ms[mname].get("year") is None:
                raise VaryError(f"{name}: milestone {mname!r} ({ms[mname]['type']}) applies every year and has no year to move")
        if name.startswith("certificate_price") and inputs.sizes.get("certificate", 0) == 0:
            raise VaryError(f"{name}: the portfolio has no certificate instruments")
        if name.startswith(CERTIFICATE_PRICE) and name[len(CERTIFICATE_PRICE):] not in [str(c) for c in inputs["certificate"].values]:
            raise VaryError(f"{name}: the portfolio has no certificate instrument {name[len(CERTIFICATE_PRICE):]!r}; "
                            f"instruments: {', '.join(str(c) for c in inputs['certificate'].values)}")
        if name == "offset_price" and not np.isfinite(inputs["offset_price_per_tco2e"].values).any():
            raise VaryError("offset_price: the portfolio allows no offsets (no offsets section)")


# --------------------------------------------------------------------------- #
# one scenario
# --------------------------------------------------------------------------- #
def apply_scenario(inputs: xr.Dataset, values: Mapping[str, float | int]) -> xr.Dataset:
    """Return the LP inputs of one scenario: ``inputs`` with the varied values applied (``inputs`` is not changed).

    * ``certificate_price``: every instrument's price in every year [currency/MWh]
      (availability unchanged); ``certificate_price:<instrument>`` one instrument's price in every year;
      ``certificate_price_scale`` multiplies the prices (after any price set here).
    * ``capex_scale``: multiplies ``capex_per_kwp`` (O&M unchanged).
    * ``grid_factor_scale``: multiplies ``grid_ef_t_per_mwh`` and ``residual_ef_t_per_mwh``
      in the planning years; the audited baseline (``baseline_*``) is history and is not scaled.
    * ``tariff_scale``: multiplies ``import_price_per_kwh`` (export prices unchanged).
    * ``discount_rate``: replaces the attribute.
    * ``offset_price``: replaces the offset price in years where offsets are available.
    * ``milestone_year:<name>``: moves the milestone; a year outside the horizon raises
      :class:`ScenarioError`.
    * ``_sleep_s``: ignored here (a testing knob honoured by :func:`solve_scenario`).

    Examples
    --------
    >>> from pvopt.testing import small_inputs
    >>> base = small_inputs(n_sites=1, n_years=2)
    >>> s = apply_scenario(base, {"capex_scale": 2.0})
    >>> float(s["capex_per_kwp"][0, 0]) == 2 * float(base["capex_per_kwp"][0, 0])
    True
    """
    ds = inputs.copy()
    ds.attrs = dict(inputs.attrs)
    milestones = json.loads(inputs.attrs.get("milestones_json", "[]"))
    moved = False
    for name, v in sorted(values.items(), key=lambda t: t[0] == "certificate_price_scale"):  # set prices, then scale
        if name.startswith(CERTIFICATE_PRICE):
            inst = name[len(CERTIFICATE_PRICE):]
            if inst not in [str(c) for c in inputs["certificate"].values]:
                raise ScenarioError(f"no certificate instrument {inst!r}")
            ds["certificate_price_per_mwh"] = ds["certificate_price_per_mwh"].where(ds["certificate"] != inst, float(v))
        elif name == "certificate_price":
            ds["certificate_price_per_mwh"] = xr.full_like(inputs["certificate_price_per_mwh"], float(v), dtype=float)
        elif name == "certificate_price_scale":
            ds["certificate_price_per_mwh"] = ds["certificate_price_per_mwh"] * float(v)
        elif name == "capex_scale":
            ds["capex_per_kwp"] = inputs["capex_per_kwp"] * float(v)
        elif name == "grid_factor_scale":
            ds["grid_ef_t_per_mwh"] = inputs["grid_ef_t_per_mwh"] * float(v)
            ds["residual_ef_t_per_mwh"] = inputs["residual_ef_t_per_mwh"] * float(v)
        elif name == "tariff_scale":
            ds["import_price_per_kwh"] = inputs["import_price_per_kwh"] * float(v)
        elif name == "discount_rate":
            ds.attrs["discount_rate"] = float(v)
        elif name == "offset_price":
            op = inputs["offset_price_per_tco2e"]
            ds["offset_price_per_tco2e"] = op.where(op.isnull(), float(v))
        elif name.startswith(MILESTONE_YEAR):
            mname = name[len(MILESTONE_YEAR):]
            hits = [m for m in milestones if m["name"] == mname]
            if not hits:
                raise ScenarioError(f"no milestone {mname!r}")
            years = [int(y) for y in inputs["year"].values]
            if int(v) not in years:
                raise ScenarioError(f"{name}={int(v)} is outside the planning horizon {years[0]}-{years[-1]}")
            for m in hits:
                m["year"] = int(v)
            moved = True
        elif name == TEST_SLEEP:
            pass
        else:
            raise ScenarioError(f"unknown input {name!r}")
    for k in ("certificate_price_per_mwh", "capex_per_kwp", "grid_ef_t_per_mwh", "residual_ef_t_per_mwh",
              "import_price_per_kwh", "offset_price_per_tco2e"):
        if k in ds:
            ds[k].attrs = dict(inputs[k].attrs)
    if moved:
        ds.attrs["milestones_json"] = json.dumps(milestones)
    ds.attrs["scenario_json"] = _canonical(values)
    if values and inputs.attrs.get("portfolio_fingerprint"):  # other inputs than the portfolio's: another fingerprint
        fp = f"{inputs.attrs['portfolio_fingerprint']}|{_canonical(values)}"
        ds.attrs["portfolio_fingerprint"] = hashlib.sha256(fp.encode()).hexdigest()[:16]
    return ds


def _a(units: str, description: str) -> dict[str, str]:
    return {"units": units, "description": description}


_COMPACT_BAU = ("bau_npc", "npc_saving", "npc_saving_by_group", "year1_bill_saving", "payback_year", "payback_year_discounted",
                "cost_saving", "cumulative_saving", "cumulative_saving_discounted", "emissions_cut_net_tco2e")
"""Business-as-usual figures kept in each scenario's compact result (:mod:`pvopt.results.bau`)."""


def _compact_result(plan: xr.Dataset, rows: list[dict[str, Any]]) -> xr.Dataset:
    """Per-scenario scalars and small tables (no hourly data, no inputs)."""
    from pvopt.lp.solution import milestones_to_dataset

    cur = str(plan.attrs.get("currency", ""))
    kinds = plan["array_kind"]
    site_of = plan["array_site"].rename("site")
    inst = plan["installed_kwp"]
    build = plan["build_kwp"]
    out = xr.Dataset(coords={"site": plan["site"].values, "year": plan["year"].values, "kind": plan["kind"].values,
                             "certificate": plan["certificate"].values})
    out["npc"] = ((), float(plan["npc"]), _a(cur, "net present cost of the plan, salvage deducted"))
    out["salvage_value"] = ((), float(plan["salvage_value"]), _a(cur, "present value of PV life left after the horizon"))
    out["installed_kwp_by_kind"] = (("kind", "year"), np.stack([inst.where(kinds == k, 0.0).sum("array").values for k in out["kind"].values]),
                                    _a("kWp", "PV installed at the end of the year, by kind"))
    out["build_kwp_by_kind"] = (("kind", "year"), np.stack([build.where(kinds == k, 0.0).sum("array").values for k in out["kind"].values]),
                                _a("kWp", "new PV built in the year, by kind"))
    sites = list(out["site"].values)
    by_site = np.zeros((len(sites), plan.sizes["year"]))
    for a, s in enumerate(site_of.values):
        by_site[sites.index(s)] += inst.values[a]
    out["installed_kwp"] = (("site", "year"), by_site, _a("kWp", "PV installed at the end of the year, by site"))
    for k in ("pv_generated_mwh", "pv_onsite_mwh", "curtailed_mwh", "export_mwh", "grid_import_mwh", "certificates_mwh",
              "offsets_tco2e", "scope1_after_measures_tco2e", "scope2_location_tco2e", "scope2_market_tco2e", "net_tco2e",
              *COST_NAMES, TOTAL_COST):
        out[k] = (("site", "year"), plan[k].transpose("site", "year").values, dict(plan[k].attrs))
    out["certificates_by_instrument_mwh"] = (("certificate", "year"), plan["certificates_by_instrument_mwh"].sum("site").values,
                                             _a("MWh", "certificates bought, by instrument (all sites)"))
    out["discount_rate"] = ((), float(plan.attrs["discount_rate"]), _a("1/yr", "discount rate of the scenario"))
    for k in _COMPACT_BAU:
        if k in plan:
            out[k] = plan[k].copy()
    if rows:
        ms = milestones_to_dataset(rows, cur)
        for k in ("milestone_type", "milestone_year", "milestone_met", "milestone_target", "milestone_achieved",
                  "milestone_marginal_cost"):
            out[k] = ms[k]
    return out


def solve_scenario(inputs: xr.Dataset, scenario_id_: str, values: Mapping[str, float | int], *,
                   time_limit_s: float | None = None, threads: int = 1) -> dict[str, Any]:
    """Solve one scenario and return a record (never raises for a failed plan).

    This is the task run on a worker. The record is ``{"id", "status": "ok" | "failed",
    "reason", "seconds", "worker", "result"}`` where ``result`` is the compact
    result Dataset (``None`` on failure). The test knob ``_sleep_s`` sleeps
    before solving.
    """
    from pvopt.lp.model import SolveOptions
    from pvopt.lp.outcome import solve

    t0 = time.perf_counter()
    rec: dict[str, Any] = {"id": scenario_id_, "values": dict(values), "worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        if values.get(TEST_SLEEP):
            time.sleep(float(values[TEST_SLEEP]))
        d = apply_scenario(inputs, values)
        # each worker starts a scenario from the basis the previous one ended with (same LP structure)
        # the sweep runs scenarios in parallel: a decomposed scenario solves its subproblems one after another
        opts = SolveOptions(time_limit_s=time_limit_s, threads=threads, warm_start=True, workers=0)
        out = solve(d, opts, hourly=False)
        from pvopt.pipeline import with_business_as_usual

        result = _compact_result(with_business_as_usual(d, out.plan, opts), out.milestones)
        result.attrs.update(currency=str(d.attrs.get("currency", "")), highs_seconds=out.solution.highs_seconds)
        rec.update(status="ok", reason="", result=result)
    except (InfeasiblePlanError, SolverError, ScenarioError) as e:
        rec.update(status="failed", reason=f"{type(e).__name__}: {e}", result=None)
    except Exception as e:  # noqa: BLE001 - one broken scenario must not stop the sweep; the reason is stored
        rec.update(status="failed", reason=f"internal error {type(e).__name__}: {e}", result=None)
    rec["seconds"] = time.perf_counter() - t0
    return rec


# --------------------------------------------------------------------------- #
# store
# --------------------------------------------------------------------------- #
def inputs_fingerprint(inputs: xr.Dataset) -> str:
    """Hash of every variable, coordinate and attribute of the LP inputs."""
    h = hashlib.sha256()
    for name in sorted(map(str, inputs.variables)):
        v = inputs.variables[name]
        h.update(f"{name}|{v.dims}|{v.dtype.kind}|".encode())
        vals = np.asarray(v.values)
        if vals.dtype.kind in "OUS":
            h.update(json.dumps([str(x) for x in vals.ravel()]).encode())
        else:
            h.update(np.ascontiguousarray(vals).tobytes())
    h.update(json.dumps({k: str(v) for k, v in inputs.attrs.items() if k != "scenario_json"}, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _spec(vary: Mapping[str, Sequence[float | int]], fingerprint: str, portfolio: str | None,
          time_limit_s: float | None) -> dict[str, Any]:
    from pvopt.constants import __version__

    return {
        "format": FORMAT,
        "names": list(vary),
        "vary": {k: list(v) for k, v in vary.items()},
        "n_scenarios": int(np.prod([len(v) for v in vary.values()])),
        "inputs_fingerprint": fingerprint,
        "portfolio": portfolio,
        "time_limit_s": time_limit_s,
        "pvopt_version": __version__,
        "created_utc": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }


def _same_spec(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    def norm(s):
        return ({k: sorted(v) for k, v in s.get("vary", {}).items()}, s.get("inputs_fingerprint"))
    return norm(a) == norm(b)


def _result_path(out_dir: Path, sid: str) -> Path:
    return out_dir / "scenarios" / f"{sid}.nc"


def _failed_path(out_dir: Path, sid: str) -> Path:
    return out_dir / "scenarios" / f"{sid}.failed.json"


INDEX_METRICS: tuple[str, ...] = (
    "bau_npc", "npc_saving", "year1_bill_saving", "payback_year", "payback_year_discounted", "discount_rate",
    "new_pv_kwp", "pv_installed_last_kwp", "pv_onsite_mwh", "certificates_mwh", "offsets_tco2e", "net_tco2e", "net_last_year_tco2e",
)
"""Summary columns of ``index.csv`` after the costs: against business as usual (currency; payback in years), the
discount rate, new PV over the plan and installed in its last year [kWp], and totals over sites and years."""


def _index_metrics(ds: xr.Dataset) -> dict[str, float]:
    """Return the :data:`INDEX_METRICS` of one compact scenario result (NaN where the result lacks a figure)."""
    get = lambda k: float(ds[k]) if k in ds else np.nan  # noqa: E731
    out = {k: get(k) for k in ("bau_npc", "npc_saving", "year1_bill_saving", "payback_year", "payback_year_discounted", "discount_rate")}
    out["new_pv_kwp"] = float(ds["build_kwp_by_kind"].sum())
    out["pv_installed_last_kwp"] = float(ds["installed_kwp"].isel(year=-1).sum())
    for k in ("pv_onsite_mwh", "certificates_mwh", "offsets_tco2e", "net_tco2e"):
        out[k] = float(ds[k].sum())
    out["net_last_year_tco2e"] = float(ds["net_tco2e"].isel(year=-1).sum())
    return out


def _result_figures(ds: xr.Dataset) -> dict[str, float]:
    """Return the index figures of one compact result: ``npc``, the cost categories and total, :data:`INDEX_METRICS`."""
    costs = {k: float(ds[k].sum()) if k in ds else np.nan for k in (*COST_NAMES, TOTAL_COST)}
    return {"npc": float(ds["npc"]), **costs, **_index_metrics(ds)}


def _read_stored(out_dir: Path, grid: Sequence[Scenario]) -> dict[str, dict[str, Any]]:
    """Index rows of the scenarios already in the store (a result wins over a failure record)."""
    rows: dict[str, dict[str, Any]] = {}
    for sc in grid:
        rp, fp = _result_path(out_dir, sc.id), _failed_path(out_dir, sc.id)
        if rp.exists():
            try:
                with xr.open_dataset(rp, engine="h5netcdf") as ds:
                    a = dict(ds.attrs)
                    figures = _result_figures(ds)
                rows[sc.id] = {"status": "ok", "reason": "", "seconds": float(a.get("seconds", np.nan)),
                               "worker": str(a.get("worker", "")), **figures}
            except Exception as e:  # noqa: BLE001 - an unreadable file is treated as missing and recomputed
                log.warning("unreadable result %s (%s); it will be recomputed", rp, e)
        elif fp.exists():
            try:
                rec = json.loads(fp.read_text(encoding="utf-8"))
                rows[sc.id] = {"status": "failed", "reason": rec.get("reason", ""), "seconds": rec.get("seconds", np.nan),
                               "worker": rec.get("worker", ""), "npc": np.nan}
            except Exception as e:  # noqa: BLE001
                log.warning("unreadable failure record %s (%s); it will be recomputed", fp, e)
    return rows


def _index_frame(grid: Sequence[Scenario], names: Sequence[str], rows: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    recs = []
    for sc in grid:
        if sc.id in rows:
            r = rows[sc.id]
            recs.append({"scenario_id": sc.id, "label": scenario_label(sc.values), **{n: sc.values[n] for n in names}, "status": r["status"],
                         "npc": r.get("npc", np.nan), **{k: r.get(k, np.nan) for k in (*COST_NAMES, TOTAL_COST, *INDEX_METRICS)},
                         "reason": r["reason"], "seconds": r["seconds"], "worker": r.get("worker", "")})
    cols = ["scenario_id", "label", *names, "status", "npc", *COST_NAMES, TOTAL_COST, *INDEX_METRICS, "reason", "seconds", "worker"]
    return pd.DataFrame(recs, columns=cols)


def _write_index(out_dir: Path, grid, names, rows) -> pd.DataFrame:
    df = _index_frame(grid, names, rows)
    _write_text_atomic(df.to_csv(index=False), out_dir / "index.csv")
    return df


def read_index(out_dir: str | Path) -> pd.DataFrame:
    """``index.csv`` of a sweep: one row per stored scenario (status ``ok`` or ``failed``)."""
    return pd.read_csv(Path(out_dir) / "index.csv", keep_default_na=False, na_values=[""])


def _store_record(out_dir: Path, rec: Mapping[str, Any]) -> None:
    sid = rec["id"]
    if rec["status"] == "ok":
        ds: xr.Dataset = rec["result"]
        ds.attrs.update(scenario_id=sid, scenario_json=_canonical(rec["values"]), seconds=float(rec["seconds"]),
                        worker=str(rec["worker"]), status="ok")
        write_netcdf_atomic(ds, _result_path(out_dir, sid))
        stale = _failed_path(out_dir, sid)
        if stale.exists():
            stale.unlink()
    else:
        body = {"scenario_id": sid, "values": dict(rec["values"]), "status": "failed", "reason": rec["reason"],
                "seconds": float(rec["seconds"]), "worker": str(rec["worker"])}
        _write_text_atomic(json.dumps(body, indent=1), _failed_path(out_dir, sid))


# --------------------------------------------------------------------------- #
# run
# --------------------------------------------------------------------------- #
@dataclass
class SweepResult:
    """What a sweep run did and what the store holds now."""

    out_dir: Path
    n_scenarios: int
    n_ok: int
    n_failed: int
    n_skipped: int  #: already in the store when the run started
    n_computed: int  #: computed and stored by this run
    not_computed: dict[str, str] = field(default_factory=dict)  #: id -> why (not stored; the next run computes them)
    seconds: float = 0.0
    index: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def complete(self) -> bool:
        """Every scenario of the grid has a result or a failure record."""
        return self.n_ok + self.n_failed == self.n_scenarios


def _prepare_store(out: Path, spec: dict[str, Any], force: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    sp = out / "sweep.json"
    if sp.exists():
        try:
            old = json.loads(sp.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            old = {}
        if _same_spec(old, spec):
            return
        if not force:
            what = []
            if old.get("inputs_fingerprint") != spec["inputs_fingerprint"]:
                what.append(f"base inputs differ (fingerprint {old.get('inputs_fingerprint')} stored, {spec['inputs_fingerprint']} now)")
            if _same_spec({**old, "inputs_fingerprint": None}, {**spec, "inputs_fingerprint": None}) is False:
                what.append(f"varied values differ (stored {json.dumps(old.get('vary'))}, now {json.dumps(spec['vary'])})")
            raise SweepSpecError(f"{out} holds a different sweep: {'; '.join(what)}; use another --out or pass --force "
                                 "to discard its results")
    if force:
        sdir = out / "scenarios"
        if sdir.exists():
            shutil.rmtree(sdir)
        if (out / "index.csv").exists():
            (out / "index.csv").unlink()
    (out / "scenarios").mkdir(exist_ok=True)
    _write_text_atomic(json.dumps(spec, indent=1), sp)


def run_sweep(
    inputs: xr.Dataset,
    vary: Mapping[str, Sequence[float | int]],
    out_dir: str | Path,
    *,
    client: Any = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    force: bool = False,
    retry_failed: bool = False,
    time_limit_s: float | None = None,
    timeout_s: float | None = None,
    portfolio: str | None = None,
) -> SweepResult:
    """Solve every scenario of the grid ``vary`` not yet in ``out_dir``, writing each as it finishes.

    Parameters
    ----------
    inputs
        Base LP inputs (:func:`pvopt.lp.inputs.build_plan_inputs`), built once.
    vary
        ``{name: [values]}`` (see :func:`parse_vary` and :data:`KNOWN_PARAMETERS`).
    out_dir
        The store (see the module docstring).
    client
        An existing ``distributed.Client`` to use (not closed here).
    scheduler
        Address of an existing dask scheduler, e.g. ``tcp://10.0.0.5:8786``; workers need pvopt installed.
    n_workers
        Workers of the ``LocalCluster`` started when neither ``client`` nor ``scheduler``
        is given (default: ``min(cores, scenarios to compute)``); ``0`` solves serially in
        this process without dask.
    progress
        ``progress(done, total)`` after each scenario (``done`` counts the ones already stored).
    force
        Discard a store that holds a different sweep.
    retry_failed
        Compute again the scenarios stored as failed (e.g. after raising the time limit).
    time_limit_s
        HiGHS time limit per scenario [s].
    timeout_s
        Wall-clock limit of the whole run [s]; scenarios not finished by then are left for the next run.
    portfolio
        Portfolio path, recorded in ``sweep.json``.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    validate_grid(inputs, vary)
    grid = scenario_grid(vary)
    if time_limit_s is not None and not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise VaryError(f"time limit per scenario: expected seconds > 0 (and finite), got {time_limit_s}")
    with run_lock(out, "sweep"):  # one sweep at a time in a store: two would solve the same scenarios twice
        _prepare_store(out, _spec(vary, inputs_fingerprint(inputs), portfolio, time_limit_s), force)
        rows = _read_stored(out, grid)
        if retry_failed:
            rows = {k: r for k, r in rows.items() if r["status"] != "failed"}
        todo = [sc for sc in grid if sc.id not in rows]
        n_skipped = len(rows)
        ledger = _Ledger(out, grid, list(vary), rows, progress)
        not_computed: dict[str, str] = {}
        ledger.report()
        try:
            if todo and n_workers == 0 and client is None and scheduler is None:
                _run_serial(inputs, todo, ledger.finish, not_computed, t0=t0, time_limit_s=time_limit_s, timeout_s=timeout_s)
            elif todo:
                _run_distributed(inputs, todo, ledger.finish, not_computed, client=client, scheduler=scheduler, n_workers=n_workers,
                                 time_limit_s=time_limit_s, timeout_s=timeout_s)
        finally:
            from pvopt.workers import sigint_ignored

            with sigint_ignored():  # the index is written whole even when a second Ctrl-C arrives
                index = _write_index(out, grid, ledger.names, rows)
    n_ok = sum(1 for r in rows.values() if r["status"] == "ok")
    return SweepResult(out, len(grid), n_ok, len(rows) - n_ok, n_skipped, len(ledger.computed), not_computed,
                       time.perf_counter() - t0, index)


@dataclass
class _Ledger:
    """The stored rows of a sweep, updated as each scenario finishes (records written at once, the index every second)."""

    out: Path
    grid: list[Scenario]
    names: list[str]
    rows: dict[str, dict[str, Any]]
    progress: Callable[[int, int], None] | None
    computed: set[str] = field(default_factory=set)
    last_index: float = 0.0

    def report(self) -> None:
        """Call ``progress(done, total)`` when a progress callback is given."""
        if self.progress is not None:
            self.progress(len(self.rows), len(self.grid))

    def finish(self, rec: dict[str, Any]) -> None:
        """Store the record of one finished scenario, exactly once."""
        sid = rec["id"]
        if sid in self.computed:  # cannot happen (one future per scenario); guard the exactly-once promise anyway
            log.warning("scenario %s returned twice; the second result is ignored", sid)
            return
        _store_record(self.out, rec)
        self.computed.add(sid)
        self.rows[sid] = {"status": rec["status"], "reason": rec["reason"], "seconds": rec["seconds"], "worker": rec["worker"],
                          **(_result_figures(rec["result"]) if rec["status"] == "ok" else {"npc": np.nan})}
        now = time.perf_counter()
        if now - self.last_index > 1.0:
            _write_index(self.out, self.grid, self.names, self.rows)
            self.last_index = now
        self.report()


def _run_serial(inputs: xr.Dataset, todo: list[Scenario], finish: Callable[[dict[str, Any]], None], not_computed: dict[str, str], *,
                t0: float, time_limit_s: float | None, timeout_s: float | None) -> None:
    """Solve the scenarios one after another in this process, until the sweep's time limit runs out."""
    for sc in todo:
        if timeout_s is not None and time.perf_counter() - t0 > timeout_s:
            not_computed[sc.id] = f"the sweep's time limit ({timeout_s} s) ran out"
            continue
        finish(solve_scenario(inputs, sc.id, sc.values, time_limit_s=time_limit_s))


def _run_distributed(inputs, todo, finish, not_computed, *, client, scheduler, n_workers, time_limit_s, timeout_s) -> None:
    """Solve the scenarios on a dask cluster (given, reached at ``scheduler`` or a new ``LocalCluster``).

    A new ``LocalCluster``'s workers ignore Ctrl-C (:func:`pvopt.workers.local_cluster`): the
    parent stops them, so an interrupted sweep prints no worker tracebacks.
    """
    from contextlib import ExitStack

    from pvopt.workers import close_quietly, local_cluster

    with ExitStack() as stack:
        if client is None:
            if scheduler:
                from distributed import Client

                try:
                    client = Client(scheduler, timeout="15s")
                except (OSError, TimeoutError) as e:
                    raise SweepError(f"cannot reach the dask scheduler at {scheduler}: {e}") from None
                stack.callback(close_quietly, client)
            else:
                n = n_workers or min(os.cpu_count() or 1, len(todo))
                client = stack.enter_context(local_cluster(n))
        _solve_on(client, inputs, todo, finish, not_computed, time_limit_s=time_limit_s, timeout_s=timeout_s)


def _solve_on(client, inputs, todo, finish, not_computed, *, time_limit_s, timeout_s) -> None:
    """Submit every scenario to ``client`` and store each result as it arrives (cancel the rest on the way out)."""
    from distributed import as_completed

    from pvopt.workers import sigint_ignored

    base = client.scatter(inputs, broadcast=True, hash=False)
    futs = {}
    for sc in todo:
        f = client.submit(solve_scenario, base, sc.id, dict(sc.values), time_limit_s=time_limit_s,
                          key=f"pvopt-scenario-{sc.id}-{os.getpid()}-{time.time_ns()}", pure=False, retries=2)
        futs[f] = sc.id
    remaining = dict(futs)
    try:
        for f in as_completed(list(futs), timeout=timeout_s):
            sid = remaining.pop(f)
            try:
                rec = f.result()
            except Exception as e:  # noqa: BLE001 - infrastructure failure (e.g. KilledWorker): not stored, retried next run
                not_computed[sid] = f"{type(e).__name__}: {e}"
                continue
            finally:
                f.release()
            finish(rec)
    except TimeoutError:
        for f, sid in remaining.items():
            not_computed[sid] = f"the sweep's time limit ({timeout_s} s) ran out"
    finally:
        with sigint_ignored():  # a second Ctrl-C must not interrupt the clean-up
            for f in remaining:
                f.cancel()


# --------------------------------------------------------------------------- #
# read back
# --------------------------------------------------------------------------- #
def open_sweep(out_dir: str | Path, *, include_missing: bool = True) -> xr.Dataset:
    """Every scenario of a sweep in one Dataset with a ``scenario`` dimension.

    Coordinates along ``scenario``: the id, its readable ``label`` (:func:`scenario_label`), each varied
    input (named as in ``--vary``), ``status`` (``ok``, ``failed`` or ``missing``) and ``reason``. Each result
    holds the figures against business as usual (``bau_npc``, ``npc_saving``, ``payback_year``, ...) and its
    ``discount_rate``; when these differ, ``attrs["warning"]`` says the NPCs are not comparable.
    Scenarios without a result hold NaN. Unstack to the grid with
    ``ds.set_index(scenario=names).unstack("scenario")``.

    Examples
    --------
    >>> ds = open_sweep("out/sweep")  # doctest: +SKIP
    >>> ds["npc"].where(ds["status"] == "ok").set_index(scenario=["certificate_price", "capex_scale"]).unstack()  # doctest: +SKIP
    """
    out = Path(out_dir)
    spec = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    names = spec["names"]
    grid = scenario_grid(spec["vary"])
    rows = _read_stored(out, grid)
    if not include_missing:
        grid = [sc for sc in grid if sc.id in rows]
    parts, ids = [], []
    for sc in grid:
        if rows.get(sc.id, {}).get("status") == "ok":
            with xr.open_dataset(_result_path(out, sc.id), engine="h5netcdf") as ds:
                p = ds.load()
            p.attrs = {}
            parts.append(p)
            ids.append(sc.id)
    all_ids = [sc.id for sc in grid]
    if parts:
        combined = xr.concat(parts, dim="scenario",
                             data_vars="all", coords="minimal", join="outer", combine_attrs="drop")
        combined = combined.assign_coords(scenario=ids).reindex(scenario=all_ids)
        for k, var in parts[0].data_vars.items():
            combined[k].attrs = dict(var.attrs)
    else:
        combined = xr.Dataset(coords={"scenario": all_ids})
    by_id = {sc.id: sc for sc in grid}
    for n in names:
        combined = combined.assign_coords({n: ("scenario", np.array([by_id[i].values[n] for i in all_ids]))})
    combined = combined.assign_coords(
        label=("scenario", np.array([scenario_label(by_id[i].values) for i in all_ids], dtype=object)),
        status=("scenario", np.array([rows.get(i, {}).get("status", "missing") for i in all_ids], dtype=object)),
        reason=("scenario", np.array([rows.get(i, {}).get("reason", "") for i in all_ids], dtype=object)),
    )
    combined.attrs.update(sweep_json=json.dumps(spec), varied=json.dumps(names),
                          description="pvopt scenario sweep: one compact plan result per scenario")
    note = discount_rate_note(combined["discount_rate"].values) if "discount_rate" in combined else ""
    if note:
        combined.attrs["warning"] = note
    return combined


# --------------------------------------------------------------------------- #
# portfolio -> base inputs, with the yield computed once
# --------------------------------------------------------------------------- #
def sweep_inputs(portfolio_dir: str | Path, out_dir: str | Path | None = None,
                 progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
    """Build the base LP inputs of a portfolio; the yield is simulated once (``out_dir/yield.nc`` reused when it matches)."""
    from pvopt.pipeline import cached_yield
    from pvopt.lp.inputs import build_plan_inputs
    from pvopt.inputs.loading import load_portfolio

    pf = load_portfolio(portfolio_dir)
    yields, _ = cached_yield(pf, Path(out_dir) if out_dir is not None else None, progress)
    return build_plan_inputs(pf, yields)
