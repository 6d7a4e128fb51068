"""Interactive figures of ``report.html`` (plotly): hover values, zoom, one unit per axis.

Each ``fig_*`` function returns a :class:`plotly.graph_objects.Figure`;
:func:`fig_html` turns it into an HTML fragment. The first figure of a page
carries plotly.js inline (``include_plotlyjs=True``) and the others reuse it,
so the page stays self-contained and opens offline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pvopt.costs import COST_CATEGORIES, TOTAL_COST
from pvopt.report.macc import TYPE_COLORS, TYPE_LABELS

__all__ = ["fig_html", "fig_buildout", "fig_emissions", "fig_dispatch", "fig_macc", "fig_costs", "fig_milestones",
           "fig_monthly_yield", "fig_cashflow", "CONFIG"]

CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "png", "scale": 2}}
"""plotly config of every figure: no logo, resizes with the page, PNG download at twice the size."""
SITE_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0, "xanchor": "left"}


def _go():
    import plotly.graph_objects as go

    return go


def _layout(fig, title: str, *, height: int = 420, legend_y: float = -0.12) -> Any:
    fig.update_layout(title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}}, template="plotly_white", height=height,
                      margin={"l": 70, "r": 20, "t": 50, "b": 40}, legend={**LEGEND_BELOW, "y": legend_y}, hovermode="closest",
                      font={"family": "system-ui, Segoe UI, Helvetica, Arial, sans-serif", "size": 12})
    return fig


def fig_html(fig, *, first: bool, div_id: str) -> str:
    """HTML fragment of ``fig``; plotly.js is inlined only when ``first`` (once per page)."""
    body = fig.to_html(full_html=False, include_plotlyjs=bool(first), config=CONFIG, div_id=div_id, default_width="100%")
    return f"<div class='fig'>{body}</div>"


def _years(plan: xr.Dataset) -> np.ndarray:
    return plan["year"].values.astype(int)


def fig_buildout(plan: xr.Dataset):
    """Installed PV [MWp] by site and kind (stacked) and year; carports hatched."""
    go = _go()
    years = _years(plan)
    inst = plan["installed_kwp"].values
    asite = np.array([str(s) for s in plan["array_site"].values])
    kind = np.array([str(k) for k in plan["array_kind"].values])
    fig = go.Figure()
    for i, s in enumerate(str(x) for x in plan["site"].values):
        for kd, pattern in (("rooftop", ""), ("carport", "/")):
            v = inst[(asite == s) & (kind == kd)].sum(axis=0) / 1000.0
            if v.any():
                fig.add_bar(x=years, y=v, name=f"{s} {kd}", marker={"color": SITE_COLORS[i % 10], "pattern": {"shape": pattern}},
                            hovertemplate=f"{s} {kd}<br>%{{x}}: %{{y:,.2f}} MWp<extra></extra>")
    fig.update_layout(barmode="stack")
    fig.update_xaxes(dtick=1, tickformat="d", title="year")
    fig.update_yaxes(title="installed PV [MWp]", tickformat=",.1f")
    return _layout(fig, "Installed PV by site and year (hatched: carport)")


def fig_emissions(plan: xr.Dataset, em: xr.Dataset, baseline_t: float, milestones: list[tuple[int, str]]):
    """Scope 1 and market-based Scope 2 (stacked), offsets (negative), gross and net lines, milestone years [ktCO2e]."""
    go = _go()
    years = _years(plan)
    k = 1000.0
    fig = go.Figure()
    ht = "%{fullData.name}<br>%{x}: %{y:,.2f} ktCO2e<extra></extra>"
    fig.add_bar(x=years, y=em["scope1_tco2e"].values / k, name="Scope 1", marker_color="#8c564b", hovertemplate=ht)
    fig.add_bar(x=years, y=em["scope2_market_tco2e"].values / k, name="Scope 2 market-based", marker_color="#ff7f0e", hovertemplate=ht)
    fig.add_bar(x=years, y=-em["offsets_tco2e"].values / k, name="offsets retired (negative)", marker_color="#2ca02c", hovertemplate=ht)
    fig.add_scatter(x=years, y=em["gross_location_tco2e"].values / k, name="Scope 1 + Scope 2 location-based", mode="lines+markers",
                    line={"color": "black", "dash": "dash"}, hovertemplate=ht)
    fig.add_scatter(x=years, y=em["net_tco2e"].values / k, name="net (S1 + S2 market − offsets)", mode="lines+markers",
                    line={"color": "#1f3fbf"}, hovertemplate=ht)
    fig.add_hline(y=baseline_t / k, line={"color": "grey", "dash": "dot", "width": 1},
                  annotation_text=f"baseline {plan.attrs.get('baseline_year', '')}", annotation_position="top left")
    for n, (y, name) in enumerate(milestones):
        fig.add_vline(x=y, line={"color": "red", "width": 1}, opacity=0.5)
        fig.add_annotation(x=y, y=1.0 - 0.07 * (n % 3), yref="paper", text=name, showarrow=False, font={"size": 10, "color": "#b00000"},
                           xanchor="left", bgcolor="rgba(255,255,255,0.7)")
    fig.update_layout(barmode="relative")
    fig.update_xaxes(dtick=1, tickformat="d", title="year")
    fig.update_yaxes(title="emissions [ktCO2e]", tickformat=",.0f", zeroline=True, zerolinecolor="black")
    return _layout(fig, "Emissions by scope against the milestones (portfolio)", height=460)


def fig_dispatch(plan: xr.Dataset, j: int, h0: int, load_kw: np.ndarray, title: str, start: pd.Timestamp):
    """One hourly week per site (rows, one MW axis each): onsite PV, grid import, export, curtailment, load line."""
    from plotly.subplots import make_subplots

    sites = [str(s) for s in plan["site"].values]
    wk = slice(h0, h0 + 168)
    t = start + pd.to_timedelta(np.arange(168), unit="h")
    fig = make_subplots(rows=len(sites), cols=1, shared_xaxes=True, vertical_spacing=0.03, subplot_titles=sites)
    parts = [("pv_onsite_kw", "PV used onsite", "#2ca02c"), ("grid_import_kw", "grid import", "#b0b0b0"),
             ("export_kw", "PV exported", "#1f77b4"), ("curtailed_kw", "PV curtailed", "#d62728")]
    for i, s in enumerate(sites):
        for var, name, color in parts:
            if var not in plan:
                continue
            fig.add_scatter(x=t, y=plan[var].values[i, j, wk].astype(float) / 1000.0, name=name, stackgroup=f"s{i}", line={"width": 0.5, "color": color},
                            legendgroup=name, showlegend=i == 0, row=i + 1, col=1, hovertemplate=f"{s} {name}: %{{y:,.2f}} MW<extra></extra>")
        fig.add_scatter(x=t, y=load_kw[i, j, wk] / 1000.0, name="load", line={"color": "black", "width": 1.2}, legendgroup="load",
                        showlegend=i == 0, row=i + 1, col=1, hovertemplate=f"{s} load: %{{y:,.2f}} MW<extra></extra>")
        fig.update_yaxes(title_text="MW", tickformat=",.1f", row=i + 1, col=1)
    fig.update_xaxes(tickformat="%a %d %b", dtick=86400000)
    fig.update_layout(hovermode="x unified")
    return _layout(fig, title, height=170 * len(sites) + 140, legend_y=-0.04)


def fig_macc(bars: pd.DataFrame, currency: str):
    """MACC: bar width = annualised tCO2e/yr, height = cost per tCO2e (clipped outliers marked and labelled)."""
    go = _go()
    fig = go.Figure()
    for typ, g in bars.groupby("type", sort=False):
        fig.add_bar(x=(g["x0"] + g["width_tco2e_per_year"] / 2) / 1000.0, y=g["height"], width=g["width_tco2e_per_year"] / 1000.0,
                    name=TYPE_LABELS.get(str(typ), str(typ)), marker={"color": TYPE_COLORS.get(str(typ), "grey"), "line": {"color": "black", "width": 0.5},
                                                                       "opacity": [1.0 if u else 0.45 for u in g["used_in_plan"]],
                                                                       "pattern": {"shape": ["x" if c else "" for c in g["clipped"]]}},
                    customdata=np.column_stack([g["option"], g["cost"], g["width_tco2e_per_year"], np.where(g["used_in_plan"], "yes", "no")]),
                    hovertemplate=("%{customdata[0]}<br>cost %{customdata[1]:,.0f} " + currency + "/tCO2e<br>"
                                   "abates %{customdata[2]:,.0f} tCO2e/yr<br>used in the plan: %{customdata[3]}<extra></extra>"))
    lo, hi = bars.attrs.get("ylim", (float(bars["height"].min()), float(bars["height"].max())))
    span = max(hi - lo, 1.0)
    for _, r in bars.iterrows():  # every label above the bar or the zero line, clear of the axis and the legend
        fig.add_annotation(x=(r["x0"] + r["width_tco2e_per_year"] / 2) / 1000.0, y=max(float(r["height"]), 0.0), text=r["label"], textangle=-90,
                           showarrow=False, font={"size": 10, "color": "#b00000" if r["clipped"] else "#222"}, yanchor="bottom", yshift=3)
    top = hi + max(0.45 * span, 1.1 * max(-lo, 0.0))
    fig.update_yaxes(range=[lo - 0.05 * span if lo < 0 else -0.05 * span, top], title=f"cost [{currency}/tCO2e]", tickformat=",.0f",
                     zeroline=True, zerolinecolor="black")
    fig.update_xaxes(title="abatement [ktCO2e/yr], annualised over the plan years", tickformat=",.1f")
    fig.update_layout(bargap=0)
    return _layout(fig, "Marginal abatement cost curve (negative: saves money; pale: not used in the plan; crossed: clipped)", height=640)


def fig_costs(stack: pd.DataFrame, currency: str):
    """Undiscounted portfolio cost by category and year [million currency]; revenues below zero; total line."""
    go = _go()
    years = stack.index.values.astype(int)
    fig = go.Figure()
    for c in COST_CATEGORIES:
        v = stack[c.name].values / 1e6
        if np.any(v):
            fig.add_bar(x=years, y=v, name=c.label, marker_color=c.color, hovertemplate=f"{c.label}<br>%{{x}}: %{{y:,.2f}} M{currency}<extra></extra>")
    fig.add_scatter(x=years, y=stack[TOTAL_COST].values / 1e6, name="total (costs less revenues)", mode="lines+markers", line={"color": "black"},
                    hovertemplate=f"total<br>%{{x}}: %{{y:,.2f}} M{currency}<extra></extra>")
    fig.update_layout(barmode="relative")
    fig.update_xaxes(dtick=1, tickformat="d", title="year")
    fig.update_yaxes(title=f"million {currency} (undiscounted)", tickformat=",.1f")
    return _layout(fig, "Cost by category and year (portfolio)")


def fig_milestones(ms: pd.DataFrame, currency: str):
    """Marginal cost of each milestone, one panel (and axis) per unit of the milestone's target."""
    from plotly.subplots import make_subplots

    col = next((c for c in ms.columns if c.startswith("marginal_cost_") and c.endswith("_npv_per_unit")), f"marginal_cost_{currency.lower()}_npv_per_unit")
    per = ms["marginal_cost_per"].astype(str) if "marginal_cost_per" in ms else ms["unit"].astype(str)
    units = list(dict.fromkeys(per)) or ["-"]
    fig = make_subplots(rows=len(units), cols=1, subplot_titles=[f"per {u}" for u in units], vertical_spacing=0.12 if len(units) > 1 else 0.0)
    for r, u in enumerate(units, start=1):
        g = ms[per.values == u]
        v = g[col].fillna(0.0).astype(float).values
        lab = [f"{m} ({y})" for m, y in zip(g["milestone"], g["year"])]
        fig.add_bar(x=v, y=lab, orientation="h", marker_color=["#2ca02c" if m else "#d62728" for m in g["met"]], showlegend=False,
                    text=[f"{x:,.1f}" for x in v], textposition="outside", cliponaxis=False, row=r, col=1,
                    hovertemplate="%{y}: %{x:,.2f} " + currency + f" NPV per {u}<extra></extra>")
        fig.update_xaxes(title_text=f"{currency} NPV per {u}", tickformat=",.3~r", rangemode="tozero", range=[0, max(float(v.max()) if len(v) else 0, 1.0) * 1.25],
                         row=r, col=1)
        fig.update_yaxes(autorange="reversed", row=r, col=1)
    fig.update_layout(margin={"l": 200})
    return _layout(fig, "Marginal cost of each milestone (green: met): NPC change per unit of tightening, one panel per unit",
                   height=110 * len(units) + 34 * len(ms) + 90)


