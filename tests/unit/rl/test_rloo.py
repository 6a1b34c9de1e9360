"""RLOO: leave-one-out advantages by hand, and the clipped surrogate."""

import pytest
import torch

from anthology.rl.rloo import rloo_advantages, rloo_loss


def test_advantage_is_reward_minus_the_mean_of_the_others():
    rewards = torch.tensor([[1.0, 2.0, 3.0, 6.0], [0.5, 0.5, 0.5, 0.5]])
    # sample 0: 1 - (2 + 3 + 6) / 3 = -8/3; sample 3: 6 - (1 + 2 + 3) / 3 = 4
    expected = torch.tensor([[1 - 11 / 3, 2 - 10 / 3, 3 - 9 / 3, 6 - 6 / 3], [0.0, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(rloo_advantages(rewards), expected)
    with pytest.raises(ValueError):
        rloo_advantages(torch.ones(3, 1))


def test_clipped_surrogate_stops_the_gradient_outside_the_trust_region():
    old = torch.zeros(3)
    new = torch.log(torch.tensor([1.0, 1.5, 0.5])).requires_grad_(True)
    advantages = torch.tensor([1.0, 1.0, -1.0])
    loss, info = rloo_loss(new, old, advantages, clip=0.2)
    # ratios 1, 1.5 (clipped to 1.2 for A > 0), 0.5 (clipped to 0.8 for A < 0): -(1 + 1.2 - 0.8) / 3
    assert loss.item() == pytest.approx(-(1.0 + 1.2 - 0.8) / 3)
    loss.backward()
    assert new.grad[1] == 0 and new.grad[2] == 0 and new.grad[0] == pytest.approx(-1 / 3)
    assert info["clip_fraction"] == pytest.approx(2 / 3)
