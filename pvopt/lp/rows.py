"""Hourly and annual rows of the plan, one ``define_*_rows`` function per row family.

Every family is a :class:`~pyomo.core.base.matrix_constraint.MatrixConstraint`
(``<family>_rows``) over one shared column list (:class:`Columns`), built from
numpy arrays so that a year of hours costs milliseconds. Each function selects
the site-years it applies to, adds its rows for them and documents its
equation. Symbols: ``k`` a contested hour of site ``s``, year ``y``, hour ``t``
(:mod:`pvopt.lp.reductions`); ``EG[g,y]`` effective kWp of yield profile ``g``;
``frac[μ,y]`` adopted share of measure ``μ`` with hourly load change ``Δ``
[kW]; ``bE``, ``bP`` battery energy [kWh] and power [kW].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
import xarray as xr
from pyomo.core.base.matrix_constraint import MatrixConstraint

from pvopt.constants import HOURS_PER_YEAR, KWH_PER_MWH
from pvopt.lp.data import lin, measures_of_site, optional, profile_index
from pvopt.lp.reductions import hour_bounds, nondominated, zero_hours
from pvopt.lp.variables import MatchingPool, SiteYearBlock

__all__ = ["Coo", "Columns", "RowFamilies", "rows_component", "define_rows", "FAMILIES"]

#: Row families in the order they are added to the model (``<family>_rows`` components).
FAMILIES = ("gen", "pv_load", "balance", "soc", "power", "energy", "peak", "limit", "match", "pool", "claim", "annual")
HOURLY_VARS = ("pv", "ex", "grid", "bc", "bd", "soc", "matched")
ANNUAL_VARS = ("onsite_mwh", "grid_mwh", "energy_cost", "export_mwh", "export_revenue", "cert_total")


class Coo:
    """Rows of a sparse matrix, gathered block by block as numpy arrays."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []

    def add(self, rows: Any, cols: Any, vals: Any) -> None:
        """Add ``vals`` at ``(rows, cols)`` (broadcast); zeros are dropped."""
        rows, cols, vals = np.broadcast_arrays(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), np.asarray(vals, dtype=float))
        keep = vals != 0.0
        self.r.append(rows[keep].ravel())
        self.c.append(cols[keep].ravel())
        self.v.append(vals[keep].ravel())

    def csr(self, n_rows: int, n_cols: int) -> sp.csr_matrix:
        """Return the gathered rows as a CSR matrix (duplicates summed)."""
        if not self.r:
            return sp.csr_matrix((n_rows, n_cols))
        A = sp.csr_matrix((np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))), shape=(n_rows, n_cols))
        A.sum_duplicates()
        A.sort_indices()
        return A


def rows_component(m: pyo.ConcreteModel, A: sp.csr_matrix, lo: list, hi: list, x: list) -> pyo.Component:
    """Return the rows ``lo ≤ A·x ≤ hi`` as a model component.

    The component is a :class:`MatrixConstraint` (fast) or, when the model is built with
    ``matrix=False``, an ordinary indexed Constraint of linear expressions.
    """
    if getattr(m, "_use_matrix", True):
        return MatrixConstraint(A.data, A.indices, A.indptr, lo, hi, x)
    xs = list(x)
    ptr, idx, val = A.indptr, A.indices, A.data

    def rule(m, r):
        cols = idx[ptr[r] : ptr[r + 1]]
        return (lo[r], lin(val[ptr[r] : ptr[r + 1]].tolist(), [xs[c] for c in cols]), hi[r])

    return pyo.Constraint(pyo.RangeSet(0, A.shape[0] - 1), rule=rule)


