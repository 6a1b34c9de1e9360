"""Exact hypervolume against closed forms and a Monte Carlo estimate."""

import numpy as np
import pytest

from anthology.core.hypervolume import hypervolume, pareto_front


def test_two_dimensional_staircase():
    assert hypervolume(np.array([[1.0, 2.0], [2.0, 1.0]])) == pytest.approx(3.0)
    assert hypervolume(np.array([[1.0, 2.0], [2.0, 1.0], [0.5, 0.5]])) == pytest.approx(3.0)  # dominated point
    assert hypervolume(np.array([[3.0, 3.0]]), reference=np.array([1.0, 2.0])) == pytest.approx(2.0)


def test_single_box_and_dominated_points():
    assert hypervolume(np.array([[0.5, 0.4, 0.2, 1.0]])) == pytest.approx(0.04)
    assert len(pareto_front(np.array([[1, 1], [0.5, 0.5], [1, 1]]))) == 1
    assert hypervolume(np.array([[-1.0, 2.0]])) == 0.0


def test_four_dimensions_against_monte_carlo():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1, (12, 4))
    samples = rng.uniform(0, 1, (400_000, 4))
    covered = np.zeros(len(samples), bool)
    for p in points:
        covered |= np.all(samples <= p, axis=1)
    # Monte Carlo standard error at 400k samples is below 1e-3 for volumes of this size
    assert hypervolume(points) == pytest.approx(covered.mean(), abs=3e-3)
