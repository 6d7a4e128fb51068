r"""Benders decomposition of the plan: an investment master and hourly operation subproblems by site and year.

What must stay hourly (a battery, a demand charge, an import limit) makes the
monolithic LP large: every hour of every year of such a site carries grid,
charge, discharge and state-of-charge variables. Those site-years are
*decomposed*:

* **Master** — the plan's own Pyomo model built with
  ``build_model(d, decompose=...)``: every investment and annual variable
  (builds, ``EG``, measures, battery sizes, certificates, offsets, emissions,
  milestones, the annual ``grid_mwh``, ``onsite_mwh``, ``export_mwh`` of the
  decomposed site-years) and every hourly row of the site-years that are not
  decomposed; plus one cost variable ``θ[s,y]`` per decomposed site-year
  (multi-cut). The decomposed site-years' ``energy_cost``, ``export_revenue``
  and monthly peaks are fixed to 0 in the master: their objective terms are
  what ``θ`` stands for.
* **Subproblem** ``(s, y)`` (:mod:`pvopt.lp.subproblem`) — the hourly
  operation of that site-year for fixed linking values ``ẑ`` (``EG`` of the
  site's profiles, ``bE``, ``bP``, the site's measure fractions and the annual
  budgets). Its value ``v_sy(ẑ)`` is the discounted operating cost (energy
  cost − export revenue + demand charges, as the objective counts them) plus
  the elastic penalty; the reduced costs ``π`` of the fixed linking columns
  give the optimality cut ``θ[s,y] ≥ v_sy(ẑ) + π·(z − ẑ)``.

Bounds. The master optimum is a lower bound ``LB`` (its cuts under-estimate
each ``v_sy``); a master point ``x`` with subproblem values gives an upper
bound ``UB = c·x + Σ v_sy`` (``c·x`` the master cost without ``θ``). The loop
stops when ``(UB − LB)/|UB| ≤ gap`` (``SolveOptions.gap``, default 1e-5).

Why the elastic penalty is exact. Each budget row
``1000·grid_mwh − Σ_t grid_t + σ⁺ − σ⁻ = 0`` (likewise onsite and export, and
an unserved-load slack on the balance under an import limit) has slacks priced
at ``P`` per kWh. The penalised problem is a relaxation of the plan (``σ = 0``
gives back every plan), so its optimum, and every ``LB``, is ≤ the plan's
optimum. When the converged incumbent has all slacks at zero, it *is* a
feasible plan and its cost equals ``UB``; so ``UB − LB ≤ gap·|UB|`` bounds its
distance to the true optimum. ``P`` starts at ``PENALTY_FACTOR`` × the largest
energy price (per kWh, far above any marginal value an emissions milestone can
give a kWh of grid electricity); if the incumbent still uses a slack, ``P`` is
multiplied by 100 and the loop continues. The cuts already found stay valid,
because a larger ``P`` only raises each ``v_sy``.

Stabilisation. Plain (Kelley) Benders lets the master jump between extreme
investment plans. ``stabilise="inout"`` (Ben-Ameur and Neto 2007; Fischetti,
Ljubić and Sinnl 2017) separates at ``x_sep = α·x* + (1−α)·x_core`` between the
master optimum ``x*`` and the incumbent ``x_core``; the cuts at ``x_sep`` are
valid, and ``x_sep`` is feasible for the master (a convex combination), so it
also gives an upper bound. When those cuts no longer cut off ``(x*, θ*)``, the
next iteration separates at ``x*`` itself, which guarantees convergence.
``stabilise="level"`` (Pecci and Jenkins 2025; :mod:`pvopt.lp.level`) still
solves the master LP every iteration for ``LB``, but separates at the projection
of the incumbent ``x̂`` onto the level set ``{master rows and cuts, c·x + Σθ ≤ L}``,
``L = LB + λ·(UB − LB)`` (``SolveOptions.level_lambda``, 0.5), in the distance
``SolveOptions.level_norm`` over the linking variables, each divided by a scale
in its unit (:func:`_link_scales`). The projection is a master point, so it gives
an upper bound and valid cuts like any other; the stopping rule is unchanged.
A projection that fails (time limit, numerical trouble) falls back to ``x*``.
``stabilise="none"`` is plain multi-cut Benders. In-out is the default. Measured
(table in docs/formulation.md, "Benders decomposition of the hourly site-years"):
plain took the fewest iterations on the one-subproblem test cases (12 against 14
for in-out and 26 for the level set on the battery case); on a 4-subproblem
synthetic case in-out converged in 22 iterations, where the level set stood at
2.3e-4 and plain at 1.0e-3 after 25; on ``sites/lead-pillars`` in-out took 24
iterations and 122 s of subproblems, plain 21 and 157 s (its points stay near the
incumbent, so the hot starts stay short).

Subproblems keep one ``highspy.Highs`` each and are warm-started (the first
solve is interior point + crossover, later ones the primal simplex from the last
optimal basis). On one machine they run in this process: one after another
(``workers`` 0 or 1, or few subproblems) or on ``workers`` threads, each taking
the next subproblem, longest first (``highspy`` releases the GIL while HiGHS
runs). On a dask.distributed cluster (``scheduler="tcp://HOST:PORT"`` or a
``client``) each worker keeps its subproblems between iterations in a
per-process cache keyed by a run token and ``(s, y)``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
import xarray as xr

from pvopt.errors import InfeasiblePlanError, SolverError
from pvopt.lp.build import PlanModel, build_model
from pvopt.lp.data import measures_of_site, optional, profile_index
from pvopt.lp.highs import DirectResult, StandardLP, assemble, highs_lp
from pvopt.lp.level import LevelProjection, standard_from_highs
from pvopt.lp.options import SolveOptions, Status
from pvopt.lp.reductions import full_hour_sites
from pvopt.lp.subproblem import Subproblem, SubproblemSpec, SubResult, build_subproblem, keep_solvers, solve_many

__all__ = ["decomposable_site_years", "choose_decomposition", "solve_decomposed", "BendersReport", "PENALTY_FACTOR"]

INF = float("inf")
#: Elastic penalty per kWh, as a multiple of the largest energy price (see module docstring).
PENALTY_FACTOR = 100.0
#: In-out stabilisation: weight of the master optimum in the separation point.
INOUT_ALPHA = 0.5
#: Stabilisations of the master (``SolveOptions.stabilise``; see the module docstring).
STABILISATIONS = ("level", "inout", "none")
#: Level-set stabilisation: ``L = LB + λ·(UB − LB)`` (Pecci and Jenkins use λ = 0.5).
LEVEL_LAMBDA = SolveOptions.level_lambda
#: A level-set projection may take this many times the longest master solve so far (the first,
#: cold one), and at least :data:`LEVEL_MIN_TIME_S` [s], before the loop gives it up and separates
#: at the master optimum.
LEVEL_TIME_FACTOR = 20.0
LEVEL_MIN_TIME_S = 5.0
#: ``auto`` decomposes when the decomposable site-years hold at least this many hours.
AUTO_MIN_HOURS = 4 * 8760
#: Below this many subproblems ``workers=None`` solves them in-process.
AUTO_MIN_PARALLEL = 4


def decomposable_site_years(d: xr.Dataset) -> frozenset[tuple[int, int]]:
    """Site-years whose every hour is modelled (battery, demand charge, import limit), unless hourly matching couples them."""
    if d.attrs.get("scope2_matching", "annual") == "hourly":
        return frozenset()
    full = full_hour_sites(d)
    return frozenset((i, j) for i in range(d.sizes["site"]) if full[i] for j in range(d.sizes["year"]))


def choose_decomposition(d: xr.Dataset, opts: SolveOptions) -> frozenset[tuple[int, int]]:
    """Return the site-years to decompose under ``opts.decompose`` (empty: solve the monolithic model).

    ``"auto"`` decomposes when a battery site exists and the decomposable site-years hold at
    least :data:`AUTO_MIN_HOURS` hours (about four site-years); ``"always"`` whenever there is a
    decomposable site-year; ``"never"`` never. ``reduce=False`` and the Pyomo interface are never decomposed.
    """
    mode = getattr(opts, "decompose", "never")
    if mode == "never" or not opts.reduce or opts.interface != "direct":
        return frozenset()
    sy = decomposable_site_years(d)
    if mode == "always":
        return sy
    has_battery = d.sizes.get("battery", 0) > 0
    if has_battery and len(sy) * d.sizes["hour"] >= AUTO_MIN_HOURS:
        return sy
    return frozenset()


@dataclass
class BendersReport:
    """How a decomposed solve went: bounds, gap, iterations and time per phase [s]."""

    lower_bound: float
    upper_bound: float
    gap: float
    iterations: int
    subproblems: int
    penalty: float
    history: list[dict[str, float]] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    stabilise: str = "none"  #: stabilisation of the master (``SolveOptions.stabilise``)


# --------------------------------------------------------------------------- master


def _master_arrays(m: pyo.Block) -> dict[str, Any]:
    """Return the master's LP as arrays (the same hand-over as :func:`pvopt.lp.highs.solve_direct`)."""
    lp, _, cols, _, row_of, _ = assemble(m)  # the master minimises
    col_of = {id(v): k for k, v in enumerate(cols)}
    return dict(cols=cols, col_of=col_of, col_lo=lp.col_lo, col_hi=lp.col_hi, A=lp.A, row_lo=lp.row_lo, row_hi=lp.row_hi,
                cost=lp.cost, const=lp.offset, row_of=row_of)


