"""One-screen text summary of a loaded portfolio, for ``pvopt validate``."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
import xarray as xr

from pvopt.inputs.schema import Portfolio
from pvopt.inputs.profiles import growth_factor
from pvopt.inputs.summary import baseline_emissions
from pvopt.milestones import describe as describe_milestone

__all__ = ["validate_summary", "print_plan_outputs", "build_list_table"]


def validate_summary(portfolio: Portfolio, *, width: int = 110) -> str:
    """Build a one-screen plain-text summary of ``portfolio``.

    Lists each site (arrays, max kWp by kind, existing kWp, load in the first
    planning year, baseline Scope 1 and location-based Scope 2), portfolio
    totals and the milestones. See the module docstring for the baseline
    accounting.
    """
    st = portfolio.settings
    first = st.planning.first_year
    base = baseline_emissions(portfolio)
    cur = st.currency
    table = Table(title=None, show_footer=True, box=None, pad_edge=False)
    cols = [
        ("site", "total", "left"),
        ("arrays", "", "right"),
        ("rooftop kWp max", "", "right"),
        ("carport kWp max", "", "right"),
        ("existing kWp", "", "right"),
        (f"load {first} MWh", "", "right"),
        (f"Scope 1 {st.planning.baseline_year} t", "", "right"),
        (f"Scope 2 loc. {st.planning.baseline_year} t", "", "right"),
        ("export", "", "left"),
    ]
    totals = [0.0] * 7
    rows = []
    for s in portfolio.sites:
        roof = sum(a.max_kwp_value for a in s.arrays if a.kind == "rooftop")
        car = sum(a.max_kwp_value for a in s.arrays if a.kind == "carport")
        ex = sum(a.existing_kwp for a in s.arrays)
        load = s.load.annual_mwh * growth_factor(s.load, first)
        vals = [len(s.arrays), roof, car, ex, load, base.loc[s.name, "scope1_tco2e"], base.loc[s.name, "scope2_location_tco2e"]]
        totals = [t + v for t, v in zip(totals, vals)]
        rows.append([s.name, str(len(s.arrays)), *(f"{v:,.0f}" for v in vals[1:]), s.export.policy])
    footers = ["total", str(int(totals[0])), *(f"{v:,.0f}" for v in totals[1:]), ""]
    for (name, _, justify), foot in zip(cols, footers):
        table.add_column(name, footer=foot, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(*r)

    buf = io.StringIO()
    con = Console(file=buf, width=width, color_system=None, force_terminal=False, record=False)
    years = st.planning
    con.print(
        f"Portfolio '{st.name}': {len(portfolio.sites)} sites, planning {years.first_year}-{years.last_year}, "
        f"baseline {years.baseline_year}, currency {cur}, discount rate {years.discount_rate:.1%}"
    )
    con.print(table)
    s12 = base["total_tco2e"].sum()
    con.print(
        f"Baseline {years.baseline_year} Scope 1 + location-based Scope 2: {s12:,.0f} tCO2e "
        f"(Scope 1 {base['scope1_tco2e'].sum():,.0f} t = {base['scope1_tco2e'].sum() / s12:.1%}); "
        "grid MWh = whole load, existing PV not subtracted."
    )
    synth = [s.name for s in portfolio.sites if s.weather.source == "synthetic"]
    if synth:
        con.print(f"Weather: synthetic typical year from monthly normals for {', '.join(synth)}.")
    certs = ", ".join(f"{c.name} {c.first_year}-{c.last_year}" for c in st.certificates) or "none"
    con.print(f"Certificates: {certs}. Offsets: {'priced' if st.offsets else 'none'}.")
    con.print(f"Milestones ({len(st.milestones)}):")
    for m in st.milestones:
        con.print(f"  - {describe_milestone(m)}", highlight=False, markup=False)
    return buf.getvalue()


def build_list_table(plan: xr.Dataset) -> Table:
    """Build the build list as a rich table: array, kind, year, new kWp, capex, yield, onsite share, why (partial builds explained)."""
    from pvopt.results.buildlist import build_list

    cur = str(plan.attrs.get("currency", ""))
    bl = build_list(plan)
    t = Table(title="Build list: new PV by array and year, and why", header_style="bold", title_justify="left")
    for c, j in (("array", "left"), ("kind", "left"), ("year", "right"), ("new kWp", "right"), (f"capex k{cur}", "right"),
                 ("MWh/yr", "right"), ("onsite %", "right"), ("why", "left")):
        t.add_column(c, justify=j, overflow="fold")  # type: ignore[arg-type]
    for _, r in bl.iterrows():
        why = r["why"] + (f"\n{r['partial']}" if r["partial"] else "")
        t.add_row(r["array"], r["kind"], str(r["year"]), f"{r['new_kwp']:,.0f}", f"{r[f'capex_{cur.lower()}'] / 1000:,.0f}",
                  f"{r['annual_yield_mwh']:,.0f}", f"{r['onsite_share_pct']:.0f}", why)
    return t


def print_plan_outputs(plan: xr.Dataset, console: Console) -> None:
    """Print the plan against business as usual (two lines) and the build list."""
    from pvopt.results.bau import summary_lines

    for line in summary_lines(plan):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if float(plan["build_kwp"].sum()) > 0:
        console.print(build_list_table(plan))
