"""Baseline emissions of a loaded portfolio (before any optimisation).

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


import pandas as pd

from pvopt.inputs.schema import Portfolio, series_value
from pvopt.inputs.profiles import growth_factor

__all__ = ["baseline_emissions"]


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
