"""The interface of a differentiable control task: batched torch dynamics and a known reward.

A task is a deterministic map from (state, action, t) to the next state, differentiable in both, with a
reward the agent is told. The tasks themselves are in `control_tasks.py` (and `myriad.py`).
"""

from __future__ import annotations

import torch
from torch import Tensor


class ControlTask:
    """A finite-horizon control task with differentiable dynamics and a known reward.

    Subclasses set `name`, `state_dim` (S), `action_dim` (A), `horizon` (L, actions per episode),
    `action_low`/`action_high` (length A), and implement `initial_state`, `step` and `reward`. `rollout` is
    written once here from `step` and `reward`.
    """

    name: str
    state_dim: int
    action_dim: int
    horizon: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]

    def initial_state(self, batch: int, generator: torch.Generator | None = None,
                      dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
        """s_1 for `batch` episodes: [B, S]."""
        raise NotImplementedError

    def step(self, state: Tensor, action: Tensor, t: int) -> Tensor:
        """s_{t+1} from s_t [B, S] and a_t [B, A] at step t (0-based): [B, S]."""
        raise NotImplementedError

    def reward(self, state: Tensor, action: Tensor, next_state: Tensor, t: int) -> Tensor:
        """r_t for the transition (s_t, a_t, s_{t+1}) at step t: [B]."""
        raise NotImplementedError

    def clamp_action(self, action: Tensor) -> Tensor:
        """The action clamped into [action_low, action_high], on the action's dtype and device (its gradient
        is zero outside the bounds, so map an unbounded policy output into them first, e.g. by tanh)."""
        low = torch.tensor(self.action_low, dtype=action.dtype, device=action.device)
        high = torch.tensor(self.action_high, dtype=action.dtype, device=action.device)
        return torch.clamp(action, low, high)

    def rollout(self, initial_state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """Unroll an episode from s_1 [B, S] with actions [B, L, A] (L <= horizon, starting at t = 0).

        Returns states [B, L+1, S] (s_1 ... s_{L+1}) and rewards [B, L], both differentiable in the initial
        state and the actions.
        """
        if actions.dim() != 3 or actions.shape[-1] != self.action_dim or actions.shape[1] > self.horizon:
            raise ValueError(f"{self.name}: actions must be [B, L<={self.horizon}, {self.action_dim}], "
                             f"got {tuple(actions.shape)}")
        if initial_state.shape != (actions.shape[0], self.state_dim):
            raise ValueError(f"{self.name}: initial_state must be [{actions.shape[0]}, {self.state_dim}], "
                             f"got {tuple(initial_state.shape)}")
        states, rewards = [initial_state], []
        state = initial_state
        for t in range(actions.shape[1]):
            action = actions[:, t]
            next_state = self.step(state, action, t)
            rewards.append(self.reward(state, action, next_state, t))
            states.append(next_state)
            state = next_state
        return torch.stack(states, dim=1), torch.stack(rewards, dim=1)  # [B, L+1, S], [B, L]
