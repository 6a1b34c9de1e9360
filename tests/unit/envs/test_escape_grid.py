"""The escape grid's exact expected episode length: sparse solve against a dense one, and at n = 8."""

import pytest
import torch

from anthology.envs.escape_grid import EscapeGrid
from anthology.rl.soft_q import soft_policy, soft_value_iteration
from anthology.rl.temperature import static_discrete_temperature


def dense_expected_length(grid: EscapeGrid, policy: torch.Tensor) -> float:
    _, next_state, _, terminal = grid.tables()
    transition = torch.zeros(grid.n_states, grid.n_states, dtype=torch.float64)
    transition.scatter_add_(1, next_state, policy.double())
    live = ~terminal
    p = transition[live][:, live]
    eye = torch.eye(int(live.sum()), dtype=torch.float64)
    return float(torch.linalg.solve(eye - p, torch.ones(int(live.sum()), dtype=torch.float64))[grid.start])


@pytest.mark.parametrize("ndim", [2, 3, 4])
def test_sparse_expected_length_equals_the_dense_solve(ndim):
    grid = EscapeGrid(ndim)
    policy = torch.randn(grid.n_states, grid.n_actions, generator=torch.Generator().manual_seed(ndim)).softmax(-1)
    assert grid.expected_length(policy) == pytest.approx(dense_expected_length(grid, policy), rel=1e-9)


@pytest.mark.parametrize("width", [2, 3, 5])
def test_one_dimensional_random_walk_has_its_closed_form(width):
    # a fair +-1 walk on 0..w-1 that stays put at the wall at 0 needs (w - 1) w steps to reach w - 1
    grid = EscapeGrid(1, width=width)
    uniform = torch.full((grid.n_states, grid.n_actions), 0.5)
    assert grid.expected_length(uniform) == pytest.approx((width - 1) * width)


def test_exact_lengths_scale_to_eight_dimensions():
    # 65,536 states: a dense transition matrix would need 34 GB
    grid = EscapeGrid(8)
    uniform = torch.full((grid.n_states, grid.n_actions), 1.0 / grid.n_actions)
    assert grid.expected_length(uniform) == pytest.approx(153508.88, rel=1e-6)
    reward, next_state, mask, terminal = grid.tables()
    tau = static_discrete_temperature(0.4, mask.sum(-1))
    _, q = soft_value_iteration(reward, next_state, mask, terminal, tau)
    length = grid.expected_length(soft_policy(q, mask, tau))
    assert grid.shortest_path <= length < 1.05 * grid.shortest_path  # 24.09 against 24
