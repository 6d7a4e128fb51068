"""The scaled hand-over to HiGHS gives what the unscaled one gives, in the model's own units,
and HiGHS no longer reports the model as badly scaled."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from pvopt.lp.highs import StandardLP, scale_factors, solve_direct, standard_lp
from pvopt.lp.model import SolveOptions, Status, build_model, solve_model
from pvopt.testing import small_inputs

OBJ_RTOL = 1e-7  #: objective, scaled vs unscaled hand-over (both optimal vertices of one LP)
KKT_RTOL = 1e-7  #: complementarity gap (primal - dual objective) relative to the objective, model units
FEAS_TOL = 1e-4  #: row and bound violation, model units (kW, kWh, CNY) relative to max(1, |bound|)
KWP_ATOL = 1e-3  #: built PV / battery capacity [kWp, kWh, kW]
DUAL_RTOL = 1e-5  #: milestone duals [CNY per unit]
EXACT_RTOL = 1e-9  #: unique-solution toy LP: primal, duals, objective

#: HiGHS 1.16's wording (checked against its log before scaling): "Problem has some excessively large
#: costs", "... excessively large bounds on constraints", "... excessively small ...",
#: "Problem is badly scaled, which may compromise ...".
SCALING_WARNINGS = ("badly scaled", "excessively large", "excessively small")

BATTERY_DC = dict(n_sites=3, n_years=1, battery_sites=(0,), demand_charge_per_kw_month=30, measures=True)


def _warnings(log_text: str) -> list[str]:
    return [ln for ln in log_text.splitlines() if any(w in ln for w in SCALING_WARNINGS)]


def _solve_logged(m, tmp_path, name: str, **kw):
    path = tmp_path / f"{name}.log"
    r = solve_direct(m, log=True, highs_options={"log_to_console": False, "log_file": str(path)}, **kw)
    return r, path.read_text()


def _kkt(lp: StandardLP, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Largest relative primal violation, and the complementarity gap |primal - dual objective| / |objective|.

    ``y`` are row duals of the minimisation (HiGHS's convention: reduced costs ``z = c - A^T y``).
    A dual unscaled by the wrong factor leaves basic columns with nonzero reduced cost, which shows here.
    """
    act = lp.A @ x
    viol_row = np.maximum(np.maximum(lp.row_lo - act, act - lp.row_hi), 0) / np.maximum(1, np.abs(np.where(np.isfinite(lp.row_lo), lp.row_lo, 0)) + np.abs(np.where(np.isfinite(lp.row_hi), lp.row_hi, 0)))
    viol_col = np.maximum(np.maximum(lp.col_lo - x, x - lp.col_hi), 0) / np.maximum(1, np.abs(x))
    z = lp.cost - lp.A.T @ y
    # bound each dual is attached to: lower when positive, upper when negative
    rb = np.where(y > 0, lp.row_lo, lp.row_hi)
    rb = np.where(np.isfinite(rb), rb, act)
    cb = np.where(z > 0, lp.col_lo, lp.col_hi)
    cb = np.where(np.isfinite(cb), cb, x)
    primal = float(lp.cost @ x + lp.offset)
    dual = float(y @ rb + z @ cb + lp.offset)
    viol = max(viol_row.max(initial=0.0), viol_col.max(initial=0.0))
    return viol, abs(primal - dual) / max(1.0, abs(primal))


# --- a tiny LP with one nondegenerate optimum, in badly scaled units ---------------------------------


def _toy():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1e9))
    m.y = pyo.Var(bounds=(0, None))
    m.c1 = pyo.Constraint(expr=1e3 * m.x + 2e3 * m.y >= 4e7)
    m.c2 = pyo.Constraint(expr=3e-3 * m.x + 1e-3 * m.y >= 50)
    m.o = pyo.Objective(expr=3e6 * m.x + 2e6 * m.y + 1e5)
    return m


def test_toy_scaled_and_unscaled_give_the_unique_optimum_and_duals(tmp_path):
    # optimum x = 12000, y = 14000; duals u(c1) = 600, v(c2) = 8e8 (by hand)
    out = {}
    for scale in (False, True):
        m = _toy()
        r, log_text = _solve_logged(m, tmp_path, f"toy{scale}", scale=scale)
        assert r.model_status == "Optimal"
        out[scale] = (r, m.x.value, m.y.value, r.dual(m.c1), r.dual(m.c2), _warnings(log_text))
    for scale, (r, x, y, u, v, _) in out.items():
        assert x == pytest.approx(12000, rel=EXACT_RTOL), scale
        assert y == pytest.approx(14000, rel=EXACT_RTOL), scale
        assert u == pytest.approx(600, rel=EXACT_RTOL), scale
        assert v == pytest.approx(8e8, rel=EXACT_RTOL), scale
        assert r.objective == pytest.approx(6.4e10 + 1e5, rel=EXACT_RTOL), scale
    assert out[False][5], "the unscaled toy should trigger HiGHS's scaling warnings (wording check)"
    assert not out[True][5], out[True][5]
    assert out[True][0].scaling is not None and out[False][0].scaling is None


