"""The losses of minimal self-predictive RL (Ni et al. 2024, "Bridging State and History
Representations: Understanding Self-Predictive RL", ICLR 2024, Sec. 5 and the official
`mujoco_code/agents/alm.py` with `algo=td3`, `disable_reward`, `disable_svg`, `freeze_critic`,
`online_encoder_actorcritic`), as pure functions.

- ZP (self-prediction, Eq. 6): the latent model P_z(z'|z, a) matches the encoder's z' of the next
  state; l2: ‖ẑ' − z̄'‖² summed over latent dimensions; fkl: KL(p(z'|s') ‖ P_z(z'|z, a));
  rkl: KL(P_z(z'|z, a) ‖ p(z'|s')). The target z̄' comes from the EMA encoder (`ema`), the online encoder
  without gradient (`detached`) or with it (`online`).
- OP (observation prediction, φ_O): the model predicts s' itself: ‖ŝ' − s'‖² (l2) or −log p(s'|z, a).
- TD3 on the latent, as the official code runs it: the critic regresses on
  r + γ (1 − done) min_j Q̄_j(z̄', a'), a' = clip(π(z̄') + clip(ε, −c, c)) from the online actor and
  the EMA encoder's z̄'; the actor ascends min_j Q_j(sg z, π(z) + clipped ε). Both noisy actions are
  `anthology.rl.td3.td3_target_action` at the exploration schedule's std (the official `sample(clip=0.3)`).
- Collapse diagnostics: rank of a latent batch at three tolerances and its condition number.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import distributions as td

from anthology.rl.td3 import td3_critic_target

Form = Literal["l2", "fkl", "rkl"]
TargetKind = Literal["ema", "detached", "online"]
Latent = torch.Tensor | td.Distribution


def sample(latent: Latent) -> torch.Tensor:
    """A reparameterised draw of a stochastic latent, the latent itself when deterministic."""
    return latent.rsample() if isinstance(latent, td.Distribution) else latent


def zp_loss(predicted: Latent, target: Latent, form: Form) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """ZP distance per sample [B] between the latent model's prediction P_z(z'|z, a) and the target
    encoding of s' (already detached, EMA or online, as the caller chose)."""
    if form == "l2":
        distance = (sample(target) - sample(predicted)).pow(2).sum(dim=-1)
    elif not (isinstance(predicted, td.Distribution) and isinstance(target, td.Distribution)):
        raise ValueError(f"the {form} form of the ZP loss needs stochastic (Gaussian) encoders and models")
    elif form == "fkl":
        distance = td.kl_divergence(target, predicted)
    else:
        distance = td.kl_divergence(predicted, target)
    return distance, {f"train/zp_{form}": distance.mean().detach()}


def op_loss(predicted: Latent, next_obs: torch.Tensor, form: Form) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """OP distance per sample [B]: ‖ŝ' − s'‖² summed over observation dimensions (l2), or −log p(s'|z, a)."""
    if form == "l2":
        distance = (sample(predicted) - next_obs).pow(2).sum(dim=-1)
    elif isinstance(predicted, td.Distribution):
        distance = -predicted.log_prob(next_obs)
    else:
        raise ValueError("the KL form of the OP loss needs a stochastic (Gaussian) observation model")
    return distance, {f"train/op_{form}": distance.mean().detach()}


def latent_critic_loss(q: torch.Tensor, reward: torch.Tensor, done: torch.Tensor, next_q: torch.Tensor,
                       gamma: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(mse(Q_1, y) + mse(Q_2, y)) / 2 with y = r + γ (1 − done) min_j Q̄_j(z̄', a'); q, next_q: [2, B]."""
    target = td3_critic_target(reward, done, next_q, gamma)
    loss = (q - target[None]).pow(2).mean(dim=1).mean()
    return loss, {"train/loss_critic": loss.detach(), "train/q_mean": q.detach().mean()}


def latent_actor_loss(q: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """−mean_B min_j Q_j(z, a); q: [2, B] at the actor's (smoothed) action."""
    loss = -q.min(dim=0).values.mean()
    return loss, {"train/loss_actor": loss.detach()}


@torch.no_grad()
def collapse_diagnostics(z: torch.Tensor) -> dict[str, float]:
    """Rank of the latent batch z [B, k] at tolerances 1e-1, 1e-2, 1e-3 (absolute and relative, as the
    official `_check_collapse`) and its condition number: a collapsed representation has low rank."""
    out = {f"train/rank_{tol:g}": float(torch.linalg.matrix_rank(z, atol=tol, rtol=tol)) for tol in (1e-1, 1e-2, 1e-3)}
    out["train/condition"] = float(torch.linalg.cond(z))
    return out
