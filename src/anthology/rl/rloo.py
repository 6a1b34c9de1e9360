"""REINFORCE leave-one-out (RLOO; Ahmadian et al. 2024), as TRL's `RLOOTrainer` implements it.

k samples are drawn for each prompt. Each sample's baseline is the mean reward of the other k - 1
samples for the same prompt; the policy loss is PPO's clipped surrogate on the sequence-level ratio.
"""

from __future__ import annotations

from typing import Any

import torch


def rloo_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """A_j = R_j - 1/(k-1) sum_{l != j} R_l for rewards [n_prompts, k] (k >= 2)."""
    k = rewards.shape[-1]
    if k < 2:
        raise ValueError("RLOO needs at least two samples per prompt")
    return rewards - (rewards.sum(-1, keepdim=True) - rewards) / (k - 1)


def rloo_loss(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor,
              clip: float = 0.2) -> tuple[torch.Tensor, dict[str, Any]]:
    """-E[min(rho A, clip(rho, 1 - clip, 1 + clip) A)] with rho = exp(log pi(x) - log pi_old(x)) of whole
    sequences [N]."""
    ratio = torch.exp(log_prob - old_log_prob)
    surrogate = torch.minimum(ratio * advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * advantages)
    loss = -surrogate.mean()
    clipped = ((ratio - 1.0).abs() > clip).float().mean()
    return loss, {"loss_policy": loss.item(), "clip_fraction": float(clipped), "ratio_mean": ratio.mean().item()}
