"""Evaluating a policy on a Gymnasium environment, the same way in every method."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

EPISODE_SEED_STRIDE = 100_003  # episode e of seed s resets the env with seed s * stride + e


@torch.no_grad()
def evaluate_policy(act: Callable[[torch.Tensor], torch.Tensor], env: Any, episodes: int, seed: int) -> float:
    """Mean undiscounted return of the deterministic policy `act` (obs [1, o] float32 -> action [1, d]) over
    `episodes` episodes, episode i reset with seed + i."""
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            action = act(torch.as_tensor(obs, dtype=torch.float32)[None])[0]
            obs, reward, terminated, truncated, _ = env.step(action.numpy())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))
