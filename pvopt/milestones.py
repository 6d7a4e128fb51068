"""The milestone types: one registry entry per type, read by every layer.

Each :class:`MilestoneType` says what its target and achieved value mean
(unit, sense), how to read the target from a milestone's input, how to
measure what a plan achieves from the plan Dataset, and how to describe the
milestone in one line. The LP rows of each type are registered beside it in
:mod:`pvopt.lp.milestones` (the only layer that may import Pyomo); a test
checks that both registries cover exactly the types of the input schema.

Adding a milestone type takes: its input model in
:mod:`pvopt.inputs.schema`, one entry here, one row function in
:mod:`pvopt.lp.milestones`, and its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr

__all__ = ["MilestoneType", "MILESTONE_TYPES", "achieved", "baseline_tco2e", "describe"]

#: Relative tolerance with which a plan's achieved value counts as meeting its target.
MET_RTOL = 1e-6


def baseline_tco2e(d: xr.Dataset) -> float:
    """Baseline Scope 1 + location-based Scope 2 of the whole portfolio [tCO2e] (the offset cap's base)."""
    return float(d["baseline_scope1_tco2e"].values.sum() + d["baseline_scope2_location_tco2e"].values.sum())


def _j(plan: xr.Dataset, ms: Mapping[str, Any]) -> int:
    return [int(y) for y in plan["year"].values].index(int(ms["year"]))


def _inst_total(plan: xr.Dataset, ms: Mapping[str, Any]) -> float:
    return float(plan["installed_kwp"].sum("array").values[_j(plan, ms)])


def _coverage(plan: xr.Dataset, ms: Mapping[str, Any]) -> float:
    roof = plan["array_kind"].values == "rooftop"
    return float(plan["installed_kwp"].values[roof, _j(plan, ms)].sum() / max(plan["max_kwp"].values[roof].sum(), 1e-9))


def _onsite_lowest(plan: xr.Dataset, ms: Mapping[str, Any]) -> float:
    return float(plan["pv_onsite_mwh"].sum("site").values[_j(plan, ms):].min())


def _certificates(plan: xr.Dataset, ms: Mapping[str, Any]) -> float:
    return float(plan["certificates_mwh"].sum("site").values[_j(plan, ms)])


def _gross_scope12(plan: xr.Dataset, ms: Mapping[str, Any]) -> np.ndarray:
    s2 = plan["scope2_market_tco2e"] if ms.get("scope2", "market") == "market" else plan["scope2_location_tco2e"]
    s1 = plan["scope1_after_measures_tco2e"]  # Scope 1 after measures (the input scope1_tco2e is before)
    return (s1 + s2).sum("site").values


def _largest_rise(plan: xr.Dataset, ms: Mapping[str, Any]) -> float:
    return float(np.max(np.diff(_gross_scope12(plan, ms)[_j(plan, ms):]), initial=0.0))


def _worst_net(plan: xr.Dataset, ms: Mapping[str, Any]) -> float:
    sel = plan["net_tco2e"].sel(site=[ms["site"]]) if ms.get("site") else plan["net_tco2e"]
    return float(sel.sum("site").values[_j(plan, ms):].max())


def _most_offsets(plan: xr.Dataset, ms: Mapping[str, Any]) -> float:
    return float(plan["offsets_tco2e"].sum("site").max())


def _most_capex(plan: xr.Dataset, ms: Mapping[str, Any]) -> float:
    return float(plan["capex_cost"].sum("site").max())


def _most_build(plan: xr.Dataset, ms: Mapping[str, Any]) -> float:
    b = plan["build_kwp"]
    if ms.get("site"):
        b = b.where(plan["array_site"] == ms["site"], 0.0)
    return float(b.sum("array").max())


@dataclass(frozen=True)
class MilestoneType:
    """One milestone type.

    Parameters
    ----------
    name
        The ``type`` string of the input schema.
    unit
        Unit of target and achieved value (a currency unit is written ``{currency}``).
    row_unit
        Unit of one LP row, in which its dual is a marginal cost.
    sense
        ``">="`` (achieved must reach the target) or ``"<="`` (must stay below it).
    target
        ``target(ms, baseline_tco2e)``: the target value from the milestone's input.
    achieved
        ``achieved(plan, ms)``: what a plan Dataset achieves, in ``unit``.
    emissions
        An emissions milestone (drawn on the emissions chart).
    zero_target_scale
        For targets of 0 (peak, neutrality): the plan meets it within ``MET_RTOL`` of this scale
        (``"gross"``: the largest gross emissions; ``"baseline"``: the baseline).
    """

    name: str
    unit: str
    row_unit: str
    sense: Literal[">=", "<="]
    target: Callable[[Mapping[str, Any], float], float]
    achieved: Callable[[xr.Dataset, Mapping[str, Any]], float]
    emissions: bool = False
    zero_target_scale: Literal["", "gross", "baseline"] = ""

    def met(self, plan: xr.Dataset, ms: Mapping[str, Any], value: float, target: float, baseline: float) -> bool:
        """Whether ``value`` meets ``target`` (zero targets are met within 1e-3 of their scale, as the LP's tolerances allow)."""
        if self.zero_target_scale == "gross":
            return bool(value <= 1e-3 * max(1.0, float(_gross_scope12(plan, ms).max())))
        if self.zero_target_scale == "baseline":
            return bool(value <= 1e-3 * max(1.0, baseline))
        if self.sense == ">=":
            return bool(value >= target * (1 - MET_RTOL))
        return bool(value <= target * (1 + MET_RTOL) + MET_RTOL)


MILESTONE_TYPES: dict[str, MilestoneType] = {
    t.name: t
    for t in (
        MilestoneType("min_portfolio_kwp", "kWp", "kWp", ">=", lambda ms, b: float(ms["kwp"]), _inst_total),
        MilestoneType("rooftop_coverage", "share", "kWp", ">=", lambda ms, b: float(ms["fraction"]), _coverage),
        MilestoneType("min_pv_onsite_mwh", "MWh/yr (lowest year)", "MWh", ">=", lambda ms, b: float(ms["mwh"]), _onsite_lowest),
        MilestoneType("min_certificates_mwh", "MWh", "MWh", ">=", lambda ms, b: float(ms["mwh"]), _certificates),
        MilestoneType("emissions_peak", "tCO2e largest rise after the peak year", "tCO2e", "<=", lambda ms, b: 0.0, _largest_rise,
                      emissions=True, zero_target_scale="gross"),
        MilestoneType("neutrality", "tCO2e net (worst year)", "tCO2e", "<=", lambda ms, b: 0.0, _worst_net,
                      emissions=True, zero_target_scale="baseline"),
        MilestoneType("offset_cap", "tCO2e (most in a year)", "tCO2e", "<=", lambda ms, b: float(ms["share_of_baseline"]) * b, _most_offsets),
        MilestoneType("capex_budget", "{currency}", "{currency}", "<=", lambda ms, b: float(ms["per_year"]), _most_capex),
        MilestoneType("build_rate", "kWp/yr", "kWp", "<=", lambda ms, b: float(ms["kwp_per_year"]), _most_build),
    )
}


def achieved(plan: xr.Dataset, ms: Mapping[str, Any], baseline: float, currency: str) -> dict[str, Any]:
    """Target, achieved value, unit and met of milestone ``ms`` (a dict of its input) in ``plan``."""
    t = MILESTONE_TYPES[ms["type"]]
    target = t.target(ms, baseline)
    value = t.achieved(plan, ms)
    return {"target": target, "achieved": value, "unit": t.unit.format(currency=currency), "met": t.met(plan, ms, value, target, baseline)}


def describe(ms: Any) -> str:
    """One line for a milestone input model: ``name [type]: from 2030, 10,000 MWh, site wuxi``."""
    bits = []
    for key, unit in (("year", ""), ("kwp", " kWp"), ("mwh", " MWh"), ("fraction", " of max kWp"), ("share_of_baseline", " of baseline"),
                      ("per_year", " /yr"), ("kwp_per_year", " kWp/yr"), ("scope2", " Scope 2"), ("site", "")):
        v = getattr(ms, key, None)
        if v is None:
            continue
        if key == "year":
            bits.append(f"in {v}" if ms.type == "min_certificates_mwh" else f"from {v}")
        elif key == "site":
            bits.append(f"site {v}")
        elif key in ("fraction", "share_of_baseline"):
            bits.append(f"{v:.0%}{unit}")
        elif isinstance(v, float):
            bits.append(f"{v:,.0f}{unit}")
        else:
            bits.append(f"{v}{unit}")
    return f"{ms.name} [{ms.type}]: " + ", ".join(bits)
