import numpy as np
import pytest

from anthology.core.errors import AnthologyError, UnknownNameError

pytest.importorskip("dm_control", reason="the control extra (dm_control, mujoco) is installed by make test")
from anthology.envs.control_suite import make_control_suite, split_task_name
from anthology.envs.stacked_pendulum import rescale_actions


def test_a_suite_task_speaks_gymnasium_and_truncates_at_its_time_limit():
    env = make_control_suite("cartpole-swingup", seed=0)
    obs, _ = env.reset(seed=1)
    assert obs.shape == env.observation_space.shape == (5,) and obs.dtype == np.float32
    assert env.action_space.shape == (1,)
    steps, done = 0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(np.zeros(1, dtype=np.float32))
        assert 0.0 <= reward <= 1.0
        steps, done = steps + 1, terminated or truncated
    assert steps == 1000 and truncated and not terminated  # a time limit, not a termination


def test_seeded_resets_repeat_and_rescaled_actions_keep_the_box():
    env = make_control_suite("ball_in_cup-catch", seed=0)
    first, again = env.reset(seed=3)[0], env.reset(seed=3)[0]
    np.testing.assert_array_equal(first, again)
    scaled = rescale_actions(env, 4.0)
    assert scaled.action_space.high.tolist() == [4.0, 4.0]
    scaled.reset(seed=0)
    scaled.step(np.full(2, 4.0, dtype=np.float32))  # the top of the agent's box is the env's +1


def test_bad_task_names_are_user_errors():
    with pytest.raises(AnthologyError, match="domain-task"):
        split_task_name("cartpole")
    with pytest.raises(UnknownNameError, match="Did you mean 'cartpole-swingup'"):
        make_control_suite("cartpole-swingup2")
