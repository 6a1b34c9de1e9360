"""Learning log n(s), the number of s0 -> s paths, for the maximum-entropy backward policy
P_B(s|s') = n(s)/n(s') (Mohammadpour et al., AISTATS 2024, Sec. 4) when n has no closed form.

n is the state flow of the "inverted MDP" that starts anywhere, walks backwards with P_B and ends at
s0 with n(s0) = 1: n(s') P_B(s|s') = n(s) on every edge. The losses are the flow-balance losses of that
MDP on the move transitions of sampled trajectories: 'transition' (every edge, DB-like), 'subtb'
(every sub-trajectory, lambda-weighted), 'termtb' (every sub-trajectory that ends at x, the official
code's TermTB1), 'starttb' (every one that starts at s0: log n(s_t) + sum_{k<t} log P_B = 0, StartTB1)
and 'tb' (s0 to x: sum_t log P_B + log n(x) = 0).
"""

from __future__ import annotations

import torch

from anthology.gfn.sub_trajectory_balance import flow_balance_residuals, pair_weights

N_LOSSES = {"transition": "transition", "subtb": "geometric", "termtb": "end", "starttb": "start", "tb": "tb"}


def path_count_loss(log_n: torch.Tensor, log_pb: torch.Tensor, lengths: torch.Tensor, kind: str = "transition",
                    lam: float = 0.9) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """log_n: [T+1, B] learned log n(s_t) with log n(s0) = 0; log_pb: [T, B] learned log P_B(s_t|s_{t+1})
    (0 on the exit and padding); lengths: [B] transitions, the exit included."""
    if kind not in N_LOSSES:
        raise ValueError(f"unknown n-loss '{kind}'; choose one of {sorted(N_LOSSES)}")
    moves = lengths - 1  # the exit is not an edge of the inverted MDP
    residual = flow_balance_residuals(-log_n, log_pb)  # r[i, j] = log n(s_j) + sum log P_B - log n(s_i)
    weights = pair_weights(moves, log_n.shape[0], lam, N_LOSSES[kind])
    loss = (weights * residual.pow(2)).sum(dim=(0, 1)).mean()
    return loss, {"train/loss_n": loss.detach()}
