"""Benchmark of the whole plan: yield, LP build, HiGHS solve, results, writing.

A synthetic portfolio of N sites (default 50) x 12 years x 8760 h, built in
code: every site has a south rooftop, an east/west rooftop pair and a
carport, a two-shift load and Jiangsu's 2025 TOU tariff; the maximum PV runs
from 0.5 to 4 times each site's average load [kWp per kW], so that PV exceeds
the load in many midday hours and the reductions do not make the LP trivial.
Every fifth site may export surplus. Milestones: portfolio neutrality in the
last year and a Scope 1+2 peak in the middle year.

Also times `pvopt plan sites/lead` end to end (in-process).

Targets (2-core machine): example under 15 s end to end; 50 sites under
120 s and 4 GB; build + write no more than half of HiGHS's own solve time.

Run: python benchmarks/bench_plan.py [--sites 50] [--years 12] [--skip-example]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pvopt.inputs.schema import (  # noqa: E402
    Array,
    CertificateInstrument,
    ExportPolicy,
    GridConnection,
    Load,
    Offsets,
    Planning,
    Portfolio,
    PortfolioSettings,
    PVCosts,
    Site,
    Tariff,
    TouSeason,
    TouWindow,
    Weather,
)

NORMALS = {"wuxi": (31.49, 120.31), "suzhou": (31.30, 120.62), "changzhou": (31.81, 119.97), "nanjing": (32.06, 118.80), "shanghai": (31.23, 121.47)}


def jiangsu_tou() -> Tariff:
    """Jiangsu 2025 C&I TOU windows (docs/sources.md S4) with the Nanjing example prices."""
    sw = [("valley", 0, 6), ("flat", 6, 11), ("valley", 11, 13), ("flat", 13, 14), ("peak", 14, 22), ("flat", 22, 24)]
    sa = [("valley", 2, 6), ("flat", 6, 10), ("valley", 10, 14), ("flat", 14, 15), ("peak", 15, 22), ("flat", 22, 2)]
    return Tariff(
        type="tou",
        prices_per_kwh={"peak": 1.0358, "flat": 0.739, "valley": 0.4634},
        seasons=[
            TouSeason(name="summer_winter", months=[12, 1, 2, 6, 7, 8], windows=[TouWindow(period=p, start_hour=a, end_hour=b) for p, a, b in sw]),
            TouSeason(name="spring_autumn", months=[3, 4, 5, 9, 10, 11], windows=[TouWindow(period=p, start_hour=a, end_hour=b) for p, a, b in sa]),
        ],
    )


def synthetic_portfolio(n_sites: int, n_years: int, directory: Path, *, grid_charges: bool = False) -> Portfolio:
    first = 2024
    settings = PortfolioSettings(
        name=f"benchmark-{n_sites}-sites",
        planning=Planning(first_year=first, last_year=first + n_years - 1, baseline_year=first - 1, discount_rate=0.06),
        pv=PVCosts(capex_per_kwp={"rooftop": {2024: 3304, 2035: 2300}, "carport": {2024: 4626, 2035: 3220}},
                   om_per_kwp_year={"rooftop": 66, "carport": 92}),
        certificates=[CertificateInstrument(name="GEC", price_per_mwh={2024: 2.3, 2035: 10.0}, first_year=first, last_year=first + n_years - 1)],
        offsets=Offsets(price_per_tco2e=70.0),
        milestones=[
            {"name": "peak", "type": "emissions_peak", "year": first + n_years // 2},
            {"name": "neutral", "type": "neutrality", "year": first + n_years - 1},
        ],
    )
    tariff = jiangsu_tou()
    names = list(NORMALS)
    sites = []
    for i in range(n_sites):
        city = names[i % len(names)]
        lat, lon = NORMALS[city]
        annual_mwh = 3000.0 + 400.0 * (i % 7)
        avg_kw = annual_mwh * 1000 / 8760
        ratio = 0.5 + 3.5 * i / max(1, n_sites - 1)
        pv_max = ratio * avg_kw
        arrays = [
            Array(name="roof-south", kind="rooftop", max_kwp=0.5 * pv_max, tilt_deg=5 + i % 4, azimuth_deg=180),
            Array(name="roof-east", kind="rooftop", max_kwp=0.15 * pv_max, tilt_deg=10, azimuth_deg=90),
            Array(name="roof-west", kind="rooftop", max_kwp=0.15 * pv_max, tilt_deg=10, azimuth_deg=270),
            Array(name="carport", kind="carport", max_kwp=0.2 * pv_max, tilt_deg=7, azimuth_deg=180),
        ]
        sites.append(
            Site(
                name=f"site{i:03d}",
                latitude_deg=lat + 0.01 * (i // len(names)),
                longitude_deg=lon,
                timezone="Asia/Shanghai",
                weather=Weather(source="synthetic", normals=city, seed=1000 + i),
                arrays=arrays,
                load=Load(annual_mwh=annual_mwh, base_year=first - 1, growth_pct_per_year=3.0),
                tariff=tariff,
                export=ExportPolicy(policy="surplus", price_per_kwh=0.391) if i % 5 == 0 else ExportPolicy(),
                grid_ef_t_per_mwh=0.5827,
                scope1_tco2e=0.1 * annual_mwh * 0.5827,
                **({"grid": GridConnection(demand_charge_per_kw_month=40.0, import_limit_kw=3.0 * avg_kw)}
                   if grid_charges else {}),
            )
        )
    return Portfolio(settings=settings, sites=sites, directory=directory)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_large(n_sites: int, n_years: int, out: Path, *, grid_charges: bool = False) -> dict[str, float]:
    from pvopt.lp.model import SolveOptions
    from pvopt.pipeline import plan_portfolio, write_netcdf_atomic
    from pvopt.pv.yields import simulate_yield

    pf = synthetic_portfolio(n_sites, n_years, out, grid_charges=grid_charges)
    t = time.perf_counter()
    y = simulate_yield(pf)
    t_yield = time.perf_counter() - t
    run = plan_portfolio(pf, y, SolveOptions(), hourly=False)
    t = time.perf_counter()
    write_netcdf_atomic(run.plan, out / "plan.nc")
    t_write = time.perf_counter() - t
    tm = run.timings_s
    res = {
        "yield_s": t_yield,
        "inputs_s": tm["inputs"],
        "build_s": tm["build"],
        "interface_s": tm["solve_wall"] - tm["highs"],
        "highs_s": tm["highs"],
        "results_s": tm["results"],
        "write_s": t_write,
        "hourly_vars": float(run.model.n_hourly_vars),
        "full_hourly_vars": float(n_sites * n_years * 8760 * 2),
        "npc": float(run.plan["npc"]),
    }
    res["total_s"] = sum(res[k] for k in ("yield_s", "inputs_s", "build_s", "interface_s", "highs_s", "results_s", "write_s"))
    res["peak_rss_mb"] = peak_rss_mb()
    return res


def bench_example(out: Path) -> dict[str, float]:
    from pvopt.pipeline import run_plan

    t = time.perf_counter()
    run = run_plan(REPO / "sites" / "lead", out, force=True)
    return {"total_s": time.perf_counter() - t, **{k: v for k, v in run.timings_s.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=50)
    ap.add_argument("--years", type=int, default=12)
    ap.add_argument("--skip-example", action="store_true")
    ap.add_argument("--grid-charges", action="store_true",
                    help="also plan the same portfolio with a demand charge and an import limit at every site (no battery) and print the time ratio")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not a.skip_example:
            ex = bench_example(Path(tmp) / "lead")
            print("example sites/lead, pvopt plan end to end (fresh yield):")
            print("  " + ", ".join(f"{k} {v:.2f}" for k, v in ex.items()))
            print(f"  target < 15 s: {'met' if ex['total_s'] < 15 else 'MISSED'}")
        r = bench_large(a.sites, a.years, Path(tmp) / "large")
        g = bench_large(a.sites, a.years, Path(tmp) / "grid", grid_charges=True) if a.grid_charges else None
    print(f"synthetic portfolio: {a.sites} sites x {a.years} years x 8760 h")
    for k, v in r.items():
        print(f"  {k:18s} {v:,.2f}")
    bw = r["build_s"] + r["interface_s"] + r["write_s"]
    print(f"  build + interface + write = {bw:.1f} s vs HiGHS {r['highs_s']:.1f} s (target: <= half: {'met' if bw <= 0.5 * r['highs_s'] else 'MISSED'})")
    print(f"  total target < 120 s: {'met' if r['total_s'] < 120 else 'MISSED'}; memory < 4 GB: {'met' if r['peak_rss_mb'] < 4096 else 'MISSED'}")
    if g is not None:
        solve = lambda x: x["build_s"] + x["interface_s"] + x["highs_s"] + x["results_s"]  # noqa: E731
        print("same portfolio with a demand charge and an import limit at every site (no battery):")
        for k in ("build_s", "highs_s", "hourly_vars", "npc"):
            print(f"  {k:18s} {g[k]:,.2f}")
        print(f"  build+solve+results {solve(g):.1f} s vs {solve(r):.1f} s without: ratio {solve(g) / solve(r):.2f} (target <= 2)")


if __name__ == "__main__":
    main()
