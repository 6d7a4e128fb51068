"""Weather risk: how a plan fares in other weather years.

A plan is made against one typical weather year. This module asks what
happens to the *same investment decisions* in other years:

1. :func:`weather_years` makes ``n`` alternative weather years. For a site on
   synthetic weather, each year uses a different seed of the daily-clearness
   draw of :func:`pvopt.pv.weather.synthetic_year` **and** scales the monthly GHI
   normals by one seeded inter-annual factor (see below). A site on a weather
   file keeps its one year in every weather year (multi-year files are not
   read yet).
2. :func:`weather_year_yields` simulates each year's hourly yield with pvlib.
3. :func:`evaluate_plan_under_weather` fixes the plan's investment decisions
   (PV built per array and year, measures adopted, battery energy and power)
   and re-solves the operational LP (onsite use, grid, export, battery
   dispatch, certificates and offsets still optimised) for every weather year.
   A year in which the fixed plan cannot meet a milestone is reported as
   infeasible with the milestones that fail and by how much (an elastic
   re-solve with the same fixed decisions); its energy, emissions and costs are
   those of that elastic re-solve (the least shortfall, then the least cost).
4. :func:`p90_yields` builds a P90 design year and :func:`plan_with_risk`
   plans on the typical (``design="p50"``) or P90 year and evaluates the plan
   across the weather years.

Inter-annual variability model
------------------------------
Synthetic years with different seeds differ day by day but every month's GHI
equals the normal exactly, so on their own they under-state how much annual
totals vary. Each weather year ``k`` therefore also multiplies every month's GHI
normal of a synthetic site by a factor ``f_site,k``, lognormal with mean 1 and a
coefficient of variation ``cv_site``, clipped to ±3 standard deviations.

* ``cv_site`` is **measured where the normals file says so**: the file's
  ``# ghi_annual_sd_kwh_m2`` (the year-to-year standard deviation of the annual
  GHI total) divided by the annual total of its monthly normals. For the shipped
  station normals (1991-2017, see docs/sources.md) that is 4.5-6.1 %.
* A normals file without that line falls back to :data:`INTERANNUAL_GHI_CV`
  (4.5 %, an assumption typical of published year-to-year GHI variability in
  cloudy, monsoon-influenced climates: PVsyst's weather note after P. Ineichen,
  *Global irradiation: average and typical year, and year-to-year
  variability*, University of Geneva, 2011, models the annual GHI as Gaussian
  with a width of a few percent that grows with cloudiness). ``ghi_cv=`` sets
  one CV for every site instead.

All sites share one standard-normal draw ``z_k`` per weather year (the sites of
a regional portfolio share the same weather systems; this is the conservative
choice for portfolio totals): ``f_site,k = exp(-s²/2 + s z_k)`` with
``s² = ln(1 + cv_site²)``. The ``n`` draws are a Latin-hypercube sample (one
from each ``1/n`` probability band, in seeded order), so that a handful of
years spans the distribution. Months are scaled together (no separate monthly
anomalies), so seasonal shape risk is not modelled.

Nothing here imports pvlib or Pyomo at module import time.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd
import xarray as xr

from pvopt.errors import InfeasiblePlanError

if TYPE_CHECKING:  # pragma: no cover
    from pvopt.inputs.schema import Portfolio, Site
    from pvopt.lp.model import SolveOptions
    from pvopt.pipeline import PlanRun

__all__ = [
    "INTERANNUAL_GHI_CV",
    "DEFAULT_FIRST_SEED",
    "RISK_METRICS",
    "WeatherYear",
    "RiskResult",
    "weather_years",
    "weather_year_yields",
    "plan_inputs_from_plan",
    "inputs_with_yields",
    "fix_decisions",
    "evaluate_plan_under_weather",
    "p90_yields",
    "risk_summary",
    "milestone_risk_table",
    "site_ghi_cv",
    "plan_with_risk",
]

INTERANNUAL_GHI_CV = 0.045
"""Fallback coefficient of variation of annual GHI between years [1], used for a normals file without
``# ghi_annual_sd_kwh_m2`` (assumption, see the module docstring)."""

FACTOR_CLIP_SD = 3.0
"""The inter-annual factor is clipped to 1 ± this many standard deviations."""

DEFAULT_FIRST_SEED = 20_240_101
"""Default seed of weather year 1 (weather year ``k`` derives its seeds from ``first_seed`` and ``k``)."""

RISK_METRICS: dict[str, tuple[str, str, str]] = {
    # name: (units, worse when, description)
    "pv_generated_mwh": ("MWh/yr", "lower", "PV generation, mean over the planning years"),
    "pv_onsite_mwh": ("MWh/yr", "lower", "PV used onsite, mean over the planning years"),
    "grid_import_mwh": ("MWh/yr", "higher", "grid electricity, mean over the planning years"),
    "scope2_location_tco2e": ("tCO2e/yr", "higher", "location-based Scope 2, mean over the planning years"),
    "scope2_market_tco2e": ("tCO2e/yr", "higher", "market-based Scope 2, mean over the planning years"),
    "certificates_mwh": ("MWh/yr", "higher", "certificates claimed, mean over the planning years"),
    "offsets_tco2e": ("tCO2e/yr", "higher", "offset credits retired, mean over the planning years"),
    "energy_cost": ("{cur}/yr", "higher", "grid electricity cost (undiscounted), mean over the planning years"),
    "npc": ("{cur}", "higher", "net present cost of the plan in this weather, salvage deducted"),
}
"""Metrics of the risk summary: units, the direction that is worse, description."""

_ANNUAL = [k for k in RISK_METRICS if k != "npc"]


def _a(units: str, description: str) -> dict[str, str]:
    return {"units": units, "description": description}


