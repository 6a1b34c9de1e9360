import math

import pytest
import torch

from anthology.envs.hypergrid import HyperGrid


@pytest.mark.parametrize("ndim,height,log_z", [(2, 8, 3.1091), (4, 8, 6.3449), (3, 8, 4.5971), (2, 16, 4.1836)])
def test_log_partition_matches_the_reference_reward(ndim, height, log_z):
    # Values from torchgfn's "original" reward (shared/papers/gfn_softrl.md); 2-D height 16 depends on the
    # threshold guards (4.3255 without them).
    env = HyperGrid(ndim, height)
    assert abs(float(torch.logsumexp(env.log_reward(env.all_states()), 0)) - log_z) < 1e-4


def test_closed_form_path_count_agrees_with_the_parent_recursion():
    env = HyperGrid(3, 5)
    states = env.all_states()
    assert torch.allclose(env.log_n(states), env._count_paths(), atol=1e-9)
    assert math.isclose(float(env.log_n(torch.tensor([[2, 1, 1]])).exp()), 12.0)  # 4! / (2! 1! 1!)


def test_masks_steps_and_modes():
    env = HyperGrid(2, 4)
    states = torch.tensor([[0, 0], [3, 1], [3, 3]])
    assert env.forward_mask(states).tolist() == [[True, True, True], [False, True, True], [False, False, True]]
    assert env.backward_mask(states).tolist() == [[False, False], [True, True], [True, True]]
    assert env.step(states[:1], torch.tensor([1])).tolist() == [[0, 1]]
    assert env.step(states[:1], torch.tensor([env.exit_action])).tolist() == [[0, 0]]
    assert int(HyperGrid(2, 8).is_mode(HyperGrid(2, 8).all_states()).sum()) == 4
    assert env.to_input(states).shape == (3, 8) and env.to_input(states).sum(1).tolist() == [2.0, 2.0, 2.0]


def test_obstacles_are_never_entered_and_path_counts_lose_their_closed_form():
    env = HyperGrid(2, 6, blocked=0.15, seed=1)
    assert env.has_obstacles
    states = env.all_states()
    mask = env.forward_mask(states)[:, :2]
    children = torch.stack([env.index(env.step(states, torch.full((len(states),), a)).clamp(max=5)) for a in range(2)], 1)
    assert not (mask & env.blocked_cells[children]).any()
    free = env.valid_states()
    multinomial = torch.lgamma(states.sum(-1).double() + 1) - torch.lgamma(states.double() + 1).sum(-1)
    assert (env.log_n(states)[free] < multinomial[free] - 1e-9).any()
    assert torch.isinf(env.log_n(states)[~free]).all()
