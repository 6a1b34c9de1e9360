"""Generative soft Q-learning (Mohammadpour, Bengio, Frejinger, Bacon, "Maximum entropy GFlowNets with
soft Q-learning", AISTATS 2024; Tiapkin et al., "Generative flow networks as entropy-regularized RL",
AISTATS 2024): soft DQN with temperature 1 and gamma 1 on the MDP whose move s -> s' earns
log P_B(s|s') and whose exit from x earns log R(x). With that reward the soft-optimal policy samples
x proportionally to R(x) for any fixed P_B; with the max-ent P_B = n(s)/n(s') the rewards telescope to
-log n(x) (GSQL). The naive reward 0 instead samples x proportionally to n(x) R(x).

The Munchausen term (Vieillard et al. 2020) adds alpha * clip(log pi_target(a|s), clip_min, 0).
"""

from __future__ import annotations

import torch

from anthology.gfn.policy import NEG_INF


def soft_q_loss(q: torch.Tensor, target_q: torch.Tensor, forward_mask: torch.Tensor, actions: torch.Tensor,
                step_reward: torch.Tensor, log_reward: torch.Tensor, valid: torch.Tensor, is_exit: torch.Tensor,
                munchausen_alpha: float = 0.0, munchausen_clip: float = -1.0,
                huber: bool = False) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """q, target_q: [T+1, B, A] Q-values of the online and target networks on s_0..s_T (target without
    gradient); forward_mask [T+1, B, A]; actions, step_reward, valid, is_exit: [T, B]; log_reward: [B].
    Target: log R(x) on the exit, else r + V_target(s_{t+1}) with V = logsumexp over valid actions."""
    a = actions.clamp(min=0)[..., None]
    q_sa = q[:-1].gather(-1, a)[..., 0]
    masked_target = target_q.masked_fill(~forward_mask, NEG_INF)
    next_v = torch.logsumexp(masked_target[1:], dim=-1)
    target = torch.where(is_exit, log_reward[None, :].expand_as(q_sa), step_reward + next_v)
    if munchausen_alpha:
        log_pi = torch.log_softmax(masked_target[:-1], dim=-1).gather(-1, a)[..., 0]
        target = target + munchausen_alpha * log_pi.clamp(munchausen_clip, 0.0)
    error = (q_sa - target.detach()) * valid
    per = torch.nn.functional.huber_loss(error, torch.zeros_like(error), reduction="none") if huber else error.pow(2)
    loss = per.sum() / valid.sum()
    return loss, {"train/loss_soft_q": loss.detach()}
