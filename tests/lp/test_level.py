"""The level-set projection (pvopt.lp.level) on a two-variable master whose projections are known by hand.

Master: ``min x1 + x2`` s.t. ``x1 + x2 ≥ 1``, ``0 ≤ x ≤ 10``. The incumbent ``x̂ = (4, 2)`` costs 6;
its projection onto the level set ``x1 + x2 ≤ 4`` moves it by ``d`` with ``d1 + d2 = −2``:
``l2`` with scales ``s`` minimises ``Σ (d_i/s_i)²`` (``d_i ∝ s_i²``), ``linf`` moves every
coordinate by the same ``s_i·t``, ``l1`` moves ``Σ |d_i|/s_i`` as little as it can.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from pvopt.lp.highs import StandardLP
from pvopt.lp.level import NORMS, LevelProjection

X_ATOL = 1e-6  #: projected point vs the hand solution (HiGHS's tolerances are 1e-7)
X_HAT = np.array([4.0, 2.0])
LEVEL = 4.0


def _master(offset: float = 0.0) -> StandardLP:
    return StandardLP(np.array([1.0, 1.0]), np.zeros(2), np.full(2, 10.0), sp.csr_matrix(np.array([[1.0, 1.0]])), np.array([1.0]),
                      np.array([np.inf]), offset)


@pytest.mark.parametrize("norm, scale, expected", [
    ("l2", (1.0, 1.0), (3.0, 1.0)),
    ("l2", (2.0, 1.0), (2.4, 1.6)),  # d = (−1.6, −0.4): d_i ∝ s_i²
    ("linf", (1.0, 1.0), (3.0, 1.0)),
    ("linf", (3.0, 1.0), (2.5, 1.5)),  # d = −t·s with 4t = 2
])
def test_projection_onto_the_level_set(norm, scale, expected):
    p = LevelProjection(_master(), np.array([0, 1]), np.array(scale), norm)
    x = p.project(X_HAT, LEVEL)
    assert x is not None
    np.testing.assert_allclose(x, expected, atol=X_ATOL)


def test_l1_projection_moves_the_least_scaled_distance():
    p = LevelProjection(_master(), np.array([0, 1]), np.array([1.0, 4.0]), "l1")
    x = p.project(X_HAT, LEVEL)
    assert x is not None
    np.testing.assert_allclose(x, (4.0, 0.0), atol=X_ATOL)  # moving x2 (scale 4) costs 2/4, moving x1 would cost 2


def test_projection_honours_the_offset_and_later_cuts():
    p = LevelProjection(_master(offset=1.0), np.array([0, 1]), np.ones(2), "l2")
    x = p.project(X_HAT, LEVEL + 1.0)  # the offset counts in the level: x1 + x2 + 1 ≤ 5
    np.testing.assert_allclose(x, (3.0, 1.0), atol=X_ATOL)
    p.add_rows(np.array([3.5]), np.array([np.inf]), np.array([0], dtype=np.int32), np.array([0], dtype=np.int32), np.array([1.0]))  # x1 ≥ 3.5
    x = p.project(X_HAT, LEVEL + 1.0)
    np.testing.assert_allclose(x, (3.5, 0.5), atol=X_ATOL)
    assert (p.solves, p.failures) == (2, 0)


@pytest.mark.parametrize("norm", NORMS)
def test_an_empty_level_set_gives_no_point(norm):
    p = LevelProjection(_master(), np.array([0, 1]), np.ones(2), norm)
    assert p.project(X_HAT, 0.5) is None  # below the master optimum 1
    assert p.failures == 1
    np.testing.assert_allclose(p.project(X_HAT, LEVEL), p.project(X_HAT, LEVEL), atol=X_ATOL)  # and it recovers


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="norm"):
        LevelProjection(_master(), np.array([0, 1]), np.ones(2), "l3")
    with pytest.raises(ValueError, match="positive scale"):
        LevelProjection(_master(), np.array([0, 1]), np.array([1.0, 0.0]), "l2")


@pytest.mark.parametrize("norm", ["l1", "linf"])
def test_warm_start_from_the_master_basis(norm):
    import highspy

    from pvopt.lp.highs import highs_lp

    m = _master()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(highs_lp(m))
    h.run()
    b = h.getBasis()
    p = LevelProjection(m, np.array([0, 1]), np.ones(2), norm)
    assert p.warm_start(b.col_status, b.row_status, np.asarray(h.getSolution().col_value), X_HAT)
    x = p.project(X_HAT, LEVEL)
    assert x is not None
    assert x.sum() == pytest.approx(LEVEL, abs=X_ATOL)
    assert np.abs(x - X_HAT).sum() == pytest.approx(2.0, abs=X_ATOL)
    if norm == "linf":
        np.testing.assert_allclose(x, (3.0, 1.0), atol=X_ATOL)
