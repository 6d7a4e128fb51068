"""Small solved plans for the accounting, finance and report tests (not a test module)."""

from __future__ import annotations

import xarray as xr

from pvopt.lp.model import SolveOptions
from pvopt.lp.outcome import solve
from pvopt.testing import small_inputs

NEUTRAL_YEAR = 2026


def solved_small_plan(*, residual_equals_grid: bool = True, expensive_carports: bool = True) -> xr.Dataset:
    """Solve :func:`pvopt.testing.small_inputs` (2 sites, 3 years) and return the plan Dataset.

    ``expensive_carports`` multiplies carport capex by 10 so the plan leaves
    carports unbuilt (exercising the "not built" finance rows).
    """
    d = small_inputs(milestones=[{"name": "neutral", "type": "neutrality", "year": NEUTRAL_YEAR},
                                 {"name": "peak", "type": "emissions_peak", "year": 2024}])
    if residual_equals_grid:
        d["residual_ef_t_per_mwh"] = d["grid_ef_t_per_mwh"].copy()
    if expensive_carports:
        d["capex_per_kwp"][1] = d["capex_per_kwp"][1] * 10.0
    opts = SolveOptions()
    return solve(d, opts).plan
