"""A chain whose number of actions varies by state: the decoupled-regularisation paper's case of
state-dependent action sets, small enough to solve exactly.

States 0..L-1 lead to the goal L. At state i there are k_i valid actions: action 0 steps forward, the
other k_i - 1 are distractors that leave the agent where it is. Every step costs 1. The shortest
episode is L steps whatever the k_i; with a fixed entropy temperature the soft-optimal policy lingers
where distractors are many, with tau / log k_i it lingers about as much everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class DistractorChain:
    def __init__(self, actions_per_state: Sequence[int] = (2, 4, 16, 2, 8, 32)) -> None:
        if min(actions_per_state) < 1:
            raise ValueError("every state needs at least one action (the forward one)")
        self.k = torch.tensor(list(actions_per_state))
        self.length = len(actions_per_state)
        self.n_states, self.n_actions = self.length + 1, int(self.k.max())
        self.start, self.goal = 0, self.length

    def tables(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reward [S, A], next_state [S, A], mask [S, A], terminal [S]); the goal's row is a dummy."""
        states = torch.arange(self.n_states)
        next_state = states[:, None].expand(-1, self.n_actions).clone()
        next_state[:-1, 0] = states[:-1] + 1
        k = torch.cat([self.k, torch.ones(1, dtype=torch.long)])
        mask = torch.arange(self.n_actions)[None, :] < k[:, None]
        reward = -torch.ones(self.n_states, self.n_actions)
        terminal = states == self.goal
        return reward, next_state, mask, terminal

    def expected_length(self, policy: torch.Tensor) -> float:
        """Each state is left with probability pi(forward | s): the expected episode is sum_s 1 / pi(0|s)."""
        return float((1.0 / policy[:-1, 0].double()).sum())

    def normalised_entropy(self, policy: torch.Tensor) -> torch.Tensor:
        """H(pi(.|s)) / log k_s for every non-goal state with more than one action ([L], NaN where k = 1)."""
        p = policy[:-1].double()
        entropy = -(p * torch.log(p.clamp_min(1e-300))).sum(-1)
        return entropy / torch.log(self.k.double())
