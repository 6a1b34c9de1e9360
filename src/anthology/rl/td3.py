"""Twin delayed deep deterministic policy gradient (TD3; Fujimoto, van Hoof and Meger, "Addressing function
approximation error in actor-critic methods", ICML 2018, Algorithm 1) as pure functions, in the shape of `sac.py`.

- exploration (Alg. 1): a = clip(mu(s) + eps, low, high), eps ~ N(0, sigma_t^2), optionally clipped to [-c, c];
  sigma_t decays linearly (Ni et al. 2024, after DrQ-v2: 1.0 -> 0.1 over 100k steps; TD3 itself: 0.1 fixed);
- target policy smoothing (sec. 5.3): a' = clip(mu'(s') + clip(eps, -c, c), low, high), eps ~ N(0, sigma~^2);
- clipped double Q-learning (sec. 4.2): y = r + gamma (1 - done) min_{j=1,2} Q'_j(s', a');
- critic: sum_j mean_B (Q_j(s, a) - y)^2 (each critic regressed on the same y, as the authors' code);
- actor, delayed to every d-th critic update (sec. 5.2): -mean_B Q_1(s, mu(s)), the deterministic policy
  gradient through the first critic;
- targets, on the same delayed steps (Alg. 1): theta'_j <- tau theta_j + (1 - tau) theta'_j, phi' <- tau phi +
  (1 - tau) phi'.
"""

from __future__ import annotations

import dataclasses

import torch

from anthology.rl.actor_critic import DeterministicActor, QEnsemble
from anthology.rl.replay_buffer import Batch
from anthology.rl.sac import polyak_update


def linear_schedule(step: int, init: float, final: float, duration: int) -> float:
    """init + (final - init) * min(step / duration, 1): `init` at step 0, `final` from `duration` on."""
    return init + (final - init) * min(step / duration, 1.0)


def clipped_gaussian_noise(like: torch.Tensor, std: float, clip: float | None,
                           generator: torch.Generator) -> torch.Tensor:
    """eps ~ N(0, std^2) shaped like `like`, clipped to [-clip, clip] when `clip` is given."""
    noise = torch.randn(like.shape, generator=generator, dtype=like.dtype, device=generator.device).to(like.device)
    noise = std * noise
    return noise if clip is None else noise.clamp(-clip, clip)


def add_exploration_noise(action: torch.Tensor, std: float, low: torch.Tensor, high: torch.Tensor,
                          generator: torch.Generator, noise_clip: float | None = None) -> torch.Tensor:
    """Behaviour action clip(mu(s) + eps, low, high), eps ~ N(0, std^2) (clipped to [-noise_clip, noise_clip]
    when given; the official code of Ni et al. leaves exploration noise unclipped); std from `linear_schedule`."""
    return (action + clipped_gaussian_noise(action, std, noise_clip, generator)).clamp(low, high)


def td3_target_action(next_action: torch.Tensor, target_noise: float, noise_clip: float, low: torch.Tensor,
                      high: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Target policy smoothing (sec. 5.3): a' = clip(mu'(s') + clip(eps, -c, c), low, high), eps ~ N(0, sigma~^2);
    next_action: mu'(s') [B, d] from the target actor; sigma~ = target_noise, c = noise_clip."""
    return (next_action + clipped_gaussian_noise(next_action, target_noise, noise_clip, generator)).clamp(low, high)


def td3_critic_target(reward: torch.Tensor, done: torch.Tensor, next_q: torch.Tensor, gamma: float) -> torch.Tensor:
    """Clipped double Q (sec. 4.2): y = r + gamma (1 - done) min_j Q'_j(s', a'); next_q: [n_critics, B]."""
    return (reward + gamma * (~done) * next_q.min(dim=0).values).detach()


def td3_critic_loss(q: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """sum_j mean_B (Q_j(s, a) - y)^2; q: [n_critics, B] for the buffer's (s, a), target: [B]."""
    loss = (q - target[None]).pow(2).mean(dim=1).sum()
    return loss, {"train/loss_critic": loss.detach(), "train/q_mean": q.detach().mean()}


def td3_actor_loss(q1: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """-mean_B Q_1(s, mu(s)); q1: [B], the first critic at the actor's action (gradients reach mu through it)."""
    loss = -q1.mean()
    return loss, {"train/loss_actor": loss.detach()}


@dataclasses.dataclass
class TD3Learner:
    """The modules and optimisers one TD3 update touches (targets start as copies of the online networks)."""

    actor: DeterministicActor
    target_actor: DeterministicActor
    critic: QEnsemble
    target_critic: QEnsemble
    actor_optimizer: torch.optim.Optimizer
    critic_optimizer: torch.optim.Optimizer


def td3_update(learner: TD3Learner, batch: Batch, gamma: float, step: int, policy_delay: int, target_noise: float,
               noise_clip: float, tau: float, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """One TD3 update (Alg. 1): a critic step every call; when step % policy_delay == 0 (`step` counts the
    updates before this one, so the first call includes it), an actor step and a Polyak step of both targets.
    The only randomness is the smoothing noise, drawn from `generator`."""
    with torch.no_grad():
        next_action = td3_target_action(learner.target_actor(batch.next_obs), target_noise, noise_clip,
                                        learner.actor.low, learner.actor.high, generator)
        target = td3_critic_target(batch.reward, batch.done, learner.target_critic(batch.next_obs, next_action),
                                   gamma)
    critic_loss, info = td3_critic_loss(learner.critic(batch.obs, batch.action), target)
    learner.critic_optimizer.zero_grad(set_to_none=True)
    critic_loss.backward()
    learner.critic_optimizer.step()
    if step % policy_delay == 0:
        learner.critic.requires_grad_(False)  # the actor loss needs dQ/da only, not the critics' weight gradients
        actor_loss, actor_info = td3_actor_loss(learner.critic.member(0, batch.obs, learner.actor(batch.obs)))
        learner.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        learner.actor_optimizer.step()
        learner.critic.requires_grad_(True)
        info.update(actor_info)
        polyak_update(learner.target_critic, learner.critic, tau)
        polyak_update(learner.target_actor, learner.actor, tau)
    return info
