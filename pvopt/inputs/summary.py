"""One-screen text summary of a loaded portfolio, for ``pvopt validate``.

Baseline accounting used here (before any optimisation):

- baseline grid electricity = the site's load in the baseline year
  (``annual_mwh`` grown or discounted to that year); existing PV is **not**
  subtracted, because its output needs the yield layer (pvlib) and this
  module stays in the inputs layer. This overstates baseline Scope 2 by the
  existing PV's onsite output.
- location-based Scope 2 = baseline grid MWh x the grid factor of the
  baseline year [tCO2e];
- Scope 1 = ``scope1_tco2e`` of the baseline year.
"""

from __future__ import annotations

import io

import pandas as pd

from pvopt.inputs.schema import Portfolio, series_value
from pvopt.milestones import describe as describe_milestone
from pvopt.inputs.profiles import growth_factor

__all__ = ["baseline_emissions", "validate_summary"]


def baseline_emissions(portfolio: Portfolio) -> pd.DataFrame:
    """Baseline-year emissions per site.

    Returns
    -------
    pandas.DataFrame
        Indexed by site name, columns ``scope1_tco2e`` [tCO2e], ``grid_mwh``
        [MWh] (the whole baseline-year load, existing PV not subtracted),
        ``grid_ef_t_per_mwh`` [tCO2/MWh], ``scope2_location_tco2e`` [tCO2e]
        and ``total_tco2e`` [tCO2e]. ``attrs["year"]`` is the baseline year.
    """
    year = portfolio.settings.planning.baseline_year
    rows = []
    for s in portfolio.sites:
        grid_mwh = s.load.annual_mwh * growth_factor(s.load, year)
        ef = series_value(s.grid_ef_t_per_mwh, year)
        s1 = series_value(s.scope1_tco2e, year)
        rows.append(
            {
                "site": s.name,
                "scope1_tco2e": s1,
                "grid_mwh": grid_mwh,
                "grid_ef_t_per_mwh": ef,
                "scope2_location_tco2e": grid_mwh * ef,
                "total_tco2e": s1 + grid_mwh * ef,
            }
        )
    df = pd.DataFrame(rows).set_index("site")
    df.attrs["year"] = year
    return df


def validate_summary(portfolio: Portfolio, *, width: int = 110) -> str:
    """A one-screen plain-text summary of ``portfolio``.

    Lists each site (arrays, max kWp by kind, existing kWp, load in the first
    planning year, baseline Scope 1 and location-based Scope 2), portfolio
    totals and the milestones. See the module docstring for the baseline
    accounting.
    """
    from rich.console import Console
    from rich.table import Table

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
