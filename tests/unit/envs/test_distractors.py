import numpy as np
import pytest

pytest.importorskip("gymnasium")
import gymnasium as gym

from anthology.core.errors import AnthologyError
from anthology.envs.distractors import GaussianDistractors


def _pair(dims, scale=1.0, seed=3):
    plain, wrapped = gym.make("Pendulum-v1"), GaussianDistractors(gym.make("Pendulum-v1"), dims, scale)
    return plain, wrapped, plain.reset(seed=seed)[0], wrapped.reset(seed=seed)[0]


def test_distractors_append_dims_and_keep_the_true_observation():
    plain, wrapped, obs, distracted = _pair(64)
    assert wrapped.observation_space.shape == (3 + 64,) and distracted.shape == (67,)
    np.testing.assert_array_equal(distracted[:3], obs)
    for _ in range(5):
        action = np.array([0.5], dtype=np.float32)
        obs, *_ = plain.step(action)
        distracted, *_ = wrapped.step(action)
        np.testing.assert_array_equal(distracted[:3], obs)  # the task's own dimensions are untouched


def test_distractors_are_standard_normal_times_scale_and_fresh_every_step():
    _, wrapped, _, first = _pair(64, scale=2.0)
    samples = [first[3:]] + [wrapped.step(np.zeros(1, dtype=np.float32))[0][3:] for _ in range(200)]
    noise = np.stack(samples)
    assert abs(noise.mean()) < 0.1 and abs(noise.std() - 2.0) < 0.1  # 12,864 draws: se of mean 0.018
    assert not np.allclose(noise[0], noise[1])


def test_same_seed_same_distractors_other_seed_other():
    a = _pair(8, seed=1)[3]
    b = _pair(8, seed=1)[3]
    c = _pair(8, seed=2)[3]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[3:], c[3:])


def test_no_distractors_is_the_plain_observation_and_bad_sizes_are_refused():
    _, _, obs, distracted = _pair(0)
    np.testing.assert_array_equal(obs, distracted)
    with pytest.raises(AnthologyError, match="dims >= 0"):
        GaussianDistractors(gym.make("Pendulum-v1"), -1)
