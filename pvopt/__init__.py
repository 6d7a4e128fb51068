"""pvopt: plan rooftop and carport PV, grid power, certificates and offsets for multi-site manufacturers.

Layers, one-way: inputs (:mod:`pvopt.inputs.schema`, :mod:`pvopt.inputs.loading`,
:mod:`pvopt.pv.weather`, :mod:`pvopt.inputs.profiles`) -> yield (:mod:`pvopt.pv.yields`,
pvlib) -> optimise (:mod:`pvopt.lp.model`, Pyomo/HiGHS) -> accounting and
reports. Nothing happens on import, and pvlib and Pyomo are imported only
when a function needs them.

The notebook API (:mod:`pvopt.api`)::

    import pvopt
    pf = pvopt.load_portfolio("sites/lead")
    pf = pvopt.with_array(pf, "suzhou", {"name": "car-park", "kind": "carport",
                                         "area_m2": 2500, "tilt_deg": 5, "azimuth_deg": 180})
    result = pvopt.plan(pf)            # PlanResult: .dataset, .capacity(), .costs(), ...
"""

from pvopt import api as _api
from pvopt.api import *  # noqa: F401,F403 - the notebook API, listed in api.__all__
from pvopt.inputs.schema import Array, Portfolio, Site
from pvopt.constants import __version__
from pvopt.errors import InfeasiblePlanError, PortfolioError, SolverError
from pvopt.inputs.loading import load_portfolio

__all__ = [
    "load_portfolio",
    *_api.__all__,
    "SolveOptions",
    "Array",
    "Site",
    "Portfolio",
    "PortfolioError",
    "InfeasiblePlanError",
    "SolverError",
    "__version__",
]


def __getattr__(name: str):
    # SolveOptions lives with the optimiser, which imports Pyomo: load it on first use only.
    if name == "SolveOptions":
        from pvopt.lp.model import SolveOptions

        return SolveOptions
    raise AttributeError(f"module 'pvopt' has no attribute {name!r}")
