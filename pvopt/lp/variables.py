"""Decision variables of the plan, one ``define_*`` step per family, each with its bounds in the docstring."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
import xarray as xr

from pvopt.lp.data import (degradation_factor, existing_alive_kwp, existing_effective_kwp, lin, measures_of_site, optional, profile_index,
                           pv_life_years, pv_retirement_years, vintage_window)
from pvopt.constants import HOURS_PER_YEAR
from pvopt.lp.reductions import check_import_limit, classify_hours, full_hour_sites, identical_hour_runs, matching_groups

__all__ = ['SiteYearBlock', 'MatchingPool', 'define_build', 'define_measures', 'define_battery_capacity', 'define_hourly_vars', 'define_annual_vars', 'define_certificates_offsets',
           'define_matching_pool_vars']


@dataclass
class SiteYearBlock:
    """Hour classes of one site and year (index arrays into 0..8759) and where its hourly variables start."""

    full: np.ndarray
    covered: np.ndarray
    contested: np.ndarray
    pv_first: int  # first flat index of this block's pv variables
    ex_first: int  # ... export variables (-1: none)
    grid_first: int = -1  # ... grid variables (full-hour sites)
    bat_first: int = -1  # ... charge/discharge/soc variables (battery sites)
    match_first: int = -1  # ... matched-certificate variables (per-site hourly matching)
    battery: int = -1  # index into the battery coordinate
    is_full: bool = False  # every hour modelled with grid variables (battery, per-site hourly matching, or reduce=False)
    #: hours [h] each contested entry stands for (a run of identical hours, :func:`~pvopt.lp.reductions.identical_hour_runs`);
    #: ``None``: one hour each
    weight: np.ndarray | None = None

    def hours_weight(self) -> np.ndarray:
        """Hours [h] each contested entry stands for (ones when the block is not aggregated)."""
        return np.ones(len(self.contested)) if self.weight is None else self.weight.astype(float)


@dataclass
class MatchingPool:
    """How hourly certificate matching is modelled, and where the pooled variables sit.

    ``formulation`` is ``"pooled"`` or ``"per-site"`` (:func:`pvopt.lp.reductions.hourly_matching_formulation`).
    Pooled: ``groups`` are the matching groups (site indices, :func:`pvopt.lp.reductions.matching_groups`),
    ``group_of[s]`` the group of site ``s``; the variable ``matched_pool[k]`` [kW] is group ``key_g[k]``'s
    matched grid import in year ``key_j[k]``, hour ``key_t[k]``, and ``key_of[g, y, t]`` is ``k`` (-1: no
    variable, no available instrument generates in that hour). Per-site: no keys (``matched[k]`` per site-hour).
    ``match_row0`` is the first ``match_rows`` row of key 0, set when the rows are built.
    """

    formulation: str
    groups: list[np.ndarray]
    group_of: np.ndarray
    key_g: np.ndarray
    key_j: np.ndarray
    key_t: np.ndarray
    key_of: np.ndarray
    match_row0: int = -1

    @property
    def pooled(self) -> bool:
        """True for the pooled formulation."""
        return self.formulation == "pooled"

    def group_names(self, d: xr.Dataset) -> str:
        """Return the groups by site name, e.g. ``"wuxi | shanghai | changzhou, nanjing, suzhou"``."""
        sites = [str(s) for s in d["site"].values]
        return " | ".join(", ".join(sites[i] for i in g) for g in self.groups)


def define_matching_pool_vars(m: pyo.ConcreteModel, d: xr.Dataset, formulation: str | None) -> MatchingPool | None:
    r"""Pooled hourly matching: one matched-certificate variable per matching group, year and hour.

    ``matched_pool[g,y,t] ≥ 0`` [kW] for every hour ``t`` in which some instrument available in ``y``
    generates (``share[c,t] > 0``); elsewhere nothing can be matched and the variable is left out.
    Its rows are in :func:`pvopt.lp.rows.define_matching_rows`. Returns ``None`` under annual matching;
    under per-site matching a :class:`MatchingPool` without keys (and no ``matched_pool`` variables).
    """
    n_y, n_s = d.sizes["year"], d.sizes["site"]
    groups = matching_groups(d) if formulation == "pooled" else None
    g = j = t = np.zeros(0, dtype=np.int64)
    key_of = np.full((len(groups or []), n_y, HOURS_PER_YEAR), -1, dtype=np.int64)
    group_of = np.full(n_s, -1, dtype=np.int64)
    if groups:
        avail = d["certificate_available"].values
        share = optional(d, "certificate_hourly_share", np.zeros((d.sizes["certificate"], HOURS_PER_YEAR)))
        on = np.stack([(share[avail[:, y]] > 0).any(axis=0) for y in range(n_y)])  # (year, hour)
        g, j, t = np.nonzero(np.broadcast_to(on, key_of.shape))  # group-major, then year, then hour
        key_of[g, j, t] = np.arange(len(g))
        for k, grp in enumerate(groups):
            group_of[grp] = k
    m.HP = pyo.RangeSet(0, len(g) - 1)
    m.matched_pool = pyo.Var(m.HP, bounds=(0.0, None))
    if formulation is None:
        return None
    return MatchingPool(formulation, groups or [], group_of, g, j, t, key_of)


def define_build(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    r"""Build, installed and effective capacity, by vintage.

    ``build[a,y] ∈ [0, max_kwp[a] − existing_alive[a,y]]`` [kWp]; a kWp built in year v works in years
    ``v … v+L−1`` (``W[y,v] = 1``), existing capacity until ``existing_year + L − 1``:
    ``inst[a,y] = existing_alive[a,y] + Σ_v W[y,v]·build[a,v]`` [kWp];
    area: ``inst[a,y] ≤ max_kwp[a]`` in the last year (``area``) and in every year after which
    some capacity retires (``area_retire``), the only years where ``inst`` peaks;
    effective capacity of profile g:
    ``EG[g,y] = Σ_{a∈g} (existing_alive[a,y]·(1-δ_a)^{age} + Σ_v W[y,v]·build[a,v]·(1-δ_a)^{y-v})`` [kWp].
    """
    maxk = d["max_kwp"].values
    alive = existing_alive_kwp(d)
    n_y = d.sizes["year"]
    W = vintage_window(pv_life_years(d), n_y)
    room = np.clip(maxk[:, None] - alive, 0, None)
    m.build = pyo.Var(m.A, m.Y, bounds=lambda m, a, y: (0.0, float(room[a, y])))
    m.inst = pyo.Expression(m.A, m.Y, rule=lambda m, a, y: float(alive[a, y]) + sum(m.build[a, v] for v in range(y + 1) if W[y, v]))
    last = n_y - 1
    m.area = pyo.Constraint(m.A, rule=lambda m, a: m.inst[a, last] - float(alive[a, last]) <= float(room[a, last]))
    retire = pv_retirement_years(d)
    peaks = [(a, y - 1) for a in range(len(maxk)) for y in range(1, n_y) if retire[a, y] and y - 1 != last]
    m.area_retire = pyo.Constraint(peaks, rule=lambda m, a, y: m.inst[a, y] - float(alive[a, y]) <= float(room[a, y]))
    _, arr_prof = profile_index(d)
    f = degradation_factor(d)
    ee = existing_effective_kwp(d)
    m.EG = pyo.Var(m.G, m.Y, bounds=(0, None))

    def eg_rule(m, g, y):
        arrs = np.where(arr_prof == g)[0]
        coefs, vars_ = [1.0], [m.EG[g, y]]
        for a in arrs:
            for v in range(y + 1):
                if f[a, y, v]:
                    coefs.append(-float(f[a, y, v]))
                    vars_.append(m.build[a, v])
        return (float(ee[arrs, y].sum()), lin(coefs, vars_), float(ee[arrs, y].sum()))

    m.eg_def = pyo.Constraint(m.G, m.Y, rule=eg_rule)


def define_measures(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    r"""Efficiency and electrification measures, adopted continuously.

    ``adopt[μ,y] ≥ 0`` (0 before the measure is available) is the share of the full size adopted in
    year y; it works for the measure's life ``L_μ`` (years ``v … v+L_μ−1``), after which it must be
    adopted again (a new ``adopt``, paid again) or its effect stops:
    ``frac[μ,y] = Σ_{y−L_μ < v ≤ y} adopt[μ,v] ≤ max_fraction[μ]``. Load changes by
    ``frac[μ,y]·Δ[μ,y,t]`` [kW] (Δ < 0 saves, Δ > 0 adds electric load); Scope 1 falls by
    ``frac[μ,y]·scope1_removed[μ]`` [tCO2e].
    """
    n_m = d.sizes.get("measure", 0)
    years = d["year"].values
    m.M = pyo.RangeSet(0, n_m - 1)
    avail = optional(d, "measure_available_from", np.zeros(0, dtype=int))
    mx = optional(d, "measure_max_fraction", np.zeros(0))
    life = optional(d, "measure_lifetime_years", np.zeros(0))
    W = [vintage_window(float(life[k]), len(years)) for k in range(n_m)]
    m.madopt = pyo.Var(m.M, m.Y, bounds=lambda m, k, j: (0.0, None if years[j] >= avail[k] else 0.0))
    m.mfrac = pyo.Var(m.M, m.Y, bounds=lambda m, k, j: (0.0, float(mx[k])))
    m.mfrac_def = pyo.Constraint(m.M, m.Y, rule=lambda m, k, j: m.mfrac[k, j] == sum(m.madopt[k, v] for v in range(j + 1) if W[k][j, v]))


def define_battery_capacity(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    r"""Battery sizes by year.

    ``bE_build[b,y], bP_build[b,y] ≥ 0`` (0 before available) [kWh, kW], each working for the
    battery's life ``L_b`` (years ``v … v+L_b−1``, then rebuilt at a cost or gone);
    ``bE[b,y] = Σ_{y−L_b < v ≤ y} bE_build`` ≤ max energy; ``bP[b,y] = Σ_{y−L_b < v ≤ y} bP_build`` ≤ max power;
    duration: ``bE ≥ min_duration·bP``.
    """
    n_b = d.sizes.get("battery", 0)
    years = d["year"].values
    m.B = pyo.RangeSet(0, n_b - 1)
    avail = optional(d, "battery_available_from", np.zeros(0, dtype=int))
    emax = optional(d, "battery_max_energy_kwh", np.zeros(0))
    pmax = optional(d, "battery_max_power_kw", np.zeros(0))
    dur = optional(d, "battery_min_duration_h", np.zeros(0))
    ok = lambda k, j: years[j] >= avail[k]  # noqa: E731
    life = optional(d, "battery_lifetime_years", np.zeros(0))
    W = [vintage_window(float(life[k]), len(years)) for k in range(n_b)]
    m.bE_build = pyo.Var(m.B, m.Y, bounds=lambda m, k, j: (0.0, None if ok(k, j) else 0.0))
    m.bP_build = pyo.Var(m.B, m.Y, bounds=lambda m, k, j: (0.0, None if ok(k, j) else 0.0))
    m.bE = pyo.Var(m.B, m.Y, bounds=lambda m, k, j: (0.0, float(emax[k])))
    m.bP = pyo.Var(m.B, m.Y, bounds=lambda m, k, j: (0.0, float(pmax[k])))
    m.bE_def = pyo.Constraint(m.B, m.Y, rule=lambda m, k, j: m.bE[k, j] == sum(m.bE_build[k, v] for v in range(j + 1) if W[k][j, v]))
    m.bP_def = pyo.Constraint(m.B, m.Y, rule=lambda m, k, j: m.bP[k, j] == sum(m.bP_build[k, v] for v in range(j + 1) if W[k][j, v]))
    m.b_duration = pyo.Constraint(m.B, m.Y, rule=lambda m, k, j: m.bE[k, j] >= float(dur[k]) * m.bP[k, j])


def define_hourly_vars(m: pyo.ConcreteModel, d: xr.Dataset, *, reduce: bool, use_milestone_bounds: bool,
                       curtail: np.ndarray | None = None,
                       decompose: frozenset[tuple[int, int]] = frozenset(),
                       matching: str | None = None, aggregate: bool = True) -> dict[tuple[int, int], SiteYearBlock]:
    r"""Hourly variables of the contested hours of each site-year.

    Site-years in ``decompose`` (site, year indices) get no hourly variables here: their
    hourly operation is a Benders subproblem (:mod:`pvopt.lp.subproblem`); their block keeps
    its hour classes with every ``*_first`` at -1.

    ``pv[k] ≥ 0`` (≤ load where the load is fixed; ≥ load − import limit on a reduced site with an import
    limit and no measures, since there ``grid = load − pv``) [kW]; ``export[k] ∈ [0, limit]`` where export is
    allowed; on full-hour sites also ``grid[k] ∈ [0, import limit]``, and with a battery
    ``charge[k], discharge[k], soc[k] ≥ 0`` [kW, kW, kWh]; with per-site hourly matching (``matching``, see
    :func:`pvopt.lp.reductions.hourly_matching_formulation`) ``matched[k] ≥ 0`` [kW] and every site full-hour.

    With ``reduce`` and ``aggregate`` (and no hourly matching, whose rows tie the sites hour by hour), a full-hour site-year models each run
    of consecutive identical hours once (:func:`~pvopt.lp.reductions.identical_hour_runs`): ``contested``
    holds the first hour of each run, ``weight`` its length, and ``soc[k]`` is the state of charge at the
    end of the run.
    """
    per_site = matching == "per-site"
    classes = classify_hours(d, reduce=reduce, use_milestone_bounds=use_milestone_bounds, curtail=curtail, per_site_matching=per_site)
    load = d["load_kw"].values
    exp_ok = d["export_allowed"].values
    lim = d["export_limit_kw"].values
    n_s = d.sizes["site"]
    imp_lim = optional(d, "import_limit_kw", np.full(n_s, np.nan))
    full_sites = full_hour_sites(d, per_site_matching=per_site) | (not reduce)
    bat_of = {s: k for k, s in enumerate(optional(d, "battery_site", []))}
    sites = list(d["site"].values)
    hourly_match = per_site
    any_matching = d.attrs.get("scope2_matching", "annual") == "hourly"  # pooled rows tie sites hour by hour: no runs

    blocks: dict[tuple[int, int], SiteYearBlock] = {}
    cnt = {"pv": 0, "ex": 0, "grid": 0, "bat": 0, "match": 0}
    for (i, j), (full, cov, con) in classes.items():
        weight = None
        if reduce and aggregate and not any_matching and full_sites[i]:
            con, weight = identical_hour_runs(d, i, j, con)
        if (i, j) in decompose:
            blocks[(i, j)] = SiteYearBlock(full, cov, con, -1, -1, -1, -1, -1, bat_of.get(sites[i], -1), bool(full_sites[i]), weight)
            continue
        n = len(con)
        first = {}
        first["pv"] = cnt["pv"]
        cnt["pv"] += n
        for key, on in (("ex", exp_ok[i]), ("grid", full_sites[i]), ("bat", sites[i] in bat_of), ("match", hourly_match)):
            if on:
                first[key] = cnt[key]
                cnt[key] += n
            else:
                first[key] = -1
        blocks[(i, j)] = SiteYearBlock(full, cov, con, first["pv"], first["ex"], first["grid"], first["bat"], first["match"],
                                       bat_of.get(sites[i], -1), bool(full_sites[i]), weight)
    pv_ub = np.full(cnt["pv"], np.inf)
    pv_lb = np.zeros(cnt["pv"])
    ex_ub = np.full(cnt["ex"], np.inf)
    grid_ub = np.full(cnt["grid"], np.inf)
    for (i, j), b in blocks.items():
        n = len(b.contested)
        if (i, j) in decompose:
            continue
        if not b.is_full and len(measures_of_site(d, i)) == 0:
            pv_ub[b.pv_first : b.pv_first + n] = load[i, j, b.contested]
            if np.isfinite(imp_lim[i]):
                pv_lb[b.pv_first : b.pv_first + n] = np.clip(load[i, j, b.contested] - imp_lim[i], 0, None)
        if not b.is_full:
            check_import_limit(d, i, j, b)
        if b.ex_first >= 0 and np.isfinite(lim[i]):
            ex_ub[b.ex_first : b.ex_first + n] = lim[i]
        if b.grid_first >= 0 and np.isfinite(imp_lim[i]):
            grid_ub[b.grid_first : b.grid_first + n] = imp_lim[i]
    _add_hourly_components(m, cnt, pv_lb, pv_ub, ex_ub, grid_ub)
    return blocks


def _add_hourly_components(m: pyo.ConcreteModel, cnt: dict[str, int], pv_lb: np.ndarray, pv_ub: np.ndarray, ex_ub: np.ndarray,
                           grid_ub: np.ndarray) -> None:
    """Add the hourly variable components ``pv``, ``ex``, ``grid`` [kW], ``bc``, ``bd`` [kW], ``soc`` [kWh], ``matched`` [kW]."""
    tolist = lambda a: [None if not np.isfinite(u) else u for u in a.tolist()]  # noqa: E731
    pv_ubl, ex_ubl, grid_ubl = tolist(pv_ub), tolist(ex_ub), tolist(grid_ub)
    m.H = pyo.RangeSet(0, cnt["pv"] - 1)
    pv_lbl = pv_lb.tolist()
    m.pv = pyo.Var(m.H, bounds=lambda m, k: (pv_lbl[k], pv_ubl[k]))
    m.HX = pyo.RangeSet(0, cnt["ex"] - 1)
    m.ex = pyo.Var(m.HX, bounds=lambda m, k: (0.0, ex_ubl[k]))
    m.HG = pyo.RangeSet(0, cnt["grid"] - 1)
    m.grid = pyo.Var(m.HG, bounds=lambda m, k: (0.0, grid_ubl[k]))
    m.HB = pyo.RangeSet(0, cnt["bat"] - 1)
    m.bc = pyo.Var(m.HB, bounds=(0.0, None))
    m.bd = pyo.Var(m.HB, bounds=(0.0, None))
    m.soc = pyo.Var(m.HB, bounds=(0.0, None))
    m.HM = pyo.RangeSet(0, cnt["match"] - 1)
    m.matched = pyo.Var(m.HM, bounds=(0.0, None))


def define_annual_vars(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    """Per site and year: onsite PV, grid import [MWh], energy cost, export [MWh] and revenue, monthly peaks [kW]."""
    m.onsite_mwh = pyo.Var(m.S, m.Y, bounds=(0, None))
    m.grid_mwh = pyo.Var(m.S, m.Y, bounds=(0, None))
    m.energy_cost = pyo.Var(m.S, m.Y)
    m.export_mwh = pyo.Var(m.S, m.Y, bounds=(0, None))
    m.export_revenue = pyo.Var(m.S, m.Y)
    charge = optional(d, "demand_charge_per_kw_month", np.zeros(d.sizes["site"]))
    m.PK = pyo.Set(initialize=[(i, j, mo) for i in range(d.sizes["site"]) if charge[i] > 0 for j in range(d.sizes["year"]) for mo in range(12)], dimen=3)
    m.peak = pyo.Var(m.PK, bounds=(0, None))


def define_certificates_offsets(m: pyo.ConcreteModel, d: xr.Dataset) -> None:
    r"""Certificates and offsets.

    Annual matching: ``cert[c,s,y] ≥ 0`` [MWh] only where instrument c can be bought in year y;
    ``cert_total[s,y] = Σ_c cert[c,s,y]``; cover: ``cert_total[s,y] ≤ grid_mwh[s,y]``.
    Hourly matching: ``volume[c,y] ≥ 0`` [MWh] bought for the portfolio, generated with the
    instrument's hourly share; per-site: ``cert_total[s,y] = Σ_t matched[s,y,t]/1000`` (rows in
    :func:`pvopt.lp.rows.define_annual_rows`); pooled: ``Σ_{s∈g} cert_total[s,y] = Σ_t matched_pool[g,y,t]/1000``
    per matching group ``g`` (:func:`pvopt.lp.rows.define_matching_rows`).
    ``offsets[s,y] ≥ 0`` [tCO2e], fixed to 0 when the portfolio has no offset price.
    """
    avail = d["certificate_available"].values
    n_c = d.sizes["certificate"]
    hourly = d.attrs.get("scope2_matching", "annual") == "hourly"
    m.CSY = pyo.Set(initialize=[] if hourly else [(c, i, j) for c in range(n_c) for i in range(d.sizes["site"]) for j in range(d.sizes["year"]) if avail[c, j]], dimen=3)
    m.cert = pyo.Var(m.CSY, bounds=(0, None))
    m.CVOL = pyo.Set(initialize=[(c, j) for c in range(n_c) for j in range(d.sizes["year"]) if avail[c, j]] if hourly else [], dimen=2)
    m.cvol = pyo.Var(m.CVOL, bounds=(0, None))
    m.cert_total = pyo.Var(m.S, m.Y, bounds=(0, None))
    if not hourly:
        m.cert_total_def = pyo.Constraint(m.S, m.Y, rule=lambda m, i, j: m.cert_total[i, j] == sum(m.cert[c, i, j] for c in range(n_c) if avail[c, j]))
    m.cert_cover = pyo.Constraint(m.S, m.Y, rule=lambda m, i, j: m.cert_total[i, j] <= m.grid_mwh[i, j])
    has_off = np.isfinite(d["offset_price_per_tco2e"].values)
    m.offsets = pyo.Var(m.S, m.Y, bounds=lambda m, i, j: (0.0, None if has_off[j] else 0.0))
