"""PPO pieces (Schulman et al. 2017): generalised advantage estimation and the clipped surrogate loss."""

from __future__ import annotations

import torch


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, gamma: float = 1.0,
                lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns for [T, B] rollouts, each column one episode or a piece of one.

    `values` is [T + 1, B] (the last row bootstraps an unfinished episode and is ignored after a done);
    `dones[t]` marks that the transition at t ended its episode."""
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in reversed(range(steps)):
        alive = 1.0 - dones[t].float()
        delta = rewards[t] + gamma * values[t + 1] * alive - values[t]
        running = delta + gamma * lam * alive * running
        advantages[t] = running
    return advantages, advantages + values[:-1]


def ppo_loss(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor, values: torch.Tensor,
             returns: torch.Tensor, entropy: torch.Tensor, clip: float = 0.2, value_coef: float = 0.5,
             entropy_coef: float = 0.01) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped policy surrogate + value regression - entropy bonus, all means over the minibatch."""
    ratio = (log_prob - old_log_prob).exp()
    surrogate = torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    policy_loss = -surrogate.mean()
    value_loss = 0.5 * (values - returns).pow(2).mean()
    entropy_mean = entropy.mean()
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy_mean
    with torch.no_grad():
        clip_fraction = ((ratio - 1).abs() > clip).float().mean()
        approx_kl = ((ratio - 1) - (log_prob - old_log_prob)).mean()
    return loss, {"train/loss_policy": policy_loss.detach(), "train/loss_value": value_loss.detach(),
                  "train/entropy": entropy_mean.detach(), "train/clip_fraction": clip_fraction,
                  "train/approx_kl": approx_kl}
