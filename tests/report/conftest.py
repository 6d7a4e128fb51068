"""One solved small plan (with business-as-usual) and its report, shared by the report tests and the browser test."""

from __future__ import annotations

import pytest

from pvopt.io import write_netcdf_atomic
from pvopt.lp.model import SolveOptions
from pvopt.lp.outcome import solve
from pvopt.pipeline import with_business_as_usual
from pvopt.report import report as R
from pvopt.testing import small_inputs

from _finance_plan import NEUTRAL_YEAR


def _plan_with_bau():
    d = small_inputs(milestones=[{"name": "neutral", "type": "neutrality", "year": NEUTRAL_YEAR},
                                 {"name": "peak", "type": "emissions_peak", "year": 2024}])
    d["residual_ef_t_per_mwh"] = d["grid_ef_t_per_mwh"].copy()
    d["capex_per_kwp"][1] = d["capex_per_kwp"][1] * 10.0  # carports left unbuilt
    return with_business_as_usual(d, solve(d, SolveOptions()).plan)


@pytest.fixture(scope="session")
def report_run(tmp_path_factory):
    """A run folder with plan.nc (small plan against business-as-usual) and the report written from it."""
    d = tmp_path_factory.mktemp("run")
    write_netcdf_atomic(_plan_with_bau(), d / "plan.nc")
    R.write_report(d)
    return d
