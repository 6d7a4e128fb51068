"""Warm start from the basis of an LP with the same structure (SolveOptions.warm_start).

A sweep's scenarios change prices and costs, not the LP's rows and columns, so each can
start from the basis the previous one ended with. The optimum must not change, and on a
battery case the simplex needs far fewer iterations.
"""

from __future__ import annotations

import numpy as np
import pytest

from pvopt.lp import highs
from pvopt.lp.model import SolveOptions, solve_plan
from pvopt.testing import small_inputs

#: Warm vs cold optimum of the same scenario, relative (the same LP).
OBJ_RTOL = 1e-9
#: A warm-started scenario must need at most this share of a cold solve's simplex iterations.
MAX_ITERATION_SHARE = 0.5

COLD = SolveOptions(decompose="never", milestone_costs="none")
WARM = SolveOptions(decompose="never", milestone_costs="none", warm_start=True)


def _scenario(d, capex_factor: float):
    d = d.copy(deep=True)
    d["capex_per_kwp"].values[...] *= capex_factor
    d["battery_energy_capex_per_kwh"].values[...] *= capex_factor
    return d


def test_warm_started_scenarios_keep_the_optimum_with_fewer_iterations():
    highs._BASES.clear()
    base = small_inputs(n_sites=2, n_years=1, battery_sites=(0,), demand_charge_per_kw_month=40.0)
    _, first, r0 = solve_plan(base, WARM)
    assert not r0.warm_started
    d = _scenario(base, 0.7)
    _, cold, rc = solve_plan(d, COLD)
    _, warm, rw = solve_plan(d, WARM)
    assert rw.warm_started
    assert warm.objective == pytest.approx(cold.objective, rel=OBJ_RTOL)
    assert rw.simplex_iterations <= MAX_ITERATION_SHARE * rc.simplex_iterations
    assert cold.objective < first.objective * (1 - 1e-3)  # the scenario moved the optimum


def test_a_basis_is_only_reused_for_the_same_structure():
    highs._BASES.clear()
    solve_plan(small_inputs(n_sites=2, n_years=1), WARM)
    _, _, r = solve_plan(small_inputs(n_sites=2, n_years=2), WARM)
    assert not r.warm_started
    assert len(highs._BASES) == 2


def test_a_start_that_is_far_from_optimal_falls_back_to_a_cold_solve(monkeypatch):
    highs._BASES.clear()
    monkeypatch.setattr(highs, "WARM_START_ITERATIONS", 5)
    base = small_inputs(n_sites=2, n_years=1, battery_sites=(0,))
    solve_plan(base, WARM)
    d = base.copy(deep=True)
    rng = np.random.default_rng(1)
    price = d["import_price_per_kwh"].values
    price[...] *= 1.0 + rng.random(price.shape)  # new hourly prices move the dispatch: many iterations from the old basis
    _, cold, _ = solve_plan(d, COLD)
    _, warm, rw = solve_plan(d, WARM)
    assert not rw.warm_started
    assert rw.simplex_iterations > 5
    assert warm.objective == pytest.approx(cold.objective, rel=OBJ_RTOL)
