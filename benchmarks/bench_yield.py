"""Benchmark of pvopt.pv.yields.simulate_yield.

(a) the example portfolio in sites/lead (skipped when absent or invalid);
(b) a synthetic portfolio of 20 sites x 50 arrays = 1,000 arrays, several
    geometries per site with some shared, built in code.

Prints wall time, unique ModelChain runs and peak memory. Targets: example
< 10 s; 1,000 arrays over 20 sites < 60 s on 2 cores.

Run: python benchmarks/bench_yield.py
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pvopt.pv import yields as pvyield  # noqa: E402
from pvopt.inputs.schema import (  # noqa: E402
    Array,
    Load,
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
from pvopt.errors import PortfolioError  # noqa: E402

EXAMPLE_TARGET_S = 10.0
LARGE_TARGET_S = 60.0
NORMALS = ["wuxi", "suzhou", "changzhou", "nanjing", "shanghai"]
CITY = {"wuxi": (31.49, 120.31), "suzhou": (31.30, 120.62), "changzhou": (31.81, 119.97), "nanjing": (32.06, 118.80), "shanghai": (31.23, 121.47)}


def _large_portfolio(n_sites: int = 20, n_arrays: int = 50) -> Portfolio:
    settings = PortfolioSettings(
        name="bench",
        planning=Planning(first_year=2025, last_year=2035, baseline_year=2024),
        pv=PVCosts(capex_per_kwp={"rooftop": 3000, "carport": 4000}, om_per_kwp_year={"rooftop": 30, "carport": 40}),
    )
    tariff = Tariff(
        type="tou",
        prices_per_kwh={"flat": 0.7},
        seasons=[TouSeason(name="all", months=list(range(1, 13)), windows=[TouWindow(period="flat", start_hour=0, end_hour=24)])],
    )
    # 10 distinct geometries per site; every geometry shared by 5 arrays
    geoms = [(tilt, az, "rooftop") for tilt in (5, 10, 20) for az in (135, 180, 225)] + [(3, 180, "carport")]
    sites = []
    for i in range(n_sites):
        normals = NORMALS[i % len(NORMALS)]
        lat, lon = CITY[normals]
        arrays = []
        for j in range(n_arrays):
            tilt, az, kind = geoms[j % len(geoms)]
            arrays.append(Array(name=f"a{j:02d}", kind=kind, max_kwp=50 + 10 * j, tilt_deg=tilt, azimuth_deg=az))
        sites.append(
            Site(
                name=f"site{i:02d}",
                latitude_deg=lat + 0.01 * i,
                longitude_deg=lon,
                timezone="Asia/Shanghai",
                weather=Weather(source="synthetic", normals=normals, seed=i),
                arrays=arrays,
                load=Load(annual_mwh=5000, base_year=2024),
                tariff=tariff,
                grid_ef_t_per_mwh=0.55,
            )
        )
    return Portfolio(settings=settings, sites=sites, directory=Path(tempfile.gettempdir()))


def _run(label: str, portfolio: Portfolio, target_s: float) -> None:
    n_arrays = sum(len(s.arrays) for s in portfolio.sites)
    tracemalloc.start()
    t0 = time.perf_counter()
    ds = pvyield.simulate_yield(portfolio)
    wall = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    ok = "OK" if wall < target_s else "OVER TARGET"
    annual = ds["annual_kwh_per_kwp"].values
    print(
        f"{label}: {len(portfolio.sites)} sites, {n_arrays} arrays, {ds.attrs['unique_geometries']} ModelChain runs: "
        f"{wall:.2f} s wall (target < {target_s:.0f} s: {ok}); peak traced Python memory {peak / 2**20:.0f} MiB; "
        f"process max RSS {rss_mb:.0f} MiB; specific yield {annual.min():.0f}-{annual.max():.0f} kWh/kWp"
    )


def main() -> None:
    example = REPO / "sites" / "lead"
    if (example / "portfolio.yaml").exists():
        from pvopt import load_portfolio

        try:
            _run("example sites/lead", load_portfolio(example), EXAMPLE_TARGET_S)
        except PortfolioError as e:
            print(f"example sites/lead: skipped, the portfolio does not load yet:\n{e}")
    else:
        print("example sites/lead: skipped (no portfolio.yaml yet)")
    _run("synthetic 20 x 50", _large_portfolio(), LARGE_TARGET_S)


if __name__ == "__main__":
    main()
