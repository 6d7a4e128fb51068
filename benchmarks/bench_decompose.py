"""Benchmark of the Benders decomposition (pvopt.lp.decompose).

1. ``sites/lead-pillars`` end to end (``pvopt plan``'s path: yield, inputs, solve,
   plan Dataset), decomposed; compared with the monolithic optimum given by
   ``--mono-objective`` (``pvopt plan sites/lead-pillars`` with ``--decompose never``).
   Target: under 60 s, objective within 1e-5.
2. A synthetic portfolio (``pvopt.testing.small_inputs``) of ``--sites`` sites (default 10),
   each with a battery option, a demand charge and an import limit, ``--years`` years
   (default 12) x 8760 h, with ``--workers`` dask workers (default 0 and 2; 0 is in-process).
   Target: under 10 min and 8 GB on 2 cores, gap <= 1e-5.
3. Optionally (``--stabilise-compare``) the synthetic case without in-out stabilisation.

Run: python benchmarks/bench_decompose.py [--skip-example] [--sites 10] [--years 12] [--workers 0 2]
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


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def line(row):
    print(f"  it {row['iteration']:3d}  LB {row['lower_bound']:,.0f}  UB {row['upper_bound']:,.0f}  gap {row['gap']:.2e}"
          f"  master {row['master_s']:.1f}s  sub {row['subproblem_s']:.1f}s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-example", action="store_true")
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--mono-objective", type=float, default=None)
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--years", type=int, default=12)
    ap.add_argument("--workers", type=int, nargs="*", default=[0, 2])
    ap.add_argument("--stabilise-compare", action="store_true")
    a = ap.parse_args()
    if not a.skip_example:
        from pvopt.pipeline import run_plan
        import tempfile

        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            run = run_plan(REPO / "sites" / "lead-pillars", tmp, force=True,
                           opts=SolveOptions(decompose="always", milestone_costs="none", progress=line))
        wall = time.perf_counter() - t
        b = run.solution.benders
        print(f"lead-pillars: {wall:.1f} s end to end; NPC {b.upper_bound:,.0f} LB {b.lower_bound:,.0f} gap {b.gap:.2e} "
              f"iterations {b.iterations}; phases {({k: round(v, 1) for k, v in b.phases.items()})}")
        if a.mono_objective:
            print(f"  vs monolithic {a.mono_objective:,.0f}: rel diff {(b.upper_bound - a.mono_objective) / a.mono_objective:.2e}")
    if not a.skip_synthetic:
        d = synthetic(a.sites, a.years)
        print(f"synthetic: {a.sites} sites x {a.years} years, {len(decomposable_site_years(d))} subproblems")
        runs = [(w, "inout") for w in a.workers] + ([(a.workers[0], "none")] if a.stabilise_compare else [])
        for w, stab in runs:
            t = time.perf_counter()
            _, sol, _ = solve_decomposed(d, SolveOptions(decompose="always", workers=w, stabilise=stab, milestone_costs="none"), progress=line)
            b = sol.benders
            print(f"  workers={w} stabilise={stab}: {time.perf_counter() - t:.1f} s, NPC {b.upper_bound:,.0f}, gap {b.gap:.2e}, "
                  f"{b.iterations} iterations, peak RSS (this process) {rss_gb():.2f} GB", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
