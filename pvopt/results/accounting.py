"""Emissions accounting of a plan: GHG Protocol dual Scope 2 reporting, offsets, checks.

Reads only the plan Dataset (see :mod:`pvopt.lp.solution`); it imports neither
pvlib nor Pyomo. The method, with its sources, is in ``docs/accounting.md``:

- Scope 2 location-based = grid MWh x grid factor;
- Scope 2 market-based = (grid MWh - certificate MWh) x residual factor
  (certificates never exceed the grid MWh they are claimed against);
- onsite PV used is zero-emission and is *not* deducted again: it already
  reduced the grid MWh, so it never appears as a certificate or an offset;
- net = Scope 1 + market-based Scope 2 - offsets.

All tables are :class:`pandas.DataFrame` with the unit in every column name.
Quantities are recomputed here from energy and factors (not copied from the
plan's emission variables), so :func:`identities` can check the two agree.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pvopt.milestones import MILESTONE_TYPES

__all__ = [
    "ALL",
    "emissions_dataset",
    "emissions_table",
    "baseline_table",
    "checks_table",
    "identities",
    "assert_identities",
    "ABS_TOL_TCO2E",
    "ABS_TOL_MWH",
]

ALL = "ALL"
"""Site label of portfolio rows."""
KWH_PER_MWH = 1000.0
ABS_TOL_TCO2E = 1e-3
"""Tolerance of the accounting identities on annual totals [tCO2e]."""
ABS_TOL_MWH = 1e-3
"""Tolerance of the energy identities on annual totals [MWh] (hourly data are float32 in plan.nc)."""
REL_TOL_HOURLY = 1e-4
"""Relative tolerance of the hourly energy identities (float32 storage)."""


def _str(values: Any) -> list[str]:
    return [str(v) for v in np.asarray(values).ravel()]


def milestones(plan: xr.Dataset) -> list[dict[str, Any]]:
    """Milestone definitions as written in the input (``attrs['milestones_json']``)."""
    return json.loads(plan.attrs.get("milestones_json", "[]") or "[]")


def emissions_dataset(plan: xr.Dataset) -> xr.Dataset:
    """Per site and year: energy, Scope 1, dual Scope 2, offsets and net [MWh, tCO2e].

    Parameters
    ----------
    plan
        Plan Dataset (``plan.nc``).

    Returns
    -------
    xarray.Dataset
        Variables on ``(site, year)``: ``load_mwh``, ``pv_onsite_mwh``,
        ``grid_import_mwh``, ``certificates_mwh``, ``scope1_tco2e`` (Scope 1 after
        measures: the plan's ``scope1_after_measures_tco2e``),
        ``scope2_location_tco2e``, ``scope2_market_tco2e``, ``offsets_tco2e``,
        ``gross_location_tco2e`` (S1 + S2 location), ``gross_market_tco2e``
        (S1 + S2 market), ``net_tco2e``, ``pv_avoided_location_tco2e`` and
        ``pv_avoided_market_tco2e`` (onsite PV MWh x factor: what the grid
        would have emitted for that energy, shown for information; it is
        already inside Scope 2 and is never subtracted again),
        ``certificate_avoided_tco2e`` (certificate MWh x residual factor).
    """
    grid = plan["grid_import_mwh"]
    cert = plan["certificates_mwh"]
    ef = plan["grid_ef_t_per_mwh"]
    res = plan["residual_ef_t_per_mwh"]
    s1 = plan["scope1_after_measures_tco2e"]
    off = plan["offsets_tco2e"]
    s2l = grid * ef
    s2m = (grid - cert).clip(min=0.0) * res
    out = xr.Dataset(
        {
            "load_mwh": plan["load_mwh"],
            "pv_onsite_mwh": plan["pv_onsite_mwh"],
            "grid_import_mwh": grid,
            "certificates_mwh": cert,
            "scope1_tco2e": s1,
            "scope2_location_tco2e": s2l,
            "scope2_market_tco2e": s2m,
            "offsets_tco2e": off,
            "gross_location_tco2e": s1 + s2l,
            "gross_market_tco2e": s1 + s2m,
            "net_tco2e": s1 + s2m - off,
            "pv_avoided_location_tco2e": plan["pv_onsite_mwh"] * ef,
            "pv_avoided_market_tco2e": plan["pv_onsite_mwh"] * res,
            "certificate_avoided_tco2e": cert.clip(max=grid) * res,
        }
    )
    for k in out.data_vars:
        out[k].attrs = {"units": "MWh" if str(k).endswith("_mwh") else "tCO2e"}
    return out


def baseline_table(plan: xr.Dataset) -> pd.DataFrame:
    """Baseline-year emissions per site and for the portfolio (``site == 'ALL'``).

    The baseline had no certificates and no offsets. Its market-based Scope 2
    is the baseline grid MWh x the residual factor of the first planning year
    (the Dataset holds no baseline-year residual factor); where the residual
    factor defaults to the grid factor this equals the location-based figure.
    """
    sites = _str(plan["site"].values)
    grid = plan["baseline_grid_mwh"].values.astype(float)
    s1 = plan["baseline_scope1_tco2e"].values.astype(float)
    s2l = plan["baseline_scope2_location_tco2e"].values.astype(float)
    s2m = grid * plan["residual_ef_t_per_mwh"].isel(year=0).values
    df = pd.DataFrame({
        "site": sites,
        "year": int(plan.attrs.get("baseline_year", -1)),
        "grid_import_mwh": grid,
        "scope1_tco2e": s1,
        "scope2_location_tco2e": s2l,
        "scope2_market_tco2e": s2m,
        "gross_location_tco2e": s1 + s2l,
        "gross_market_tco2e": s1 + s2m,
    })
    tot = df.drop(columns=["site", "year"]).sum().to_frame().T
    tot.insert(0, "site", ALL)
    tot.insert(1, "year", int(plan.attrs.get("baseline_year", -1)))
    return pd.concat([df, tot], ignore_index=True)


def emissions_table(plan: xr.Dataset) -> pd.DataFrame:
    """One row per site and year, plus portfolio rows (``site == 'ALL'``), with change against the baseline.

    Columns are those of :func:`emissions_dataset` plus
    ``gross_location_change_vs_baseline_pct``, ``gross_market_change_vs_baseline_pct``
    and ``net_change_vs_baseline_pct`` (net against the baseline's gross
    market-based figure) [%].

    Examples
    --------
    >>> from pvopt.results.accounting import emissions_table  # doctest: +SKIP
    >>> emissions_table(xr.open_dataset("out/lead/plan.nc")).query("site == 'ALL'")  # doctest: +SKIP
    """
    em = emissions_dataset(plan)
    df = em.to_dataframe().reset_index()
    tot = em.sum("site").to_dataframe().reset_index()
    tot.insert(0, "site", ALL)
    df = pd.concat([df, tot], ignore_index=True)
    df["site"] = df["site"].astype(str)
    base = baseline_table(plan).set_index("site")
    for col, bcol in [("gross_location", "gross_location_tco2e"), ("gross_market", "gross_market_tco2e"), ("net", "gross_market_tco2e")]:
        b = df["site"].map(base[bcol])
        with np.errstate(divide="ignore", invalid="ignore"):
            df[f"{col}_change_vs_baseline_pct"] = np.where(b > 0, (df[f"{col}_tco2e"] - b) / b * 100.0, np.nan)
    return df


def checks_table(plan: xr.Dataset) -> pd.DataFrame:
    """Peak and neutrality checks, one row per check.

    Always: the portfolio's gross market-based and location-based peak year.
    For each ``emissions_peak`` milestone: the largest year-on-year rise of
    gross emissions from its year on (met when <= 0.1 % of the peak).
    For each ``neutrality`` milestone: the worst net figure from its year on,
    for its site or the portfolio (met when <= 0.1 % of the baseline).

    Columns: ``check``, ``scope``, ``from_year``, ``value_tco2e``, ``met``, ``detail``.
    """
    em = emissions_dataset(plan)
    years = [int(y) for y in plan["year"].values]
    base = baseline_table(plan)
    base_total = float(base.loc[base.site == ALL, "gross_location_tco2e"].iloc[0])
    rows = []
    for basis in ("market", "location"):
        g = em[f"gross_{basis}_tco2e"].sum("site").values
        k = int(np.argmax(g >= g.max() - 1e-3 * max(1.0, float(g.max()))))  # first year within 0.1 % of the maximum
        rows.append({"check": f"peak year (gross, {basis}-based)", "scope": ALL, "from_year": years[0],
                     "value_tco2e": float(g[k]), "met": True, "detail": f"highest gross emissions in {years[k]}"})
    for ms in milestones(plan):
        spec = MILESTONE_TYPES[ms["type"]]
        if not spec.emissions:
            continue
        value = spec.achieved(plan, ms)
        met = spec.met(plan, ms, value, spec.target(ms, base_total), base_total)
        if ms["type"] == "emissions_peak":
            check = f"{ms['name']}: no rise after {ms['year']} ({ms.get('scope2', 'market')}-based)"
            scope, detail = ALL, "largest year-on-year rise"
        else:
            check = f"{ms['name']}: net <= 0 from {ms['year']}"
            scope, detail = ms.get("site") or ALL, "worst net year"
        rows.append({"check": check, "scope": scope, "from_year": int(ms["year"]), "value_tco2e": value, "met": met, "detail": detail})
    return pd.DataFrame(rows, columns=["check", "scope", "from_year", "value_tco2e", "met", "detail"])


def identities(plan: xr.Dataset) -> pd.DataFrame:
    """Accounting identities and their largest residual, one row each.

    ``location - market = grid x (grid factor - residual factor) + certificates x residual factor``
    (so with residual = grid factor the difference is certificate MWh x factor);
    ``onsite + grid + battery discharge − charge = load after measures`` (annual and
    hourly; the plan's ``load_mwh`` and ``load_after_measures_kw``); ``onsite <= generation``
    (hourly); ``generation = onsite + export + curtailed`` (annual);
    ``certificates <= grid``; ``net = S1 + S2 market - offsets``; and the
    recomputed Scope 2 equal the plan's stored figures.

    Returns
    -------
    pandas.DataFrame
        ``identity``, ``max_abs_residual``, ``unit``, ``tolerance``, ``ok``.
    """
    em = emissions_dataset(plan)
    ef, res = plan["grid_ef_t_per_mwh"], plan["residual_ef_t_per_mwh"]
    grid, cert = plan["grid_import_mwh"], plan["certificates_mwh"]
    rows: list[tuple[str, float, str, float]] = []

    def add(name: str, resid: Any, unit: str, tol: float) -> None:
        rows.append((name, float(np.max(np.abs(np.asarray(resid)), initial=0.0)), unit, tol))

    scale_t = max(1.0, float(em["gross_location_tco2e"].max()))
    scale_mwh = max(1.0, float(plan["load_mwh"].max()))
    tol_t = ABS_TOL_TCO2E * scale_t / 1e3 + ABS_TOL_TCO2E
    tol_mwh = ABS_TOL_MWH * scale_mwh / 1e3 + ABS_TOL_MWH
    add("location - market = grid x (ef - residual) + certificates x residual",
        (em["scope2_location_tco2e"] - em["scope2_market_tco2e"]) - (grid * (ef - res) + cert * res), "tCO2e", tol_t)
    batt = (plan["battery_discharge_mwh"] - plan["battery_charge_mwh"]) if "battery_charge_mwh" in plan else 0.0
    add("onsite + grid + battery discharge - charge = load after measures (annual)",
        plan["pv_onsite_mwh"] + grid + batt - plan["load_mwh"], "MWh", tol_mwh)
    add("generation = onsite + export + curtailed (annual)",
        plan["pv_generated_mwh"] - plan["pv_onsite_mwh"] - plan["export_mwh"] - plan["curtailed_mwh"], "MWh", tol_mwh)
    add("certificates <= grid", (cert - grid).clip(min=0.0), "MWh", tol_mwh)
    add("net = S1 + S2 market - offsets", em["net_tco2e"] - (plan["scope1_after_measures_tco2e"] + plan["scope2_market_tco2e"] - plan["offsets_tco2e"]), "tCO2e", tol_t)
    add("S2 location recomputed = plan", em["scope2_location_tco2e"] - plan["scope2_location_tco2e"], "tCO2e", tol_t)
    add("S2 market recomputed = plan", em["scope2_market_tco2e"] - plan["scope2_market_tco2e"], "tCO2e", tol_t)
    if "pv_onsite_kw" in plan:
        # the load the plan serves: after adopted measures (load_kw is the input, before measures)
        load = (plan["load_after_measures_kw"] if "load_after_measures_kw" in plan else plan["load_kw"]).values.astype(float)
        on = plan["pv_onsite_kw"].values.astype(float)
        gi = plan["grid_import_kw"].values.astype(float)
        gen = plan["pv_generated_kw"].values.astype(float)
        bh = (plan["battery_discharge_kw"].values.astype(float) - plan["battery_charge_kw"].values.astype(float)
              if "battery_charge_kw" in plan else 0.0)
        tol_h = REL_TOL_HOURLY * max(1.0, float(load.max()))
        add("onsite + grid + battery discharge - charge = load after measures (hourly)", on + gi + bh - load, "kW", tol_h)
        add("onsite <= generation (hourly)", np.clip(on - gen, 0.0, None), "kW", tol_h)
    df = pd.DataFrame(rows, columns=["identity", "max_abs_residual", "unit", "tolerance"])
    df["ok"] = df["max_abs_residual"] <= df["tolerance"]
    return df


def assert_identities(plan: xr.Dataset) -> pd.DataFrame:
    """:func:`identities`, raising :class:`AssertionError` that names every identity that fails."""
    df = identities(plan)
    bad = df[~df["ok"]]
    if len(bad):
        raise AssertionError("accounting identities fail: " + "; ".join(
            f"{r.identity}: residual {r.max_abs_residual:.6g} {r.unit} > tolerance {r.tolerance:.3g}" for r in bad.itertuples()))
    return df
