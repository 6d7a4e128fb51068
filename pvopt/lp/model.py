"""The planning LP (docs/formulation.md): the public names of the LP layer in one place.

The model is built in named steps spread over small modules:

* :mod:`pvopt.lp.options` — :class:`SolveOptions`, :class:`Status`;
* :mod:`pvopt.lp.data` — read-only views of the LP-input Dataset;
* :mod:`pvopt.lp.reductions` — the exact hour classes (Z, F, K, C);
* :mod:`pvopt.lp.variables` — one ``define_*`` per variable family;
* :mod:`pvopt.lp.rows` — one ``define_*_rows`` per hourly/annual row family;
* :mod:`pvopt.lp.emissions`, :mod:`pvopt.lp.milestones`, :mod:`pvopt.lp.objective`;
* :mod:`pvopt.lp.build` — :func:`build_model`; :mod:`pvopt.lp.solve` — :func:`solve_plan`;
* :mod:`pvopt.lp.highs` — the bulk HiGHS hand-over; :mod:`pvopt.lp.solution` — solution to plan Dataset.

The optimiser reads only the input Dataset of :func:`pvopt.lp.inputs.build_plan_inputs`
and never imports pvlib.
"""

from __future__ import annotations

from pvopt.constants import KWH_PER_MWH
from pvopt.lp.build import PlanModel, build_model, hourly_var
from pvopt.lp.data import degradation_factor, discount_factors, existing_effective_kwp, kind_index, milestones_of
from pvopt.lp.milestones import ELASTIC_PENALTY, MilestoneRows
from pvopt.lp.options import SolveOptions, Status
from pvopt.lp.reductions import classify_hours, full_hour_sites, hourly_matching_formulation, matching_groups
from pvopt.lp.solve import PlanSolution, diagnose, solve_model, solve_plan
from pvopt.lp.variables import MatchingPool, SiteYearBlock

__all__ = [
    "SolveOptions", "Status", "PlanModel", "PlanSolution", "SiteYearBlock", "MatchingPool", "MilestoneRows", "build_model", "solve_model",
    "solve_plan", "diagnose", "hourly_var", "classify_hours", "full_hour_sites", "hourly_matching_formulation", "matching_groups", "degradation_factor", "existing_effective_kwp",
    "discount_factors", "kind_index", "milestones_of", "ELASTIC_PENALTY", "KWH_PER_MWH",
]
