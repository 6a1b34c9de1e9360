"""A fixed-size ring buffer of transitions held as tensors (checkpointable through `state_dict`)."""

from __future__ import annotations

from typing import NamedTuple

import torch


class Batch(NamedTuple):
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    done: torch.Tensor  # true termination (not time-limit truncation): no bootstrap


class ReplayBuffer:
    def __init__(self, capacity: int, obs_dim: int, action_dim: int, action_dtype: torch.dtype = torch.float32) -> None:
        self.capacity = capacity
        self.obs = torch.zeros(capacity, obs_dim)
        self.next_obs = torch.zeros(capacity, obs_dim)
        self.action = torch.zeros(capacity, action_dim, dtype=action_dtype)
        self.reward = torch.zeros(capacity)
        self.done = torch.zeros(capacity, dtype=torch.bool)
        self.position, self.size = 0, 0

    def add(self, obs: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, next_obs: torch.Tensor,
            done: torch.Tensor) -> None:
        """Add a batch of transitions (leading dimension n), overwriting the oldest when full."""
        n = obs.shape[0]
        idx = (self.position + torch.arange(n)) % self.capacity
        self.obs[idx], self.action[idx], self.reward[idx] = obs, action.to(self.action.dtype), reward
        self.next_obs[idx], self.done[idx] = next_obs, done
        self.position = int((self.position + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = torch.randint(self.size, (batch_size,), generator=generator)
        return Batch(self.obs[idx], self.action[idx], self.reward[idx], self.next_obs[idx], self.done[idx])

    def state_dict(self) -> dict:
        return {"obs": self.obs, "next_obs": self.next_obs, "action": self.action, "reward": self.reward,
                "done": self.done, "position": self.position, "size": self.size}

    def load_state_dict(self, state: dict) -> None:
        for key in ("obs", "next_obs", "action", "reward", "done"):
            getattr(self, key).copy_(state[key])
        self.position, self.size = int(state["position"]), int(state["size"])
