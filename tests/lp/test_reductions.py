"""The pruning of dominated peak and limit hours (pvopt.lp.reductions.nondominated)."""

from __future__ import annotations

import numpy as np
import pytest

from pvopt.lp.reductions import nondominated, nondominated_pairwise


@pytest.mark.parametrize("seed", range(40))
def test_pivot_filter_keeps_exactly_the_pairwise_skyline(seed: int) -> None:
    """The pivot pre-filter drops only dominated rows: the same indices as the pairwise test, ties included."""
    rng = np.random.default_rng(seed)
    n, f = int(rng.integers(1, 700)), int(rng.integers(1, 6))
    if seed % 2:
        X = rng.integers(0, 4, size=(n, f)).astype(float)  # many ties and equal rows
    else:
        X = rng.normal(size=(n, f))
        X[:, 0] += 2.0 * X[:, 1:].sum(axis=1)  # correlated, like load against yield
    assert np.array_equal(nondominated(X), nondominated_pairwise(X))


def test_dominated_hour_is_dropped_and_equal_rows_keep_the_first() -> None:
    """Hour 1 has less load and more yield than hour 0; hours 2 and 3 are equal, so only 2 stays."""
    X = np.array([[10.0, -1.0], [9.0, -2.0], [5.0, 0.0], [5.0, 0.0]])
    assert nondominated(X, n_pivots=1).tolist() == [0, 2]
    assert nondominated_pairwise(X).tolist() == [0, 2]