@dataclass
class Columns:
    """One column list for every row family: hourly | pooled matched | EG | measures | battery sizes | annual | peaks | certificate volumes.

    ``off[name]`` is the first column of a variable family; the helpers give
    the column of one element, so no family computes offsets by hand.
    ``pool`` describes hourly matching (:class:`~pvopt.lp.variables.MatchingPool`; ``None``: annual).
    """

    x: list
    off: dict[str, int]
    n_y: int
    peak_col: dict[tuple[int, int, int], int]
    vol_col: dict[tuple[int, int], int]
    pool: MatchingPool | None = None

    @classmethod
    def of(cls, m: pyo.ConcreteModel, d: xr.Dataset) -> Columns:
        """Gather the model's variables in the fixed column order."""
        n_s, n_y = d.sizes["site"], d.sizes["year"]
        x: list = []
        off: dict[str, int] = {}
        for name in HOURLY_VARS:
            off[name] = len(x)
            x += list(getattr(m, name).values())
        off["mpool"] = len(x)
        x += list(m.matched_pool.values())
        off["eg"] = len(x)
        x += [m.EG[g, j] for g in range(d.sizes["profile"]) for j in range(n_y)]
        off["mfrac"] = len(x)
        x += [m.mfrac[k, j] for k in m.M for j in range(n_y)]
        off["bE"] = len(x)
        x += [m.bE[k, j] for k in m.B for j in range(n_y)]
        off["bP"] = len(x)
        x += [m.bP[k, j] for k in m.B for j in range(n_y)]
        for name in ANNUAL_VARS:
            off[name] = len(x)
            comp = getattr(m, name)
            x += [comp[i, j] for i in range(n_s) for j in range(n_y)]
        off["peak"] = len(x)
        peak_col = {key: off["peak"] + n for n, key in enumerate(m.PK)}
        x += [m.peak[key] for key in m.PK]
        off["vol"] = len(x)
        vol_col = {key: off["vol"] + n for n, key in enumerate(m.CVOL)}
        x += [m.cvol[key] for key in m.CVOL]
        return cls(x, off, n_y, peak_col, vol_col, getattr(m, "_matching", None))

    def sy(self, name: str, i: int, j: int) -> int:
        """Column of an annual variable ``name[i, j]`` (site, year) or a sized family ``name[k, j]``."""
        return self.off[name] + i * self.n_y + j

    def hourly(self, name: str, first: int, n: int) -> np.ndarray:
        """Columns of ``n`` hourly variables ``name`` of one block starting at flat index ``first``."""
        return self.off[name] + first + np.arange(n)


@dataclass
class RowFamilies:
    """The rows of every family, gathered before they become model components."""

    coo: dict[str, Coo] = field(default_factory=lambda: {k: Coo() for k in FAMILIES})
    lo: dict[str, list] = field(default_factory=lambda: {k: [] for k in FAMILIES})
    hi: dict[str, list] = field(default_factory=lambda: {k: [] for k in FAMILIES})

    def rows(self, family: str, n: int, lo: Any, hi: Any) -> np.ndarray:
        """Reserve ``n`` rows of ``family`` with bounds ``lo``, ``hi`` (scalars or lists); return their indices."""
        los, his = self.lo[family], self.hi[family]
        r0 = len(los)
        los.extend(lo if isinstance(lo, list) else [lo] * n)
        his.extend(hi if isinstance(hi, list) else [hi] * n)
        return r0 + np.arange(n)

    def add_to(self, m: pyo.ConcreteModel, x: list) -> None:
        """Add each non-empty family to ``m`` as ``<family>_rows``."""
        for name in FAMILIES:
            if self.lo[name]:
                A = self.coo[name].csr(len(self.lo[name]), len(x))
                setattr(m, name + "_rows", rows_component(m, A, self.lo[name], self.hi[name], x))


Blocks = dict[tuple[int, int], SiteYearBlock]


def define_generation_rows(fam: RowFamilies, cols: Columns, d: xr.Dataset, blocks: Blocks) -> None:
    r"""``gen``: PV used onsite or exported cannot exceed what the arrays generate.

    .. math:: pv_k + export_k - \sum_g yield_{g,t}\,EG_{g,y} \le 0
    """
    per_site, _ = profile_index(d)
    ymat = d["yield_kw_per_kwp"].values
    for (i, j), b in blocks.items():
        n = len(b.contested)
        if not n:
            continue
        r = fam.rows("gen", n, None, 0.0)
        fam.coo["gen"].add(r, cols.hourly("pv", b.pv_first, n), 1.0)
        if b.ex_first >= 0:
            fam.coo["gen"].add(r, cols.hourly("ex", b.ex_first, n), 1.0)
        for g in per_site[i]:
            fam.coo["gen"].add(r, cols.sy("eg", g, j), -ymat[g, b.contested])