def test_factors_are_powers_of_two_and_scaling_is_exact():
    lp = standard_lp(build_model(small_inputs(**BATTERY_DC)).model)
    sc = scale_factors(lp)
    for f in (sc.col, sc.row, np.array([sc.obj])):
        mant, _ = np.frexp(f)
        assert np.all(mant == 0.5)
    s = sc.apply(lp)
    rows = np.repeat(np.arange(lp.A.shape[0]), np.diff(lp.A.indptr))
    assert np.array_equal(s.A.data / (sc.row[rows] * sc.col[lp.A.indices]), lp.A.data)
    assert np.array_equal(s.cost / sc.col / sc.obj, lp.cost)
    assert np.array_equal(s.col_lo * sc.col, lp.col_lo) and np.array_equal(s.col_hi * sc.col, lp.col_hi)
    assert np.array_equal(s.row_lo / sc.row, lp.row_lo) and np.array_equal(s.row_hi / sc.row, lp.row_hi)
    # within HiGHS's no-warning window [1e-4, 1e6], and a tighter matrix than the model's own
    r0, r1 = lp.ranges(), s.ranges()
    for k in ("cost", "bound", "rhs"):
        assert 1e-4 <= r1[k][0] and r1[k][1] <= 1e6, (k, r1[k])
    assert r1["matrix"][1] / r1["matrix"][0] < 1e4 < r0["matrix"][1] / r0["matrix"][0]


@pytest.fixture(scope="module")
def battery_dc(tmp_path_factory):
    """The small battery + demand-charge + measures case, solved unscaled and scaled (logs captured)."""
    tmp = tmp_path_factory.mktemp("battery_dc")
    pm = build_model(small_inputs(**BATTERY_DC))
    lp = standard_lp(pm.model)
    out = {}
    for scale in (False, True):
        r, log_text = _solve_logged(pm.model, tmp, f"scale{scale}", scale=scale)
        build = np.array([pm.model.build[k].value for k in pm.model.build])
        batt = np.array([v.value for v in pm.model.bE_build.values()] + [v.value for v in pm.model.bP_build.values()])
        out[scale] = (r, log_text, build, batt)
    return lp, out


def test_battery_demand_charge_log_has_no_scaling_warning(battery_dc):
    _, out = battery_dc
    assert _warnings(out[False][1]), "the unscaled hand-over should show HiGHS's warnings (wording check)"
    assert not _warnings(out[True][1]), _warnings(out[True][1])
    assert "Coefficient ranges" in out[True][1]


def test_battery_demand_charge_scaled_matches_unscaled(battery_dc):
    lp, out = battery_dc
    (r0, _, build0, batt0), (r1, _, build1, batt1) = out[False], out[True]
    assert r0.model_status == r1.model_status == "Optimal"
    assert r1.objective == pytest.approx(r0.objective, rel=OBJ_RTOL)
    assert np.allclose(build1, build0, atol=KWP_ATOL)
    assert np.allclose(batt1, batt0, atol=KWP_ATOL)
    for r in (r0, r1):
        viol, gap = _kkt(lp, r.col_value, r.row_dual)
        assert viol < FEAS_TOL, viol
        assert gap < KKT_RTOL, gap
        assert lp.cost @ r.col_value + lp.offset == pytest.approx(r.objective, rel=OBJ_RTOL)


CASES = {
    "annual_export_milestones": dict(
        n_sites=2,
        n_years=2,
        pv_to_load=2.0,
        export=[True, False],
        milestones=[
            {"name": "certs", "type": "min_certificates_mwh", "year": 2024, "mwh": 300.0},
            {"name": "pv", "type": "min_portfolio_kwp", "year": 2025, "kwp": 1500.0},
        ],
    ),
    "measures_export": dict(n_sites=2, n_years=1, measures=True, export=True, export_limit_kw=200.0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_scaled_matches_unscaled_and_pyomo_interface(case):
    d = small_inputs(**CASES[case])
    res = {}
    for scale in (False, True):
        pm = build_model(d)
        r = solve_direct(pm.model, scale=scale)
        assert r.model_status == "Optimal"
        lp = standard_lp(pm.model)
        viol, gap = _kkt(lp, r.col_value, r.row_dual)
        assert viol < FEAS_TOL and gap < KKT_RTOL, (scale, viol, gap)
        build = np.array([pm.model.build[k].value for k in pm.model.build])
        duals = {n: [r.dual(c) for _, c in mr.rows] for n, mr in pm.milestones.items()}
        res[scale] = (r.objective, build, duals)
    pm_p = build_model(d, matrix=False)
    sol_p, _ = solve_model(pm_p, SolveOptions(interface="pyomo"))
    assert sol_p.status == Status.OPTIMAL
    build_p = np.array([pm_p.model.build[k].value for k in pm_p.model.build])
    duals_p = {n: [sol_p.dual(c) for _, c in mr.rows] for n, mr in pm_p.milestones.items()}
    for obj, build, duals in (res[True], (sol_p.objective, build_p, duals_p)):
        assert obj == pytest.approx(res[False][0], rel=OBJ_RTOL)
        assert build.sum() == pytest.approx(res[False][1].sum(), abs=KWP_ATOL)
        for n in duals:
            assert np.allclose(np.abs(duals[n]), np.abs(res[False][2][n]), rtol=DUAL_RTOL, atol=1e-6), n