def _link_var(m: pyo.Block, key: tuple) -> Any:
    name, k, j = key
    comp = {"eg": m.EG, "mfrac": m.mfrac, "bE": m.bE, "bP": m.bP}.get(name) or getattr(m, name)
    return comp[k, j]


def _theta_lower_bound(d: xr.Dataset, i: int, j: int, local_cost: dict[tuple, float]) -> float:
    """Return a valid lower bound on a subproblem's value.

    The bound is the energy cost at negative prices over the import limit, less the most export revenue.
    """
    per_site, arr_prof = profile_index(d)
    imp = d["import_price_per_kwh"].values[i, j]
    lim = optional(d, "import_limit_kw", np.full(d.sizes["site"], np.nan))[i]
    neg = np.minimum(imp, 0.0)
    energy_lb = float((neg * (lim if np.isfinite(lim) else 1e9)).sum()) if (neg < 0).any() else 0.0
    rev_ub = 0.0
    if bool(d["export_allowed"].values[i]):
        maxk = d["max_kwp"].values
        gen = sum(maxk[arr_prof == g].sum() * d["yield_kw_per_kwp"].values[g] for g in per_site[i]) if per_site[i] else np.zeros(d.sizes["hour"])
        elim = d["export_limit_kw"].values[i]
        ex = np.minimum(gen, elim) if np.isfinite(elim) else gen
        rev_ub = float((np.maximum(d["export_price_per_kwh"].values[i, j], 0.0) * ex).sum())
    return local_cost.get(("energy_cost", i, j), 0.0) * energy_lb + local_cost.get(("export_revenue", i, j), 0.0) * rev_ub - 1.0


