"""Benchmark of HiGHS's LP algorithms on the monolithic plan of a battery portfolio.

Builds the LP of ``sites/lead-pillars`` (or any portfolio) exactly as ``pvopt plan
--decompose never`` hands it to HiGHS (same build, same power-of-two scaling), and
solves it with each algorithm asked for, each under the same time limit:

* ``simplex``      HiGHS's dual simplex (what ``pvopt plan`` uses: ``solver="choose"`` picks it);
* ``primal``       the primal simplex (``simplex_strategy=4``);
* ``ipm``          IPX, the interior point method with basis preconditioning, no crossover;
* ``ipm-split``    IPX on a *column-split* copy: every column with more than 200 entries
                   (the capacities, battery sizes and measure shares, each in every hour of its
                   year) is replaced in each block of ``--chunk`` rows by a copy chained to the
                   original by ``copy_k - copy_(k-1) = 0`` (with the original's bounds) — the same
                   optimum, no dense column; ``ipm-split-xo`` adds crossover to a basic solution;
* ``pdlp``         the first-order PDLP solver (on the column-split copy);
* ``hipo``         HiPO, the factorisation-based interior point method (needs the optional
                   ``highspy-extras`` package built for the same HiGHS version; skipped otherwise).

Prints one line per algorithm: status, objective, seconds. Run on a quiet machine;
the figures in the README were measured with ``--time-limit 300`` (or as stated).

Run: python benchmarks/bench_solvers.py [--portfolio sites/lead-pillars] [--time-limit 300]
     [--solvers simplex primal ipm ipm-split pdlp hipo] [--chunk 24] [--hour-by-hour]

``--hour-by-hour`` builds every hour of the battery site instead of one modelled hour per run
of identical hours (the default model); ``--solvers simplex`` with and without it is the
comparison in the README.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from pvopt.inputs.loading import load_portfolio  # noqa: E402
from pvopt.lp.build import build_model  # noqa: E402
from pvopt.lp.highs import StandardLP, assemble, highs_lp, scale_factors  # noqa: E402
from pvopt.lp.inputs import build_plan_inputs  # noqa: E402
from pvopt.pv.yields import simulate_yield  # noqa: E402

DENSE = 200  # a column with more entries than this is split


def split_dense_columns(lp: StandardLP, chunk: int) -> StandardLP:
    """Return ``lp`` with every dense column split into chained copies, one per block of ``chunk`` rows."""
    A = lp.A.tocsc()
    n_rows, n_cols = A.shape
    keep = np.ones(A.nnz, dtype=bool)
    new_r: list[np.ndarray] = []
    new_c: list[np.ndarray] = []
    new_v: list[np.ndarray] = []
    link: list[tuple[int, int]] = []
    orig: list[int] = []  # the original column of each copy (its bounds are the copy's bounds)
    nxt = n_cols
    for j in np.nonzero(np.diff(A.indptr) > DENSE)[0]:
        s, e = A.indptr[j], A.indptr[j + 1]
        order = np.argsort(A.indices[s:e])
        pos = np.arange(s, e)[order]
        prev = int(j)
        for k in range(chunk, e - s, chunk):
            block = pos[k:k + chunk]
            keep[block] = False
            new_r.append(A.indices[block])
            new_c.append(np.full(len(block), nxt))
            new_v.append(A.data[block])
            link.append((nxt, prev))
            orig.append(int(j))
            prev, nxt = nxt, nxt + 1
    coo = A.tocoo()
    n_copy, n_link = nxt - n_cols, len(link)
    top = sp.csr_matrix((np.concatenate([coo.data[keep], *new_v]),
                         (np.concatenate([coo.row[keep], *new_r]), np.concatenate([coo.col[keep], *new_c]))), shape=(n_rows, nxt))
    lk = np.array(link, dtype=np.int64).reshape(-1, 2)
    bottom = sp.csr_matrix((np.tile([1.0, -1.0], n_link), (np.repeat(np.arange(n_link), 2), lk.ravel())), shape=(n_link, nxt))
    src = np.array(orig, dtype=np.int64)
    return StandardLP(np.concatenate([lp.cost, np.zeros(n_copy)]), np.concatenate([lp.col_lo, lp.col_lo[src]]),
                      np.concatenate([lp.col_hi, lp.col_hi[src]]), sp.vstack([top, bottom], format="csr"),
                      np.concatenate([lp.row_lo, np.zeros(n_link)]), np.concatenate([lp.row_hi, np.zeros(n_link)]), lp.offset)


SETTINGS = {
    "simplex": ("simplex", {}),
    "primal": ("simplex", {"simplex_strategy": 4}),
    "ipm": ("ipx", {"run_crossover": "off"}),
    "ipm-split": ("ipx", {"run_crossover": "off"}),
    "ipm-split-xo": ("ipx", {"run_crossover": "on"}),
    "pdlp": ("pdlp", {}),
    "hipo": ("hipo", {"run_crossover": "off"}),
}


def run(name: str, lp: StandardLP, split: StandardLP, time_limit_s: float, to_model: float) -> str:
    """Solve with one algorithm; return its result line."""
    import highspy

    solver, extra = SETTINGS[name]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    if h.setOptionValue("solver", solver) != highspy.HighsStatus.kOk:
        return f"{name:10s} not available in this highspy"
    for k, v in extra.items():
        h.setOptionValue(k, v)
    h.passModel(highs_lp(split if name in {"ipm-split", "ipm-split-xo", "pdlp"} else lp))
    t = time.perf_counter()
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    obj = info.objective_function_value * to_model
    its = f"{info.simplex_iteration_count:,d} simplex / {info.ipm_iteration_count:,d} ipm iterations"
    return f"{name:10s} {status:22s} objective {obj:,.0f}  {time.perf_counter() - t:,.1f} s  {its}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--portfolio", default=str(REPO / "sites" / "lead-pillars"))
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--solvers", nargs="*", default=list(SETTINGS))
    ap.add_argument("--chunk", type=int, default=24)
    ap.add_argument("--hour-by-hour", action="store_true",
                    help="build every hour of the battery site (no runs of identical hours) instead of the default model")
    a = ap.parse_args()
    pf = load_portfolio(a.portfolio)
    d = build_plan_inputs(pf, simulate_yield(pf))
    lp0, sign = assemble(build_model(d, aggregate=not a.hour_by_hour).model)[:2]
    sc = scale_factors(lp0)
    lp = sc.apply(lp0)
    split = split_dense_columns(lp, a.chunk)
    print(f"{a.portfolio}: {lp.A.shape[0]:,} rows x {lp.A.shape[1]:,} columns; split copy {split.A.shape[0]:,} x {split.A.shape[1]:,}; "
          f"time limit {a.time_limit:.0f} s each", flush=True)
    for name in a.solvers:
        print(run(name, lp, split, a.time_limit, sign / sc.obj), flush=True)


if __name__ == "__main__":
    main()
