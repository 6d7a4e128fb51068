"""Exact hour reductions: which hours of a site-year need variables.

For each site ``s`` and year ``y`` every hour falls in one class:

* **Z** (zero): every yield profile of the site is 0. No variable: ``pv = 0``,
  ``grid = load``.
* **F** (full use): even with every array at ``max_kwp`` the site generates
  no more than its load, and exporting pays no more than importing. PV is used
  in full: ``pv = Σ_g yield[g,t]·EG[g,y]``, an affine expression of the
  capacities, so the hour folds into per-year sums.
* **K** (covered): the capacity the milestones force in (``EG_min``) already
  generates at least the load, and surplus cannot be sold: ``pv = load``,
  ``grid = 0``, a constant.
* **C** (contested): everything else. One variable ``pv[k] ∈ [0, load]``
  (and ``export[k]`` where export is allowed) and one row
  ``pv[k] + export[k] ≤ Σ_g yield[g,t]·EG[g,y]``.

Sites with a battery keep every hour (:func:`full_hour_sites`), and so does every site under
the per-site hourly-matching formulation; ``reduce=False`` keeps every hour everywhere. Demand
charges and import limits are reduced too: their rows are pruned to the hours that can bind
(:func:`hour_bounds`, :func:`nondominated`). Pooled hourly matching (:func:`matching_groups`)
reads the grid import of a reduced site affinely, so it needs no extra hours either.
On a full-hour site without hourly matching, a run of consecutive hours with identical data
(load, yields, measure changes, prices, month) becomes one modelled hour of weight ``w``
(:func:`identical_hour_runs`): the average of any feasible dispatch over such a run is feasible
and costs the same, so the optimum is unchanged.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from pvopt.constants import HOURS_PER_YEAR
from pvopt.errors import InfeasiblePlanError
from pvopt.lp.data import existing_alive_kwp, existing_effective_kwp, pv_life_years, measures_of_site, milestones_of, optional, profile_index

__all__ = ['coverage_lower_bound', 'full_hour_sites', 'matching_groups', 'hourly_matching_formulation', 'load_bounds', 'curtailment_years', 'classify_hours', 'zero_hours',
           'hour_bounds', 'nondominated', 'nondominated_pairwise', 'check_import_limit', 'identical_hour_runs', 'run_hours', 'expand_runs', 'expand_soc']


def coverage_lower_bound(d: xr.Dataset) -> np.ndarray:
    """Return ``[a, y]`` the lower bound on installed kWp implied by rooftop-coverage milestones."""
    years = list(d["year"].values)
    lb = existing_alive_kwp(d).astype(float)
    roof = d["array_kind"].values == "rooftop"
    for ms in milestones_of(d):
        if ms["type"] == "rooftop_coverage":
            for j, y in enumerate(years):
                if y >= ms["year"]:
                    lb[roof, j] = np.maximum(lb[roof, j], ms["fraction"] * d["max_kwp"].values[roof])
    return lb


def curtailment_years(d: xr.Dataset) -> np.ndarray:
    """``[y]`` True where a milestone row could reward *more* grid import (less onsite PV) in year ``y``.

    * ``emissions_peak`` from year ``Y``: every year ``y`` with ``Y ≤ y < y_last`` is on the
      right-hand side of a row ``gross[y+1] ≤ gross[y]``; a higher ``gross[y]`` loosens it
      (location- or market-based: grid import raises both);
    * ``min_certificates_mwh`` in year ``Y``: certificates are capped by the grid import of ``Y``.

    No other milestone row gains from more grid import (neutrality, offsets and the capacity
    rows either lose or do not see it). In these years F and K hours stay contested, so the
    reduced model may curtail exactly as the full one can.
    """
    years = [int(y) for y in d["year"].values]
    out = np.zeros(len(years), dtype=bool)
    for ms in milestones_of(d):
        j0 = years.index(ms["year"]) if ms.get("year") in years else 0
        if ms["type"] == "emissions_peak":
            out[j0 : len(years) - 1] = True
        elif ms["type"] == "min_certificates_mwh":
            out[j0] = True
    return out


def _market_years(d: xr.Dataset) -> np.ndarray:
    """``[y]`` True where a portfolio-wide row reads market-based Scope 2 (``neutrality`` without a site, market ``emissions_peak``)."""
    years = [int(y) for y in d["year"].values]
    out = np.zeros(len(years), dtype=bool)
    for ms in milestones_of(d):
        market = (ms["type"] == "neutrality" and not ms.get("site")) or (ms["type"] == "emissions_peak" and ms.get("scope2", "market") == "market")
        if market:
            out[years.index(ms["year"]) if ms.get("year") in years else 0 :] = True
    return out


def matching_groups(d: xr.Dataset) -> list[np.ndarray] | None:
    """Sites whose hourly-matched certificates can be pooled, as groups of site indices (``None``: annual matching).

    An LP row reads certificates only through ``cert_total[s,y]``: the cover rows, ``min_certificates_mwh``
    (weight 1 for every site), the market-based Scope 2 of a portfolio-wide ``neutrality`` or market
    ``emissions_peak`` (weight ``residual_ef[s,y]``) and of a site-level ``neutrality`` (that site alone).
    Pooling the matched certificates of a group is exact when every such row weighs the group's sites
    alike, so that how the group's total is shared among its sites changes no row and no cost:

    * a site with a site-level ``neutrality`` milestone is a group of its own;
    * the other sites are grouped by their residual factors in the years a portfolio-wide market-based
      row reads them (one group when no such row exists or the factors agree).

    Groups are ordered by their first site.
    """
    if d.attrs.get("scope2_matching", "annual") != "hourly":
        return None
    sites = [str(s) for s in d["site"].values]
    own = {ms["site"] for ms in milestones_of(d) if ms["type"] == "neutrality" and ms.get("site")}
    res = d["residual_ef_t_per_mwh"].values[:, _market_years(d)]
    keys: dict[tuple, list[int]] = {}
    for i, s in enumerate(sites):
        key = ("site", s) if s in own else ("residual", *res[i].tolist())
        keys.setdefault(key, []).append(i)
    return [np.array(g, dtype=int) for g in sorted(keys.values(), key=lambda g: g[0])]


def hourly_matching_formulation(d: xr.Dataset, *, reduce: bool = True, per_site: bool = False) -> str | None:
    """How hourly certificate matching is modelled: ``"pooled"``, ``"per-site"``, or ``None`` (annual matching).

    ``"pooled"`` (the default): one matched-certificate variable per matching group (:func:`matching_groups`),
    year and hour, bounded by the group's grid import written affinely in the LP's columns; sites stay reduced.
    ``"per-site"``: one ``matched[s,y,t] ≤ grid[s,y,t]`` per site-hour, every site full-hour — the textbook
    model, kept for ``reduce=False`` and when ``per_site`` asks for it (an ``extra_constraints`` hook may read
    ``matched`` or ``cert_total`` of one site, which pooling would leave undetermined).
    """
    if d.attrs.get("scope2_matching", "annual") != "hourly":
        return None
    return "per-site" if per_site or not reduce else "pooled"


def full_hour_sites(d: xr.Dataset, *, per_site_matching: bool = False) -> np.ndarray:
    """Sites that need every hour modelled: a battery, or every site under per-site hourly matching.

    Demand charges and import limits do not: their hourly rows are affine in the capacities
    on zero and full-use hours, constant on covered hours, and pruned to the hours that can bind
    (:mod:`pvopt.lp.rows`, ``define_peak_rows`` and ``define_import_limit_rows``). Pooled hourly
    matching does not either: its rows read the grid import of a reduced site affinely
    (``define_matching_rows``).
    """
    n_s = d.sizes["site"]
    sites = list(d["site"].values)
    full = np.zeros(n_s, dtype=bool)
    for s in optional(d, "battery_site", []):
        full[sites.index(s)] = True
    if per_site_matching and d.attrs.get("scope2_matching", "annual") == "hourly":
        full[:] = True
    return full


def load_bounds(d: xr.Dataset, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Least and most load of a site-year over every admissible adoption of its measures [kW]."""
    L = d["load_kw"].values[i, j]
    ms = measures_of_site(d, i)
    if len(ms) == 0:
        return L, L
    delta = d["measure_delta_kw"].values[ms, j]
    f = d["measure_max_fraction"].values[ms][:, None]
    return L + (f * np.minimum(delta, 0)).sum(axis=0), L + (f * np.maximum(delta, 0)).sum(axis=0)


