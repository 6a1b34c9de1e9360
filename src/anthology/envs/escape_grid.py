"""The escape grid of the decoupled-regularisation paper's toy (Mohammadpour, Frejinger, Bacon 2024):
an n-dimensional grid of width w, start at the origin, goal at the far corner, 2n actions (one step +/-1
along each axis; bumping into a wall stays put), reward -1 per step. The shortest path is n (w - 1)
steps; with a fixed entropy temperature the soft-optimal policy wanders more as n (and so the number
of actions) grows, while tau / log(2n) keeps its episodes near the shortest path.
"""

from __future__ import annotations

import torch


class EscapeGrid:
    def __init__(self, ndim: int = 2, width: int = 4) -> None:
        self.ndim, self.width = ndim, width
        self.n_states, self.n_actions = width**ndim, 2 * ndim
        self.radix = width ** torch.arange(ndim)
        self.start, self.goal = 0, self.n_states - 1

    def states(self) -> torch.Tensor:
        return (torch.arange(self.n_states)[:, None] // self.radix) % self.width

    def tables(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reward [S, A], next_state [S, A], mask [S, A], terminal [S]) of the deterministic MDP."""
        coords = self.states()
        moves = torch.cat([torch.eye(self.ndim, dtype=torch.long), -torch.eye(self.ndim, dtype=torch.long)])
        nxt = (coords[:, None, :] + moves[None]).clamp(0, self.width - 1)  # [S, A, n]
        next_state = (nxt * self.radix).sum(-1)
        reward = -torch.ones(self.n_states, self.n_actions)
        mask = torch.ones(self.n_states, self.n_actions, dtype=torch.bool)
        terminal = torch.zeros(self.n_states, dtype=torch.bool)
        terminal[self.goal] = True
        return reward, next_state, mask, terminal

    @property
    def shortest_path(self) -> int:
        return self.ndim * (self.width - 1)

    def expected_length(self, policy: torch.Tensor) -> float:
        """Expected steps from the start to the goal under a policy [S, A] (solves (I - P) t = 1)."""
        _, next_state, _, terminal = self.tables()
        transition = torch.zeros(self.n_states, self.n_states, dtype=torch.float64)
        transition.scatter_add_(1, next_state, policy.double())
        live = ~terminal
        p = transition[live][:, live]
        steps = torch.linalg.solve(torch.eye(int(live.sum()), dtype=torch.float64) - p,
                                   torch.ones(int(live.sum()), dtype=torch.float64))
        return float(steps[self.start])
