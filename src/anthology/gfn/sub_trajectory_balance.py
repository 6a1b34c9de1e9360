"""Sub-trajectory balance (Madan et al., "Learning GFlowNets from partial episodes for improved
convergence and stability", ICML 2023, eq. 9): for every sub-trajectory s_i..s_j,
(log F(s_i) + sum_{t=i}^{j-1} log P_F - log F(s_j) - sum log P_B)^2, weighted by lambda^(j-i) and
normalised per trajectory. Node n (after the exit) has "flow" log R(x); node 0 uses log Z, so the
`tb` weighting (only i=0, j=n) is exactly trajectory balance.

The same residuals serve the max-ent backward policy's n-losses on the inverted MDP (`flow_balance`).
"""

from __future__ import annotations

import torch


def flow_balance_residuals(node_log_flow: torch.Tensor, edge_log_ratio: torch.Tensor) -> torch.Tensor:
    """Residual of every (i, j) pair: node_log_flow [n+1, B] (F_0..F_n), edge_log_ratio [n, B] (log P_F -
    log P_B of edge t: t -> t+1). Returns [n+1, n+1, B] with r[i, j] = F_i + sum_{i<=t<j} e_t - F_j."""
    cum = torch.cat([torch.zeros_like(edge_log_ratio[:1]), edge_log_ratio.cumsum(0)])  # [n+1, B]
    return (node_log_flow[:, None] - cum[:, None]) - (node_log_flow[None, :] - cum[None, :])


def pair_weights(lengths: torch.Tensor, size: int, lam: float, weighting: str) -> torch.Tensor:
    """[size, size, B] weights of the pairs i < j <= length, per trajectory summing to 1.
    weighting: 'geometric' (lambda^(j-i)), 'transition' (j = i+1 only), 'tb' (i = 0, j = length only),
    'start' (i = 0: every prefix, uniform) or 'end' (j = length: every suffix, uniform)."""
    i = torch.arange(size)[:, None, None]
    j = torch.arange(size)[None, :, None]
    inside = (i < j) & (j <= lengths[None, None, :])
    if weighting == "geometric":
        w = torch.where(inside, torch.tensor(lam, dtype=torch.float64) ** (j - i).double(), torch.zeros(()))
    elif weighting == "transition":
        w = (inside & (j == i + 1)).double()
    elif weighting == "tb":
        w = (inside & (i == 0) & (j == lengths[None, None, :])).double()
    elif weighting == "start":
        w = (inside & (i == 0)).double()
    elif weighting == "end":
        w = (inside & (j == lengths[None, None, :])).double()
    else:
        raise ValueError(f"unknown weighting '{weighting}'; choose geometric, transition, tb, start or end")
    return (w / w.sum(dim=(0, 1), keepdim=True).clamp_min(1e-30)).float()


def sub_trajectory_balance_loss(log_z: torch.Tensor, log_flow: torch.Tensor, log_pf: torch.Tensor,
                                log_pb: torch.Tensor, log_reward: torch.Tensor, lengths: torch.Tensor,
                                lam: float = 0.9, weighting: str = "geometric"
                                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """log_flow: [T+1, B] (node 0 is replaced by log Z; the node after the exit by log R);
    log_pf, log_pb: [T, B]; lengths: [B] transitions, the exit included."""
    steps = log_pf.shape[0]
    node = log_flow.clone()
    node[0] = log_z
    after_exit = torch.arange(steps + 1)[:, None] == lengths[None, :]
    node = torch.where(after_exit, log_reward[None, :].expand_as(node), node)
    residual = flow_balance_residuals(node, log_pf - log_pb)
    weights = pair_weights(lengths, steps + 1, lam, weighting)
    loss = (weights * residual.pow(2)).sum(dim=(0, 1)).mean()
    return loss, {"train/loss_subtb": loss.detach(), "train/log_z": log_z.detach()}