def classify_hours(d: xr.Dataset, *, reduce: bool, use_milestone_bounds: bool = True,
                   curtail: np.ndarray | None = None, per_site_matching: bool = False) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Split each site-year's hours into (full, covered, contested) index arrays (the rest are zero hours).

    ``curtail[s, y]`` says in which site-years F and K hours stay contested because curtailing could pay;
    ``None`` takes every year of :func:`curtailment_years` at every site (always exact; see
    :mod:`pvopt.lp.curtailment` for the smaller model that is checked by its duals instead).

    Sites of :func:`full_hour_sites` (``per_site_matching`` passed on; every site when ``reduce=False``) keep
    every hour as contested.
    """
    per_site, arr_prof = profile_index(d)
    ymat = d["yield_kw_per_kwp"].values
    imp = d["import_price_per_kwh"].values
    exp_ = d["export_price_per_kwh"].values
    exp_ok = d["export_allowed"].values
    maxk = d["max_kwp"].values
    n_y = d.sizes["year"]
    hours = np.arange(d.sizes["hour"])
    full_sites = full_hour_sites(d, per_site_matching=per_site_matching)
    out = {}
    if reduce:
        alive = existing_alive_kwp(d)
        lb_inst = coverage_lower_bound(d) if use_milestone_bounds else alive
        age_max = np.minimum(np.arange(n_y), pv_life_years(d) - 1)  # oldest working vintage
        exist_eff = existing_effective_kwp(d)
        deg = d["degradation_per_year"].values
        if curtail is None:
            curtail = np.broadcast_to(curtailment_years(d)[None, :], (len(per_site), n_y))
    for i, profs in enumerate(per_site):
        if not reduce or full_sites[i]:
            for j in range(n_y):
                out[(i, j)] = (hours[:0], hours[:0], hours)
            continue
        cap_max = np.array([maxk[arr_prof == g].sum() for g in profs])
        y_site = ymat[profs]  # (g, t)
        gmax = cap_max @ y_site if profs else np.zeros(len(hours))
        any_yield = (y_site > 0).any(axis=0) if profs else np.zeros(len(hours), bool)
        assert curtail is not None  # set above whenever reduce is True
        for j in range(n_y):
            L_min, L_max = load_bounds(d, i, j)
            # F and K assume onsite use is never worse than curtailment: imports cost (price >= 0) and no milestone
            # rewards more import in year j (curtailment_years)
            paid = (imp[i, j] >= 0) & (not curtail[i, j])
            no_gain = ((~exp_ok[i]) | (exp_[i, j] <= imp[i, j])) & paid
            no_export_value = ((~exp_ok[i]) | (exp_[i, j] <= 0)) & paid
            # lower bound of effective capacity per profile in year j
            eg_min = np.zeros(len(profs))
            for gi, g in enumerate(profs):
                a = np.where(arr_prof == g)[0]
                new_lb = np.clip(lb_inst[a, j] - alive[a, j], 0, None)
                eg_min[gi] = float((exist_eff[a, j] + new_lb * (1.0 - deg[a]) ** age_max[j]).sum())
            gmin = eg_min @ y_site if profs else np.zeros(len(hours))
            full = any_yield & (gmax <= L_min) & no_gain
            covered = any_yield & ~full & (gmin >= L_max) & no_export_value
            contested = any_yield & ~full & ~covered
            out[(i, j)] = (hours[full], hours[covered], hours[contested])
    return out


def zero_hours(b) -> np.ndarray:
    """Hours of a site-year block in class Z (no yield): those in none of full, covered, contested."""
    mask = np.ones(HOURS_PER_YEAR, dtype=bool)
    mask[np.concatenate([b.full, b.covered, b.contested])] = False
    return np.where(mask)[0]


def hour_bounds(d: xr.Dataset, i: int, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return per hour of site ``i``, year ``j`` the least and most load and PV generation [kW].

    The load bounds are over the measures; the least generation is existing capacity after
    degradation and life, the most is every array at ``max_kwp``.

    Every feasible plan has ``max(0, L_min − g_max) ≤ grid ≤ L_max − g_min`` on full-use and zero hours.
    """
    per_site, arr_prof = profile_index(d)
    profs = per_site[i]
    ymat = d["yield_kw_per_kwp"].values[profs]
    L_min, L_max = load_bounds(d, i, j)
    ee = existing_effective_kwp(d)[:, j]
    maxk = d["max_kwp"].values
    g_min = np.array([ee[arr_prof == g].sum() for g in profs]) @ ymat if profs else np.zeros(HOURS_PER_YEAR)
    g_max = np.array([maxk[arr_prof == g].sum() for g in profs]) @ ymat if profs else np.zeros(HOURS_PER_YEAR)
    return np.broadcast_to(L_min, (HOURS_PER_YEAR,)), np.broadcast_to(L_max, (HOURS_PER_YEAR,)), g_min, g_max