# --------------------------------------------------------------------------- executors

_WORKER_CACHE: dict[tuple[str, tuple[int, int]], Subproblem] = {}


def _w_setup(token: str, specs: list[SubproblemSpec]) -> int:
    keep = keep_solvers(specs)
    for s in specs:
        _WORKER_CACHE[(token, s.key)] = Subproblem(s, keep)
    return len(specs)


def _w_solve(token: str, keys: list[tuple[int, int]], zs: list[np.ndarray], final: bool) -> list[SubResult]:
    return solve_many(_WORKER_CACHE, [(token, k) for k in keys], zs, final)


def _w_penalty(token: str, penalty: float) -> None:
    for (t, _), sub in _WORKER_CACHE.items():
        if t == token:
            sub.set_penalty(penalty)


def _w_drop(token: str) -> None:
    for key in [k for k in _WORKER_CACHE if k[0] == token]:
        del _WORKER_CACHE[key]


class _Serial:
    """Subproblems in this process."""

    def __init__(self, specs: list[SubproblemSpec]) -> None:
        keep = keep_solvers(specs)
        self.cache = {s.key: Subproblem(s, keep) for s in specs}
        self.workers = 0
        self.in_process = True  #: results with hourly values cost no transfer: keep the incumbent's

    def solve(self, zs: dict[tuple[int, int], np.ndarray], final: bool = False) -> dict[tuple[int, int], SubResult]:
        keys = list(zs)
        return {r.key: r for r in solve_many(self.cache, keys, [zs[k] for k in keys], final)}

    def set_penalty(self, p: float) -> None:
        for s in self.cache.values():
            s.set_penalty(p)

    def close(self) -> None:
        self.cache.clear()


class _Threads(_Serial):
    """Subproblems in this process, solved by ``n`` threads: ``highspy`` releases the GIL while HiGHS runs.

    Each solve is its own task, longest (by its last solve) first, so a thread that is done takes the
    next subproblem: no subproblem is pinned, and nothing is copied between processes.
    """

    def __init__(self, specs: list[SubproblemSpec], n: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        super().__init__(specs)
        self.last_s = {s.key: float(s.A.nnz) * 1e-9 for s in specs}  #: last solve time [s]; before the first, by size
        self.workers = n
        self.pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="pvopt-benders")

    def solve(self, zs: dict[tuple[int, int], np.ndarray], final: bool = False) -> dict[tuple[int, int], SubResult]:
        order = sorted(zs, key=lambda k: -self.last_s[k])
        futs = {k: self.pool.submit(self.cache[k].solve, zs[k], final=final) for k in order}
        out = {k: f.result() for k, f in futs.items()}
        self.last_s.update({k: r.seconds for k, r in out.items()})
        return out

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)  # after Ctrl-C: finish the solves under way, drop the rest
        super().close()


class _Dask:
    """Subproblems pinned to dask workers, each keeping its own between iterations."""

    def __init__(self, client: Any, specs: list[SubproblemSpec]) -> None:
        self.client = client
        self.in_process = False
        self.token = uuid.uuid4().hex
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise SolverError("the dask cluster has no workers")
        self.workers = len(workers)
        order = sorted(specs, key=lambda s: -s.A.nnz)
        load = {w: 0 for w in workers}
        self.owner: dict[tuple[int, int], str] = {}
        by_w: dict[str, list[SubproblemSpec]] = {w: [] for w in workers}
        for s in order:  # largest first to the least-loaded worker
            w = min(load, key=load.__getitem__)
            load[w] += s.A.nnz
            self.owner[s.key] = w
            by_w[w].append(s)
        futs = [client.submit(_w_setup, self.token, client.scatter(ss, workers=[w], hash=False), workers=[w], allow_other_workers=False, pure=False)
                for w, ss in by_w.items() if ss]
        client.gather(futs)

    def solve(self, zs: dict[tuple[int, int], np.ndarray], final: bool = False) -> dict[tuple[int, int], SubResult]:
        by_w: dict[str, list[tuple[int, int]]] = {}
        for k in zs:
            by_w.setdefault(self.owner[k], []).append(k)
        futs = [self.client.submit(_w_solve, self.token, ks, [zs[k] for k in ks], final, workers=[w], allow_other_workers=False, pure=False)
                for w, ks in by_w.items()]
        out: dict[tuple[int, int], SubResult] = {}
        for rs in self.client.gather(futs):
            out.update({r.key: r for r in rs})
        return out

    def set_penalty(self, p: float) -> None:
        self.client.run(_w_penalty, self.token, p)

    def close(self) -> None:
        try:
            self.client.run(_w_drop, self.token)
        except Exception:  # noqa: BLE001 - a worker that died has nothing to drop
            pass


