"""LambdaZero's calls-to-reach-a-score metric and the screen's expected calls from a scored pool."""

import numpy as np
import pytest

from anthology.methods.lambdazero.speedup import (
    bootstrap_lower,
    calls_to_reach,
    running_top_k_mean,
    screening_calls,
)


def test_the_running_top_k_mean_counts_only_satisfying_successful_calls():
    curve = running_top_k_mean([1.0, None, 3.0, 9.0, 5.0], [True, True, True, False, True], k=2)
    np.testing.assert_allclose(curve, [np.nan, np.nan, 2.0, 2.0, 4.0])  # 9.0 fails the constraints
    np.testing.assert_array_equal(calls_to_reach(curve, [2.0, 3.0, 4.0, 4.5]), [3, 5, 5, np.inf])


def test_a_screens_expected_calls_are_those_of_a_random_order_of_its_pool():
    pool = np.arange(1.0, 10.0)  # 9 molecules; with k = 1 the running best reaches 9 at the max's position
    calls = screening_calls(pool, [9.0, 8.0, 1.0, 9.5], k=1, orders=20_000, seed=0)
    # E[position of the max] = (N + 1) / 2; E[first of the top two] = (N + 1) / 3; any molecule reaches 1
    np.testing.assert_allclose(calls[:3], [5.0, 10 / 3, 1.0], atol=0.08)  # Monte Carlo SE about 0.02
    assert calls[3] == np.inf  # above the pool's best: the pool cannot say
    assert not np.array_equal(calls, screening_calls(pool, [9.0, 8.0, 1.0, 9.5], k=1, orders=3, seed=1))


def test_the_seed_bootstrap_lower_bound():
    assert bootstrap_lower([3.0, 3.0, 3.0]) == 3.0
    low = bootstrap_lower([1.0, 2.0, 9.0])
    assert 1.0 <= low < 4.0  # below the mean (4): the bootstrap sees the spread
    assert bootstrap_lower([1.0, 2.0, 9.0], level=0.5) == pytest.approx(4.0, abs=0.1)
