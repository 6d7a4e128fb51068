"""The cost categories of a plan: one declaration that defines ``total_cost`` and every cost view.

:data:`COST_CATEGORIES` names each plan variable that holds a cost (or a
revenue) per site and year, undiscounted, in the portfolio currency. The plan
Dataset's ``total_cost`` is the signed sum of these categories
(:func:`signed_total`, used where the plan is built, in
:func:`pvopt.lp.solution.plan_dataset`), and every view of the costs
(``summary.csv``, :meth:`pvopt.api.PlanResult.costs`, the report's cost table,
chart and workbook sheet, the sweep results and ``index.csv``) lists exactly
these categories, so their signed sum is the total in every view.

The net present cost is ``npc = Σ_y discount_factor[y] · Σ_s total_cost[s, y] − salvage_value``
(the LP objective).

This module imports nothing heavy (no numpy, xarray, Pyomo or pvlib).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CostCategory", "COST_CATEGORIES", "COST_GROUPS", "SALVAGE_GROUP", "TOTAL_COST", "COST_NAMES", "signed_total", "column_name",
           "group_of"]


@dataclass(frozen=True)
class CostCategory:
    """One cost category of the plan.

    Attributes
    ----------
    name
        Plan variable on ``(site, year)`` [currency, undiscounted, in the year].
    label
        Short label for tables and charts.
    sign
        ``+1`` for a cost, ``-1`` for a revenue (subtracted in ``total_cost``).
    description
        What it holds (the plan variable's ``description`` attr).
    color
        Colour of the category in the cost chart.
    group
        The :data:`COST_GROUPS` entry the category belongs to in the plan-vs-business-as-usual split.
    """

    name: str
    label: str
    sign: int
    description: str
    color: str
    group: str


COST_CATEGORIES: tuple[CostCategory, ...] = (
    CostCategory("capex_cost", "PV capex", +1, "PV investment", "#2ca02c", "capital"),
    CostCategory("om_cost", "PV O&M", +1, "PV operation and maintenance", "#98df8a", "om"),
    CostCategory("measure_cost", "measures", +1, "efficiency and electrification measures (capex and O&M)", "#ff7f0e", "capital"),
    CostCategory("battery_cost", "batteries", +1, "battery capex and O&M", "#bcbd22", "capital"),
    CostCategory("energy_cost", "grid electricity", +1, "grid electricity at the hourly tariff", "#7f7f7f", "bill"),
    CostCategory("demand_cost", "demand charges", +1, "demand (capacity) charges on monthly peak import", "#8c564b", "bill"),
    CostCategory("export_revenue", "export revenue", -1, "revenue from exported PV", "#17becf", "bill"),
    CostCategory("certificate_cost", "certificates", +1, "certificates", "#1f77b4", "certificates"),
    CostCategory("offset_cost", "offsets", +1, "offset credits", "#9467bd", "offsets"),
)
"""Every cost category of the plan, in display order."""

COST_GROUPS: dict[str, str] = {
    "capital": "capital (PV, measures and batteries, less salvage)",
    "om": "PV O&M",
    "bill": "grid bill (energy and demand charges, less export revenue)",
    "certificates": "certificates",
    "offsets": "offsets",
}
"""Groups of :data:`COST_CATEGORIES` in the plan-vs-business-as-usual split (name -> label), in display order.
Every category names its group; the salvage value (``salvage_value``, deducted from the NPC) counts as capital."""

SALVAGE_GROUP = "capital"
"""Group in which the salvage value of assets (life left after the horizon) is counted."""

TOTAL_COST = "total_cost"
"""Plan variable holding the signed sum of :data:`COST_CATEGORIES` per site and year."""

COST_NAMES: tuple[str, ...] = tuple(c.name for c in COST_CATEGORIES)
"""Names of the category variables, in display order."""


def signed_total(values: Mapping[str, Any] | Callable[[str], Any]) -> Any:
    """``Σ_c sign_c · values[c]`` over :data:`COST_CATEGORIES`.

    Parameters
    ----------
    values
        A mapping (dict of arrays, an :class:`xarray.Dataset`, a :class:`pandas.DataFrame`
        row or frame) or a function, giving each category's values by its ``name``.
        Any type that supports ``+``, ``-`` and ``*`` by an int works.
    """
    get = values if callable(values) and not isinstance(values, Mapping) else values.__getitem__  # type: ignore[union-attr]
    total: Any = 0
    for c in COST_CATEGORIES:
        total = total + c.sign * get(c.name)
    return total


def column_name(name: str, currency: str) -> str:
    """Column name of a category (or ``total_cost``) in tables that name the currency: ``capex_cost`` -> ``capex_cny``."""
    return name.removesuffix("_cost") + f"_{currency.lower()}"


def group_of(name: str) -> str:
    """Return the :data:`COST_GROUPS` key of the cost category ``name``."""
    for c in COST_CATEGORIES:
        if c.name == name:
            return c.group
    raise KeyError(f"no cost category {name!r}; expected one of {COST_NAMES}")