def nondominated_pairwise(X: np.ndarray) -> np.ndarray:
    """Return the indices of the rows of ``X`` that no other row dominates, comparing every pair.

    ``X`` is hours × features, larger = more grid import; ``u`` dominates ``t`` when
    ``X[u] ≥ X[t]`` everywhere (of equal rows the first is kept). O(n²) memory and time.
    """
    n = len(X)
    if n <= 1:
        return np.arange(n)
    ge = (X[None, :, :] >= X[:, None, :]).all(axis=2)  # ge[t, u]: u at least t everywhere
    eq = ge & ge.T
    idx = np.arange(n)
    dom = ge & (~eq | (idx[None, :] < idx[:, None]))
    np.fill_diagonal(dom, False)
    return np.where(~dom.any(axis=1))[0]


def nondominated(X: np.ndarray, n_pivots: int = 48) -> np.ndarray:
    """Return the indices of the rows of ``X`` that no other row dominates (as :func:`nondominated_pairwise`).

    First every row dominated by one of a few *pivots* (the rows of largest normalised sum and
    the largest row of each feature) is dropped; the pairwise test then runs on the survivors.
    Exact: domination (``≥`` everywhere, ties broken by the smaller index) is transitive, so a
    row dominated by a dropped row is dominated by that row's pivot too.
    """
    n = len(X)
    if n <= n_pivots:
        return nondominated_pairwise(X)
    lo, hi = X.min(axis=0), X.max(axis=0)
    Z = (X - lo) / np.where(hi > lo, hi - lo, 1.0)
    piv = np.unique(np.concatenate([np.argsort(-Z.sum(axis=1), kind="stable")[:n_pivots], Z.argmax(axis=0)]))
    idx = np.arange(n)
    P = X[piv]
    ge = (P[:, None, :] >= X[None, :, :]).all(axis=2)  # ge[p, t]: pivot p at least row t everywhere
    eq = (P[:, None, :] == X[None, :, :]).all(axis=2)
    dropped = (ge & (~eq | (piv[:, None] < idx[None, :]))).any(axis=0)
    rest = idx[~dropped]
    return rest[nondominated_pairwise(X[rest])]


