"""Constants shared by every layer (no imports beyond the standard library)."""

from __future__ import annotations

__all__ = ["__version__", "HOURS_PER_YEAR", "KWH_PER_MWH"]

__version__ = "0.1.0"

#: Hours of a planning year: every year has 8760 (a leap year's 29 February is dropped; see docs/formulation.md).
HOURS_PER_YEAR = 8760

KWH_PER_MWH = 1000.0