# --------------------------------------------------------------------------- #
# weather years
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class WeatherYear:
    """One alternative weather year of a portfolio.

    Attributes
    ----------
    label
        ``"wy1"``, ``"wy2"``, ...
    portfolio
        The portfolio with every synthetic site's ``weather.seed`` replaced.
    ghi_factor
        Mean over the synthetic sites of their inter-annual factors [1] (a summary; see ``ghi_factors``).
    seeds
        Seed of the daily-clearness draw per synthetic site.
    file_sites
        Sites on a weather file: they keep their one year.
    ghi_factors
        Inter-annual factor applied to each synthetic site's monthly GHI normals [1].
    ghi_cvs
        Coefficient of variation used per synthetic site [1] (from its normals file, or the fallback).
    z
        The standard-normal draw common to all sites in this year.
    """

    label: str
    portfolio: "Portfolio"
    ghi_factor: float
    seeds: dict[str, int] = field(default_factory=dict)
    file_sites: tuple[str, ...] = ()
    ghi_factors: dict[str, float] = field(default_factory=dict)
    ghi_cvs: dict[str, float] = field(default_factory=dict)
    z: float = 0.0


def _lhs_z(first_seed: int, n: int) -> np.ndarray:
    """Draw ``n`` standard-normal values as a Latin-hypercube sample.

    ``z_k = Phi^-1((pi_k + U_k) / n)`` (``pi`` a seeded permutation of ``0..n-1``,
    ``U_k`` seeded uniform draws).
    """
    from statistics import NormalDist

    rng = np.random.default_rng([int(first_seed) & 0xFFFFFFFF, n])
    u = (rng.permutation(n) + rng.uniform(size=n)) / n
    u = np.clip(u, 1e-9, 1 - 1e-9)
    return np.array([NormalDist().inv_cdf(float(x)) for x in u])


def _factor(z: np.ndarray | float, cv: float) -> np.ndarray:
    """Lognormal factor with mean 1 and CV ``cv`` at standard-normal ``z``, clipped to 1 ± 3 cv."""
    z = np.asarray(z, dtype=float)
    if cv <= 0:
        return np.ones_like(z)
    s = float(np.sqrt(np.log1p(cv * cv)))
    return np.clip(np.exp(-0.5 * s * s + s * z), 1.0 - FACTOR_CLIP_SD * cv, 1.0 + FACTOR_CLIP_SD * cv)


def _lognormal_factors(first_seed: int, n: int, cv: float) -> np.ndarray:
    """``n`` inter-annual factors: a Latin-hypercube sample of a lognormal with mean 1 and CV ``cv``.

    Year ``k`` gets the quantile ``u_k = (pi_k + U_k) / n`` of the lognormal (``pi`` a
    seeded permutation of ``0..n-1``, ``U_k`` seeded uniform draws), so that even a
    handful of years spans the distribution evenly instead of clustering by chance.
    """
    if cv <= 0:
        return np.ones(n)
    return _factor(_lhs_z(first_seed, n), cv)


def site_ghi_cv(site: "Site") -> tuple[float, str]:
    """Year-to-year CV of a synthetic site's annual GHI [1] and where it comes from.

    ``ghi_annual_sd_kwh_m2`` of the site's normals file divided by the sum of its
    monthly GHI normals; without that line, :data:`INTERANNUAL_GHI_CV` (fallback).
    """
    from pvopt.pv.weather import normals_path, read_normals

    normals = read_normals(normals_path(str(site.weather.normals)))
    sd = normals.attrs.get("ghi_annual_sd_kwh_m2")
    total = float(normals["ghi_kwh_m2"].sum())
    if sd is None or total <= 0:
        return INTERANNUAL_GHI_CV, f"fallback {INTERANNUAL_GHI_CV:.1%} (normals '{normals.attrs.get('name')}' give no annual sd)"
    return float(sd) / total, f"sd {float(sd):g} of {total:,.0f} kWh/m2 (normals '{normals.attrs.get('name')}')"


def weather_years(pf: "Portfolio", n: int, *, first_seed: int = DEFAULT_FIRST_SEED,
                  ghi_cv: float | None = None) -> list[WeatherYear]:
    """``n`` alternative weather years of ``pf`` (deterministic for a given ``first_seed``).

    Parameters
    ----------
    pf
        The portfolio.
    n
        Number of weather years (>= 1).
    first_seed
        Seed of the whole set; the same value gives the same years.
    ghi_cv
        Coefficient of variation of the inter-annual GHI factor [1] for every
        site; ``None`` (default) takes each site's from its normals file
        (:func:`site_ghi_cv`, fallback :data:`INTERANNUAL_GHI_CV`); 0 keeps the
        monthly normals (seeds differ only day by day).

    Returns
    -------
    list of WeatherYear
        Weather year ``k`` (1-based) gives every synthetic site the seed
        ``crc32("<first_seed>:<k>:<site>")``. The common standard-normal draws
        of the ``n`` years are a Latin-hypercube sample (seeded by
        ``first_seed`` and ``n``: the same pair gives the same years; another
        ``n`` gives other draws); each site's factor is its lognormal at that draw. Sites on weather files keep their one year
        (listed in ``file_sites``).

    Examples
    --------
    >>> from pvopt.testing import tiny_portfolio  # doctest: +SKIP
    >>> [w.label for w in weather_years(tiny_portfolio(), 2)]  # doctest: +SKIP
    ['wy1', 'wy2']
    """
    if n < 1:
        raise ValueError(f"expected at least 1 weather year, got {n}")
    out = []
    zs = _lhs_z(first_seed, n)
    cvs = {s.name: (float(ghi_cv) if ghi_cv is not None else site_ghi_cv(s)[0]) for s in pf.sites if s.weather.source == "synthetic"}
    for k in range(1, n + 1):
        z = float(zs[k - 1])
        sites, seeds, files, factors = [], {}, [], {}
        for s in pf.sites:
            if s.weather.source == "synthetic":
                seed = zlib.crc32(f"{first_seed}:{k}:{s.name}".encode("utf-8"))
                seeds[s.name] = seed
                factors[s.name] = float(_factor(z, cvs[s.name]))
                sites.append(s.model_copy(update={"weather": s.weather.model_copy(update={"seed": seed})}))
            else:
                files.append(s.name)
                sites.append(s)
        mean = float(np.mean(list(factors.values()))) if factors else float(_factor(z, INTERANNUAL_GHI_CV if ghi_cv is None else ghi_cv))
        out.append(WeatherYear(f"wy{k}", pf.model_copy(update={"sites": sites}), mean, seeds, tuple(files), factors, dict(cvs), z))
    return out


