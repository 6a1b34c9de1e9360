"""Soft actor-critic losses as pure functions (Haarnoja et al., "Soft actor-critic algorithms and
applications", 2018, eqs. 5, 7, 18), in the shape of CleanRL's `sac_continuous_action.py`.

- critic: 0.5 * sum_j (Q_j(s, a) - y)^2, y = r + gamma (1 - done) (min_j Qbar_j(s', a') - t log pi(a'|s'));
- actor: E[t log pi(a|s) - min_j Q_j(s, a)], a reparameterised;
- temperature: log t is trained on -t (log pi + target) with the entropy target of the chosen scheme
  (SAC's -d or the decoupled alpha H_max + (1 - alpha) H_min).
"""

from __future__ import annotations

import torch
from torch import nn


def sac_critic_target(reward: torch.Tensor, done: torch.Tensor, next_q: torch.Tensor, next_log_prob: torch.Tensor,
                      temperature: torch.Tensor | float, gamma: float) -> torch.Tensor:
    """y = r + gamma (1 - done) (min_j Qbar_j(s', a') - t log pi(a'|s')); next_q: [n_critics, B]."""
    soft_next = next_q.min(dim=0).values - temperature * next_log_prob
    return (reward + gamma * (~done) * soft_next).detach()


def sac_critic_loss(q: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """q: [n_critics, B] for the buffer's (s, a); summed over critics, averaged over the batch."""
    loss = 0.5 * (q - target[None]).pow(2).mean(dim=1).sum()
    return loss, {"train/loss_critic": loss.detach(), "train/q_mean": q.detach().mean()}


def sac_actor_loss(q_new: torch.Tensor, log_prob: torch.Tensor,
                   temperature: torch.Tensor | float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """q_new: [n_critics, B] for freshly sampled actions (gradients reach the actor through them)."""
    loss = (temperature * log_prob - q_new.min(dim=0).values).mean()
    return loss, {"train/loss_actor": loss.detach(), "train/entropy": -log_prob.detach().mean()}


def temperature_loss(log_temperature: torch.Tensor, log_prob: torch.Tensor,
                     target_entropy: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Raise t when the policy's entropy -log pi falls below the target, lower it when above."""
    loss = -(log_temperature.exp() * (log_prob.detach() + target_entropy)).mean()
    return loss, {"train/loss_temperature": loss.detach(), "train/temperature": log_temperature.detach().exp()}


@torch.no_grad()
def polyak_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """theta_target <- (1 - tau) theta_target + tau theta."""
    for t, p in zip(target.parameters(), online.parameters(), strict=True):
        t.lerp_(p, tau)
