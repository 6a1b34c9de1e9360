"""The hypergrid (Bengio et al. 2021), vectorised, with exact enumeration, path counts and obstacles.

States are integer coordinates in {0..H-1}^d, built from s0 = 0 by adding 1 to one coordinate per step;
every state may exit (terminate). The "original" reward has three levels: R0 everywhere, + R1 in the
outer band of every coordinate, + R2 in a thin ring inside it (the modes). The thresholds carry the same
small guards as torchgfn's `reward_fn_str="original"`, which decide the boundary cells at some heights
(2-D height 16: log Z = 4.1836 with them, 4.3255 without).

`n(s)`, the number of s0 -> s paths, is the multinomial (sum s)! / prod s_i! on the plain grid. With
`blocked > 0` a seeded fraction of cells is removed (never entered); then n(s) has no closed form and is
computed by dynamic programming (for evaluation only: a method that needs it must learn it).
"""

from __future__ import annotations

import math

import torch

EPS = 1e-6


class HyperGrid:
    """A DAG environment: batched states [B, d] (long), forward actions 0..d-1 (+1 on that coordinate)
    and d (exit), backward actions 0..d-1 (-1 on that coordinate)."""

    def __init__(self, ndim: int = 2, height: int = 8, r0: float = 0.1, r1: float = 0.5, r2: float = 2.0,
                 blocked: float = 0.0, seed: int = 0) -> None:
        self.ndim, self.height = ndim, height
        self.r0, self.r1, self.r2 = r0, r1, r2
        self.n_actions, self.n_backward_actions = ndim + 1, ndim
        self.exit_action = ndim
        self.max_length = ndim * (height - 1) + 1  # transitions, exit included
        self.radix = height ** torch.arange(ndim)
        self._move = torch.cat([torch.eye(ndim, dtype=torch.long), torch.zeros(1, ndim, dtype=torch.long)])
        self._one_hot = torch.eye(height)  # row lookups are cheaper than F.one_hot's bounds checks
        self.n_states = height**ndim
        self.blocked_cells = torch.zeros(self.n_states, dtype=torch.bool)
        if blocked > 0:
            gen = torch.Generator().manual_seed(seed)
            self.blocked_cells = torch.rand(self.n_states, generator=gen) < blocked
            self.blocked_cells[0] = False
        self._log_n_table: torch.Tensor | None = None
        self.blocked_cells = self.blocked_cells | ~self._reachable()
        self.has_obstacles = bool(self.blocked_cells.any())

    # ---- structure ------------------------------------------------------------------------------------
    @property
    def s0(self) -> torch.Tensor:
        return torch.zeros(self.ndim, dtype=torch.long)

    def index(self, states: torch.Tensor) -> torch.Tensor:
        """Mixed-radix index of each state: [..., d] -> [...]."""
        return (states * self.radix).sum(-1)

    def all_states(self) -> torch.Tensor:
        """Every cell, in index order: [H^d, d] (blocked ones included; see `valid_states`)."""
        idx = torch.arange(self.n_states)
        return (idx[:, None] // self.radix) % self.height

    def valid_states(self) -> torch.Tensor:
        """Mask over `all_states()` of the reachable, unblocked cells (the terminal set)."""
        return ~self.blocked_cells

    def level(self, states: torch.Tensor) -> torch.Tensor:
        """Topological level (number of steps from s0)."""
        return states.sum(-1)

    def forward_mask(self, states: torch.Tensor) -> torch.Tensor:
        """[B, d+1]: moves that stay on the grid and avoid blocked cells, and exit (always allowed)."""
        moves = states < self.height - 1
        if self.has_obstacles:
            nxt = states[:, None, :] + torch.eye(self.ndim, dtype=torch.long)  # [B, d, d]
            moves = moves & ~self.blocked_cells[self.index(nxt.clamp(max=self.height - 1))]
        return torch.cat([moves, torch.ones(len(states), 1, dtype=torch.bool)], dim=1)

    def backward_mask(self, states: torch.Tensor) -> torch.Tensor:
        """[B, d]: parents that exist (coordinate > 0) and are not blocked."""
        parents = states > 0
        if self.has_obstacles:
            prev = states[:, None, :] - torch.eye(self.ndim, dtype=torch.long)
            parents = parents & ~self.blocked_cells[self.index(prev.clamp(min=0))]
        return parents

    def step(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Apply move actions (< d); exit rows are returned unchanged."""
        return states + self._move[actions]

    def backward_action(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """The backward action at s' that undoes forward move `a` taken from s (for the hypergrid: the same
        coordinate, whatever s)."""
        return actions

    # ---- reward and path counts -----------------------------------------------------------------------
    def log_reward(self, states: torch.Tensor) -> torch.Tensor:
        ax = (states.double() / (self.height - 1) - 0.5).abs()
        band = ((ax > 0.25 + EPS) & (ax <= 0.5 + EPS)).all(-1)
        ring = ((ax > 0.3 + EPS) & (ax < 0.4 - EPS)).all(-1)
        return torch.log(self.r0 + band * self.r1 + ring * self.r2)

    def is_mode(self, states: torch.Tensor) -> torch.Tensor:
        return self.log_reward(states) >= math.log(self.r0 + self.r1 + self.r2) - 1e-6

    def log_n(self, states: torch.Tensor) -> torch.Tensor:
        """log of the number of s0 -> s paths (closed form on the plain grid, a DP table with obstacles)."""
        if not self.has_obstacles:
            s = states.double()
            return torch.lgamma(s.sum(-1) + 1) - torch.lgamma(s + 1).sum(-1)
        if self._log_n_table is None:
            self._log_n_table = self._count_paths()
        return self._log_n_table[self.index(states)]

    def _reachable(self) -> torch.Tensor:
        return self._count_paths() > -math.inf

    def _count_paths(self) -> torch.Tensor:
        """log n(s) for every cell by n(s') = sum over unblocked parents of n(s), level by level;
        -inf where a cell is blocked or unreachable."""
        states = self.all_states()
        log_n = torch.full((self.n_states,), -math.inf, dtype=torch.float64)
        log_n[0] = 0.0
        levels = self.level(states)
        eye = torch.eye(self.ndim, dtype=torch.long)
        for lev in range(1, int(levels.max()) + 1):
            idx = torch.nonzero(levels == lev).squeeze(1)
            parents = states[idx][:, None, :] - eye  # [N, d, d]
            parent_idx = self.index(parents.clamp(min=0))
            ok = (parents >= 0).all(-1) & ~self.blocked_cells[parent_idx]
            vals = torch.where(ok, log_n[parent_idx], torch.tensor(-math.inf, dtype=torch.float64))
            log_n[idx] = torch.where(self.blocked_cells[idx], torch.tensor(-math.inf, dtype=torch.float64),
                                     torch.logsumexp(vals, dim=1))
        return log_n

    # ---- network input --------------------------------------------------------------------------------
    @property
    def input_dim(self) -> int:
        return self.ndim * self.height

    def to_input(self, states: torch.Tensor) -> torch.Tensor:
        """K-hot encoding: one one-hot of size H per coordinate, concatenated: [B, d*H]."""
        return self._one_hot[states].flatten(1)