def _year_weather(wy: WeatherYear) -> Callable[["Site"], pd.DataFrame]:
    """Return the ``weather`` callable for :func:`pvopt.pv.yields.simulate_yield` of one weather year."""
    from pvopt.pv.weather import check_weather, normals_path, read_normals, site_weather, synthetic_year

    def weather(site: "Site") -> pd.DataFrame:
        if site.weather.source != "synthetic":
            return site_weather(site, wy.portfolio.directory)
        normals = read_normals(normals_path(str(site.weather.normals)))
        scaled = normals.copy()
        f = float(wy.ghi_factors.get(site.name, wy.ghi_factor))
        scaled["ghi_kwh_m2"] = normals["ghi_kwh_m2"] * f
        scaled.attrs = dict(normals.attrs)
        seed = site.weather.seed
        if seed is None:  # weather_years gives every synthetic site a seed
            raise TypeError(f"site '{site.name}' has no weather seed; expected a site of a WeatherYear")
        df = synthetic_year(scaled, site.latitude_deg, site.longitude_deg, site.altitude_m, site.timezone, int(seed))
        df = check_weather(df, normals.attrs["file"])
        cv = wy.ghi_cvs.get(site.name)
        df.attrs["weather_description"] = (
            f"weather year {wy.label} of " + str(df.attrs.get("weather_description", "")).replace(" | ", " | monthly GHI normals x "
            f"{f:.4f} (inter-annual factor" + (f", CV {cv:.1%}" if cv is not None else "") + "); ", 1)
        )
        return df

    return weather


