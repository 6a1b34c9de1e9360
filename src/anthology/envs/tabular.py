"""Step a deterministic tabular MDP given by its tables (the escape grid, the distractor chain), so that a
learning agent can be trained on the same MDP that soft value iteration solves exactly."""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch


class TabularTask(Protocol):
    n_states: int
    n_actions: int
    start: int

    def tables(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]: ...


class TabularStep(NamedTuple):
    next_state: torch.Tensor  # [B] long
    reward: torch.Tensor  # [B]
    terminated: torch.Tensor  # [B] bool: the next state is absorbing


class TabularMDP:
    """Batched stepping over the tables (reward [S, A], next_state [S, A], mask [S, A], terminal [S])."""

    def __init__(self, task: TabularTask) -> None:
        self.reward, self.next_state, self.mask, self.terminal = task.tables()
        self.n_states, self.n_actions, self.start = task.n_states, task.n_actions, task.start

    def step(self, state: torch.Tensor, action: torch.Tensor) -> TabularStep:
        if not bool(self.mask[state, action].all()):
            raise ValueError("an action outside the state's valid set was taken")
        nxt = self.next_state[state, action]
        return TabularStep(nxt, self.reward[state, action], self.terminal[nxt])

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        """One-hot observations [B, S]."""
        return torch.nn.functional.one_hot(state, self.n_states).float()
