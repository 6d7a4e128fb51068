"""pvopt: plan rooftop and carport PV, grid power, certificates and offsets for multi-site manufacturers.

Layers, one-way: inputs (:mod:`pvopt.config`, :mod:`pvopt.portfolio`,
:mod:`pvopt.weather`, :mod:`pvopt.profiles`) -> yield (:mod:`pvopt.pvyield`,
pvlib) -> optimise (:mod:`pvopt.optimise`, Pyomo/HiGHS) -> accounting and
reports. Nothing happens on import.
"""

from .portfolio import load_portfolio

__all__ = ["load_portfolio", "__version__"]
__version__ = "0.1.0"