@contextmanager
def _executor(specs: list[SubproblemSpec], opts: SolveOptions, client: Any = None):
    workers = getattr(opts, "workers", None)
    scheduler = getattr(opts, "scheduler", None)
    started = []
    try:
        if client is None and scheduler:
            from distributed import Client

            try:
                client = Client(scheduler, timeout="15s")
            except Exception as e:  # noqa: BLE001
                raise SolverError(f"cannot reach the dask scheduler at {scheduler}: {e}") from None
            started.append(client)
        if client is None and workers is None:
            workers = min(os.cpu_count() or 1, len(specs)) if len(specs) >= AUTO_MIN_PARALLEL else 0
        ex: _Serial | _Threads | _Dask
        if client is not None:
            ex = _Dask(client, specs)
        elif workers is not None and workers >= 2:
            ex = _Threads(specs, int(workers))
        else:
            ex = _Serial(specs)
        try:
            yield ex
        finally:
            ex.close()
    finally:
        from pvopt.workers import close_quietly

        close_quietly(*started)


# --------------------------------------------------------------------------- the loop


@dataclass
class _Master:
    """The master LP in HiGHS and the indices that tie it to the Pyomo model and the subproblems."""

    pm: PlanModel
    arrays: dict[str, Any]  #: the master's LP arrays (:func:`_master_arrays`)
    h: Any  #: the ``highspy.Highs`` holding the master, its θ columns, valid inequalities and cuts
    keys: list[tuple[int, int]]  #: decomposed site-years, in θ column order
    specs: list[SubproblemSpec]
    local_cols: dict[tuple[int, int], dict[tuple, int]]  #: site-year -> local key -> master column (fixed to 0)
    link_idx: dict[tuple[int, int], np.ndarray]  #: site-year -> master column of each linking column
    theta_col: dict[tuple[int, int], int]
    n_x: int  #: master columns without θ
    n_rows: int  #: master rows without valid inequalities and cuts
    level: LevelProjection | None = None  #: the level-set projection (``stabilise="level"``)


@dataclass
class _Settings:
    """What ends the Benders loop and whom it tells."""

    tol: float
    max_it: int
    stabilise: str
    level_lambda: float
    t_start: float
    progress: Callable[[dict[str, float]], None] | None


@dataclass
class _LoopState:
    """Bounds, incumbent, stabilisation and timings of the Benders loop."""

    penalty: float
    slack_tol_kwh: float
    lb: float = -INF
    ub: float = INF
    x_inc: np.ndarray | None = None
    inc_results: dict[tuple[int, int], SubResult] | None = None  #: the incumbent's subproblem results (in-process runs)
    core: np.ndarray | None = None
    plain_next: bool = True
    t_master: float = 0.0
    t_sub: float = 0.0
    t_proj: float = 0.0
    t_max_master: float = 0.0
    highs_s: float = 0.0
    it: int = 0
    n_cuts: int = 0
    hist: list[dict[str, float]] = field(default_factory=list)


def _settings(opts: SolveOptions, progress: Callable[[dict[str, float]], None] | None, t_start: float) -> _Settings:
    """Read the loop's tolerance, limits, stabilisation and progress callback from ``opts``."""
    stab = getattr(opts, "stabilise", SolveOptions.stabilise)
    if stab not in STABILISATIONS:
        raise ValueError(f"stabilise must be one of {STABILISATIONS}, not {stab!r}")
    lam = float(getattr(opts, "level_lambda", LEVEL_LAMBDA))
    if not 0.0 < lam < 1.0:
        raise ValueError(f"level_lambda must lie strictly between 0 and 1, not {lam}")
    return _Settings(float(getattr(opts, "gap", 1e-5)), int(getattr(opts, "max_iterations", 1000)), stab, lam, t_start,
                     progress or getattr(opts, "progress", None))


def _initial_penalty(d: xr.Dataset) -> float:
    """Return the starting elastic penalty per kWh: :data:`PENALTY_FACTOR` × the largest energy price."""
    imp = d["import_price_per_kwh"].values
    expp = d["export_price_per_kwh"].values
    return PENALTY_FACTOR * max(1e-3, float(np.abs(imp).max()), float(np.abs(expp).max()))