def fig_monthly_yield(monthly: pd.DataFrame):
    """Per array and month: specific yield [kWh/kWp] (top) and plane-of-array irradiance [kWh/m²/day] (bottom, when known)."""
    from plotly.subplots import make_subplots

    has_poa = "poa_kwh_per_m2_day" in monthly and monthly["poa_kwh_per_m2_day"].notna().any()
    rows = 2 if has_poa else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=["AC specific yield [kWh/kWp]", "plane-of-array irradiance [kWh/m²/day]"][:rows])
    months = pd.date_range("2023-01-01", periods=12, freq="MS").strftime("%b")
    for k, (a, g) in enumerate(monthly.groupby("array", sort=False)):
        c = SITE_COLORS[k % 10]
        fig.add_scatter(x=months, y=g["specific_yield_kwh_per_kwp"], name=str(a), legendgroup=str(a), line={"color": c}, row=1, col=1,
                        hovertemplate=f"{a}<br>%{{x}}: %{{y:,.1f}} kWh/kWp<extra></extra>")
        if has_poa:
            fig.add_scatter(x=months, y=g["poa_kwh_per_m2_day"], name=str(a), legendgroup=str(a), showlegend=False, line={"color": c},
                            row=2, col=1, hovertemplate=f"{a}<br>%{{x}}: %{{y:,.2f}} kWh/m²/day<extra></extra>")
    fig.update_yaxes(title_text="kWh/kWp", tickformat=",.0f", row=1, col=1)
    if has_poa:
        fig.update_yaxes(title_text="kWh/m²/day", tickformat=",.1f", row=2, col=1)
    return _layout(fig, "Monthly yield per array (as PVWatts shows it)", height=330 * rows + 160, legend_y=-0.08)


def fig_cashflow(cf: pd.DataFrame, currency: str):
    """Cumulative cash flow of the plan against business-as-usual [million currency]; payback where it crosses zero."""
    go = _go()
    years = cf["year"].values.astype(int)
    fig = go.Figure()
    fig.add_bar(x=years, y=cf["saving"].values / 1e6, name="saving in the year (BAU cost − plan cost)", marker_color="#9ecae1",
                hovertemplate=f"%{{x}}: %{{y:,.2f}} M{currency}<extra></extra>")
    fig.add_scatter(x=years, y=cf["cumulative"].values / 1e6, name="cumulative saving", mode="lines+markers", line={"color": "#08519c", "width": 2.5},
                    hovertemplate=f"%{{x}}: %{{y:,.2f}} M{currency}<extra></extra>")
    fig.add_hline(y=0, line={"color": "black", "width": 1})
    fig.update_xaxes(dtick=1, tickformat="d", title="year")
    fig.update_yaxes(title=f"million {currency} (undiscounted)", tickformat=",.1f")
    return _layout(fig, "Cash flow against business-as-usual: saving per year and cumulative", height=400)