def define_pv_load_rows(fam: RowFamilies, cols: Columns, d: xr.Dataset, blocks: Blocks) -> None:
    r"""``pv_load`` (reduced sites with measures): onsite PV cannot exceed the load after measures.

    .. math:: pv_k - \sum_\mu \Delta_{\mu,y,t}\,frac_{\mu,y} \le load_{s,y,t}
    """
    load = d["load_kw"].values
    delta = optional(d, "measure_delta_kw", None)
    for (i, j), b in blocks.items():
        n, ms = len(b.contested), measures_of_site(d, i)
        if not n or b.is_full or not len(ms):
            continue
        r = fam.rows("pv_load", n, None, load[i, j, b.contested].tolist())
        fam.coo["pv_load"].add(r, cols.hourly("pv", b.pv_first, n), 1.0)
        for k in ms:
            fam.coo["pv_load"].add(r, cols.sy("mfrac", k, j), -delta[k, j, b.contested])


def define_balance_rows(fam: RowFamilies, cols: Columns, d: xr.Dataset, blocks: Blocks) -> None:
    r"""``balance`` (full-hour sites): every hour's load is met by PV, the grid and the battery.

    .. math:: pv_k + grid_k + discharge_k - charge_k - \sum_\mu \Delta_{\mu,y,t}\,frac_{\mu,y} = load_{s,y,t}
    """
    load = d["load_kw"].values
    delta = optional(d, "measure_delta_kw", None)
    for (i, j), b in blocks.items():
        n = len(b.contested)
        if not n or not b.is_full:
            continue
        rhs = load[i, j, b.contested].tolist()
        r = fam.rows("balance", n, rhs, rhs)
        c = fam.coo["balance"]
        c.add(r, cols.hourly("pv", b.pv_first, n), 1.0)
        c.add(r, cols.hourly("grid", b.grid_first, n), 1.0)
        for k in measures_of_site(d, i):
            c.add(r, cols.sy("mfrac", k, j), -delta[k, j, b.contested])
        if b.bat_first >= 0:
            c.add(r, cols.hourly("bd", b.bat_first, n), 1.0)
            c.add(r, cols.hourly("bc", b.bat_first, n), -1.0)


def define_battery_rows(fam: RowFamilies, cols: Columns, d: xr.Dataset, blocks: Blocks) -> None:
    r"""``soc``, ``power``, ``energy`` (battery sites): state of charge, power and energy limits.

    .. math::
        soc_t - soc_{t-1} - w_t\,(\eta\,charge_t - discharge_t/\eta) = 0 \quad (\text{cyclic within the year}),\;
        \eta = \sqrt{\text{round-trip efficiency}}

    (``w_t`` the hours a modelled hour stands for, 1 unless identical hours are aggregated.)

        charge_t + discharge_t - bP_y \le 0, \qquad soc_t - bE_y \le 0
    """
    rte = optional(d, "battery_round_trip_efficiency", np.zeros(0))
    for (i, j), b in blocks.items():
        n = len(b.contested)
        if not n or not b.is_full or b.bat_first < 0:
            continue
        h = b.bat_first + np.arange(n)
        eta = float(np.sqrt(rte[b.battery]))
        w = b.hours_weight()
        r = fam.rows("soc", n, 0.0, 0.0)
        s = fam.coo["soc"]
        s.add(r, cols.off["soc"] + h, 1.0)
        s.add(r, cols.off["soc"] + np.roll(h, 1), -1.0)  # cyclic: hour 0 follows hour 8759
        s.add(r, cols.off["bc"] + h, -eta * w)
        s.add(r, cols.off["bd"] + h, w / eta)
        r = fam.rows("power", n, None, 0.0)
        p = fam.coo["power"]
        p.add(r, cols.off["bc"] + h, 1.0)
        p.add(r, cols.off["bd"] + h, 1.0)
        p.add(r, cols.sy("bP", b.battery, j), -1.0)
        r = fam.rows("energy", n, None, 0.0)
        fam.coo["energy"].add(r, cols.off["soc"] + h, 1.0)
        fam.coo["energy"].add(r, cols.sy("bE", b.battery, j), -1.0)