def _local_master_cols(m: pyo.Block, col_of: dict[int, int], i: int, j: int) -> dict[tuple, int]:
    """Return the master columns of site-year ``(i, j)``'s local annual variables and monthly peaks."""
    lm: dict[tuple, int] = {(n, i, j): col_of[id(getattr(m, n)[i, j])] for n in ("energy_cost", "export_revenue", "export_mwh")}
    for (pi, pj, mo) in m.PK:
        if (pi, pj) == (i, j):
            lm[("peak", i, j, mo)] = col_of[id(m.peak[i, j, mo])]
    return lm


def _build_subproblems(d: xr.Dataset, pm: PlanModel, M: dict[str, Any], col_lo: np.ndarray, col_hi: np.ndarray, keys: list[tuple[int, int]],
                       penalty: float) -> tuple[list[SubproblemSpec], dict[tuple[int, int], dict[tuple, int]], list[float], dict[tuple[int, int], np.ndarray]]:
    """Move each site-year's local objective terms out of the master (fixing them in ``col_lo``, ``col_hi``) into its subproblem."""
    m, col_of, cost = pm.model, M["col_of"], M["cost"]
    specs: list[SubproblemSpec] = []
    local_cols: dict[tuple[int, int], dict[tuple, int]] = {}
    theta_lb: list[float] = []
    for (i, j) in keys:
        lm = _local_master_cols(m, col_of, i, j)
        local_cost = {k: float(cost[c]) for k, c in lm.items()}
        for c in lm.values():
            col_lo[c] = col_hi[c] = 0.0
        local_cols[(i, j)] = lm
        specs.append(build_subproblem(d, i, j, pm.blocks[(i, j)], local_cost, penalty))
        theta_lb.append(_theta_lower_bound(d, i, j, local_cost))
    link_idx = {s.key: np.array([col_of[id(_link_var(m, k))] for k in s.link_keys], dtype=np.int64) for s in specs}
    return specs, local_cols, theta_lb, link_idx


