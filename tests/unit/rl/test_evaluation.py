import numpy as np
import pytest
import torch

gym = pytest.importorskip("gymnasium")

from anthology.rl.evaluation import evaluate_policy  # noqa: E402


def _by_hand(act, seeds):
    env, returns = gym.make("Pendulum-v1"), []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def test_evaluate_policy_is_the_mean_return_of_episodes_reset_with_consecutive_seeds():
    def policy(obs):
        return -obs[:, 2:3].clamp(-2, 2)  # push against the angular velocity

    got = evaluate_policy(policy, gym.make("Pendulum-v1"), 3, seed=10)
    want = _by_hand(lambda o: -np.clip(o[2:3], -2, 2).astype(np.float32), [10, 11, 12])
    assert got == pytest.approx(want, rel=1e-6)
    assert got != pytest.approx(evaluate_policy(policy, gym.make("Pendulum-v1"), 3, seed=20), rel=1e-3)


def test_evaluate_policy_runs_without_building_a_graph():
    weight = torch.ones(3, 1, requires_grad=True)
    seen = []

    def policy(obs):
        action = (obs @ weight).clamp(-2, 2)
        seen.append(action.requires_grad)
        return action

    evaluate_policy(policy, gym.make("Pendulum-v1"), 1, seed=0)
    assert not any(seen)
