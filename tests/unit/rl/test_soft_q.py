import math

import pytest
import torch

from anthology.envs.distractor_chain import DistractorChain
from anthology.envs.escape_grid import EscapeGrid
from anthology.rl.soft_q import soft_policy, soft_q_target, soft_value, soft_value_iteration
from anthology.rl.temperature import static_discrete_temperature


def test_discrete_soft_optimum_on_a_bandit_is_softmax_of_reward_over_tau():
    rewards = torch.tensor([[1.0, 0.5, -0.2, 0.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True, False]])
    tau = 0.3
    policy = soft_policy(rewards, mask, tau)
    expected = torch.softmax(rewards[:, :3] / tau, -1)
    assert torch.allclose(policy[:, :3], expected) and policy[0, 3] == 0
    assert torch.allclose(soft_value(rewards, mask, tau), tau * torch.logsumexp(rewards[:, :3] / tau, -1))


def test_soft_target_stops_at_episode_ends():
    q = torch.zeros(2, 3)
    mask = torch.ones(2, 3, dtype=torch.bool)
    target = soft_q_target(torch.tensor([1.0, 1.0]), torch.tensor([False, True]), q, mask, 1.0, 0.9)
    assert torch.allclose(target, torch.tensor([1.0 + 0.9 * math.log(3), 1.0]))


def _length(ndim: int, decoupled: bool, tau: float = 0.4) -> float:
    env = EscapeGrid(ndim)
    reward, next_state, mask, terminal = env.tables()
    temperature = static_discrete_temperature(tau, mask.sum(1)) if decoupled else tau
    _, q = soft_value_iteration(reward, next_state, mask, terminal, temperature)
    return env.expected_length(soft_policy(q, mask, temperature))


def test_escape_grid_fixed_temperature_wanders_more_as_actions_grow_and_decoupled_does_not():
    fixed = [_length(n, False) for n in (2, 3, 4)]
    decoupled = [_length(n, True) for n in (2, 3, 4)]
    assert fixed[0] < fixed[1] < fixed[2]  # 6.7, 11.3, 17.6 in the design notes
    for n, length in zip((2, 3, 4), decoupled):
        assert 3 * n <= length <= 1.05 * 3 * n  # within 5% of the shortest path (6.2, 9.2, 12.1 in the notes)
    assert abs(fixed[0] - 6.7) < 0.05 and abs(decoupled[2] - 12.1) < 0.05


def test_soft_value_iteration_reports_divergence():
    env = EscapeGrid(2)
    reward, next_state, mask, terminal = env.tables()
    # tau log 4 > 1: wandering earns more entropy than it costs, so the values grow without bound
    with pytest.raises(ArithmeticError, match=r"diverged|did not converge"):
        soft_value_iteration(reward, next_state, mask, terminal, tau=5.0, max_iterations=2000)


def test_soft_value_iteration_stops_early_on_a_slow_linear_divergence():
    # 64 distractors at tau 0.3: 64 exp(-1 / 0.3) > 1, so V grows by a step that approaches a constant from
    # above (the old check, "the step did not shrink", never fired and the loop ran its million iterations)
    chain = DistractorChain((2, 65))
    reward, next_state, mask, terminal = chain.tables()
    with pytest.raises(ArithmeticError, match="diverged"):
        soft_value_iteration(reward, next_state, mask, terminal, tau=0.3, max_iterations=20_000)
