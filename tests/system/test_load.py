"""Load, small: three concurrent `pvopt plan` processes into different folders all finish, whole, in bounded memory.

The small version of ``benchmarks/bench_load.py`` (eight concurrent plans of ``sites/lead`` and a sweep
of 64 scenarios), on the one-site portfolio of ``conftest.mini_portfolio``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from conftest import mini_portfolio

REPO = Path(__file__).resolve().parents[2]
N_PLANS = 3
PEAK_RSS_MAX_MIB = 1024  #: one plan of the mini portfolio peaks near 250 MiB; four times that means memory is not bounded


def _bench():
    spec = importlib.util.spec_from_file_location("bench_load", REPO / "benchmarks" / "bench_load.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_load", mod)  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_concurrent_plans_all_complete(tmp_path):
    b = _bench()
    pf = mini_portfolio(tmp_path / "pf")
    res = b.bench_plans(pf, N_PLANS, tmp_path)
    assert res["problems"] == [], res["problems"]
    assert len(res["peak_rss_mib_per_process"]) == N_PLANS
    assert 0 < max(res["peak_rss_mib_per_process"]) < PEAK_RSS_MAX_MIB, res


@pytest.mark.slow
def test_small_sweep_under_load_is_complete(tmp_path):
    b = _bench()
    pf = mini_portfolio(tmp_path / "pf")
    res = b.bench_sweep(pf, 4, tmp_path)
    assert res["problems"] == [] and res["scenarios"] == 4, res
    assert max([res["peak_rss_mib_parent"], *res["peak_rss_mib_children"]]) < PEAK_RSS_MAX_MIB, res


def test_checks_find_a_broken_folder(tmp_path):
    """The benchmark's checks are not vacuous: a plan folder with a foreign summary or no plan fails them."""
    b = _bench()
    (tmp_path / "a").mkdir()
    assert b.check_plan_folder(tmp_path / "a") == [f"{tmp_path / 'a'}: plan.nc or summary.csv missing"]
