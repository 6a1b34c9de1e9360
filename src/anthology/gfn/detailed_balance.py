"""Detailed balance (Bengio et al., "GFlowNet Foundations", JMLR 2023, Sec. 5; Deleu et al. 2022 for
terminating transitions): F(s) P_F(s'|s) = F(s') P_B(s|s') on every move, and F(x) P_F(exit|x) = R(x)."""

from __future__ import annotations

import torch


def detailed_balance_loss(log_flow: torch.Tensor, log_pf: torch.Tensor, log_pb: torch.Tensor,
                          log_reward: torch.Tensor, valid: torch.Tensor,
                          is_exit: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """log_flow: [T+1, B]; log_pf, log_pb, valid, is_exit: [T, B]; log_reward: [B].
    Mean of the squared residuals over every existing transition."""
    target = torch.where(is_exit, log_reward[None, :].expand_as(log_pf), log_flow[1:] + log_pb)
    residual = (log_flow[:-1] + log_pf - target) * valid
    loss = residual.pow(2).sum() / valid.sum()
    return loss, {"train/loss_db": loss.detach()}
