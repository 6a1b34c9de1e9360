import pytest
import torch
from torch import nn

from anthology.rl.replay_buffer import ReplayBuffer
from anthology.rl.sac import (
    polyak_update,
    sac_actor_loss,
    sac_critic_loss,
    sac_critic_target,
    temperature_loss,
)


def test_critic_target_uses_the_smaller_critic_and_stops_at_termination():
    next_q = torch.tensor([[1.0, 2.0], [0.5, 3.0]])
    y = sac_critic_target(torch.tensor([1.0, 1.0]), torch.tensor([False, True]), next_q,
                          torch.tensor([-1.0, -1.0]), temperature=0.2, gamma=0.9)
    assert torch.allclose(y, torch.tensor([1.0 + 0.9 * (0.5 + 0.2), 1.0]))


def test_critic_loss_is_half_squared_error_summed_over_critics():
    loss, _ = sac_critic_loss(torch.tensor([[1.0, 1.0], [2.0, 0.0]]), torch.tensor([0.0, 0.0]))
    assert torch.isclose(loss, torch.tensor(0.5 * 1.0 + 0.5 * 2.0))


def test_actor_loss_trades_q_against_log_prob():
    loss, info = sac_actor_loss(torch.tensor([[3.0], [2.0]]), torch.tensor([-1.0]), temperature=0.5)
    assert torch.isclose(loss, torch.tensor(0.5 * -1.0 - 2.0)) and info["train/entropy"] == 1.0


def test_temperature_rises_when_entropy_is_below_target():
    log_t = torch.zeros((), requires_grad=True)
    loss, _ = temperature_loss(log_t, torch.tensor([2.0, 2.0]), target_entropy=-1.0)  # entropy -2 < -1
    loss.backward()
    assert log_t.grad < 0  # gradient descent increases log t


def test_polyak_update_moves_targets_towards_online():
    online, target = nn.Linear(2, 1), nn.Linear(2, 1)
    before = target.weight.clone()
    polyak_update(target, online, 0.25)
    assert torch.allclose(target.weight, 0.75 * before + 0.25 * online.weight)


def test_replay_buffer_wraps_samples_and_round_trips():
    buf = ReplayBuffer(4, obs_dim=2, action_dim=1)
    with pytest.raises(ValueError, match="empty"):
        buf.sample(1, torch.Generator())
    for i in range(6):
        buf.add(torch.full((1, 2), float(i)), torch.zeros(1, 1), torch.tensor([float(i)]), torch.zeros(1, 2),
                torch.tensor([False]))
    assert buf.size == 4 and sorted(buf.reward.tolist()) == [2.0, 3.0, 4.0, 5.0]
    batch = buf.sample(64, torch.Generator().manual_seed(0))
    assert set(batch.reward.tolist()) == {2.0, 3.0, 4.0, 5.0}
    other = ReplayBuffer(4, 2, 1)
    other.load_state_dict(buf.state_dict())
    assert torch.equal(other.obs, buf.obs) and other.position == buf.position and other.size == 4
