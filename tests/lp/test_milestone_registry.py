"""One contract per concept: the milestone registry covers every schema type, in every layer."""

from __future__ import annotations

import typing

import numpy as np
import pytest

from pvopt.inputs import schema
from pvopt.lp.milestones import MILESTONE_ROWS
from pvopt.milestones import MILESTONE_TYPES


def _schema_types() -> set[str]:
    union = typing.get_args(schema.Milestone)[0]
    return {typing.get_args(m.model_fields["type"].annotation)[0] for m in typing.get_args(union)}


def test_registry_covers_every_schema_type():
    types = _schema_types()
    assert len(types) >= 9
    assert set(MILESTONE_TYPES) == types, "pvopt.milestones.MILESTONE_TYPES must have one entry per schema milestone type"
    assert set(MILESTONE_ROWS) == types, "pvopt.lp.milestones.MILESTONE_ROWS must have one row function per schema milestone type"


def test_every_type_is_reported_by_a_plan():
    """A plan with one milestone of each type reports each through the registry (achieved, unit, met)."""
    from pvopt.lp.outcome import solve
    from pvopt.testing import small_inputs

    ms = [
        {"name": "kwp", "type": "min_portfolio_kwp", "year": 2025, "kwp": 500.0},
        {"name": "cover", "type": "rooftop_coverage", "year": 2025, "fraction": 0.25},
        {"name": "onsite", "type": "min_pv_onsite_mwh", "year": 2025, "mwh": 100.0},
        {"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": 10.0},
        {"name": "peak", "type": "emissions_peak", "year": 2025, "scope2": "location"},
        {"name": "neutral", "type": "neutrality", "year": 2026},
        {"name": "cap", "type": "offset_cap", "share_of_baseline": 0.9},
        {"name": "budget", "type": "capex_budget", "per_year": 1e9},
        {"name": "rate", "type": "build_rate", "kwp_per_year": 1e6},
    ]
    assert {m["type"] for m in ms} == _schema_types()
    d = small_inputs(milestones=ms)
    rows = solve(d).milestones
    by = {r["name"]: r for r in rows}
    assert set(by) == {m["name"] for m in ms}
    assert all(r["met"] for r in rows), [r for r in rows if not r["met"]]
    assert by["kwp"]["achieved"] >= 500.0 * (1 - 1e-6)
    assert by["neutral"]["achieved"] <= 1e-3 * max(1.0, by["cap"]["target"])
    assert by["budget"]["unit"] == d.attrs["currency"]


def test_hourly_var_addresses_a_site_year_hour():
    from pvopt.lp.model import build_model, hourly_var
    from pvopt.testing import small_inputs

    d = small_inputs(n_sites=1, battery_sites=(0,), n_years=1)
    m = build_model(d).model
    site = str(d["site"].values[0])
    v = hourly_var(m, "grid", site=site, year=2024, hour=4000)
    assert v.parent_component() is m.grid
    with pytest.raises(KeyError, match="unknown hourly variable"):
        hourly_var(m, "nope", site=site, year=2024, hour=4000)
    d2 = small_inputs(n_sites=1, n_years=1, pv_to_load=0.5)
    m2 = build_model(d2).model
    night = int(np.where(d2["yield_kw_per_kwp"].values.max(axis=0) == 0)[0][0])
    with pytest.raises(KeyError, match="has no variable"):
        hourly_var(m2, "pv", site=site, year=2024, hour=night)