def check_import_limit(d: xr.Dataset, i: int, j: int, b) -> None:
    """Raise :class:`InfeasiblePlanError` when some hour of a reduced site-year must break the import limit.

    An hour breaks it when it cannot keep its grid import within the limit even with every
    array at ``max_kwp``, every saving measure in full and no electrification (the least
    possible import ``L_min − g_max``); the error names the hour's class.
    """
    lim = optional(d, "import_limit_kw", np.full(d.sizes["site"], np.nan))[i]
    if not np.isfinite(lim):
        return
    L_min, _, _, g_max = hour_bounds(d, i, j)
    need = np.clip(L_min - g_max, 0, None)
    over = need - lim
    t = int(np.argmax(over))
    if over[t] <= 1e-9 * max(1.0, abs(lim)):
        return
    cls = "zero-yield (night)" if t in set(zero_hours(b).tolist()) else "full-use" if t in set(b.full.tolist()) else "contested"
    site, year = str(d["site"].values[i]), int(d["year"].values[j])
    raise InfeasiblePlanError({f"import limit of site '{site}'": (
        float(over[t]), "kW",
        f"{cls} hour {t} of {year}: least possible grid import {need[t]:,.1f} kW is above the import limit {lim:,.1f} kW "
        f"({int((over > 1e-9 * max(1.0, abs(lim))).sum())} hours of {year} cannot meet it)")})