def weather_year_yields(wy: WeatherYear, *, progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
    """Hourly yield per kWp of every array in weather year ``wy`` (pvlib).

    Returns the Dataset of :func:`pvopt.pv.yields.simulate_yield` with attrs
    ``weather_year``, ``ghi_factor`` and ``seeds`` (JSON).
    """
    import json

    from pvopt.pv.yields import simulate_yield

    ds = simulate_yield(wy.portfolio, progress=progress, weather=_year_weather(wy))
    ds.attrs.update(weather_year=wy.label, ghi_factor=wy.ghi_factor, seeds=json.dumps(wy.seeds),
                    file_weather_sites=",".join(wy.file_sites))
    return ds


def p90_yields(yields_by_year: Sequence[xr.Dataset], *, base: xr.Dataset | None = None, quantile: float = 0.10) -> xr.Dataset:
    """Build a P90 design year: per array, the base profile scaled to the P90 annual energy.

    Method: for every array, take its annual energy ``E_k`` [kWh/kWp] in each
    weather year ``k``; the P90 energy is the 10th percentile of the ``E_k``
    (``numpy.quantile``, linear interpolation: the energy exceeded in 90 % of
    years); the P90 profile is the base profile times ``P90 / E_base``. The
    hourly shape is the base year's; only the level changes.

    Parameters
    ----------
    yields_by_year
        Yield Datasets of the weather years (same arrays).
    base
        The P50/base profile; default the hour-by-hour mean of the weather years.
    quantile
        The non-exceedance quantile (0.10 for P90).

    Returns
    -------
    xarray.Dataset
        Like ``base``, with ``yield_kw_per_kwp``, ``annual_kwh_per_kwp`` and
        ``capacity_factor`` scaled, ``p90_scale[array]`` and attrs describing the method.
    """
    if not yields_by_year:
        raise ValueError("expected at least one weather year")
    arrays = [str(a) for a in yields_by_year[0]["array"].values]
    mats = []
    for ds in yields_by_year:
        if [str(a) for a in ds["array"].values] != arrays:
            raise ValueError("every weather year must have the same arrays in the same order")
        mats.append(np.asarray(ds["yield_kw_per_kwp"].values, dtype=float))
    stack = np.stack(mats)  # (k, array, hour)
    annual = stack.sum(axis=2)  # (k, array) kWh/kWp
    if base is None:
        base = yields_by_year[0].copy()
        base["yield_kw_per_kwp"] = (("array", "hour"), stack.mean(axis=0), dict(yields_by_year[0]["yield_kw_per_kwp"].attrs))
        base_desc = "the hour-by-hour mean of the weather years"
    else:
        base = base.copy()
        base_desc = "the base (typical-year) profile"
    b = np.asarray(base["yield_kw_per_kwp"].sel(array=arrays).values, dtype=float)
    e_base = b.sum(axis=1)
    e_p90 = np.quantile(annual, quantile, axis=0)
    scale = np.where(e_base > 0, e_p90 / np.where(e_base > 0, e_base, 1.0), 1.0)
    out = base.sel(array=arrays).copy()
    out["yield_kw_per_kwp"] = (("array", "hour"), b * scale[:, None], dict(base["yield_kw_per_kwp"].attrs))
    out["annual_kwh_per_kwp"] = (("array",), (b * scale[:, None]).sum(axis=1), _a("kWh/kWp", "annual AC energy per kWp DC (P90 design year)"))
    out["capacity_factor"] = (("array",), out["annual_kwh_per_kwp"].values / 8760.0, _a("1", "AC kWh per kWp DC divided by 8760 h"))
    out["p90_scale"] = (("array",), scale, _a("1", "P90 annual energy / base annual energy"))
    out.attrs["design_year"] = f"P{round(100 * (1 - quantile))}"
    out.attrs["design_method"] = (
        f"per array, {base_desc} scaled so its annual energy equals the {quantile:.0%} quantile (numpy linear interpolation) "
        f"of the annual energies in {len(yields_by_year)} weather years; hourly shape unchanged"
    )
    return out


# --------------------------------------------------------------------------- #
# evaluation with fixed decisions
# --------------------------------------------------------------------------- #
def plan_inputs_from_plan(plan: xr.Dataset) -> xr.Dataset:
    """Return the LP inputs carried by a plan Dataset (``plan.nc`` holds every input).

    The inputs are the variables declared with role ``input`` in
    :data:`pvopt.datasets.LP_INPUTS` (outputs never reuse an input's name, so
    they are the plan's values unchanged); every output is dropped.
    """
    from pvopt.datasets import LP_INPUTS

    d = plan.copy()
    if "scope1_before_measures_tco2e" in d:  # plan.nc written before outputs stopped shadowing inputs
        d["scope1_tco2e"] = d["scope1_before_measures_tco2e"]
    keep = {v.name for v in LP_INPUTS}
    return d.drop_vars([k for k in d.data_vars if k not in keep])


def inputs_with_yields(inputs: xr.Dataset, yields: xr.Dataset) -> xr.Dataset:
    """LP inputs with the yield profiles (and solar certificate shape) of another weather year.

    Every yield profile of ``inputs`` is replaced by the row of ``yields`` of
    the arrays that use it (they must agree: arrays sharing a profile share
    weather and geometry). Certificate hourly shares that are not flat (the
    "solar" instruments) become the mean of the new profiles, as in
    :func:`pvopt.lp.inputs.build_plan_inputs`.
    """
    ymat = np.asarray(yields["yield_kw_per_kwp"].values, dtype=float)
    row_of = {str(a): i for i, a in enumerate(yields["array"].values)}
    prof = [str(p) for p in inputs["profile"].values]
    aprof = [str(p) for p in inputs["array_profile"].values]
    arrays = [str(a) for a in inputs["array"].values]
    new = np.zeros((len(prof), ymat.shape[1]))
    for g, p in enumerate(prof):
        users = [arrays[a] for a in range(len(arrays)) if aprof[a] == p]
        missing = [u for u in users if u not in row_of]
        if missing:
            raise KeyError(f"the weather year's yield has no array {missing[0]!r}")
        rows = ymat[[row_of[u] for u in users]]
        if not np.allclose(rows, rows[0], rtol=1e-9, atol=1e-12):
            raise ValueError(f"arrays {users} share profile {p} in the plan but differ in the weather year's yield")
        new[g] = rows[0]
    out = inputs.copy()
    out["yield_kw_per_kwp"] = (("profile", "hour"), new, dict(inputs["yield_kw_per_kwp"].attrs))
    if "certificate_hourly_share" in out and out.sizes.get("certificate", 0):
        share = np.asarray(out["certificate_hourly_share"].values, dtype=float).copy()
        solar = new.mean(axis=0) if len(new) else np.ones(share.shape[1])
        solar = solar / solar.sum() if solar.sum() > 0 else np.full(share.shape[1], 1.0 / share.shape[1])
        for c in range(share.shape[0]):
            if np.ptp(share[c]) > 0:
                share[c] = solar
        out["certificate_hourly_share"] = (("certificate", "hour"), share, dict(inputs["certificate_hourly_share"].attrs))
    return out


def fix_decisions(plan: xr.Dataset) -> Callable[[Any, xr.Dataset], None]:
    """Return an ``extra_constraints`` hook that fixes the plan's investment decisions.

    Fixes ``build[a, y]`` to ``plan.build_kwp`` [kWp], ``madopt[k, y]`` to
    ``plan.measure_new_fraction`` [1] and the battery capacities ``bE[b, y]``,
    ``bP[b, y]`` to ``plan.battery_energy_kwh`` [kWh] / ``battery_power_kw`` [kW]
    (which fixes ``bE_build``/``bP_build`` through their definitions). Values are
    clipped into the variables' bounds. Everything operational stays free.
    """
    build = np.asarray(plan["build_kwp"].values, dtype=float)
    madopt = np.asarray(plan["measure_new_fraction"].values, dtype=float) if "measure_new_fraction" in plan else None
    bE = np.asarray(plan["battery_energy_kwh"].values, dtype=float) if "battery_energy_kwh" in plan else None
    bP = np.asarray(plan["battery_power_kw"].values, dtype=float) if "battery_power_kw" in plan else None

    def _fix(var, value: float) -> None:
        lo = var.lb if var.lb is not None else -np.inf
        hi = var.ub if var.ub is not None else np.inf
        var.fix(float(min(max(value, lo), hi)))

    def hook(m, d: xr.Dataset) -> None:
        if build.shape != (d.sizes["array"], d.sizes["year"]):
            raise ValueError(f"plan build_kwp has shape {build.shape}, the model expects {(d.sizes['array'], d.sizes['year'])}")
        for (a, j) in m.build:
            _fix(m.build[a, j], build[a, j])
        if madopt is not None:
            for (k, j) in m.madopt:
                _fix(m.madopt[k, j], madopt[k, j])
        if bE is not None and bP is not None:
            for (k, j) in m.bE:
                _fix(m.bE[k, j], bE[k, j])
                _fix(m.bP[k, j], bP[k, j])

    return hook


@dataclass
class _Outcome:
    plan: xr.Dataset
    rows: list[dict[str, Any]]
    feasible: bool
    reason: str


def _solve_fixed(inputs: xr.Dataset, hook, opts: "SolveOptions") -> _Outcome:
    """Solve with fixed decisions; on infeasibility, an elastic re-solve with the same decisions."""
    from dataclasses import replace

    from pvopt.lp.model import Status, build_model, solve_model
    from pvopt.lp.outcome import solve
    from pvopt.lp.solution import milestone_table, plan_dataset

    o = replace(opts, extra_constraints=hook, diagnose_infeasible=False, milestone_costs="none")
    try:
        out = solve(inputs, o, hourly=False)
    except InfeasiblePlanError:
        pass
    else:
        return _Outcome(out.plan, out.milestones, True, "")
    pm = build_model(inputs, reduce=o.reduce, elastic=True, matrix=o.interface == "direct")
    hook(pm.model, inputs)
    sol, res = solve_model(pm, o)
    if sol.status != Status.OPTIMAL:
        raise InfeasiblePlanError({"(fixed plan)": (float("nan"), "", f"infeasible even with every milestone relaxed ({sol.termination})")})
    plan = plan_dataset(pm, sol, res, o, hourly=False)
    rows = milestone_table(pm, plan, sol, o)
    short = []
    for mr in pm.milestones.values():
        vals = [(y, float(s.value or 0.0)) for (y, _), s in zip(mr.rows, mr.slacks)]
        bad = [(y, v) for y, v in vals if v > 1e-4]
        if bad:
            worst = max(bad, key=lambda t: t[1])
            short.append(f"{mr.name} short by {worst[1]:,.1f} {mr.unit} (worst in {worst[0]})")
    reason = "milestones not met with the plan's decisions fixed: " + ("; ".join(short) if short else "(no slack reported)")
    return _Outcome(plan, rows, False, reason)


def evaluate_plan_under_weather(
    plan_or_run: "xr.Dataset | PlanRun",
    yields_by_year: Sequence[xr.Dataset],
    *,
    labels: Sequence[str] | None = None,
    opts: "SolveOptions | None" = None,
    progress: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Re-solve the operation of a plan, with its investments fixed, in each weather year.

    Parameters
    ----------
    plan_or_run
        A :class:`pvopt.pipeline.PlanRun` or a plan Dataset (``plan.nc``).
    yields_by_year
        One yield Dataset per weather year (:func:`weather_year_yields`).
    labels
        Names of the weather years; default ``attrs["weather_year"]`` or ``wy1..``.
    opts
        Solve options (``extra_constraints`` is replaced by :func:`fix_decisions`).
    progress
        ``callable(done, total)`` after each weather year.

    Returns
    -------
    xarray.Dataset
        Dimension ``weather_year`` (and ``year``, ``milestone``):
        ``<metric>_by_year[weather_year, year]`` portfolio totals, ``<metric>``
        [weather_year] means over the planning years (see :data:`RISK_METRICS`),
        ``npc``, ``feasible`` (1/0), ``reason``, ``milestone_met[weather_year, milestone]``,
        ``all_milestones_met``; ``build_kwp_fixed[array, year]`` the decisions held fixed.
        Units in attrs. An infeasible year never raises: it has ``feasible = 0``
        and the reason, and the metrics of the elastic re-solve.
    """
    from pvopt.lp.model import SolveOptions

    opts = opts or SolveOptions()
    inputs, plan = _inputs_and_plan(plan_or_run)
    hook = fix_decisions(plan)
    labels = list(labels) if labels is not None else [str(y.attrs.get("weather_year", f"wy{k + 1}")) for k, y in enumerate(yields_by_year)]
    years = [int(y) for y in inputs["year"].values]
    r = _resolve_weather_years(inputs, yields_by_year, len(years), hook, opts, progress)
    return _evaluation_dataset(inputs, labels, years, r)


def _inputs_and_plan(plan_or_run: "xr.Dataset | PlanRun") -> tuple[xr.Dataset, xr.Dataset]:
    """Return the LP inputs and the plan Dataset of a :class:`pvopt.pipeline.PlanRun` or a plan Dataset."""
    if hasattr(plan_or_run, "inputs") and hasattr(plan_or_run, "plan"):
        return plan_or_run.inputs, plan_or_run.plan
    plan = cast(xr.Dataset, plan_or_run)
    return plan_inputs_from_plan(plan), plan


@dataclass
class _Resolved:
    """Per weather year: the outcomes of the re-solves with the plan's decisions fixed."""

    by_year: dict[str, np.ndarray]
    npc: np.ndarray
    feasible: np.ndarray
    reasons: list[str] = field(default_factory=list)
    mnames: list[str] = field(default_factory=list)
    met_rows: list[dict[str, bool]] = field(default_factory=list)
    build_fixed: xr.DataArray | None = None
    seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _resolve_weather_years(
    inputs: xr.Dataset,
    yields_by_year: Sequence[xr.Dataset],
    n_years: int,
    hook: Callable[[Any, xr.Dataset], None],
    opts: "SolveOptions",
    progress: Callable[[int, int], None] | None,
) -> _Resolved:
    """Re-solve the operation in every weather year and collect the portfolio totals per planning year."""
    n = len(yields_by_year)
    r = _Resolved({k: np.full((n, n_years), np.nan) for k in _ANNUAL}, np.full(n, np.nan), np.zeros(n, dtype=np.int8), seconds=np.zeros(n))
    for k, y in enumerate(yields_by_year):
        t0 = time.perf_counter()
        d = inputs_with_yields(inputs, y)
        oc = _solve_fixed(d, hook, opts)
        for key in _ANNUAL:
            r.by_year[key][k] = oc.plan[key].sum("site").values
        r.npc[k] = float(oc.plan["npc"])
        r.feasible[k] = int(oc.feasible)
        r.reasons.append(oc.reason)
        r.met_rows.append({row["name"]: bool(row["met"]) for row in oc.rows})
        if not r.mnames:
            r.mnames = [row["name"] for row in oc.rows]
        if r.build_fixed is None:
            r.build_fixed = oc.plan["build_kwp"]
        r.seconds[k] = time.perf_counter() - t0
        if progress is not None:
            progress(k + 1, n)
    return r


def _evaluation_dataset(inputs: xr.Dataset, labels: list[str], years: list[int], r: _Resolved) -> xr.Dataset:
    """Assemble the evaluation Dataset of :func:`evaluate_plan_under_weather` from the re-solves."""
    cur = str(inputs.attrs.get("currency", ""))
    n = len(r.npc)
    ds = xr.Dataset(coords={"weather_year": ("weather_year", labels, _a("", "weather year label")),
                            "year": ("year", years, _a("year", "planning year")),
                            "milestone": ("milestone", r.mnames, _a("", "milestone name"))})
    for key in _ANNUAL:
        units, worse, desc = RISK_METRICS[key]
        u = units.format(cur=cur)
        ds[f"{key}_by_year"] = (("weather_year", "year"), r.by_year[key], _a(u.replace("/yr", ""), desc.split(",")[0] + ", portfolio total per planning year"))
        ds[key] = (("weather_year",), r.by_year[key].mean(axis=1), {**_a(u, desc), "worse_when": worse})
    ds["npc"] = (("weather_year",), r.npc, {**_a(cur, RISK_METRICS["npc"][2]), "worse_when": "higher"})
    ds["feasible"] = (("weather_year",), r.feasible, _a("1", "1: the fixed plan meets every milestone in this weather; 0: it cannot (see reason)"))
    ds["reason"] = (("weather_year",), np.array(r.reasons, dtype=object), _a("", "why the year is infeasible (empty when feasible)"))
    met = np.array([[row.get(mn, False) for mn in r.mnames] for row in r.met_rows], dtype=np.int8).reshape(n, len(r.mnames))
    ds["milestone_met"] = (("weather_year", "milestone"), met, _a("1", "1: milestone met in this weather year"))
    ds["all_milestones_met"] = (("weather_year",), met.all(axis=1).astype(np.int8) if len(r.mnames) else np.ones(n, np.int8),
                                _a("1", "1: every milestone met"))
    ds["solve_seconds"] = (("weather_year",), r.seconds, _a("s", "wall time of the re-solve"))
    if r.build_fixed is not None:
        ds["build_kwp_fixed"] = r.build_fixed.assign_attrs(_a("kWp", "PV built per array and year, as re-solved with the plan's decisions fixed"))
    ds.attrs.update(
        title="pvopt weather risk: the plan's fixed investments operated in other weather years",
        currency=cur,
        portfolio_name=str(inputs.attrs.get("portfolio_name", "")),
        portfolio_fingerprint=str(inputs.attrs.get("portfolio_fingerprint", "")),
        weather_statement=str(inputs.attrs.get("weather_statement", "")),
        method=("investment decisions (PV build per array and year, measures, battery energy and power) fixed to the plan's values; "
                "onsite use, grid, export, battery dispatch, certificates and offsets re-optimised per weather year"),
    )
    return ds


def _add_milestone_risk(ds: xr.Dataset, run: "PlanRun") -> xr.Dataset:
    """P50/P90 onsite PV per planning year and per ``min_pv_onsite_mwh`` milestone across the weather years.

    Adds ``pv_onsite_p50_mwh[year]`` / ``pv_onsite_p90_mwh[year]`` (P90: the 10th percentile, the onsite PV
    reached in 90 % of weather years) and, per onsite-PV milestone (dimension ``pv_milestone``):
    ``pv_milestone_target_mwh``, ``pv_milestone_mwh[weather_year, pv_milestone]`` (the lowest year from the
    milestone's year on, as the milestone counts it), its ``_design``, ``_p50`` and ``_p90`` values and
    ``pv_milestone_p90_margin_pct`` (P90 against the target).
    """
    import json

    if "pv_onsite_mwh_by_year" not in ds:
        return ds
    v = np.asarray(ds["pv_onsite_mwh_by_year"].values, dtype=float)  # (weather_year, year)
    ds["pv_onsite_p50_mwh"] = (("year",), np.nanquantile(v, 0.5, axis=0), _a("MWh", "onsite PV, portfolio total: median across the weather years"))
    ds["pv_onsite_p90_mwh"] = (("year",), np.nanquantile(v, 0.1, axis=0),
                               _a("MWh", "onsite PV, portfolio total: reached in 90 % of the weather years (10th percentile)"))
    try:
        ms = json.loads(str(run.inputs.attrs.get("milestones_json", "[]")))
    except ValueError:
        ms = []
    pv = [m for m in ms if m.get("type") == "min_pv_onsite_mwh"]
    if not pv:
        return ds
    years = np.asarray(ds["year"].values, dtype=int)
    design = np.asarray(run.plan["pv_onsite_mwh"].sum("site").values, dtype=float)
    names, target, val, dval = [], [], [], []
    for m in pv:
        sel = years >= int(m["year"])
        if not sel.any():
            continue
        names.append(str(m["name"]))
        target.append(float(m["mwh"]))
        val.append(v[:, sel].min(axis=1))
        dval.append(float(design[sel].min()))
    if not names:
        return ds
    val_a = np.stack(val, axis=1)  # (weather_year, pv_milestone)
    t = np.array(target)
    p90 = np.nanquantile(val_a, 0.1, axis=0)
    ds = ds.assign_coords(pv_milestone=("pv_milestone", names, _a("", "min_pv_onsite_mwh milestones")))
    ds["pv_milestone_target_mwh"] = (("pv_milestone",), t, _a("MWh/yr", "the milestone's onsite-PV target"))
    ds["pv_milestone_mwh"] = (("weather_year", "pv_milestone"), val_a,
                              _a("MWh/yr", "onsite PV in the lowest year from the milestone year on, per weather year"))
    ds["pv_milestone_design_mwh"] = (("pv_milestone",), np.array(dval), _a("MWh/yr", "the same on the plan's design year"))
    ds["pv_milestone_p50_mwh"] = (("pv_milestone",), np.nanquantile(val_a, 0.5, axis=0), _a("MWh/yr", "median across the weather years"))
    ds["pv_milestone_p90_mwh"] = (("pv_milestone",), p90, _a("MWh/yr", "reached in 90 % of the weather years (10th percentile)"))
    ds["pv_milestone_p90_margin_pct"] = (("pv_milestone",), 100.0 * (p90 - t) / t, _a("%", "P90 against the target"))
    return ds


def milestone_risk_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per onsite-PV milestone: target, design, P50, P90 [MWh/yr], P90 margin [%], weather years below target."""
    if "pv_milestone" not in ds.coords:
        return pd.DataFrame(columns=["milestone", "target_mwh", "design_mwh", "p50_mwh", "p90_mwh", "p90_margin_pct", "years_below"])
    v = np.asarray(ds["pv_milestone_mwh"].values, dtype=float)
    t = np.asarray(ds["pv_milestone_target_mwh"].values, dtype=float)
    return pd.DataFrame({
        "milestone": [str(n) for n in ds["pv_milestone"].values],
        "target_mwh": t,
        "design_mwh": np.asarray(ds["pv_milestone_design_mwh"].values, dtype=float),
        "p50_mwh": np.asarray(ds["pv_milestone_p50_mwh"].values, dtype=float),
        "p90_mwh": np.asarray(ds["pv_milestone_p90_mwh"].values, dtype=float),
        "p90_margin_pct": np.asarray(ds["pv_milestone_p90_margin_pct"].values, dtype=float),
        "years_below": [f"{int((v[:, j] < t[j] - 1e-6).sum())} of {v.shape[0]}" for j in range(len(t))],
    })


def risk_summary(ds: xr.Dataset) -> pd.DataFrame:
    """Min / P50 / P90 / max per metric across the weather years.

    ``p90`` is the value the metric is no worse than in 90 % of weather years:
    the 10th percentile for metrics that are worse when lower (yield, onsite
    use), the 90th for those worse when higher (grid, emissions, costs)
    (``numpy.quantile``, linear interpolation; with few years it is an
    interpolation between them, not a statistical estimate).
    """
    rows = []
    for key in RISK_METRICS:
        if key not in ds:
            continue
        v = np.asarray(ds[key].values, dtype=float)
        worse = ds[key].attrs.get("worse_when", "higher")
        rows.append({
            "metric": key,
            "units": ds[key].attrs.get("units", ""),
            "design": float(ds[f"design_{key}"]) if f"design_{key}" in ds else np.nan,
            "min": float(np.nanmin(v)),
            "p50": float(np.nanquantile(v, 0.5)),
            "p90": float(np.nanquantile(v, 0.1 if worse == "lower" else 0.9)),
            "max": float(np.nanmax(v)),
            "spread_pct": float(100.0 * (np.nanmax(v) - np.nanmin(v)) / abs(np.nanquantile(v, 0.5))) if np.nanquantile(v, 0.5) else np.nan,
            "worse_when": worse,
        })
    df = pd.DataFrame(rows)
    n_inf = int((np.asarray(ds["feasible"].values) == 0).sum()) if "feasible" in ds else 0
    df.attrs["infeasible_years"] = n_inf
    return df


@dataclass
class RiskResult:
    """Outcome of :func:`plan_with_risk`.

    Attributes
    ----------
    dataset
        The evaluation (:func:`evaluate_plan_under_weather`) plus ``design_<metric>``
        (the plan's own values), ``ghi_factor[weather_year]`` and
        ``annual_kwh_per_kwp[weather_year, array]``.
    summary
        :func:`risk_summary` of the dataset.
    run
        The plan (designed on the P50 or P90 year).
    """

    dataset: xr.Dataset
    summary: pd.DataFrame
    run: "PlanRun"
    timings_s: dict[str, float] = field(default_factory=dict)


def plan_with_risk(
    pf: "Portfolio",
    n_years: int = 5,
    *,
    design: Literal["p50", "p90"] = "p50",
    first_seed: int = DEFAULT_FIRST_SEED,
    ghi_cv: float | None = None,
    opts: "SolveOptions | None" = None,
    base_yields: xr.Dataset | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RiskResult:
    """Plan on the typical (P50) or P90 year, then evaluate the plan across ``n_years`` weather years.

    Parameters
    ----------
    pf
        The portfolio.
    n_years
        Number of weather years.
    design
        ``"p50"``: plan on the portfolio's own typical year; ``"p90"``: on
        :func:`p90_yields` of the weather years (base: the typical year).
    first_seed, ghi_cv
        See :func:`weather_years`.
    opts
        Solve options of the plan and of the re-solves.
    base_yields
        The typical year's yields if already simulated.
    progress
        ``callable(done, total)``; ``total = 2 * n_years + 1`` steps (yield of
        each weather year, the plan, each re-solve).

    Returns
    -------
    RiskResult
    """
    from pvopt.lp.model import SolveOptions
    from pvopt.pipeline import plan_portfolio
    from pvopt.pv.yields import simulate_yield

    if design not in ("p50", "p90"):
        raise ValueError(f"expected design 'p50' or 'p90', got {design!r}")
    opts = opts or SolveOptions()
    total = 2 * n_years + 1
    step = [0]

    def tick() -> None:
        step[0] += 1
        if progress is not None:
            progress(step[0], total)

    t: dict[str, float] = {}
    t0 = time.perf_counter()
    base = base_yields if base_yields is not None else simulate_yield(pf)
    wys = weather_years(pf, n_years, first_seed=first_seed, ghi_cv=ghi_cv)
    ys = []
    for wy in wys:
        ys.append(weather_year_yields(wy))
        tick()
    t["yield"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    design_yields = base if design == "p50" else p90_yields(ys, base=base)
    run = plan_portfolio(pf, design_yields, opts, hourly=False)
    tick()
    t["plan"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    ds = evaluate_plan_under_weather(run, ys, labels=[w.label for w in wys], opts=opts, progress=lambda d, n: tick())
    t["evaluate"] = time.perf_counter() - t2
    _add_design_values(ds, run)
    ds = _add_weather_factors(ds, wys)
    ds = _add_milestone_risk(ds, run)
    ds = _add_specific_yields(ds, ys, design_yields)
    ds.attrs.update(_risk_attrs(design, run, n_years, first_seed, ghi_cv, wys))
    if design == "p90":
        ds.attrs["design_method"] = str(design_yields.attrs.get("design_method", ""))
    t["total"] = time.perf_counter() - t0
    return RiskResult(ds, risk_summary(ds), run, t)


def _add_design_values(ds: xr.Dataset, run: "PlanRun") -> None:
    """Add ``design_<metric>`` and ``design_npc``: the plan's own values on its design year."""
    cur = str(run.inputs.attrs.get("currency", ""))
    for key in _ANNUAL:
        units, worse, desc = RISK_METRICS[key]
        ds[f"design_{key}"] = ((), float(run.plan[key].sum("site").mean("year")), _a(units.format(cur=cur), f"the plan's own value on its design year: {desc}"))
    ds["design_npc"] = ((), float(run.plan["npc"]), _a(cur, "the plan's own NPC on its design year"))


def _add_weather_factors(ds: xr.Dataset, wys: Sequence[WeatherYear]) -> xr.Dataset:
    """Add the inter-annual GHI factors of the weather years, overall and per synthetic site."""
    ds["ghi_factor"] = (("weather_year",), np.array([w.ghi_factor for w in wys]), _a("1", "inter-annual factor on the monthly GHI normals, mean over the synthetic sites"))
    synth = sorted(wys[0].ghi_factors) if wys else []
    if synth:
        ds = ds.assign_coords(synthetic_site=("synthetic_site", synth, _a("", "sites on synthetic weather")))
        ds["ghi_factor_site"] = (("weather_year", "synthetic_site"), np.array([[w.ghi_factors[s_] for s_ in synth] for w in wys]),
                                 _a("1", "inter-annual factor on the site's monthly GHI normals"))
        ds["ghi_cv_site"] = (("synthetic_site",), np.array([wys[0].ghi_cvs[s_] for s_ in synth]),
                             _a("1", "year-to-year CV of the site's annual GHI (from its normals file's annual sd, or the fallback)"))
    return ds


def _add_specific_yields(ds: xr.Dataset, ys: Sequence[xr.Dataset], design_yields: xr.Dataset) -> xr.Dataset:
    """Add the specific yield per array [kWh/kWp] in each weather year and in the design year."""
    ds["annual_kwh_per_kwp"] = (("weather_year", "array"), np.stack([y["annual_kwh_per_kwp"].values for y in ys]),
                                _a("kWh/kWp", "specific yield per array in each weather year"))
    ds = ds.assign_coords(array=("array", [str(a) for a in ys[0]["array"].values]))
    ds["design_annual_kwh_per_kwp"] = (("array",), np.asarray(design_yields["annual_kwh_per_kwp"].sel(array=ds["array"].values).values, dtype=float),
                                       _a("kWh/kWp", "specific yield per array in the design year"))
    return ds


def _risk_attrs(design: str, run: "PlanRun", n_years: int, first_seed: int, ghi_cv: float | None, wys: Sequence[WeatherYear]) -> dict[str, Any]:
    """Return the attributes of a risk Dataset: design, seeds and the variability model in words."""
    file_sites = sorted({s for w in wys for s in w.file_sites})
    return dict(
        design=design,
        design_npc=float(run.plan["npc"]),
        n_weather_years=n_years,
        first_seed=int(first_seed),
        interannual_ghi_cv=float(ghi_cv) if ghi_cv is not None else float("nan"),
        variability_model=(
            "synthetic sites: a new daily-clearness seed per weather year and monthly GHI normals x a lognormal factor "
            "(mean 1, clipped at ±3 sd) driven by one standard-normal draw common to all sites; CV per site "
            + (f"{ghi_cv:.1%} for every site (set by the caller)" if ghi_cv is not None else
               "from the year-to-year sd of the annual GHI in its normals file: "
               + ", ".join(f"{s_} {c:.1%}" for s_, c in sorted((wys[0].ghi_cvs if wys else {}).items()))
               + f" (fallback {INTERANNUAL_GHI_CV:.1%} where a file gives no sd)")
        ),
        file_weather_sites=", ".join(file_sites),
        file_weather_note=("sites on weather files keep their one year in every weather year: " + ", ".join(file_sites)) if file_sites else "",
    )
