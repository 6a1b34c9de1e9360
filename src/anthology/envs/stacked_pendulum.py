"""Pendulum stacked d times: the action dimension grows while the task does not.

d independent copies of Gymnasium's Pendulum-v1 run side by side; the agent's action has one torque
per copy, its observation concatenates the copies' observations, and the reward is the mean of the
copies' rewards. The unregularised optimum is therefore the same for every d, while the entropy of a
policy over the action box grows like d: the decoupled-regularisation paper's continuous test.

`rescale_actions` wraps an environment so the agent acts in [-s, s]^d (Gymnasium's RescaleAction),
which shifts every policy's entropy by d log s without changing the task.

Needs the `control` extra (gymnasium); import this module only where it is used.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from anthology.core.errors import require

gym = require("gymnasium", "control")

PENDULUM_MAX_COST = math.pi**2 + 0.1 * 8.0**2 + 0.001 * 2.0**2
"""Pendulum-v1's largest cost a step, theta^2 + 0.1 theta_dot^2 + 0.001 u^2 at |theta| = pi, |theta_dot| = 8, |u| = 2."""
PENDULUM_DMC_SCALE = 1.0 / PENDULUM_MAX_COST
"""Multiplies Pendulum's reward into [-1, 0] a step: the control suite's scale ([0, 1] a step)."""


class StackedPendulum(gym.Env):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, copies: int = 1, max_episode_steps: int = 200) -> None:
        if copies < 1:
            raise ValueError("copies must be at least 1")
        self.copies, self.max_episode_steps = copies, max_episode_steps
        self.envs = [gym.make("Pendulum-v1").unwrapped for _ in range(copies)]
        single = self.envs[0]
        self.action_space = gym.spaces.Box(np.tile(single.action_space.low, copies),
                                           np.tile(single.action_space.high, copies), dtype=np.float32)
        self.observation_space = gym.spaces.Box(np.tile(single.observation_space.low, copies),
                                                np.tile(single.observation_space.high, copies), dtype=np.float32)
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        seeds = self.np_random.integers(0, 2**31 - 1, size=self.copies)
        obs = [env.reset(seed=int(s))[0] for env, s in zip(self.envs, seeds)]
        self.steps = 0
        return np.concatenate(obs).astype(np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = np.asarray(action, dtype=np.float32).reshape(self.copies, -1)
        obs, rewards = [], []
        for env, a in zip(self.envs, action):
            o, r, *_ = env.step(a)
            obs.append(o)
            rewards.append(r)
        self.steps += 1
        truncated = self.steps >= self.max_episode_steps
        return np.concatenate(obs).astype(np.float32), float(np.mean(rewards)), False, truncated, {}


def rescale_actions(env: Any, scale: float) -> Any:
    """The agent acts in [-scale, scale]^d; the environment receives the matching action in its own box."""
    low = np.full(env.action_space.shape, -scale, dtype=np.float32)
    return gym.wrappers.RescaleAction(env, low, -low)


def scale_rewards(env: Any, scale: float) -> Any:
    """Rewards multiplied by `scale` (Gymnasium's TransformReward); the environment itself when scale is 1."""
    return env if scale == 1.0 else gym.wrappers.TransformReward(env, lambda r: scale * r)
