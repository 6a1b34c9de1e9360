"""DeepMind Control Suite tasks as Gymnasium environments (the `control` extra: dm_control, mujoco).

`make_control_suite("cartpole-swingup", seed)` loads the task and exposes it through the Gymnasium API:
the observation dict is flattened in the task's key order to one float32 vector, the action spec
becomes a Box, and the episode ends as dm_env says: a last step with discount 0 is a termination (no
bootstrap), one with a nonzero discount (the suite's 1000-step time limit) is a truncation.
Rescale the actions with `anthology.envs.stacked_pendulum.rescale_actions` for the paper's action-scale
experiments.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from anthology.core.errors import AnthologyError, UnknownNameError, require

gym = require("gymnasium", "control")


def split_task_name(name: str) -> tuple[str, str]:
    """'ball_in_cup-catch' -> ('ball_in_cup', 'catch')."""
    domain, sep, task = name.partition("-")
    if not sep or not domain or not task:
        raise AnthologyError(f"'{name}' is not a control-suite task name; write it as domain-task, "
                             "e.g. cartpole-swingup or walker-walk")
    return domain, task


class ControlSuiteEnv(gym.Env):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, name: str, seed: int = 0, action_repeat: int = 1) -> None:
        os.environ.setdefault("MUJOCO_GL", "disable")  # no rendering here; set MUJOCO_GL=egl to render
        suite = require("dm_control.suite", "control")
        domain, task = split_task_name(name)
        if (domain, task) not in suite.ALL_TASKS:
            raise UnknownNameError("control-suite task", name, (f"{d}-{t}" for d, t in suite.ALL_TASKS))
        self.name, self.action_repeat, self._suite = name, action_repeat, suite
        self._env = suite.load(domain, task, task_kwargs={"random": seed})
        spec = self._env.action_spec()
        self.action_space = gym.spaces.Box(spec.minimum.astype(np.float32), spec.maximum.astype(np.float32),
                                           dtype=np.float32)
        dim = sum(int(np.prod(v.shape)) for v in self._env.observation_spec().values())
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), dtype=np.float32)

    @staticmethod
    def _flatten(observation: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(v, dtype=np.float32).ravel() for v in observation.values()])

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:  # the suite draws its initial states from the task's own RandomState
            domain, task = split_task_name(self.name)
            self._env = self._suite.load(domain, task, task_kwargs={"random": seed})
        return self._flatten(self._env.reset().observation), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = 0.0
        for _ in range(self.action_repeat):
            step = self._env.step(np.asarray(action, dtype=np.float64))
            reward += float(step.reward or 0.0)
            if step.last():
                break
        terminated = bool(step.last() and step.discount == 0.0)
        truncated = bool(step.last() and not terminated)
        return self._flatten(step.observation), reward, terminated, truncated, {}


def make_control_suite(name: str, seed: int = 0, action_repeat: int = 1) -> ControlSuiteEnv:
    return ControlSuiteEnv(name, seed, action_repeat)
