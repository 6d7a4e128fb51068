"""pvopt: plan rooftop and carport PV, grid power, certificates and offsets for multi-site manufacturers.

Layers, one-way: inputs (:mod:`pvopt.config`, :mod:`pvopt.portfolio`,
:mod:`pvopt.weather`, :mod:`pvopt.profiles`) -> yield (:mod:`pvopt.pvyield`,
pvlib) -> optimise (:mod:`pvopt.optimise`, Pyomo/HiGHS) -> accounting and
reports. Nothing happens on import, and pvlib and Pyomo are imported only
when a function needs them.

The notebook API (:mod:`pvopt.api`)::

    import pvopt
    pf = pvopt.load_portfolio("sites/lead")
    pf = pvopt.with_array(pf, "suzhou", {"name": "car-park", "kind": "carport",
                                         "area_m2": 2500, "tilt_deg": 5, "azimuth_deg": 180})
    result = pvopt.plan(pf)            # PlanResult: .dataset, .capacity(), .costs(), ...
"""

from . import api as _api
from .api import *  # noqa: F401,F403 - the notebook API, listed in api.__all__
from .config import Array, Portfolio, Site
from .errors import InfeasiblePlanError, PortfolioError, SolverError
from .portfolio import load_portfolio

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
__version__ = "0.1.0"


def __getattr__(name: str):
    # SolveOptions lives with the optimiser, which imports Pyomo: load it on first use only.
    if name == "SolveOptions":
        from .optimise import SolveOptions

        return SolveOptions
    raise AttributeError(f"module 'pvopt' has no attribute {name!r}")
