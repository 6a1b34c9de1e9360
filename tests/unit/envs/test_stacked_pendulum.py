import numpy as np
import pytest

pytest.importorskip("gymnasium", reason="the stacked pendulum needs the control extra (gymnasium)")

import gymnasium as gym

from anthology.envs.stacked_pendulum import StackedPendulum, rescale_actions


def test_copies_stack_observations_and_actions_and_average_rewards():
    env = StackedPendulum(copies=3)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (9,) and env.action_space.shape == (3,)
    single = gym.make("Pendulum-v1").unwrapped
    rewards = []
    for i, copy in enumerate(env.envs):
        single.reset()
        single.state = copy.state.copy()
        rewards.append(single.step(np.array([0.5 * i], dtype=np.float32))[1])
    _, reward, terminated, truncated, _ = env.step(np.array([0.0, 0.5, 1.0]))
    assert np.isclose(reward, np.mean(rewards)) and not terminated and not truncated


def test_episodes_truncate_and_reset_is_seeded():
    env = StackedPendulum(copies=2, max_episode_steps=5)
    first, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    assert np.array_equal(first, again)
    for _ in range(4):
        assert not env.step(np.zeros(2))[3]
    assert env.step(np.zeros(2))[3]


def test_rescaled_actions_reach_the_environment_in_its_own_units():
    env = rescale_actions(StackedPendulum(copies=2), scale=4.0)
    assert np.allclose(env.action_space.low, -4.0) and np.allclose(env.action_space.high, 4.0)
    assert np.allclose(env.action(np.array([4.0, -2.0])), [2.0, -1.0])  # Pendulum's box is [-2, 2]
