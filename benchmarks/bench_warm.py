"""Benchmark of warm-started scenario solves (``SolveOptions.warm_start``), as a sweep runs them.

A battery portfolio (``pvopt.testing.small_inputs``: ``--sites`` sites, the first with a
battery option and a demand charge, ``--years`` years x 8760 h) is solved for each factor in
``--factors`` (PV and battery capex times it, grid prices divided by it), once cold and once in sequence with each solve
starting from the previous one's basis. Prints per scenario the objective (must agree),
HiGHS's simplex iterations and seconds, and the totals.

Run: python benchmarks/bench_warm.py [--sites 2] [--years 3] [--factors 0.7 0.85 1.0 1.15 1.3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pvopt.lp import highs  # noqa: E402
from pvopt.lp.model import SolveOptions, solve_plan  # noqa: E402
from pvopt.testing import small_inputs  # noqa: E402


def scenario(base, factor: float):
    """``base`` with PV and battery capex times ``factor`` and grid prices times ``1/factor``."""
    d = base.copy(deep=True)
    d["capex_per_kwp"].values[...] *= factor
    d["battery_energy_capex_per_kwh"].values[...] *= factor
    d["battery_power_capex_per_kw"].values[...] *= factor
    d["import_price_per_kwh"].values[...] /= factor
    d["demand_charge_per_kw_month"].values[...] /= factor
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=2)
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--factors", type=float, nargs="*", default=[0.7, 0.85, 1.0, 1.15, 1.3])
    a = ap.parse_args()
    base = small_inputs(n_sites=a.sites, n_years=a.years, battery_sites=(0,), demand_charge_per_kw_month=40.0)
    totals = {"cold": [0.0, 0], "warm": [0.0, 0]}
    highs._BASES.clear()
    for f in a.factors:
        d = scenario(base, f)
        row = []
        for name, warm in (("cold", False), ("warm", True)):
            t = time.perf_counter()
            _, sol, r = solve_plan(d, SolveOptions(decompose="never", milestone_costs="none", warm_start=warm))
            dt = time.perf_counter() - t
            totals[name][0] += dt
            totals[name][1] += r.simplex_iterations
            row.append(f"{name} {sol.objective:,.0f} {r.simplex_iterations:>8,d} its {dt:6.1f} s")
        print(f"capex x{f:<5}  " + "   ".join(row), flush=True)
    c, w = totals["cold"], totals["warm"]
    print(f"total: cold {c[0]:.1f} s, {c[1]:,d} iterations; warm {w[0]:.1f} s, {w[1]:,d} iterations; "
          f"warm/cold time {w[0] / c[0]:.2f}")


if __name__ == "__main__":
    main()
