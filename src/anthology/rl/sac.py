"""Soft actor-critic losses as pure functions (Haarnoja et al., "Soft actor-critic algorithms and
applications", 2018, eqs. 5, 7, 18), in the shape of CleanRL's `sac_continuous_action.py`.

- critic: 0.5 * sum_j (Q_j(s, a) - y)^2, y = r + gamma (1 - done) (min_j Qbar_j(s', a') - t log pi(a'|s'));
- actor: E[t log pi(a|s) - min_j Q_j(s, a)], a reparameterised;
- temperature: log t is trained on -t (log pi + target) with the entropy target of the chosen scheme
  (SAC's -d or the decoupled alpha H_max + (1 - alpha) H_min).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from anthology.rl.actor_critic import QEnsemble, SquashedGaussianActor
from anthology.rl.replay_buffer import Batch

LOG_TEMPERATURE_BOUND = 30.0  # the official code clips log t to [-30, 30]


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


@dataclasses.dataclass
class SACLearner:
    """The modules and optimisers one SAC update touches."""

    actor: SquashedGaussianActor
    critic: QEnsemble
    target_critic: QEnsemble
    log_temperature: torch.nn.Parameter
    actor_optimizer: torch.optim.Optimizer
    critic_optimizer: torch.optim.Optimizer
    temperature_optimizer: torch.optim.Optimizer


def sac_update(sac: SACLearner, batch: Batch, gamma: float, policy_frequency: int, target_ema: float,
               target_entropy: float | None, generator: torch.Generator, update_actor: bool = True,
               log_temperature_bound: float = LOG_TEMPERATURE_BOUND) -> dict[str, torch.Tensor]:
    """One SAC update as in CleanRL: a critic step; when `update_actor`, `policy_frequency` actor steps
    (and temperature steps when `target_entropy` is given, i.e. the temperature is learned); then a Polyak
    step of the target critics."""
    temperature = sac.log_temperature.detach().exp()
    with torch.no_grad():
        next_sample = sac.actor(batch.next_obs, generator)
        target = sac_critic_target(batch.reward, batch.done, sac.target_critic(batch.next_obs, next_sample.action),
                                   next_sample.log_prob, temperature, gamma)
    critic_loss, info = sac_critic_loss(sac.critic(batch.obs, batch.action), target)
    sac.critic_optimizer.zero_grad(set_to_none=True)
    critic_loss.backward()
    sac.critic_optimizer.step()
    if update_actor:  # delayed, but as many actor steps as env steps
        sac.critic.requires_grad_(False)  # the actor loss needs dQ/da only, not the critics' weight gradients
        for _ in range(policy_frequency):
            sample = sac.actor(batch.obs, generator)
            actor_loss, actor_info = sac_actor_loss(sac.critic(batch.obs, sample.action), sample.log_prob,
                                                    sac.log_temperature.detach().exp())
            sac.actor_optimizer.zero_grad(set_to_none=True)
            actor_loss.backward()
            sac.actor_optimizer.step()
            info.update(actor_info)
            if target_entropy is not None:
                t_loss, t_info = temperature_loss(sac.log_temperature, sample.log_prob, target_entropy)
                sac.temperature_optimizer.zero_grad(set_to_none=True)
                t_loss.backward()
                sac.temperature_optimizer.step()
                with torch.no_grad():
                    sac.log_temperature.clamp_(-log_temperature_bound, log_temperature_bound)
                info.update(t_info)
        sac.critic.requires_grad_(True)
    polyak_update(sac.target_critic, sac.critic, target_ema)
    return info
