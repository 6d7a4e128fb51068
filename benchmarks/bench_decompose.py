"""Benchmark of the Benders decomposition (pvopt.lp.decompose).

1. ``sites/lead-pillars`` end to end (``pvopt plan``'s path: yield, inputs, solve,
   plan Dataset), decomposed; compared with the monolithic optimum given by
   ``--mono-objective`` (``pvopt plan sites/lead-pillars`` with ``--decompose never``).
   Target: under 60 s, objective within 1e-5.
2. A synthetic portfolio (``pvopt.testing.small_inputs``) of ``--sites`` sites (default 10),
   each with a battery option, a demand charge and an import limit, ``--years`` years
   (default 12) x 8760 h, with ``--workers`` threads (default 0 and 2; 0 solves the subproblems one after another).
   Target: under 10 min and 8 GB on 2 cores, gap <= 1e-5.
3. ``--stabilise none inout level`` runs each case once per stabilisation of the master
   (``SolveOptions.stabilise``) and prints iterations, subproblem seconds, wall seconds and the
   gap reached; with ``--max-iterations N`` a run that stops at the limit reports the gap it
   reached after N iterations instead of failing. ``--stabilise-compare`` is the old spelling of
   ``--stabilise inout none``.
4. ``--small-cases battery battery_demand_charge battery_import_limit``: the one-subproblem
   cases of ``tests/lp/test_decompose.py`` (2 sites, 1 year, site 0 with a battery), in-process,
   once per stabilisation, instead of the lead-pillars and synthetic cases.

Run: python benchmarks/bench_decompose.py [--skip-example] [--sites 10] [--years 12] [--workers 0 2]
     [--stabilise none inout level] [--max-iterations N] [--time-limit S] [--level-norm linf] [--level-lambda 0.5]
     python benchmarks/bench_decompose.py --small-cases battery --stabilise none inout level
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from pvopt.errors import SolverError  # noqa: E402
from pvopt.lp.decompose import decomposable_site_years, solve_decomposed  # noqa: E402
from pvopt.lp.model import SolveOptions  # noqa: E402
from pvopt.testing import small_inputs  # noqa: E402


def synthetic(n_sites: int, n_years: int):
    """Every site with a battery option, a demand charge and an import limit at 90 % of its peak load."""
    d = small_inputs(n_sites=n_sites, n_years=n_years, battery_sites=tuple(range(n_sites)), demand_charge_per_kw_month=40.0,
                     import_limit_kw=1e9, pv_to_load=1.5)
    d["demand_charge_per_kw_month"].values[:] = 40.0
    d["import_limit_kw"].values[:] = 0.9 * d["load_kw"].values.max(axis=(1, 2))
    return d


#: The one-subproblem cases of tests/lp/test_decompose.py (small_inputs with 2 sites and 1 year).
SMALL_CASES = {
    "battery": dict(battery_sites=(0,)),
    "battery_demand_charge": dict(battery_sites=(0,), demand_charge_per_kw_month=40.0),
    "battery_import_limit": dict(battery_sites=(0,), import_limit_kw=2500.0),
}


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


HISTORY: list[dict] = []  #: the rows of the run in progress


def line(row):
    HISTORY.append(dict(row))
    print(f"  it {row['iteration']:3d}  LB {row['lower_bound']:,.0f}  UB {row['upper_bound']:,.0f}  gap {row['gap']:.2e}"
          f"  master {row['master_s']:.1f}s  sub {row['subproblem_s']:.1f}s  projection {row.get('projection_s', 0.0):.2f}s", flush=True)


def summary(label: str, wall: float, sol=None) -> None:
    """Print one comparison line: from the solution if the run converged, else from the last iteration it reported."""
    if sol is not None:
        b = sol.benders
        print(f"  {label}: converged; {b.iterations} iterations, subproblems {b.phases['subproblem_solves']:.1f} s, "
              f"master {b.phases['master_solves']:.1f} s, projections {b.phases.get('projection_solves', 0.0):.1f} s, wall {wall:.1f} s, "
              f"NPC {b.upper_bound:,.0f}, gap {b.gap:.2e}, peak RSS (this process) {rss_gb():.2f} GB", flush=True)
        return
    r = HISTORY[-1] if HISTORY else {}
    print(f"  {label}: stopped at the iteration or time limit; {r.get('iteration', 0)} iterations, subproblems {r.get('subproblem_s', 0.0):.1f} s, "
          f"wall {wall:.1f} s, LB {r.get('lower_bound', float('nan')):,.0f}, UB {r.get('upper_bound', float('nan')):,.0f}, "
          f"gap {r.get('gap', float('nan')):.2e}", flush=True)


def run(label: str, f) -> None:
    """Run ``f()`` (returning ``sol``), timing it; a run stopped by the iteration limit reports its last bounds."""
    HISTORY.clear()
    t = time.perf_counter()
    try:
        sol = f()
    except SolverError as e:
        if "iterations" not in str(e) and "time limit" not in str(e):
            raise
        sol = None
    summary(label, time.perf_counter() - t, sol)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-example", action="store_true")
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--mono-objective", type=float, default=None)
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--years", type=int, default=12)
    ap.add_argument("--workers", type=int, nargs="*", default=[0, 2])
    ap.add_argument("--stabilise", nargs="*", default=None, choices=["none", "inout", "level"],
                    help="stabilisations to compare (default: SolveOptions' default)")
    ap.add_argument("--stabilise-compare", action="store_true", help="same as --stabilise inout none")
    ap.add_argument("--max-iterations", type=int, default=1000)
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per run; a run stopped by it reports its gap")
    ap.add_argument("--level-norm", default=SolveOptions.level_norm, choices=["l2", "l1", "linf"])
    ap.add_argument("--level-lambda", type=float, default=SolveOptions.level_lambda)
    ap.add_argument("--small-cases", nargs="*", default=[], choices=sorted(SMALL_CASES))
    a = ap.parse_args()
    stabs = a.stabilise or (["inout", "none"] if a.stabilise_compare else [SolveOptions.stabilise])

    def opts(stab: str, **kw) -> SolveOptions:
        return SolveOptions(decompose="always", milestone_costs="none", stabilise=stab, max_iterations=a.max_iterations, time_limit_s=a.time_limit,
                            level_norm=a.level_norm, level_lambda=a.level_lambda, **kw)

    if a.small_cases:
        for case in a.small_cases:
            d = small_inputs(n_sites=2, n_years=1, **SMALL_CASES[case])
            for stab in stabs:
                run(f"{case} stabilise={stab}", lambda: solve_decomposed(d, opts(stab, workers=0), progress=line)[1])
        return
    if not a.skip_example:
        from pvopt.pipeline import run_plan
        import tempfile

        for stab in stabs:
            print(f"lead-pillars, stabilise={stab}", flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                run(f"lead-pillars stabilise={stab} (end to end)", lambda: run_plan(REPO / "sites" / "lead-pillars", tmp, force=True,
                                                                                    opts=opts(stab, progress=line)).solution)
            if a.mono_objective and HISTORY:
                ub = HISTORY[-1]["upper_bound"]
                print(f"  vs monolithic {a.mono_objective:,.0f}: last UB rel diff {(ub - a.mono_objective) / a.mono_objective:.2e}")
    if not a.skip_synthetic:
        d = synthetic(a.sites, a.years)
        print(f"synthetic: {a.sites} sites x {a.years} years, {len(decomposable_site_years(d))} subproblems")
        for w in a.workers:
            for stab in stabs:
                run(f"workers={w} stabilise={stab}", lambda: solve_decomposed(d, opts(stab, workers=w), progress=line)[1])


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