def _master_highs(opts: SolveOptions, M: dict[str, Any], col_lo: np.ndarray, col_hi: np.ndarray, theta_lb: list[float]) -> Any:
    """Load the master LP into a ``highspy.Highs``, with one θ column per subproblem."""
    import highspy
    from pyomo.common.tee import capture_output

    with capture_output(capture_fd=not opts.log):
        h = highspy.Highs()
    h.setOptionValue("output_flag", bool(opts.log))
    if opts.threads:
        h.setOptionValue("threads", int(opts.threads))
    h.passModel(highs_lp(StandardLP(M["cost"], col_lo, col_hi, M["A"], M["row_lo"], M["row_hi"], M["const"])))
    n_t = len(theta_lb)
    h.addCols(n_t, np.ones(n_t), np.array(theta_lb), np.full(n_t, INF), 0, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
    return h


def _add_valid_inequalities(d: xr.Dataset, mst: _Master, theta_lb: list[float]) -> None:
    """Add the valid inequalities implied by each subproblem's rows to the master."""
    # they give the first master a sensible plan:
    #   1000·onsite ≤ Σ_g EG·Σ_t yield                      (pv ≤ generation)
    #   1000·(onsite + grid) − Σ_μ frac·Σ_t Δ ≥ Σ_t load     (hourly balance summed; the battery only loses)
    #   θ − c_energy·min_t(price)·1000·grid ≥ θ_lb          (energy cost ≥ cheapest price × grid energy)
    m, h, col_of, cost = mst.pm.model, mst.h, mst.arrays["col_of"], mst.arrays["cost"]
    imp = d["import_price_per_kwh"].values
    per_site, _ = profile_index(d)
    ymat = d["yield_kw_per_kwp"].values
    delta = optional(d, "measure_delta_kw", None)
    for n, (i, j) in enumerate(mst.keys):
        on, gr = col_of[id(m.onsite_mwh[i, j])], col_of[id(m.grid_mwh[i, j])]
        idx = [on] + [col_of[id(m.EG[g, j])] for g in per_site[i]]
        val = [1000.0] + [-float(ymat[g].sum()) for g in per_site[i]]
        h.addRow(-INF, 0.0, len(idx), np.array(idx, dtype=np.int32), np.array(val))
        idx = [on, gr] + [col_of[id(m.mfrac[k, j])] for k in measures_of_site(d, i)]
        val = [1000.0, 1000.0] + [-float(delta[k, j].sum()) for k in measures_of_site(d, i)]
        h.addRow(float(d["load_kw"].values[i, j].sum()), INF, len(idx), np.array(idx, dtype=np.int32), np.array(val))
        c_e = float(cost[mst.local_cols[(i, j)][("energy_cost", i, j)]])
        pmin = float(imp[i, j].min())
        h.addRow(theta_lb[n], INF, 2, np.array([mst.theta_col[(i, j)], gr], dtype=np.int32), np.array([1.0, -c_e * pmin * 1000.0]))


def _link_scales(d: xr.Dataset, mst: _Master) -> tuple[np.ndarray, np.ndarray]:
    """Return the master columns of every linking variable and the scale of each, in its own unit, for the level-set distance.

    The scale is the column's bound range where both bounds are finite (battery energy [kWh] and
    power [kW], measure fractions [1]); else, for ``EG`` the largest PV the profile's arrays may
    hold [kWp], for the annual budgets ``onsite_mwh``, ``grid_mwh`` the site's annual load [MWh];
    else 1.
    """
    _, arr_prof = profile_index(d)
    maxk = d["max_kwp"].values
    load_mwh = d["load_kw"].values.sum(axis=-1) / 1000.0
    lo, hi = mst.arrays["col_lo"], mst.arrays["col_hi"]
    scale_of: dict[int, float] = {}
    for spec in mst.specs:
        for (name, k, j), c in zip(spec.link_keys, mst.link_idx[spec.key].tolist()):
            if np.isfinite(lo[c]) and np.isfinite(hi[c]) and hi[c] > lo[c]:
                s = float(hi[c] - lo[c])
            elif name == "eg":
                s = float(maxk[arr_prof == k].sum())
            elif name in ("onsite_mwh", "grid_mwh"):
                s = float(load_mwh[k, j])
            else:
                s = 1.0
            scale_of[c] = s if np.isfinite(s) and s > 0 else 1.0
    cols = np.array(sorted(scale_of), dtype=np.int64)
    return cols, np.array([scale_of[c] for c in cols.tolist()])


def _setup(d: xr.Dataset, opts: SolveOptions, sy: frozenset[tuple[int, int]], phases: dict[str, float]) -> tuple[_Master, float]:
    """Build the master and the subproblems of the site-years ``sy``; return the master and the starting penalty."""
    t = time.perf_counter()
    pm = build_model(d, reduce=opts.reduce, decompose=frozenset(sy))
    if opts.extra_constraints is not None:
        opts.extra_constraints(pm.model, d)
    M = _master_arrays(pm.model)
    col_lo, col_hi = M["col_lo"].copy(), M["col_hi"].copy()
    phases["master_build"] = time.perf_counter() - t

    t = time.perf_counter()
    penalty = _initial_penalty(d)
    keys = sorted(sy)
    specs, local_cols, theta_lb, link_idx = _build_subproblems(d, pm, M, col_lo, col_hi, keys, penalty)
    phases["subproblem_build"] = time.perf_counter() - t

    n_x = len(M["cols"])
    h = _master_highs(opts, M, col_lo, col_hi, theta_lb)
    mst = _Master(pm, M, h, keys, specs, local_cols, link_idx, {k: n_x + n for n, k in enumerate(keys)}, n_x, M["A"].shape[0])
    _add_valid_inequalities(d, mst, theta_lb)
    stab = getattr(opts, "stabilise", SolveOptions.stabilise)
    if stab == "level":
        cols, scale = _link_scales(d, mst)
        master = standard_from_highs(h.getLp())
        master.offset = float(M["const"])
        mst.level = LevelProjection(master, cols, scale, getattr(opts, "level_norm", SolveOptions.level_norm), opts.threads)
    return mst, penalty


def _rel_gap(lb: float, ub: float) -> float:
    """Return the relative gap between a lower and an upper bound."""
    return (ub - lb) / max(1.0, abs(ub))


def _link_values(mst: _Master, x: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """Return each subproblem's linking values at the master point ``x``."""
    return {k: x[mst.link_idx[k]] for k in mst.keys}


def _plan_cost(mst: _Master, x: np.ndarray, results: dict[tuple[int, int], SubResult]) -> float:
    """Return the plan's cost at master point ``x`` with the subproblems' values ``results``."""
    M = mst.arrays
    return float(M["cost"] @ x + M["const"] + sum(r.value for r in results.values()))


def _solve_master(d: xr.Dataset, opts: SolveOptions, mst: _Master, st: _LoopState) -> tuple[np.ndarray, np.ndarray]:
    """Solve the master, raise if it has no optimum, and raise the lower bound; return ``(x*, θ*)``."""
    h = mst.h
    t = time.perf_counter()
    run0 = float(h.getRunTime())  # HiGHS's run clock counts over every run of this object
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    took = time.perf_counter() - t
    st.t_master += took
    st.t_max_master = max(st.t_max_master, took)
    st.highs_s += float(h.getRunTime()) - run0
    if status != "Optimal":
        if status in ("Infeasible", "Primal infeasible or unbounded"):
            if opts.diagnose_infeasible:
                from pvopt.lp.solve import diagnose

                raise diagnose(d, opts)
            raise InfeasiblePlanError({})
        raise SolverError(f"the Benders master stopped without an optimal plan: {status}")
    xs = np.asarray(h.getSolution().col_value)
    st.lb = max(st.lb, float(h.getInfo().objective_function_value))
    return xs[: mst.n_x], xs[mst.n_x :]


def _record(cfg: _Settings, st: _LoopState, gap: float) -> None:
    """Append the iteration to the history and report it."""
    st.hist.append(dict(iteration=st.it, lower_bound=st.lb, upper_bound=st.ub, gap=gap, master_s=st.t_master, subproblem_s=st.t_sub,
                        projection_s=st.t_proj))
    if cfg.progress:
        cfg.progress(st.hist[-1])


def _exact(ex: Any, mst: _Master, st: _LoopState) -> bool:
    """Check that the incumbent uses no elastic slack; if it does, raise the penalty and forget the incumbent."""
    assert st.x_inc is not None  # called only once UB is finite, i.e. after an incumbent was found
    fin = st.inc_results if st.inc_results is not None else ex.solve(_link_values(mst, st.x_inc))
    if max(r.slack_kwh for r in fin.values()) <= st.slack_tol_kwh:
        return True
    st.penalty *= 100.0
    ex.set_penalty(st.penalty)
    st.ub, st.x_inc, st.inc_results, st.core, st.plain_next = INF, None, None, None, True
    return False


def _separation_point(cfg: _Settings, mst: _Master, st: _LoopState, x_star: np.ndarray) -> np.ndarray:
    """Return the point to separate at: the master optimum, its in-out combination with the incumbent, or the level-set projection of the incumbent."""
    if cfg.stabilise == "inout" and st.core is not None and not st.plain_next:
        return INOUT_ALPHA * x_star + (1.0 - INOUT_ALPHA) * st.core
    if cfg.stabilise == "level" and mst.level is not None and st.x_inc is not None:
        t = time.perf_counter()
        limit = max(LEVEL_MIN_TIME_S, LEVEL_TIME_FACTOR * st.t_max_master)
        basis = mst.h.getBasis()  # the master's optimum is in the level set: its basis is a feasible start
        mst.level.warm_start(basis.col_status, basis.row_status, np.asarray(mst.h.getSolution().col_value), st.x_inc)
        x = mst.level.project(st.x_inc, st.lb + cfg.level_lambda * (st.ub - st.lb), limit)
        st.t_proj += time.perf_counter() - t
        if x is not None:  # else (HiGHS found no optimum of the projection) the master optimum, as plain Benders
            return x[: mst.n_x]
    return x_star


def _solve_subproblems(ex: Any, mst: _Master, st: _LoopState, x_sep: np.ndarray) -> tuple[dict[tuple[int, int], np.ndarray], dict[tuple[int, int], SubResult]]:
    """Solve the subproblems at ``x_sep``, raise if one fails, and keep ``x_sep`` if it is the best plan yet."""
    t = time.perf_counter()
    zs = _link_values(mst, x_sep)
    res = ex.solve(zs, final=ex.in_process)
    st.t_sub += time.perf_counter() - t
    bad = [(k, r.status) for k, r in res.items() if r.status != "Optimal"]
    if bad:
        raise SolverError(f"Benders subproblem (site, year) {bad[0][0]} ended {bad[0][1]!r}")
    ub_cand = _plan_cost(mst, x_sep, res)
    if ub_cand < st.ub:
        st.ub, st.x_inc = ub_cand, x_sep.copy()
        st.inc_results = res if ex.in_process else None
    return zs, res


def _add_cuts(mst: _Master, st: _LoopState, zs: dict[tuple[int, int], np.ndarray], res: dict[tuple[int, int], SubResult], x_star: np.ndarray,
              th_star: np.ndarray) -> float:
    """Add the cuts ``θ − π·z ≥ v − π·ẑ`` to the master; return their largest violation at ``(x*, θ*)``."""
    starts: list[int] = []
    idx: list[int] = []
    val: list[float] = []
    lo: list[float] = []
    viol = 0.0
    for n, k in enumerate(mst.keys):
        r = res[k]
        li = mst.link_idx[k]
        keep = r.grad != 0.0
        starts.append(len(idx))
        idx += [mst.theta_col[k]] + li[keep].tolist()
        val += [1.0] + (-r.grad[keep]).tolist()
        lo.append(r.value - float(r.grad @ zs[k]))
        cut_at_star = r.value + float(r.grad @ (x_star[li] - zs[k]))
        viol = max(viol, cut_at_star - th_star[n])
    n_t = len(mst.keys)
    rows = (np.array(lo), np.full(n_t, INF), np.array(starts, dtype=np.int32), np.array(idx, dtype=np.int32), np.array(val))
    mst.h.addRows(n_t, rows[0], rows[1], len(idx), *rows[2:])
    if mst.level is not None:
        mst.level.add_rows(*rows)
    st.n_cuts += n_t
    return viol


def _check_limits(cfg: _Settings, opts: SolveOptions, st: _LoopState, gap: float) -> None:
    """Raise if the loop has reached the iteration limit or the time limit."""
    if st.it >= cfg.max_it:
        raise SolverError(f"Benders stopped after {st.it} iterations at a relative gap of {gap:.2e} (LB {st.lb:,.0f}, UB {st.ub:,.0f}); raise max_iterations or the gap")
    if opts.time_limit_s is not None and time.perf_counter() - cfg.t_start > opts.time_limit_s:
        raise SolverError(f"Benders reached the time limit ({opts.time_limit_s} s) at a relative gap of {gap:.2e} (LB {st.lb:,.0f}, UB {st.ub:,.0f}); "
                          "raise --time-limit or --gap")


def _benders_loop(d: xr.Dataset, opts: SolveOptions, cfg: _Settings, ex: Any, mst: _Master, st: _LoopState) -> None:
    """Alternate master solves and cuts until the gap closes at an incumbent without elastic slack."""
    while True:
        st.it += 1
        x_star, th_star = _solve_master(d, opts, mst, st)
        gap = _rel_gap(st.lb, st.ub) if np.isfinite(st.ub) else INF
        if gap <= cfg.tol:
            _record(cfg, st, gap)
            if _exact(ex, mst, st):
                return
            continue
        x_sep = _separation_point(cfg, mst, st, x_star)
        zs, res = _solve_subproblems(ex, mst, st, x_sep)
        viol = _add_cuts(mst, st, zs, res, x_star, th_star)
        gap = _rel_gap(st.lb, st.ub)
        st.plain_next = viol <= cfg.tol * max(1.0, abs(st.lb)) / max(1, len(mst.keys))
        st.core = st.x_inc
        _record(cfg, st, gap)
        if gap <= cfg.tol and _exact(ex, mst, st):
            return
        _check_limits(cfg, opts, st, gap)


def _recover(mst: _Master, x_inc: np.ndarray, fin: dict[tuple[int, int], SubResult]) -> float:
    """Set the master model to the incumbent and the subproblems' final values; return the plan's cost."""
    cols = mst.arrays["cols"]
    for v, val in zip(cols, x_inc.tolist()):
        v.set_value(val, skip_validation=True)
    for k in mst.keys:
        r = fin[k]
        assert r.local is not None and r.hourly is not None  # a final pass fills both
        for lk, c in mst.local_cols[k].items():
            cols[c].set_value(r.local[lk], skip_validation=True)
        mst.pm.hourly_values[k] = r.hourly
    return _plan_cost(mst, x_inc, fin)


def _report(mst: _Master, st: _LoopState, cfg: _Settings, phases: dict[str, float], objective: float, n_workers: int):
    """Return the ``(sol, res)`` of the decomposed solve, as :func:`pvopt.lp.solve.solve_plan` reports them."""
    from pvopt.lp.solve import PlanSolution

    row_dual = np.asarray(mst.h.getSolution().row_dual)[: mst.n_rows]
    gap = _rel_gap(st.lb, objective)
    wall = time.perf_counter() - cfg.t_start
    n_sub = len(mst.keys)
    rep = BendersReport(st.lb, objective, gap, st.it, n_sub, st.penalty, st.hist, phases, cfg.stabilise)
    res = DirectResult("Optimal", objective, st.highs_s, phases["master_build"], st.x_inc, row_dual, mst.arrays["row_of"])
    sol = PlanSolution(Status.OPTIMAL, objective, st.highs_s, wall, f"benders: gap {gap:.2e} after {st.it} iterations ({n_sub} subproblems, {n_workers} workers)",
                       res.dual, benders=rep)
    return sol, res


def solve_decomposed(d: xr.Dataset, opts: SolveOptions, sy: frozenset[tuple[int, int]] | None = None, *, client: Any = None,
                     progress: Callable[[dict[str, float]], None] | None = None):
    """Solve the plan by Benders decomposition of the site-years ``sy`` (default: :func:`choose_decomposition` with ``always``).

    Returns ``(pm, sol, res)`` like :func:`pvopt.lp.solve.solve_plan`: ``pm`` is the master
    model with every master variable at the incumbent's value, the decomposed site-years'
    energy cost, export revenue and peaks filled in from the subproblems, and their hourly
    values in ``pm.hourly_values``; ``sol.benders`` is the :class:`BendersReport`.
    """
    t_start = time.perf_counter()
    phases: dict[str, float] = {}
    if sy is None:
        sy = decomposable_site_years(d)
    cfg = _settings(opts, progress, t_start)
    mst, penalty = _setup(d, opts, sy, phases)
    st = _LoopState(penalty, 1e-6 * max(1.0, float(d["load_kw"].values.max())))
    with _executor(mst.specs, opts, client) as ex:
        _benders_loop(d, opts, cfg, ex, mst, st)
        phases["master_solves"] = st.t_master
        phases["subproblem_solves"] = st.t_sub
        phases["projection_solves"] = st.t_proj
        # recover the hourly operation at the incumbent
        t = time.perf_counter()
        assert st.x_inc is not None  # the loop ends only through _exact(), which needs an incumbent
        fin = st.inc_results if st.inc_results is not None else ex.solve(_link_values(mst, st.x_inc), final=True)
        n_workers = ex.workers
    objective = _recover(mst, st.x_inc, fin)
    phases["recover"] = time.perf_counter() - t
    sol, res = _report(mst, st, cfg, phases, objective, n_workers)
    mst.pm.build_seconds = phases["master_build"] + phases["subproblem_build"]
    return mst.pm, sol, res
