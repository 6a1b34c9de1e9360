"""Distracting observation dimensions (Ni et al. 2024, `workspaces/distracted_env.py` of the official code):
each observation gains `dims` i.i.d. N(0, scale^2) entries that carry no information about the task.

Needs the `control` extra (gymnasium); import this module only where it is used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from anthology.core.errors import AnthologyError, require

gym = require("gymnasium", "control")


class GaussianDistractors(gym.ObservationWrapper):
    """obs -> concat(obs, eps), eps ~ N(0, scale^2 I_dims), fresh at every step and reset. The noise comes
    from its own generator, seeded by `reset(seed=...)` (or `seed` here), so a run is reproducible."""

    def __init__(self, env: Any, dims: int, scale: float = 1.0, seed: int | None = None) -> None:
        if dims < 0 or not np.isfinite(scale) or scale < 0:
            raise AnthologyError(f"distractors need dims >= 0 and a finite scale >= 0 (got {dims}, {scale})")
        super().__init__(env)
        self.dims, self.scale = dims, scale
        self.rng = np.random.default_rng(seed)
        space = env.observation_space
        low = np.concatenate([space.low, np.full(dims, -np.inf)]).astype(space.dtype)
        high = np.concatenate([space.high, np.full(dims, np.inf)]).astype(space.dtype)
        self.observation_space = gym.spaces.Box(low, high, dtype=space.dtype)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None:
            self.rng = np.random.default_rng([seed, 1])  # a stream apart from the environment's own
        return super().reset(seed=seed, options=options)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        noise = self.scale * self.rng.standard_normal(self.dims)
        return np.concatenate([observation, noise]).astype(self.observation_space.dtype)
