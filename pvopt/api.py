"""The notebook API: edit a portfolio in code, simulate, plan, and read results as tables.

Everything here is a thin layer over :mod:`pvopt.inputs.loading`,
:mod:`pvopt.pv.yields` and :mod:`pvopt.pipeline`; it computes nothing those
do not. Heavy libraries (pvlib, Pyomo) are imported only when a function
needs them, so ``import pvopt`` stays cheap.

Editing
    Portfolios are frozen pydantic models. :func:`with_array`,
    :func:`without_array`, :func:`with_site_change` and
    :func:`with_settings_change` return a *new* portfolio, validated again by
    the same schema and cross-file checks as :func:`pvopt.load_portfolio`;
    a bad edit raises :class:`pvopt.errors.PortfolioError` naming the field.
    Nested fields are addressed with ``__`` (``pv__lifetime_years=30``); a
    list of named items is indexed by name (``certificates__GEC__price_per_mwh``)
    or position (``arrays__0__tilt_deg``).
Results
    :func:`simulate` returns a :class:`YieldResult`, :func:`plan` a
    :class:`PlanResult`. Both hold the xarray Dataset (``.dataset``, with
    ``units`` and ``description`` attrs on every variable) and give pandas
    tables whose column names end in their unit (``_kwp``, ``_mwh``,
    ``_tco2e``, ``_cny``, ``_pct``); both print a short text summary.

Examples
--------
>>> import pvopt
>>> pf = pvopt.load_portfolio("sites/lead")                          # doctest: +SKIP
>>> pf2 = pvopt.with_array(pf, "suzhou", {"name": "car-park-east", "kind": "carport",
...                        "area_m2": 2500, "tilt_deg": 5, "azimuth_deg": 180})  # doctest: +SKIP
>>> y = pvopt.simulate(pf2)                                          # doctest: +SKIP
>>> result = pvopt.plan(pf2, yields=y)                               # doctest: +SKIP
>>> result.capacity()                                                # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import ValidationError

from pvopt.inputs.schema import Array, Portfolio, PortfolioSettings, Site
from pvopt.errors import InputIssue, PortfolioError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

    from pvopt.lp.model import SolveOptions
    from pvopt.pipeline import PlanRun

__all__ = [
    "with_array",
    "without_array",
    "with_site_change",
    "with_settings_change",
    "simulate",
    "plan",
    "compare_plans",
    "diff",
    "YieldResult",
    "PlanResult",
]

PATH_SEP = "__"
"""Separator of nested field names in keyword edits: ``pv__lifetime_years``."""


# --------------------------------------------------------------------------- #
# editing
# --------------------------------------------------------------------------- #
def _edit_label(what: str) -> Path:
    return Path(f"{what} (edited in code)")


def _step(node: Any, key: str, trail: str, label: Path) -> tuple[Any, Any]:
    """Return the container that ``node[key]`` addresses: (key or index into node, child)."""
    if isinstance(node, list):
        if key.isdigit():
            i = int(key)
            if i >= len(node):
                raise PortfolioError([InputIssue(str(label), trail, f"index {i} is out of range; the list has {len(node)} items")])
            return i, node[i]
        names = [x.get("name") for x in node if isinstance(x, dict)]
        if key not in names:
            raise PortfolioError([InputIssue(str(label), trail, f"no item named '{key}'; expected one of {names}")])
        i = names.index(key)
        return i, node[i]
    if isinstance(node, dict):
        return key, node.get(key)
    raise PortfolioError([InputIssue(str(label), trail, f"cannot go into a {type(node).__name__} value; set the whole field instead")])


def _apply_changes(data: dict[str, Any], changes: Mapping[str, Any], label: Path) -> dict[str, Any]:
    for name, value in changes.items():
        parts = name.split(PATH_SEP)
        node: Any = data
        trail = ""
        for p in parts[:-1]:
            if isinstance(node, dict) and p not in node:
                raise PortfolioError([InputIssue(str(label), _join(trail, p), f"unknown field; expected one of {sorted(node)}")])
            k, child = _step(node, p, _join(trail, p), label)
            trail = _join(trail, k)
            if child is None:
                raise PortfolioError([InputIssue(str(label), trail, "is not set; give the whole section instead of one field of it")])
            node = child
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        elif isinstance(value, list):
            value = [v.model_dump() if hasattr(v, "model_dump") else v for v in value]
        last = parts[-1]
        if isinstance(node, list):
            k, _ = _step(node, last, _join(trail, last), label)
            node[k] = value
        else:
            node[last] = value
    return data


def _join(trail: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{trail}[{key}]"
    return f"{trail}.{key}" if trail else str(key)


def _rebuild(pf: Portfolio, settings: PortfolioSettings, sites: list[Site], label: Path) -> Portfolio:
    from pvopt.inputs.loading import check_cross, check_site_files, pydantic_issues

    issues: list[InputIssue] = []
    for s in sites:
        issues.extend(check_site_files(pf.directory, label, s))
    issues.extend(check_cross(pf.directory, label, settings, sites, []))
    if issues:
        raise PortfolioError(issues)
    try:
        return Portfolio(settings=settings, sites=sites, directory=pf.directory)
    except ValidationError as e:
        raise PortfolioError(pydantic_issues(label, e)) from None


def _site_index(pf: Portfolio, site: str) -> int:
    names = [s.name for s in pf.sites]
    if site not in names:
        raise PortfolioError([InputIssue("portfolio", "sites", f"no site named '{site}'; expected one of {names}")])
    return names.index(site)


def _replace_site(pf: Portfolio, i: int, data: dict[str, Any], label: Path) -> Portfolio:
    from pvopt.inputs.loading import pydantic_issues

    try:
        site = Site.model_validate(data)
    except ValidationError as e:
        raise PortfolioError(pydantic_issues(label, e)) from None
    sites = list(pf.sites)
    sites[i] = site
    return _rebuild(pf, pf.settings, sites, label)


def with_site_change(pf: Portfolio, site: str, **changes: Any) -> Portfolio:
    """Return a copy of ``pf`` with fields of one site changed, validated again.

    Parameters
    ----------
    pf
        The portfolio (not changed).
    site
        Site name.
    **changes
        ``field=value``; nested fields joined by ``__`` (``load__annual_mwh=12000``,
        ``arrays__warehouse-roof__tilt_deg=10`` via ``**{...}`` for names with dashes,
        ``tariff__prices_per_kwh={"peak": 1.1, "flat": 0.75, "valley": 0.45}``).

    Raises
    ------
    PortfolioError
        When the edited site breaks the schema; the issue names the field.

    Examples
    --------
    >>> pf2 = with_site_change(pf, "suzhou", load__growth_pct_per_year=6.0)   # doctest: +SKIP
    """
    i = _site_index(pf, site)
    label = _edit_label(f"site '{site}'")
    data = _apply_changes(pf.sites[i].model_dump(), changes, label)
    return _replace_site(pf, i, data, label)


def with_array(pf: Portfolio, site: str, array: Array | Mapping[str, Any]) -> Portfolio:
    """Return a copy of ``pf`` with one more array at ``site`` (an :class:`~pvopt.inputs.schema.Array` or a dict of its fields).

    Raises
    ------
    PortfolioError
        For a bad array (e.g. ``arrays[3].tilt_deg``) or a name already used at the site.
    """
    i = _site_index(pf, site)
    label = _edit_label(f"site '{site}'")
    data = pf.sites[i].model_dump()
    data["arrays"].append(array.model_dump() if isinstance(array, Array) else dict(array))
    return _replace_site(pf, i, data, label)


def without_array(pf: Portfolio, site: str, name: str) -> Portfolio:
    """Return a copy of ``pf`` without the array ``name`` of ``site``."""
    i = _site_index(pf, site)
    label = _edit_label(f"site '{site}'")
    data = pf.sites[i].model_dump()
    names = [a["name"] for a in data["arrays"]]
    if name not in names:
        raise PortfolioError([InputIssue(str(label), "arrays", f"no array named '{name}'; expected one of {names}")])
    data["arrays"].pop(names.index(name))
    return _replace_site(pf, i, data, label)


def with_settings_change(pf: Portfolio, **changes: Any) -> Portfolio:
    """Return a copy of ``pf`` with portfolio settings (``portfolio.yaml``) changed, validated again.

    Examples
    --------
    >>> with_settings_change(pf, planning__discount_rate=0.08)                   # doctest: +SKIP
    >>> with_settings_change(pf, certificates__GEC__price_per_mwh=50.0)          # doctest: +SKIP
    >>> with_settings_change(pf, pv__capex_per_kwp__carport={2024: 4000, 2035: 2800})  # doctest: +SKIP
    """
    from pvopt.inputs.loading import pydantic_issues

    label = _edit_label("portfolio settings")
    data = _apply_changes(pf.settings.model_dump(), changes, label)
    try:
        settings = PortfolioSettings.model_validate(data)
    except ValidationError as e:
        raise PortfolioError(pydantic_issues(label, e)) from None
    return _rebuild(pf, settings, list(pf.sites), label)


# --------------------------------------------------------------------------- #
# yield
# --------------------------------------------------------------------------- #
def _month_of_hour() -> np.ndarray:
    return pd.date_range("2023-01-01", periods=8760, freq="h").month.to_numpy()


def _local_index(year: int) -> pd.DatetimeIndex:
    """Return the 8760 hour-beginning local stamps of ``year`` (Feb 29 dropped, as in the model)."""
    idx = pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq="h", inclusive="left")
    idx = idx[~((idx.month == 2) & (idx.day == 29))]
    return idx.rename("local_time")


@dataclass
class YieldResult:
    """Hourly yield per kWp of every array (:func:`pvopt.pv.yields.simulate_yield`)."""

    dataset: "xr.Dataset"
    portfolio: Portfolio

    def table(self) -> pd.DataFrame:
        """Per array: site, array, kind, ``max_kwp``, ``annual_kwh_per_kwp``, ``capacity_factor_pct``."""
        from pvopt.pv.yields import yield_table

        return yield_table(self.dataset)

    def monthly_kwh_per_kwp(self) -> pd.DataFrame:
        """Specific yield per month [kWh/kWp]: rows months 1..12, one column per array ``site/array``."""
        ds = self.dataset
        month = _month_of_hour()
        y = np.asarray(ds["yield_kw_per_kwp"].values)
        data = {str(a): np.bincount(month - 1, weights=y[i], minlength=12) for i, a in enumerate(ds["array"].values)}
        df = pd.DataFrame(data, index=pd.RangeIndex(1, 13, name="month"))
        df.columns.name = "array [kWh/kWp]"
        return df

    def summary_text(self) -> str:
        """Return a short text summary: arrays and sites, the range of specific yield and capacity factor, the weather."""
        t = self.table()
        n_sites = t["site"].nunique()
        lines = [f"YieldResult: {len(t)} arrays at {n_sites} sites"]
        if len(t):
            lines.append(
                f"  specific yield {t['annual_kwh_per_kwp'].min():,.0f}-{t['annual_kwh_per_kwp'].max():,.0f} kWh/kWp/yr, "
                f"capacity factor {t['capacity_factor_pct'].min():.1f}-{t['capacity_factor_pct'].max():.1f} %"
            )
        stmt = str(self.dataset.attrs.get("weather_statement", ""))
        if stmt:
            lines.append("  " + stmt.split(":")[0].lower() if stmt.startswith("SYNTHETIC") else "  " + stmt)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary_text()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary_text())}</pre>" + self.table().to_html(index=False, float_format=lambda v: f"{v:,.1f}")


def simulate(pf: Portfolio, *, progress: Callable[[int, int], None] | None = None) -> YieldResult:
    """Simulate the hourly yield of every array of ``pf`` with pvlib (about 2 s for the example).

    Parameters
    ----------
    pf
        Portfolio.
    progress
        Optional ``callable(done, total)`` called after each unique array geometry.
    """
    from pvopt.pipeline import yield_fingerprint
    from pvopt.pv.yields import simulate_yield

    ds = simulate_yield(pf, progress=progress)
    ds.attrs["yield_fingerprint"] = yield_fingerprint(pf)
    return YieldResult(ds, pf)


# --------------------------------------------------------------------------- #
# plan
# --------------------------------------------------------------------------- #
def _cur(plan: "xr.Dataset") -> str:
    return str(plan.attrs.get("currency", "cur")).lower()


@dataclass
class PlanResult:
    """A solved plan: the Dataset (``.dataset``, also ``.plan``) and tables with units in their column names."""

    run: "PlanRun"
    yields: YieldResult
    scenario: dict[str, float] = field(default_factory=dict)

    # ---- raw objects -------------------------------------------------------
    @property
    def dataset(self) -> "xr.Dataset":
        """The plan Dataset: every LP input, decision, energy, emission and cost, with units in attrs."""
        return self.run.plan

    plan = dataset

    @property
    def portfolio(self) -> Portfolio:
        """The validated portfolio that was planned."""
        return self.run.portfolio

    @property
    def currency(self) -> str:
        """The portfolio currency of every cost."""
        return str(self.dataset.attrs.get("currency", ""))

    @property
    def npc(self) -> float:
        """Net present cost [currency], salvage deducted (the LP objective)."""
        return float(self.dataset["npc"])

    @property
    def years(self) -> list[int]:
        """The planning years."""
        return [int(y) for y in self.dataset["year"].values]

    @property
    def weather_statement(self) -> str:
        """Where the weather came from; starts with ``SYNTHETIC WEATHER`` when any site's weather is synthetic."""
        return str(self.dataset.attrs.get("weather_statement", ""))

    @property
    def timings_s(self) -> dict[str, float]:
        """Seconds spent in each stage of the run."""
        return dict(self.run.timings_s)

    # ---- tables ------------------------------------------------------------
    def _site_year(self, names: list[str], by: Literal["portfolio", "site"]) -> pd.DataFrame:
        ds = self.dataset[names]
        if by == "portfolio":
            return ds.sum("site").to_dataframe()[names]
        if by == "site":
            return ds.to_dataframe()[names]
        raise ValueError(f"by must be 'portfolio' or 'site', got {by!r}")

    def capacity(self, by: Literal["kind", "site", "array"] = "kind") -> pd.DataFrame:
        """Installed PV at the end of each year [kWp]: one column per kind (or site, or array) plus ``total_kwp``."""
        p = self.dataset
        inst = p["installed_kwp"]
        key = {"kind": "array_kind", "site": "array_site", "array": None}
        if by not in key:
            raise ValueError(f"by must be 'kind', 'site' or 'array', got {by!r}")
        if by == "array":
            df = inst.to_pandas().T
            df.columns = [f"{c}_kwp" for c in df.columns]
        else:
            g = inst.groupby(p[key[by]].astype(str).rename(by)).sum("array")
            df = g.to_pandas().T
            df.columns = [f"{c}_kwp" for c in df.columns]
        df["total_kwp"] = inst.sum("array").to_pandas()
        df.index.name = "year"
        return df

    def arrays(self) -> pd.DataFrame:
        """Tabulate the arrays: site, kind, sizes, build and specific yield.

        One row per array: site, kind, ``max_kwp``, ``existing_kwp``, ``built_kwp`` over the plan, first build year,
        installed in the last year, and its specific yield ``annual_kwh_per_kwp``.
        """
        p = self.dataset
        build = p["build_kwp"].values
        years = self.years
        first = [next((years[j] for j in range(len(years)) if build[a, j] > 0), None) for a in range(build.shape[0])]
        spec = self.yields.dataset["annual_kwh_per_kwp"].to_series()
        ids = [str(a) for a in p["array"].values]
        return pd.DataFrame(
            {
                "site": p["array_site"].values.astype(str),
                "kind": p["array_kind"].values.astype(str),
                "max_kwp": p["max_kwp"].values,
                "existing_kwp": p["existing_kwp"].values,
                "built_kwp": build.sum(axis=1),
                "first_build_year": pd.array(first, dtype="Int64"),
                f"installed_{years[-1]}_kwp": p["installed_kwp"].values[:, -1],
                "annual_kwh_per_kwp": spec.reindex(ids).values,
            },
            index=pd.Index(ids, name="array"),
        )

    def energy(self, by: Literal["portfolio", "site"] = "portfolio") -> pd.DataFrame:
        """Tabulate the energy per year (and site).

        Load, PV generated, onsite, curtailed, exported, grid [MWh];
        ``onsite_share_pct`` = onsite / generated; ``pv_share_of_load_pct`` = onsite / load.
        """
        names = ["load_mwh", "pv_generated_mwh", "pv_onsite_mwh", "curtailed_mwh", "export_mwh", "grid_import_mwh"]
        df = self._site_year(names, by)
        df["onsite_share_pct"] = 100.0 * df["pv_onsite_mwh"] / df["pv_generated_mwh"].where(df["pv_generated_mwh"] > 0)
        df["pv_share_of_load_pct"] = 100.0 * df["pv_onsite_mwh"] / df["load_mwh"]
        return df

    def emissions(self, by: Literal["portfolio", "site"] = "portfolio") -> pd.DataFrame:
        """Per year (and site): Scope 1 after measures, Scope 2 location- and market-based, offsets, net [tCO2e]; certificates [MWh]."""
        names = ["scope1_after_measures_tco2e", "scope2_location_tco2e", "scope2_market_tco2e", "certificates_mwh", "offsets_tco2e", "net_tco2e"]
        return self._site_year(names, by)

    def costs(self, by: Literal["portfolio", "site"] = "portfolio") -> pd.DataFrame:
        """Tabulate the costs per year (and site), undiscounted, in the portfolio currency.

        One column per cost category of
        :data:`pvopt.costs.COST_CATEGORIES` (PV capex and O&M, measures, batteries, grid energy, demand
        charges, export revenue, certificates, offsets; export revenue is a revenue, subtracted) and the total;
        for the portfolio also the discount factor and present value.
        """
        from pvopt.costs import COST_NAMES, TOTAL_COST, column_name

        cur = _cur(self.dataset)
        src = [*COST_NAMES, TOTAL_COST]
        df = self._site_year(src, by)
        df.columns = [column_name(c, cur) for c in df.columns]
        if by == "portfolio":
            df["discount_factor"] = self.dataset["discount_factor"].to_pandas()
            df[f"present_value_{cur}"] = df[f"total_{cur}"] * df["discount_factor"]
        return df

    def milestones(self) -> pd.DataFrame:
        """Per milestone: type, year, target, achieved, unit, met, marginal cost (LP dual) and binding."""
        cur = _cur(self.dataset)
        rows = []
        for r in self.run.milestones:
            row = {k: r[k] for k in ("name", "type", "year", "target", "achieved", "unit", "met")}
            row[f"marginal_cost_{cur}_npv_per_unit"] = r["marginal_cost"]
            row["binding"] = r["binding"]
            if "cost_vs_without" in r:
                row[f"cost_vs_without_{cur}_npv"] = r["cost_vs_without"]
            rows.append(row)
        return pd.DataFrame(rows).set_index("name") if rows else pd.DataFrame()

    def weather_sources(self) -> pd.DataFrame:
        """Per site: weather ``source`` (synthetic, file, pvgis, nasa_power), short ``label`` and full ``description``."""
        import json

        from pvopt.pv.weather import weather_label

        try:
            src = json.loads(str(self.dataset.attrs.get("weather_sources_json", "") or "{}"))
        except ValueError:
            src = {}
        rows = [{"site": k, "source": v.get("source", ""), "label": weather_label(v.get("description", "")),
                 "description": v.get("description", "")} for k, v in src.items()]
        return pd.DataFrame(rows, columns=["site", "source", "label", "description"]).set_index("site")

    def dispatch(self, site: str, start: str, days: int = 7) -> pd.DataFrame:
        """Hourly dispatch of ``site`` from ``start`` (``"2030-06-01"``) for ``days`` days [kW].

        Columns ``load_kw``, ``pv_generated_kw``, ``pv_onsite_kw``, ``curtailed_kw``,
        ``export_kw``, ``grid_import_kw``; index: local hour-beginning time
        (the model's 8760-hour year, Feb 29 dropped). Needs a plan solved with ``hourly=True``.
        """
        p = self.dataset
        if "pv_onsite_kw" not in p:
            raise ValueError("this plan has no hourly data; plan again with hourly=True")
        sites = [str(s) for s in p["site"].values]
        if site not in sites:
            raise KeyError(f"no site '{site}'; expected one of {sites}")
        t0 = pd.Timestamp(start)
        if t0.year not in self.years:
            raise ValueError(f"start {start} is outside the planning years {self.years[0]}-{self.years[-1]}")
        idx = _local_index(t0.year)
        sel = (idx >= t0) & (idx < t0 + pd.Timedelta(days=days))
        cols = ["load_kw", "pv_generated_kw", "pv_onsite_kw", "curtailed_kw", "export_kw", "grid_import_kw"]
        sub = p[cols].sel(site=site, year=t0.year)
        return pd.DataFrame({c: np.asarray(sub[c].values, dtype=float)[sel] for c in cols}, index=idx[sel])

    def summary(self) -> pd.DataFrame:
        """Per site and year (plus ``site == 'ALL'``): the table written to ``summary.csv``."""
        from pvopt.pipeline import summary_frame

        return summary_frame(self.dataset)

    def finance(self, by: Literal["array", "site"] = "array") -> pd.DataFrame:
        """PV finance per array (or site): LCOE, value, NPV, IRR, payback, break-even certificate price (:mod:`pvopt.results.finance`)."""
        from pvopt.results import finance

        return finance.finance_arrays(self.dataset) if by == "array" else finance.finance_sites(self.dataset)

    def macc(self) -> pd.DataFrame:
        """Marginal abatement cost curve: PV arrays, certificates and offsets sorted by cost per tCO2e (:mod:`pvopt.results.finance`)."""
        from pvopt.results import finance

        return finance.macc_table(self.dataset)

    def bau(self) -> pd.DataFrame:
        """Tabulate the plan against business as usual (nothing new, milestones not enforced), per year.

        Both costs, the saving and its cumulative sums (undiscounted and discounted), the bill saving,
        both net emissions and the cut (:mod:`pvopt.results.bau`).
        """
        from pvopt.results.bau import bau_years_table

        return bau_years_table(self.dataset)

    def savings(self, by: Literal["group", "category"] = "group") -> pd.DataFrame:
        """NPC saving against business as usual, split by cost group or category (rows add up to the NPC saving)."""
        from pvopt.results.bau import saving_split

        return saving_split(self.dataset, by=by)

    def headline(self) -> dict[str, Any]:
        """Key figures against business as usual: NPC saving, year-1 bill saving, payback years, emissions cut."""
        from pvopt.results.bau import headline

        return headline(self.dataset)

    def build_list(self) -> pd.DataFrame:
        """Tabulate what to build where and when: one row per array and year, with why (cheapest, or the milestone that requires it)."""
        from pvopt.results.buildlist import build_list

        return build_list(self.dataset)

    def to_netcdf(self, path: str | Path) -> Path:
        """Write the plan Dataset to ``path`` (atomically); returns the path."""
        from pvopt.io import write_netcdf_atomic

        write_netcdf_atomic(self.dataset, Path(path))
        return Path(path)

    # ---- display -----------------------------------------------------------
    def summary_text(self) -> str:
        """Return a short text summary: NPC, capacity by year, emissions, milestones met."""
        p = self.dataset
        cur = self.currency
        years = self.years
        name = p.attrs.get("portfolio_name", "")
        scen = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in self.scenario.items())
        head = f"PlanResult '{name}' {years[0]}-{years[-1]}" + (f" (scenario: {scen})" if scen else "")
        lines = [head, f"  NPC {self.npc:,.0f} {cur} (salvage {float(p['salvage_value']):,.0f} deducted)"]
        if self.weather_statement:
            lines.append(f"  {self.weather_statement}")
        from pvopt.results.bau import summary_lines

        lines.extend(f"  {line}" for line in summary_lines(p))
        cap = self.capacity()
        shown = [years[0]] + [y for y in years[1:] if abs(cap.loc[y, "total_kwp"] - cap.loc[y - 1, "total_kwp"]) > 1e-6]
        if years[-1] not in shown:
            shown.append(years[-1])
        kinds = [c for c in cap.columns if c != "total_kwp"]
        parts = [f"{y} {cap.loc[y, 'total_kwp']:,.0f}" for y in shown]
        split = ", ".join(f"{c.removesuffix('_kwp')} {cap.loc[years[-1], c]:,.0f}" for c in kinds)
        lines.append(f"  PV installed [kWp]: {' | '.join(parts)} ({split} in {years[-1]})")
        em = self.emissions()
        lines.append(f"  net emissions [tCO2e]: {years[0]} {em['net_tco2e'].iloc[0]:,.0f} -> {years[-1]} {em['net_tco2e'].iloc[-1]:,.0f}")
        ms = self.run.milestones
        if ms:
            met = sum(bool(r["met"]) for r in ms)
            binding = [f"{r['name']} ({r['marginal_cost']:,.1f})" for r in ms if r.get("binding")]
            lines.append(f"  milestones met {met}/{len(ms)}" + (f"; binding, {cur} NPV per unit: {', '.join(binding)}" if binding else ""))
        ws = self.weather_sources()
        if len(ws):
            lines.append("  weather: " + "; ".join(f"{s}: {r['label'] or r['source']}" for s, r in ws.iterrows()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary_text()

    def _repr_html_(self) -> str:
        ms = self.milestones()
        tab = ms.to_html(float_format=lambda v: f"{v:,.2f}") if len(ms) else ""
        return f"<pre>{html.escape(self.summary_text())}</pre>{tab}"


def plan(
    pf: Portfolio,
    *,
    yields: YieldResult | "xr.Dataset" | None = None,
    options: "SolveOptions | None" = None,
    extra_constraints: Callable[[Any, "xr.Dataset"], None] | None = None,
    milestone_costs: Literal["dual", "resolve", "none"] | None = None,
    scenario: Mapping[str, float] | None = None,
    hourly: bool = True,
) -> PlanResult:
    """Plan ``pf`` at least net present cost (about 3-5 s for the example).

    Parameters
    ----------
    pf
        Portfolio.
    yields
        A :class:`YieldResult` (or yield Dataset) to reuse. When omitted, or when its
        arrays or geometry no longer match ``pf`` (an array was added or moved), the
        yield is simulated again; the result's ``.yields`` holds the one used.
    options
        :class:`pvopt.lp.model.SolveOptions`; the keywords below override its fields.
    extra_constraints
        ``f(model, data)`` called on the built Pyomo model before the solve, to add
        constraints without forking. ``model.build[a, y]`` [kWp] and ``model.inst[a, y]``
        are indexed by integer positions into ``data["array"]`` and ``data["year"]``;
        see docs/formulation.md for every component.
    milestone_costs
        ``"dual"`` (default), ``"resolve"`` or ``"none"``.
    scenario
        Input variations applied to the LP inputs by :func:`pvopt.studies.sweep.apply_scenario`,
        e.g. ``{"capex_scale": 0.8, "certificate_price_scale": 10}``.
    hourly
        Keep hourly dispatch in the Dataset (needed by :meth:`PlanResult.dispatch`).

    Raises
    ------
    InfeasiblePlanError
        When the milestones cannot all be met (says which and by how much).
    SolverError
        When HiGHS stops without an optimal plan.
    """
    from pvopt.lp.model import SolveOptions
    from pvopt.pipeline import plan_from_inputs, yield_fingerprint
    from pvopt.lp.inputs import build_plan_inputs

    opts = options or SolveOptions()
    over: dict[str, Any] = {}
    if extra_constraints is not None:
        over["extra_constraints"] = extra_constraints
    if milestone_costs is not None:
        over["milestone_costs"] = milestone_costs
    if over:
        opts = dataclasses.replace(opts, **over)
    if yields is not None and not isinstance(yields, YieldResult):
        yields = YieldResult(yields, pf)
    fp = yield_fingerprint(pf)
    wanted = {f"{s.name}/{a.name}" for s in pf.sites for a in s.arrays}
    if (
        yields is None
        or yields.dataset.attrs.get("yield_fingerprint", fp) != fp
        or not wanted <= {str(a) for a in yields.dataset["array"].values}
    ):
        yields = simulate(pf)
    inputs = build_plan_inputs(pf, yields.dataset)
    scen = dict(scenario or {})
    if scen:
        from pvopt.studies.sweep import apply_scenario

        inputs = apply_scenario(inputs, scen)
    run = plan_from_inputs(pf, inputs, opts, hourly=hourly)
    return PlanResult(run, yields, scen)


def compare_plans(results: Mapping[str, PlanResult]) -> pd.DataFrame:
    """Compare named plans, one row each.

    Columns: NPC and its change against the first, PV, onsite PV, certificates,
    offsets, net emissions in the last year, milestones met.
    """
    rows = []
    base = None
    for name, r in results.items():
        cur = _cur(r.dataset)
        last = r.years[-1]
        cap = r.capacity()
        en = r.energy()
        em = r.emissions()
        base = r.npc if base is None else base
        row = {
            "scenario": name,
            f"npc_{cur}": r.npc,
            f"npc_change_{cur}": r.npc - base,
            f"pv_installed_{last}_kwp": float(cap.loc[last, "total_kwp"]),
        }
        for c in cap.columns:
            if c != "total_kwp":
                row[f"{c.removesuffix('_kwp')}_{last}_kwp"] = float(cap.loc[last, c])
        row.update(
            {
                "pv_onsite_total_mwh": float(en["pv_onsite_mwh"].sum()),
                "certificates_total_mwh": float(em["certificates_mwh"].sum()),
                "offsets_total_tco2e": float(em["offsets_tco2e"].sum()),
                f"net_{last}_tco2e": float(em["net_tco2e"].iloc[-1]),
                "milestones_met": f"{sum(bool(m['met']) for m in r.run.milestones)}/{len(r.run.milestones)}",
            }
        )
        rows.append(row)
    return pd.DataFrame(rows).set_index("scenario")


def _as_plan(x: "PlanResult | xr.Dataset | str | Path") -> "tuple[xr.Dataset, str]":
    """Return a plan Dataset and a label from a result, a Dataset, a run folder or a ``plan.nc`` path."""
    import xarray as xr

    if isinstance(x, PlanResult):
        return x.dataset, str(x.dataset.attrs.get("portfolio_name", "plan"))
    if isinstance(x, xr.Dataset):
        return x, str(x.attrs.get("portfolio_name", "plan"))
    from pvopt.report.report import load_plan

    path = Path(x)
    return load_plan(path / "plan.nc" if path.is_dir() else path), str(path)


def diff(a: "PlanResult | xr.Dataset | str | Path", b: "PlanResult | xr.Dataset | str | Path",
         names: tuple[str, str] | None = None) -> Any:
    """Compare two plans side by side: NPC and its split, builds, certificates, offsets, emissions, milestone margins.

    Parameters
    ----------
    a, b
        :class:`PlanResult`, plan Datasets, run folders or ``plan.nc`` paths.
    names
        Labels (default: the run folders, or the portfolio names).

    Returns
    -------
    pvopt.results.diff.PlanDiff
        Tables ``summary``, ``build``, ``yearly``, ``milestones`` with columns ``a``, ``b``, ``diff`` (= b − a),
        and ``warnings`` (e.g. discount rates differ: NPCs not comparable).

    Examples
    --------
    >>> d = pvopt.diff("out/base", "out/gec50")          # doctest: +SKIP
    >>> d.summary.loc["npc"], d.warnings                 # doctest: +SKIP
    """
    from pvopt.results.diff import diff_plans

    (pa, la), (pb, lb) = _as_plan(a), _as_plan(b)
    if names is None:
        names = (la, lb) if la != lb else ("A", "B")
    return diff_plans(pa, pb, names)