def _hour_terms(d: xr.Dataset, i: int, j: int, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """Yield ``[g, t]`` and measure load change ``Δ[μ, t]`` of ``hours``, with the site's profiles and measures."""
    per_site, _ = profile_index(d)
    ms = list(measures_of_site(d, i))
    delta = optional(d, "measure_delta_kw", None)
    y = d["yield_kw_per_kwp"].values[per_site[i]][:, hours]
    dl = delta[ms, j][:, hours] if ms else np.zeros((0, len(hours)))
    return y, dl, per_site[i], ms


def _affine_grid_rows(fam: RowFamilies, cols: Columns, family: str, d: xr.Dataset, i: int, j: int, hours: np.ndarray,
                      pv: np.ndarray | None, rhs_plus: np.ndarray) -> np.ndarray:
    """Add the rows ``grid_t(x) ≤ rhs_plus_t`` and return their indices.

    ``grid_t = load_t + Σ_μ Δ·frac − Σ_g yield·EG`` (zero and full-use hours) or
    ``load_t + Σ_μ Δ·frac − pv_k`` (contested hours, ``pv`` their columns).
    """
    load = d["load_kw"].values[i, j, hours]
    r = fam.rows(family, len(hours), None, (rhs_plus - load).tolist())
    c = fam.coo[family]
    y, dl, profs, ms = _hour_terms(d, i, j, hours)
    if pv is not None:
        c.add(r, pv, -1.0)
    else:
        for gi, g in enumerate(profs):
            c.add(r, cols.sy("eg", g, j), -y[gi])
    for mi, k in enumerate(ms):
        c.add(r, cols.sy("mfrac", k, j), dl[mi])
    return r


def _normalised(X: np.ndarray) -> np.ndarray:
    """``X`` with each column divided by its largest magnitude (dominance does not change)."""
    top = np.abs(X).max(axis=0) if len(X) else np.zeros(X.shape[1])
    return X / np.where(top > 0, top, 1.0)


def _binding_hours(d: xr.Dataset, i: int, j: int, hours: np.ndarray, floor: float, bounds: tuple | None = None,
                   cache: dict | None = None) -> np.ndarray:
    """Return the undominated zero and full-use ``hours`` whose import can exceed ``floor``.

    An hour is dominated when another such hour's import is never lower
    (no less load, no more yield, no smaller measure load change: its import is never lower).
    ``cache``: results per (site, hours); a later year whose features are the same up to a
    positive factor per feature (load growth, PV ageing) has the same undominated hours.
    """
    _, L_max, g_min, _ = bounds if bounds is not None else hour_bounds(d, i, j)
    hours = hours[L_max[hours] - g_min[hours] > floor]
    y, dl, _, _ = _hour_terms(d, i, j, hours)
    X = np.column_stack([d["load_kw"].values[i, j, hours], -y.T, dl.T])
    if cache is None:
        return hours[nondominated(X)]
    key = (i, hours.tobytes())
    Z = _normalised(X)
    hit = cache.get(key)
    if hit is not None and hit[0].shape == Z.shape and np.allclose(hit[0], Z, rtol=1e-12, atol=0.0):
        return hours[hit[1]]
    nd = nondominated(X)
    cache[key] = (Z, nd)
    return hours[nd]


def _reduced_peak_rows(fam: RowFamilies, cols: Columns, d: xr.Dataset, b: SiteYearBlock, i: int, j: int,
                       cache: dict | None = None) -> None:
    """Add the peak rows of a reduced site-year, per month.

    Rows go to the zero and full-use hours that can set the peak (those that can exceed the
    least import some such hour must have, and are not dominated), and to the contested hours
    whose most load exceeds that least import. Covered hours import nothing.
    """
    month = optional(d, "hour_month", np.repeat(np.arange(1, 13), 730))
    bounds = hour_bounds(d, i, j)
    L_min, L_max, _, g_max = bounds
    det = np.sort(np.concatenate([zero_hours(b), b.full]))
    for mo in range(12):
        dm = det[month[det] == mo + 1]
        cm = np.where(month[b.contested] == mo + 1)[0]
        floor = float((L_min[dm] - g_max[dm]).max()) if len(dm) else 0.0
        peak = cols.peak_col[(i, j, mo)]
        keep = _binding_hours(d, i, j, dm, floor - 1e-9, bounds, cache) if len(dm) else dm
        if len(dm) and not len(keep):
            keep = dm[[int(np.argmax(L_min[dm] - g_max[dm]))]]
        if len(keep):
            fam.coo["peak"].add(_affine_grid_rows(fam, cols, "peak", d, i, j, keep, None, np.zeros(len(keep))), peak, -1.0)
        cm = cm[L_max[b.contested[cm]] > floor]
        if len(cm):
            r = _affine_grid_rows(fam, cols, "peak", d, i, j, b.contested[cm], cols.hourly("pv", b.pv_first, len(b.contested))[cm], np.zeros(len(cm)))
            fam.coo["peak"].add(r, peak, -1.0)


def define_peak_rows(fam: RowFamilies, cols: Columns, d: xr.Dataset, blocks: Blocks) -> None:
    r"""``peak`` (demand charge): each month's billed peak is at least every hour's grid import.

    Full-hour sites: :math:`grid_k - peak_{s,y,month(t)} \le 0`. Reduced sites, with
    :math:`grid_t = load_t + \sum_\mu \Delta_{\mu,y,t} frac_{\mu,y} - \sum_g yield_{g,t} EG_{g,y}` on zero and
    full-use hours and :math:`load_t + \sum_\mu \Delta frac - pv_k` on contested hours:
    :math:`grid_t - peak_{s,y,month(t)} \le 0` only for hours that can set the peak (see :func:`_reduced_peak_rows`).
    """
    month = optional(d, "hour_month", np.repeat(np.arange(1, 13), 730))
    cache: dict = {}
    for (i, j), b in blocks.items():
        n = len(b.contested)
        if (i, j, 0) not in cols.peak_col:
            continue
        if not b.is_full:
            _reduced_peak_rows(fam, cols, d, b, i, j, cache)
            continue
        r = fam.rows("peak", n, None, 0.0)
        fam.coo["peak"].add(r, cols.hourly("grid", b.grid_first, n), 1.0)
        fam.coo["peak"].add(r, np.array([cols.peak_col[(i, j, int(mo) - 1)] for mo in month[b.contested]]), -1.0)


def define_import_limit_rows(fam: RowFamilies, cols: Columns, d: xr.Dataset, blocks: Blocks) -> None:
    r"""``limit`` (import limit on a reduced site; full-hour sites bound ``grid`` directly).

    .. math:: grid_t \le limit_s

    with :math:`grid_t` affine as in :func:`define_peak_rows`, only for zero and full-use hours whose import can
    exceed the limit and that no other hour dominates; on contested hours without measures the row is the
    bound :math:`pv_k \ge load_t - limit_s` (``define_hourly_vars``), with measures a row. An hour whose least
    import is above the limit stops the build with :class:`~pvopt.errors.InfeasiblePlanError`.
    """
    lim = optional(d, "import_limit_kw", np.full(d.sizes["site"], np.nan))
    cache: dict = {}
    for (i, j), b in blocks.items():
        if b.is_full or not np.isfinite(lim[i]):
            continue
        det = np.sort(np.concatenate([zero_hours(b), b.full]))
        keep = _binding_hours(d, i, j, det, float(lim[i]), cache=cache)
        if len(keep):
            _affine_grid_rows(fam, cols, "limit", d, i, j, keep, None, np.full(len(keep), lim[i]))
        if len(measures_of_site(d, i)) and len(b.contested):
            _, L_max, _, _ = hour_bounds(d, i, j)
            cm = np.where(L_max[b.contested] > lim[i])[0]
            pv = cols.hourly("pv", b.pv_first, len(b.contested))[cm]
            _affine_grid_rows(fam, cols, "limit", d, i, j, b.contested[cm], pv, np.full(len(cm), lim[i]))


def define_matching_rows(fam: RowFamilies, cols: Columns, d: xr.Dataset, blocks: Blocks) -> None:
    r"""``match``, ``pool`` and ``claim`` (hourly matching): certificates match grid import hour by hour.

    Per-site formulation (every site full-hour; ``matched[k]`` per site-hour, ``cert_total`` in :func:`define_annual_rows`):

    .. math::
        matched_k - grid_k \le 0

        \sum_s matched_{s,y,t} - \sum_c 1000\,share_{c,t}\,volume_{c,y} \le 0 \quad \text{per year and hour}

    Pooled formulation (:func:`_pooled_matching_rows`): per matching group ``g``, year and hour,
    ``matched_pool[g,y,t] ≤ Σ_{s∈g} grid_{s,y,t}`` with the grid import of a reduced site affine,
    ``Σ_g matched_pool[g,y,t] ≤ Σ_c 1000·share[c,t]·volume[c,y]`` and per group and year
    ``1000·Σ_{s∈g} cert_total[s,y] = Σ_t matched_pool[g,y,t]``.
    """
    if cols.pool is not None and cols.pool.pooled:
        _pooled_matching_rows(fam, cols, d, blocks, cols.pool)
        return
    pool_rows: dict[int, np.ndarray] = {}
    for (i, j), b in blocks.items():
        n = len(b.contested)
        if not n or not b.is_full or b.match_first < 0:
            continue
        mc = cols.hourly("matched", b.match_first, n)
        r = fam.rows("match", n, None, 0.0)
        fam.coo["match"].add(r, mc, 1.0)
        fam.coo["match"].add(r, cols.hourly("grid", b.grid_first, n), -1.0)
        if j not in pool_rows:
            pool_rows[j] = fam.rows("pool", HOURS_PER_YEAR, None, 0.0)
        fam.coo["pool"].add(pool_rows[j][b.contested], mc, 1.0)
    share = optional(d, "certificate_hourly_share", np.zeros((d.sizes["certificate"], HOURS_PER_YEAR)))
    for (c, j), col in cols.vol_col.items():
        if j in pool_rows:
            fam.coo["pool"].add(pool_rows[j], col, -KWH_PER_MWH * share[c])


def _group_grid_terms(coo: Coo, row: np.ndarray, cols: Columns, d: xr.Dataset, b: SiteYearBlock, i: int, j: int) -> np.ndarray:
    """Add ``−grid_{s,y,t}`` of site-year ``(i, j)`` to the rows ``row[t]`` (-1: none); return the constant part of ``grid`` [kW].

    Full-hour sites: the column ``grid[k]``. Reduced sites: ``grid_t = load_t + Σ_μ Δ·frac − Σ_g yield·EG`` on zero
    and full-use hours, ``load_t + Σ_μ Δ·frac − pv_k`` on contested hours, ``0`` on covered hours (PV meets the
    load after measures). The returned ``load_t`` (0 on covered hours) goes to the right-hand side.
    """
    const = np.zeros(HOURS_PER_YEAR)
    if b.is_full:
        on = row[b.contested] >= 0
        coo.add(row[b.contested][on], cols.hourly("grid", b.grid_first, len(b.contested))[on], -1.0)
        return const
    notk = np.ones(HOURS_PER_YEAR, dtype=bool)
    notk[b.covered] = False
    hrs = np.where(notk & (row >= 0))[0]
    const[hrs] = d["load_kw"].values[i, j, hrs]
    y, _, profs, ms = _hour_terms(d, i, j, b.full)
    on = row[b.full] >= 0
    for gi, g in enumerate(profs):
        coo.add(row[b.full][on], cols.sy("eg", g, j), y[gi][on])
    on = row[b.contested] >= 0
    coo.add(row[b.contested][on], cols.hourly("pv", b.pv_first, len(b.contested))[on], 1.0)
    delta = optional(d, "measure_delta_kw", None)
    for k in ms:
        coo.add(row[hrs], cols.sy("mfrac", k, j), -delta[k, j, hrs])
    return const


def _pooled_matching_rows(fam: RowFamilies, cols: Columns, d: xr.Dataset, blocks: Blocks, pool: MatchingPool) -> None:
    """Add the pooled ``match``, ``pool`` and ``claim`` rows.

    One ``match`` row per key of ``pool`` (its first row recorded as ``pool.match_row0``), one ``pool`` row
    per year and hour with a key, one ``claim`` row per group and year.
    """
    n_k = len(pool.key_g)
    pool.match_row0 = len(fam.lo["match"])
    if n_k:
        mc = cols.off["mpool"] + np.arange(n_k)
        r = fam.rows("match", n_k, None, 0.0)
        fam.coo["match"].add(r, mc, 1.0)
        rhs = np.zeros(n_k)
        for (i, j), b in blocks.items():
            assert b.pv_first >= 0, "pooled hourly matching needs every site-year's hourly columns (no decomposition)"
            key = pool.key_of[pool.group_of[i], j]  # key index per hour, -1 without a key
            const = _group_grid_terms(fam.coo["match"], np.where(key >= 0, r[0] + key, -1), cols, d, b, i, j)
            rhs[key[key >= 0]] += const[key >= 0]
        fam.hi["match"][pool.match_row0 : pool.match_row0 + n_k] = rhs.tolist()
        _pool_supply_rows(fam, cols, d, pool, mc)
    _claim_rows(fam, cols, d, pool)


def _pool_supply_rows(fam: RowFamilies, cols: Columns, d: xr.Dataset, pool: MatchingPool, mc: np.ndarray) -> None:
    """``pool``: ``Σ_g matched_pool[g,y,t] − Σ_c 1000·share[c,t]·volume[c,y] ≤ 0``, one row per year and hour with a key."""
    yt = pool.key_j * HOURS_PER_YEAR + pool.key_t
    uniq, which = np.unique(yt, return_inverse=True)
    rp = fam.rows("pool", len(uniq), None, 0.0)
    fam.coo["pool"].add(rp[which], mc, 1.0)
    share = optional(d, "certificate_hourly_share", np.zeros((d.sizes["certificate"], HOURS_PER_YEAR)))
    uj, ut = uniq // HOURS_PER_YEAR, uniq % HOURS_PER_YEAR
    for (c, j), col in cols.vol_col.items():
        sel = uj == j
        fam.coo["pool"].add(rp[sel], col, -KWH_PER_MWH * share[c, ut[sel]])


def _claim_rows(fam: RowFamilies, cols: Columns, d: xr.Dataset, pool: MatchingPool) -> None:
    """``claim``: ``1000·Σ_{s∈g} cert_total[s,y] − Σ_t matched_pool[g,y,t] = 0`` for every group and year."""
    n_y = d.sizes["year"]
    rc = fam.rows("claim", len(pool.groups) * n_y, 0.0, 0.0)
    for g, sites in enumerate(pool.groups):
        for j in range(n_y):
            fam.coo["claim"].add(rc[g * n_y + j], [cols.sy("cert_total", int(i), j) for i in sites], KWH_PER_MWH)
    fam.coo["claim"].add(rc[pool.key_g * n_y + pool.key_j], cols.off["mpool"] + np.arange(len(pool.key_g)), -1.0)


def _annual_onsite(coo: Coo, r: int, cols: Columns, d: xr.Dataset, b: SiteYearBlock, i: int, j: int) -> float:
    """Onsite row: ``1000·onsite − Σ_C pv − Σ_g EG·Σ_F yield − Σ_μ frac·Σ_K Δ = Σ_K load``; returns the right-hand side [kWh]."""
    per_site, _ = profile_index(d)
    ymat = d["yield_kw_per_kwp"].values
    delta = optional(d, "measure_delta_kw", None)
    coo.add(r, cols.sy("onsite_mwh", i, j), KWH_PER_MWH)
    coo.add(np.full(len(b.contested), r), cols.hourly("pv", b.pv_first, len(b.contested)), -b.hours_weight())
    for g in per_site[i]:
        coo.add(r, cols.sy("eg", g, j), -float(ymat[g, b.full].sum()))
    for k in measures_of_site(d, i):
        coo.add(r, cols.sy("mfrac", k, j), -float(delta[k, j, b.covered].sum()))
    return float(d["load_kw"].values[i, j, b.covered].sum())


def _annual_grid_cost(coo: Coo, r: np.ndarray, cols: Columns, d: xr.Dataset, b: SiteYearBlock, i: int, j: int) -> tuple[float, float]:
    """Grid [MWh] and energy-cost [currency] rows; returns their right-hand sides.

    Full-hour sites: ``1000·grid_mwh − Σ_t grid = 0`` and ``energy_cost − Σ_t price·grid = 0``.
    Reduced sites: ``1000·grid_mwh + 1000·onsite − Σ_μ frac·Σ_t Δ = Σ_t load`` and
    ``energy_cost + Σ_C price·pv + Σ_g EG·Σ_F price·yield − Σ_μ frac·Σ_{t∉K} price·Δ = Σ_{t∉K} price·load``.
    """
    n, con = len(b.contested), b.contested
    imp = d["import_price_per_kwh"].values
    load = d["load_kw"].values
    coo.add(r[0], cols.sy("grid_mwh", i, j), KWH_PER_MWH)
    coo.add(r[1], cols.sy("energy_cost", i, j), 1.0)
    if b.is_full:
        gc = cols.hourly("grid", b.grid_first, n)
        w = b.hours_weight()
        coo.add(np.full(n, r[0]), gc, -w)
        coo.add(np.full(n, r[1]), gc, -imp[i, j, con] * w)
        return 0.0, 0.0
    per_site, _ = profile_index(d)
    ymat = d["yield_kw_per_kwp"].values
    delta = optional(d, "measure_delta_kw", None)
    coo.add(r[0], cols.sy("onsite_mwh", i, j), KWH_PER_MWH)
    notk = np.ones(HOURS_PER_YEAR, dtype=bool)
    notk[b.covered] = False
    for k in measures_of_site(d, i):
        coo.add(r[0], cols.sy("mfrac", k, j), -float(delta[k, j].sum()))
        coo.add(r[1], cols.sy("mfrac", k, j), -float((imp[i, j, notk] * delta[k, j, notk]).sum()))
    coo.add(np.full(n, r[1]), cols.hourly("pv", b.pv_first, n), imp[i, j, con])
    for g in per_site[i]:
        coo.add(r[1], cols.sy("eg", g, j), float((imp[i, j, b.full] * ymat[g, b.full]).sum()))
    return float(load[i, j].sum()), float((imp[i, j, notk] * load[i, j, notk]).sum())


def define_annual_rows(fam: RowFamilies, cols: Columns, d: xr.Dataset, blocks: Blocks) -> None:
    r"""``annual``: per site and year, onsite PV, grid import, energy cost, export and its revenue, matched certificates.

    Five rows per site-year (six with hourly matching), F, K, C the hour classes:

    * onsite: ``1000·onsite − Σ_C pv − Σ_g EG·Σ_F yield − Σ_μ frac·Σ_K Δ = Σ_K load``;
    * grid and energy cost: see :func:`_annual_grid_cost`;
    * ``1000·export_mwh − Σ_C export = 0``; ``export_revenue − Σ_C export_price·export = 0``;
    * hourly matching: ``1000·cert_total − Σ_t matched = 0``.
    """
    exp_ = d["export_price_per_kwh"].values
    coo = fam.coo["annual"]
    for (i, j), b in blocks.items():  # every site-year, site-major (a subproblem passes one)
        n = len(b.contested)
        r = fam.rows("annual", 6 if b.match_first >= 0 else 5, 0.0, 0.0)
        onsite_kwh = _annual_onsite(coo, int(r[0]), cols, d, b, i, j)
        rhs_grid, rhs_cost = _annual_grid_cost(coo, r[1:3], cols, d, b, i, j)
        coo.add(r[3], cols.sy("export_mwh", i, j), KWH_PER_MWH)
        coo.add(r[4], cols.sy("export_revenue", i, j), 1.0)
        if b.ex_first >= 0:
            exc = cols.hourly("ex", b.ex_first, n)
            coo.add(np.full(n, r[3]), exc, -b.hours_weight())
            coo.add(np.full(n, r[4]), exc, -exp_[i, j, b.contested] * b.hours_weight())
        if b.match_first >= 0:
            coo.add(r[5], cols.sy("cert_total", i, j), KWH_PER_MWH)
            coo.add(np.full(n, r[5]), cols.hourly("matched", b.match_first, n), -b.hours_weight())
        for row, rhs in zip(r[:3], (onsite_kwh, rhs_grid, rhs_cost)):
            fam.lo["annual"][row] = fam.hi["annual"][row] = rhs


#: The hourly families, in build order; a decomposition builds the same families for one site-year.
HOURLY_FAMILIES = (define_generation_rows, define_pv_load_rows, define_balance_rows, define_battery_rows,
                   define_peak_rows, define_import_limit_rows, define_matching_rows)


def define_rows(m: pyo.ConcreteModel, d: xr.Dataset, blocks: Blocks, decompose: frozenset[tuple[int, int]] = frozenset()) -> Columns:
    """Every hourly and annual row family of the plan, added to ``m`` as ``<family>_rows``.

    Site-years in ``decompose`` get no rows here (a Benders subproblem builds them).
    """
    cols = Columns.of(m, d)
    blocks = {k: b for k, b in blocks.items() if k not in decompose}
    fam = RowFamilies()
    for define in HOURLY_FAMILIES:
        define(fam, cols, d, blocks)
    define_annual_rows(fam, cols, d, blocks)
    fam.add_to(m, cols.x)
    m._x_offsets = cols.off
    return cols
