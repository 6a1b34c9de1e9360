"""The protocol a DAG environment implements so one sampler, one set of losses and one exact evaluator
serve the hypergrid, sequence/set builders and (later) fragment molecules.

States are batched tensors [B, ...]; forward actions index children plus one exit action; backward
actions index parents. Masks are boolean [B, n_actions] / [B, n_backward_actions].
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class DagEnv(Protocol):
    n_actions: int
    """Forward actions, the exit action included."""
    n_backward_actions: int
    exit_action: int
    max_length: int
    """Longest trajectory, in transitions (exit included)."""
    input_dim: int

    @property
    def s0(self) -> torch.Tensor: ...

    def forward_mask(self, states: torch.Tensor) -> torch.Tensor: ...

    def backward_mask(self, states: torch.Tensor) -> torch.Tensor: ...

    def step(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor: ...

    def backward_action(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """The backward action at the child that undoes each forward move `actions` taken from `states`."""
        ...

    def log_reward(self, states: torch.Tensor) -> torch.Tensor: ...

    def to_input(self, states: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class EnumerableDagEnv(DagEnv, Protocol):
    """A DAG small enough to list: exact distributions, flows and entropies can be computed."""

    n_states: int

    def all_states(self) -> torch.Tensor: ...

    def valid_states(self) -> torch.Tensor: ...

    def index(self, states: torch.Tensor) -> torch.Tensor: ...

    def level(self, states: torch.Tensor) -> torch.Tensor: ...

    def log_n(self, states: torch.Tensor) -> torch.Tensor: ...

    def is_mode(self, states: torch.Tensor) -> torch.Tensor: ...
