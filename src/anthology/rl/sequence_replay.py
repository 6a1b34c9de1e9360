"""R2D2-style replay of whole episodes, sampled as chunks with a burn-in prefix and the recurrent state
stored at acting time (Kapturowski et al. 2019; the layout of Ni et al.'s `minigrid_code`).

An episode of T steps is stored as T + 1 rows: row i holds the recurrent input (o_i, a_{i-1}, r_{i-1})
(a_{-1} = none, r_{-1} = 0) and, for i < T, the action a_i and reward r_i taken from it; the last row
holds the final observation o_T. The actor's recurrent state before row i is stored beside it.
Episodes are cut into chunks that start every `learn_len` steps. A sampled chunk gives:
- the burn-in rows (up to `burn_in` rows before the chunk) and the stored state at their start;
- the learning rows (the chunk's `learn_len` steps plus `n_step` more, cut at the episode's end);
- for each learning step t: a_t, the n-step return sum_{i<m} gamma^i r_{t+i} with m = min(n, T - t), the
  bootstrap row t + m, its discount gamma^m, and whether to bootstrap (no when the episode terminated
  at T = t + m; a time-out bootstraps, unlike the official code, which treats it as termination);
- a mask of the steps whose next row is not the episode's last (where the official auxiliary losses act).
Storage is a ring of rows; an episode is sampled only while all its rows are in the ring.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch


@dataclasses.dataclass
class SequenceBatch:
    burn_in: torch.Tensor  # [B, H, input] rows before the chunk, right-padded
    burn_in_len: torch.Tensor  # [B] int, 0..H
    hidden: tuple[torch.Tensor, torch.Tensor]  # ([B, Z], [B, Z]) the stored state before the first burn-in row
    learn: torch.Tensor  # [B, L + n, input] the chunk's rows, right-padded
    learn_rows: torch.Tensor  # [B] int: rows in `learn` (1..L+n)
    steps: torch.Tensor  # [B] int: learning steps of the chunk (1..L)
    action: torch.Tensor  # [B, L] long a_t (0 on padding)
    nstep_return: torch.Tensor  # [B, L]
    bootstrap_row: torch.Tensor  # [B, L] long index into `learn` of row t + m
    discount: torch.Tensor  # [B, L] gamma^m, times 0 where the episode terminated at t + m
    valid: torch.Tensor  # [B, L] bool: a real learning step
    aux_valid: torch.Tensor  # [B, L] bool: a real step whose next row is not the episode's last
    next_obs: torch.Tensor  # [B, L, obs] o_{t+1}


def recurrent_inputs(obs: np.ndarray, prev_action: np.ndarray, prev_reward: np.ndarray,
                     num_actions: int) -> np.ndarray:
    """(o, one-hot a_prev, r_prev) [..., o + A + 1] float32; a_prev = -1 (an episode's first row) is all zeros."""
    onehot = np.zeros((*prev_action.shape, num_actions), np.float32)
    np.put_along_axis(onehot, np.maximum(prev_action, 0)[..., None],
                      (prev_action >= 0)[..., None].astype(np.float32), -1)
    return np.concatenate([obs, onehot, np.asarray(prev_reward, np.float32)[..., None]], -1)


class SequenceReplay:
    """Whole episodes, sampled as R2D2 chunks (burn-in, learning window, n-step targets)."""

    def __init__(self, capacity: int, obs_dim: int, num_actions: int, hidden_dim: int, burn_in: int,
                 learn_len: int, n_step: int, gamma: float) -> None:
        if learn_len < 1 or n_step < 1 or burn_in < 0:
            raise ValueError("learn_len and n_step must be at least 1 and burn_in at least 0")
        self.capacity, self.obs_dim, self.num_actions, self.hidden_dim = capacity, obs_dim, num_actions, hidden_dim
        self.burn_in_len, self.learn_len, self.n_step, self.gamma = burn_in, learn_len, n_step, gamma
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.prev_action = np.full(capacity, -1, np.int64)
        self.prev_reward = np.zeros(capacity, np.float32)
        self.action = np.zeros(capacity, np.int64)
        self.nstep_return = np.zeros(capacity, np.float32)
        self.nstep_len = np.ones(capacity, np.int64)
        self.bootstrap = np.ones(capacity, bool)
        self.hidden = np.zeros((capacity, 2, hidden_dim), np.float32)
        self.row_start = np.zeros(capacity, np.int64)  # global index of row 0 of the row's episode
        self.row_count = np.zeros(capacity, np.int64)  # T + 1 of the row's episode
        self.written = 0  # rows ever written (global index of the next row)
        self.chunks: list[int] = []  # global index of each chunk's first row, oldest first
        self.chunk_episode: list[int] = []  # global index of each chunk's episode's row 0

    def __len__(self) -> int:
        """Chunks that can be sampled."""
        self._drop_overwritten()
        return len(self.chunks)

    def add_episode(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, terminated: bool,
                    hidden: np.ndarray) -> None:
        """One episode: obs [T+1, o] (o_0..o_T), actions [T], rewards [T], whether it terminated (else it
        was cut by a time limit), hidden [T+1, 2, Z] the actor's (h, c) before each row."""
        steps = len(actions)
        rows = steps + 1
        if rows > self.capacity:
            raise ValueError(f"an episode of {steps} steps does not fit a replay of {self.capacity} rows")
        if obs.shape != (rows, self.obs_dim) or len(rewards) != steps or hidden.shape[0] != rows:
            raise ValueError(f"episode arrays disagree: obs {obs.shape}, {steps} actions, {len(rewards)} rewards, "
                             f"hidden {hidden.shape}")
        rewards = np.asarray(rewards, np.float64)
        t = np.arange(steps)
        m = np.minimum(self.n_step, steps - t)
        powers = self.gamma ** np.arange(self.n_step)
        padded = np.concatenate([rewards, np.zeros(self.n_step)])
        windows = np.lib.stride_tricks.sliding_window_view(padded, self.n_step)[:steps]
        returns = (windows * powers * (np.arange(self.n_step) < m[:, None])).sum(1)
        at = (self.written + np.arange(rows)) % self.capacity
        self.obs[at] = obs
        self.prev_action[at] = np.concatenate([[-1], actions])
        self.prev_reward[at] = np.concatenate([[0.0], rewards])
        self.action[at] = np.concatenate([actions, [0]])
        self.nstep_return[at] = np.concatenate([returns, [0.0]])
        self.nstep_len[at] = np.concatenate([m, [1]])
        self.bootstrap[at] = np.concatenate([~(terminated & (t + m == steps)), [False]])
        self.hidden[at] = hidden
        self.row_start[at] = self.written
        self.row_count[at] = rows
        starts = (self.written + np.arange(0, steps, self.learn_len)).tolist()
        self.chunks.extend(starts)
        self.chunk_episode.extend([self.written] * len(starts))
        self.written += rows

    def _drop_overwritten(self) -> None:
        """Forget the chunks of episodes whose first rows the ring has overwritten (oldest first)."""
        oldest, drop = self.written - self.capacity, 0
        while drop < len(self.chunks) and self.chunk_episode[drop] < oldest:
            drop += 1
        del self.chunks[:drop], self.chunk_episode[:drop]

    def inputs(self, rows: np.ndarray) -> np.ndarray:
        """The recurrent inputs (o, one-hot a_prev, r_prev) of global rows [..]."""
        at = rows % self.capacity
        return recurrent_inputs(self.obs[at], self.prev_action[at], self.prev_reward[at], self.num_actions)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> SequenceBatch:
        """`batch_size` chunks, uniformly without replacement (with it when fewer are stored)."""
        available = len(self)
        if available == 0:
            raise ValueError("the sequence replay holds no chunk yet")
        if available >= batch_size:
            index = torch.randperm(available, generator=generator)[:batch_size]
        else:
            index = torch.randint(available, (batch_size,), generator=generator)
        picks = np.asarray(self.chunks)[index.numpy()]
        first = picks % self.capacity
        offset = picks - self.row_start[first]  # step of the chunk's first row within its episode
        steps_total = self.row_count[first] - 1  # T
        big_h, big_l, n = self.burn_in_len, self.learn_len, self.n_step

        burn_len = np.minimum(big_h, offset)
        burn_rows = picks[:, None] - burn_len[:, None] + np.arange(max(big_h, 1))[None]
        burn_mask = np.arange(max(big_h, 1))[None] < burn_len[:, None]
        burn_in = self.inputs(np.where(burn_mask, burn_rows, picks[:, None])) * burn_mask[..., None]
        hidden = self.hidden[(picks - burn_len) % self.capacity]

        learn_rows = np.minimum(big_l + n, steps_total - offset + 1)  # rows of the chunk up to o_T
        steps = np.minimum(big_l, steps_total - offset)
        grid = np.arange(big_l + n)[None]
        learn_mask = grid < learn_rows[:, None]
        learn = self.inputs(np.where(learn_mask, picks[:, None] + grid, picks[:, None])) * learn_mask[..., None]

        j = np.arange(big_l)[None]
        valid = j < steps[:, None]
        rows = np.where(valid, picks[:, None] + j, picks[:, None]) % self.capacity
        m = self.nstep_len[rows]
        discount = np.where(valid & self.bootstrap[rows], self.gamma ** m, 0.0)
        aux_valid = valid & (offset[:, None] + j + 1 < steps_total[:, None])
        next_obs = self.obs[np.where(valid, picks[:, None] + j + 1, picks[:, None]) % self.capacity]
        as_t = torch.from_numpy
        return SequenceBatch(
            burn_in=as_t(burn_in[:, :big_h]), burn_in_len=as_t(burn_len), hidden=(as_t(hidden[:, 0]), as_t(hidden[:, 1])),
            learn=as_t(learn), learn_rows=as_t(learn_rows), steps=as_t(steps),
            action=as_t(np.where(valid, self.action[rows], 0)), nstep_return=as_t(np.where(valid, self.nstep_return[rows], 0.0).astype(np.float32)),
            bootstrap_row=as_t(np.where(valid, j + m, 0)), discount=as_t(discount.astype(np.float32)),
            valid=as_t(valid), aux_valid=as_t(aux_valid), next_obs=as_t(next_obs * valid[..., None]))

    _ARRAYS = ("obs", "prev_action", "prev_reward", "action", "nstep_return", "nstep_len", "bootstrap", "hidden",
               "row_start", "row_count")

    def state_dict(self) -> dict:
        return {**{k: torch.from_numpy(getattr(self, k).copy()) for k in self._ARRAYS}, "written": self.written,
                "chunks": torch.tensor(self.chunks, dtype=torch.int64),
                "chunk_episode": torch.tensor(self.chunk_episode, dtype=torch.int64)}

    def load_state_dict(self, state: dict) -> None:
        for key in self._ARRAYS:
            getattr(self, key)[...] = state[key].numpy()
        self.written = int(state["written"])
        self.chunks, self.chunk_episode = state["chunks"].tolist(), state["chunk_episode"].tolist()
