"""Declared tables of the Dataset variables: the LP inputs and the plan.

Like PyPSA's ``component_attrs``, every variable the optimiser reads
(:data:`LP_INPUTS`, made by :func:`pvopt.lp.inputs.build_plan_inputs`) and
every variable of the plan Dataset (:data:`PLAN_VARIABLES` = the inputs, role
``input``, plus :data:`PLAN_OUTPUTS`, role ``output``, made by
:func:`pvopt.lp.solution.plan_dataset`) is declared once, with its dimensions,
unit, default and description. Units containing ``{cur}`` take the portfolio
currency.

* :func:`annotate` sets the ``units`` and ``description`` attrs of a Dataset
  from the table and (optionally) adds missing optional variables at their
  defaults;
* :func:`check_lp_inputs` checks that an LP-input Dataset has every required
  variable with the declared dims (called at the start of the solve).

Outputs never shadow inputs: no name is both (a test checks it).
This module imports nothing heavy (xarray/numpy only inside functions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pvopt.costs import COST_CATEGORIES, TOTAL_COST
from pvopt.errors import PvoptError

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

__all__ = ["Var", "LP_INPUTS", "PLAN_OUTPUTS", "PLAN_VARIABLES", "InputDatasetError", "annotate", "check_lp_inputs", "unit_of"]

REQUIRED = None
"""``default`` of a variable every LP-input Dataset must have."""


@dataclass(frozen=True)
class Var:
    """One declared Dataset variable.

    Attributes
    ----------
    name
        Variable name.
    dims
        Dimensions, in order.
    unit
        ``units`` attr (``{cur}`` is replaced by the currency; ``""`` for labels and flags).
    default
        Value of an optional variable when absent (``None``: required, or optional without
        a scalar default when ``optional`` is true).
    role
        ``"input"`` (an LP input, carried into the plan) or ``"output"`` (computed by the plan).
    description
        The ``description`` attr.
    optional
        The variable may be absent (e.g. only with batteries, measures or hourly data).
    """

    name: str
    dims: tuple[str, ...]
    unit: str
    default: Any
    role: Literal["input", "output"]
    description: str
    optional: bool = False


def _i(name: str, dims: tuple[str, ...], unit: str, description: str, *, default: Any = REQUIRED, optional: bool = False) -> Var:
    return Var(name, dims, unit, default, "input", description, optional or default is not REQUIRED)


def _o(name: str, dims: tuple[str, ...], unit: str, description: str, *, optional: bool = False) -> Var:
    return Var(name, dims, unit, None, "output", description, optional)


SY = ("site", "year")
SYH = ("site", "year", "hour")
NAN = math.nan

LP_INPUTS: tuple[Var, ...] = (
    _i("yield_kw_per_kwp", ("profile", "hour"), "kW/kWp", "hourly AC output per kWp DC installed (pvlib ModelChain)"),
    _i("profile_site", ("profile",), "", "site of the yield profile"),
    _i("array_site", ("array",), "", "site of the array"),
    _i("array_kind", ("array",), "", "rooftop or carport"),
    _i("array_profile", ("array",), "", "yield profile of the array"),
    _i("max_kwp", ("array",), "kWp", "maximum DC capacity (usable area x power density)"),
    _i("existing_kwp", ("array",), "kWp", "capacity installed before the first planning year"),
    _i("existing_year", ("array",), "year", "install year of existing_kwp (-1: none)"),
    _i("degradation_per_year", ("array",), "1/yr", "fractional capacity loss per year of age"),
    _i("load_kw", SYH, "kW", "hourly site demand (before measures)"),
    _i("import_price_per_kwh", SYH, "{cur}/kWh", "grid import price"),
    _i("export_price_per_kwh", SYH, "{cur}/kWh", "export price (0 under zero export)"),
    _i("export_allowed", ("site",), "", "export permitted"),
    _i("export_limit_kw", ("site",), "kW", "export limit (NaN: none)"),
    _i("grid_ef_t_per_mwh", SY, "tCO2/MWh", "location-based grid emission factor"),
    _i("residual_ef_t_per_mwh", SY, "tCO2/MWh", "market-based residual-mix factor"),
    _i("scope1_tco2e", SY, "tCO2e", "Scope 1 emissions input, before measures"),
    _i("capex_per_kwp", ("kind", "year"), "{cur}/kWp", "PV installed cost by kind and build year"),
    _i("om_per_kwp_year", ("kind", "year"), "{cur}/kWp/yr", "PV O&M by kind"),
    _i("certificate_price_per_mwh", ("certificate", "year"), "{cur}/MWh", "certificate price"),
    _i("certificate_available", ("certificate", "year"), "", "instrument can be bought that year"),
    _i("offset_price_per_tco2e", ("year",), "{cur}/tCO2e", "offset credit price (NaN: no offsets)"),
    _i("baseline_scope1_tco2e", ("site",), "tCO2e", "baseline-year Scope 1"),
    _i("baseline_grid_mwh", ("site",), "MWh", "baseline-year grid electricity"),
    _i("baseline_scope2_location_tco2e", ("site",), "tCO2e", "baseline-year location-based Scope 2"),
    _i("hour_month", ("hour",), "month", "calendar month of each hour (Feb 29 dropped)", optional=True),
    _i("import_limit_kw", ("site",), "kW", "grid import limit (NaN: none)", default=NAN),
    _i("demand_charge_per_kw_month", ("site",), "{cur}/kW/month", "two-part tariff: charge on each month's peak import", default=0.0),
    _i("battery_site", ("battery",), "", "site of the battery option", optional=True),
    _i("battery_energy_capex_per_kwh", ("battery",), "{cur}/kWh", "storage energy capex", optional=True),
    _i("battery_power_capex_per_kw", ("battery",), "{cur}/kW", "converter power capex", optional=True),
    _i("battery_om_per_kwh_year", ("battery",), "{cur}/kWh/yr", "battery O&M", optional=True),
    _i("battery_round_trip_efficiency", ("battery",), "1", "AC round-trip efficiency", optional=True),
    _i("battery_max_energy_kwh", ("battery",), "kWh", "largest energy capacity", optional=True),
    _i("battery_max_power_kw", ("battery",), "kW", "largest power", optional=True),
    _i("battery_min_duration_h", ("battery",), "h", "energy/power at least", default=0.0),
    _i("battery_lifetime_years", ("battery",), "yr", "economic life", optional=True),
    _i("battery_available_from", ("battery",), "year", "first year it can be built", optional=True),
    _i("measure_site", ("measure",), "", "site of the measure", optional=True),
    _i("measure_type", ("measure",), "", "efficiency or electrification", optional=True),
    _i("measure_capex", ("measure",), "{cur}", "cost at full size", optional=True),
    _i("measure_om_per_year", ("measure",), "{cur}/yr", "O&M at full size", default=0.0),
    _i("measure_lifetime_years", ("measure",), "yr", "economic life", optional=True),
    _i("measure_scope1_removed_tco2e", ("measure",), "tCO2e/yr", "Scope 1 removed at full size", default=0.0),
    _i("measure_available_from", ("measure",), "year", "first year it can be adopted", optional=True),
    _i("measure_max_fraction", ("measure",), "1", "largest share of full size", default=1.0),
    _i("measure_delta_kw", ("measure", "year", "hour"), "kW", "change of site load at full size (negative: saving)", optional=True),
    _i("certificate_hourly_share", ("certificate", "hour"), "1/h",
       "share of an instrument's annual volume generated in each hour (hourly matching)", optional=True),
)
"""Every variable of the LP-input Dataset."""

_BAU = tuple(_o(f"bau_{name}", SY, unit, f"business as usual (nothing new, milestones not enforced): {what}", optional=True) for name, unit, what in (
    ("pv_generated_mwh", "MWh", "PV generation of existing PV"),
    ("pv_onsite_mwh", "MWh", "PV used onsite"),
    ("grid_import_mwh", "MWh", "electricity bought from the grid"),
    ("scope1_after_measures_tco2e", "tCO2e", "Scope 1"),
    ("scope2_location_tco2e", "tCO2e", "Scope 2 location-based"),
    ("scope2_market_tco2e", "tCO2e", "Scope 2 market-based"),
    ("net_tco2e", "tCO2e", "net emissions"),
    (TOTAL_COST, "{cur}", "total cost, undiscounted"),
))

_COSTS = tuple(_o(c.name, SY, "{cur}", f"{c.description} (undiscounted, in the year)") for c in COST_CATEGORIES)

PLAN_OUTPUTS: tuple[Var, ...] = (
    _o("build_kwp", ("array", "year"), "kWp", "new PV built in the year"),
    _o("installed_kwp", ("array", "year"), "kWp", "PV installed and working in the year (existing and built capacity within their life)"),
    _o("pv_generated_mwh", SY, "MWh", "PV generation after degradation"),
    _o("pv_onsite_mwh", SY, "MWh", "PV used onsite (including what charges a battery)"),
    _o("curtailed_mwh", SY, "MWh", "PV curtailed (neither used nor exported)"),
    _o("export_mwh", SY, "MWh", "PV exported to the grid"),
    _o("grid_import_mwh", SY, "MWh", "electricity bought from the grid"),
    _o("load_mwh", SY, "MWh", "site demand after adopted measures"),
    _o("load_before_measures_mwh", SY, "MWh", "site demand before measures"),
    _o("battery_charge_mwh", SY, "MWh", "energy into batteries", optional=True),
    _o("battery_discharge_mwh", SY, "MWh", "energy out of batteries", optional=True),
    _o("certificates_mwh", SY, "MWh", "certificates claimed against the site's grid electricity (all instruments)"),
    _o("certificates_by_instrument_mwh", ("certificate", "site", "year"), "MWh",
       "certificates bought, by instrument (hourly matching: portfolio volume shared by matched MWh)"),
    _o("certificates_bought_mwh", ("certificate", "year"), "MWh", "certificates bought by the portfolio, by instrument"),
    _o("offsets_tco2e", SY, "tCO2e", "offset credits retired"),
    _o("scope1_after_measures_tco2e", SY, "tCO2e", "Scope 1 after electrification measures (input scope1_tco2e less what measures remove)"),
    _o("scope2_location_tco2e", SY, "tCO2e", "Scope 2 location-based: grid MWh x grid factor"),
    _o("scope2_market_tco2e", SY, "tCO2e", "Scope 2 market-based: (grid MWh - certificate MWh) x residual factor"),
    _o("scope2_market_hourly_matched_tco2e", SY, "tCO2e",
       "the same plan's market-based Scope 2 if certificates had to match grid use hour by hour", optional=True),
    _o("certificates_annual_matching_mwh", ("year",), "MWh", "certificates the plan claims (annual matching)", optional=True),
    _o("certificate_cost_annual_matching", ("year",), "{cur}", "their cost (annual matching)", optional=True),
    _o("certificates_hourly_matching_mwh", ("year",), "MWh",
       "certificates to buy for the same claimed MWh matched hour by hour (same dispatch; inf: not possible)", optional=True),
    _o("certificate_cost_hourly_matching", ("year",), "{cur}", "their cost at the cheapest available instrument", optional=True),
    _o("net_tco2e", SY, "tCO2e", "Scope 1 after measures + market-based Scope 2 - offsets"),
    *_COSTS,
    _o(TOTAL_COST, SY, "{cur}", "signed sum of the cost categories (pvopt.costs.COST_CATEGORIES; export revenue subtracted), undiscounted"),
    _o("discount_factor", ("year",), "1", "(1+r)^-(y-y0)"),
    _o("npc", (), "{cur}", "net present cost of the plan: sum over years of discount_factor x total_cost, less salvage_value"),
    _o("salvage_value", (), "{cur}", "present value of asset life left after the horizon"),
    _o("measure_adopted_fraction", ("measure", "year"), "1", "share of the measure's full size in place", optional=True),
    _o("measure_new_fraction", ("measure", "year"), "1", "share adopted in the year", optional=True),
    _o("battery_energy_kwh", ("battery", "year"), "kWh", "battery energy capacity in place", optional=True),
    _o("battery_power_kw", ("battery", "year"), "kW", "battery power in place", optional=True),
    _o("peak_import_kw", ("site", "year", "month"), "kW", "monthly peak grid import (demand-charge sites)", optional=True),
    _o("load_after_measures_kw", SYH, "kW", "load after measures, hourly", optional=True),
    _o("pv_generated_kw", SYH, "kW", "pv generated, hourly", optional=True),
    _o("pv_onsite_kw", SYH, "kW", "pv onsite, hourly", optional=True),
    _o("export_kw", SYH, "kW", "export, hourly", optional=True),
    _o("curtailed_kw", SYH, "kW", "curtailed, hourly", optional=True),
    _o("grid_import_kw", SYH, "kW", "grid import, hourly", optional=True),
    _o("battery_charge_kw", SYH, "kW", "battery charge, hourly", optional=True),
    _o("battery_discharge_kw", SYH, "kW", "battery discharge, hourly", optional=True),
    _o("battery_soc_kwh", SYH, "kWh", "battery state of charge, hourly", optional=True),
    _o("matched_certificates_kw", SYH, "kW", "grid import matched by certificates, hourly", optional=True),
    _o("milestone_type", ("milestone",), "", "milestone type", optional=True),
    _o("milestone_year", ("milestone",), "year", "year from which it applies", optional=True),
    _o("milestone_met", ("milestone",), "", "met by the plan", optional=True),
    _o("milestone_target", ("milestone",), "see milestone_unit", "target", optional=True),
    _o("milestone_achieved", ("milestone",), "see milestone_unit", "what the plan achieves", optional=True),
    _o("milestone_unit", ("milestone",), "", "unit of target and achieved", optional=True),
    _o("milestone_marginal_cost", ("milestone",), "{cur} (NPV) per unit",
       "sum over the milestone's rows of |dual|: NPC change per unit of tightening", optional=True),
    _o("milestone_cost_vs_without", ("milestone",), "{cur} (NPV)",
       "NPC of the plan minus NPC of a re-solve without this milestone", optional=True),
    _o("milestone_row_dual", ("milestone", "year"), "{cur} (NPV) per row unit", "sum of |dual| of the milestone's rows of the year", optional=True),
    _o("milestone_build_value", ("milestone", "array", "year"), "{cur} (NPV)/kWp",
       "what the milestone's rows pay directly per kWp built in the year (negative: a limit)", optional=True),
    *_BAU,
    _o("bau_cost_by_category", ("cost", "site", "year"), "{cur}",
       "business as usual: each cost category (pvopt.costs.COST_CATEGORIES; revenues positive), undiscounted", optional=True),
    _o("bau_npc", (), "{cur}", "business as usual: net present cost (nothing new, milestones not enforced)", optional=True),
    _o("bau_salvage_value", (), "{cur}", "business as usual: salvage value deducted from its NPC", optional=True),
    _o("bau_milestone_achieved", ("milestone",), "see milestone_unit", "business as usual: what it achieves (not enforced)", optional=True),
    _o("bau_milestone_met", ("milestone",), "", "business as usual: milestone met without anything new", optional=True),
    _o("npc_saving", (), "{cur}", "NPC of business as usual minus NPC of the plan (positive: the plan saves)", optional=True),
    _o("npc_saving_by_category", ("cost",), "{cur}",
       "NPC saving per cost category: sign x (present value BAU - plan); with the salvage saving adds up to npc_saving", optional=True),
    _o("npc_saving_by_group", ("cost_group",), "{cur}",
       "NPC saving per cost group (pvopt.costs.COST_GROUPS; salvage in capital); adds up to npc_saving", optional=True),
    _o("cost_saving", ("year",), "{cur}", "cash flow against business as usual: BAU total cost - plan total cost, undiscounted", optional=True),
    _o("bill_saving", ("year",), "{cur}", "grid bill (energy + demand charges - export revenue) of BAU minus the plan's, undiscounted", optional=True),
    _o("year1_bill_saving", (), "{cur}", "bill_saving in the first planning year", optional=True),
    _o("cumulative_saving", ("year",), "{cur}", "cumulative cost_saving from the first planning year, undiscounted", optional=True),
    _o("cumulative_saving_discounted", ("year",), "{cur}", "cumulative discounted cost_saving (discount_factor x cost_saving)", optional=True),
    _o("payback_year", (), "year", "first year from which cumulative_saving stays >= 0 (NaN: not within the horizon)", optional=True),
    _o("payback_year_discounted", (), "year", "first year from which cumulative_saving_discounted stays >= 0 (NaN: not within the horizon)",
       optional=True),
    _o("emissions_cut_net_tco2e", ("year",), "tCO2e", "net emissions of business as usual minus the plan's (all sites)", optional=True),
    _o("emissions_cut_gross_tco2e", ("year",), "tCO2e",
       "Scope 1 after measures + market-based Scope 2 of business as usual minus the plan's (all sites)", optional=True),
)
"""Every variable the plan adds to its inputs."""

PLAN_VARIABLES: tuple[Var, ...] = LP_INPUTS + PLAN_OUTPUTS
"""Every variable of the plan Dataset (``plan.nc``): inputs (role ``input``) and outputs (role ``output``)."""

_BY_NAME = {v.name: v for v in PLAN_VARIABLES}


class InputDatasetError(PvoptError):
    """An LP-input Dataset lacks a declared variable or has it on other dimensions."""


def unit_of(name: str, currency: str = "") -> str:
    """Return the declared unit of a variable, with the currency filled in."""
    return _BY_NAME[name].unit.replace("{cur}", currency)


def _table(which: Literal["inputs", "plan"]) -> tuple[Var, ...]:
    return LP_INPUTS if which == "inputs" else PLAN_VARIABLES


def annotate(ds: "xr.Dataset", which: Literal["inputs", "plan"] = "inputs", *, currency: str | None = None,
             fill_defaults: bool = False) -> "xr.Dataset":
    """Set ``units`` and ``description`` of every declared variable of ``ds`` from the table (in place; returns ``ds``).

    Parameters
    ----------
    ds
        An LP-input or plan Dataset.
    which
        ``"inputs"`` (:data:`LP_INPUTS`) or ``"plan"`` (:data:`PLAN_VARIABLES`).
    currency
        Currency for ``{cur}`` units; default ``ds.attrs["currency"]``.
    fill_defaults
        Add each absent optional input that has a scalar default and whose dimensions ``ds`` has.
    """
    import numpy as np

    cur = str(currency if currency is not None else ds.attrs.get("currency", ""))
    for v in _table(which):
        if v.name not in ds:
            if fill_defaults and v.role == "input" and v.default is not None and all(d in ds.sizes for d in v.dims):
                ds[v.name] = (v.dims, np.full(tuple(ds.sizes[d] for d in v.dims), v.default, dtype=float))
            else:
                continue
        ds[v.name].attrs.update(units=v.unit.replace("{cur}", cur), description=v.description)
    return ds


def check_lp_inputs(ds: "xr.Dataset") -> None:
    """Check that ``ds`` has every required LP input on its declared dimensions.

    Raises
    ------
    InputDatasetError
        Naming the first variable that is missing or has other dimensions, its
        declared dims and unit, and how to build a correct Dataset.
    """
    fix = "build the LP inputs with pvopt.lp.inputs.build_plan_inputs (or pvopt.testing.small_inputs); declared in pvopt.datasets.LP_INPUTS"
    for v in LP_INPUTS:
        if v.name not in ds:
            if v.optional:
                continue
            raise InputDatasetError(
                f"LP input Dataset: variable '{v.name}' is missing (dims {v.dims}, unit '{v.unit}': {v.description}); {fix}"
            )
        got = tuple(ds[v.name].dims)
        if got != v.dims:
            raise InputDatasetError(f"LP input Dataset: variable '{v.name}' has dims {got}, expected {v.dims}; {fix}")
