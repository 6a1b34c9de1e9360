"""Trajectory balance (Malkin et al., "Trajectory balance: improved credit assignment in GFlowNets",
NeurIPS 2022, eq. 14): (log Z + sum_t log P_F(s_{t+1}|s_t) - log R(x) - sum_t log P_B(s_t|s_{t+1}))^2."""

from __future__ import annotations

import torch


def trajectory_balance_loss(log_z: torch.Tensor, log_pf: torch.Tensor, log_pb: torch.Tensor,
                            log_reward: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """log_pf, log_pb: [T, B] (0 where padded); log_reward: [B]. Mean over the batch."""
    residual = log_z + log_pf.sum(0) - log_reward - log_pb.sum(0)
    loss = residual.pow(2).mean()
    return loss, {"train/loss_tb": loss.detach(), "train/log_z": log_z.detach()}