def _hourly_features(d: xr.Dataset, i: int, j: int) -> np.ndarray:
    """Every hourly figure of site-year ``(i, j)`` an hourly row reads, one row per figure, one column per hour."""
    per_site, _ = profile_index(d)
    feats = [d["load_kw"].values[i, j], d["import_price_per_kwh"].values[i, j], d["export_price_per_kwh"].values[i, j],
             optional(d, "hour_month", np.zeros(d.sizes["hour"]))]
    ms = measures_of_site(d, i)
    if len(ms):
        feats += list(d["measure_delta_kw"].values[ms, j])
    feats += list(d["yield_kw_per_kwp"].values[per_site[i]])
    return np.vstack([np.asarray(f, dtype=float) for f in feats])


def identical_hour_runs(d: xr.Dataset, i: int, j: int, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the runs of consecutive ``hours`` of site-year ``(i, j)`` whose hourly data are identical.

    Returns the first hour of each run and its length [h]. Exact for an hourly block without
    hourly certificate matching (whose pool rows tie the sites hour by hour): replacing a feasible
    dispatch by its average over a run keeps every row (balance, generation, power, monthly peak,
    import limit) and the cost, and the state of charge then moves linearly between the run's ends,
    which both lie in ``[0, bE]``.
    """
    hours = np.asarray(hours)
    if len(hours) < 2:
        return hours, np.ones(len(hours), dtype=np.int64)
    F = _hourly_features(d, i, j)[:, hours]
    same = (np.diff(hours) == 1) & np.all(F[:, 1:] == F[:, :-1], axis=0)
    starts = np.concatenate([[0], np.nonzero(~same)[0] + 1])
    lengths = np.diff(np.concatenate([starts, [len(hours)]]))
    return hours[starts], lengths.astype(np.int64)


def run_hours(first_hours: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """Every hour of the runs starting at ``first_hours`` with lengths ``weight`` [h] (``None``: the hours themselves)."""
    if weight is None:
        return first_hours
    starts = np.repeat(first_hours, weight)
    offset = np.arange(len(starts)) - np.repeat(np.cumsum(weight) - weight, weight)
    return starts + offset


def expand_runs(values: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """Repeat each modelled hour's value over the hours of its run (``weight`` None: one hour each)."""
    return values if weight is None else np.repeat(values, weight)


def expand_soc(soc_end_kwh: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """State of charge [kWh] at the end of every hour, from its value at the end of each run (linear within a run; cyclic)."""
    if weight is None or not len(soc_end_kwh):
        return soc_end_kwh
    prev = np.roll(soc_end_kwh, 1)
    step = np.repeat((soc_end_kwh - prev) / weight, weight)
    pos = np.arange(1, int(weight.sum()) + 1) - np.repeat(np.cumsum(weight) - weight, weight)
    return np.repeat(prev, weight) + step * pos
