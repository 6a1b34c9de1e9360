"""Discrete soft Q-learning with action masks and a per-state temperature.

V(s) = tau(s) log sum_{a in A(s)} exp(Q(s, a) / tau(s)) and pi(a|s) = softmax(Q(s, .) / tau(s)) over the
valid actions. With tau(s) = tau / max(log |A(s)|, 1) the regularisation is decoupled from the action
set (Mohammadpour et al., ICLR 2024). `soft_value_iteration` solves small tabular MDPs exactly.
"""

from __future__ import annotations

import torch

NEG = -1e30
DIVERGENCE_WINDOW = 1000  # iterations between checks that the largest update is still shrinking
STALL_RATIO = 0.99  # a diverging iteration's step tends to a constant (values grow linearly): it shrinks by < 1%


def soft_value(q: torch.Tensor, mask: torch.Tensor, tau: torch.Tensor | float) -> torch.Tensor:
    """V(s) from Q [..., A], valid-action mask [..., A] and temperature (scalar or [...])."""
    tau = torch.as_tensor(tau, dtype=q.dtype)
    if tau.dim():
        tau = tau[..., None]
    return (tau * torch.logsumexp(q.masked_fill(~mask, NEG) / tau, dim=-1, keepdim=True))[..., 0]


def soft_policy(q: torch.Tensor, mask: torch.Tensor, tau: torch.Tensor | float) -> torch.Tensor:
    tau = torch.as_tensor(tau, dtype=q.dtype)
    if tau.dim():
        tau = tau[..., None]
    return torch.softmax(q.masked_fill(~mask, NEG) / tau, dim=-1)


def normalised_entropy(policy: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """H(pi(.|s)) / log|A(s)| per state ([...]); 0 where only one action is valid."""
    p = policy.double()
    entropy = -(p * torch.log(p.clamp_min(1e-300))).sum(-1)
    return entropy / torch.log(mask.sum(-1).double()).clamp_min(1e-12)


def soft_q_target(reward: torch.Tensor, done: torch.Tensor, next_q: torch.Tensor, next_mask: torch.Tensor,
                  next_tau: torch.Tensor | float, gamma: float) -> torch.Tensor:
    """r + gamma (1 - done) V_target(s') for a batch of transitions."""
    return reward + gamma * (~done) * soft_value(next_q, next_mask, next_tau)


def soft_q_loss(q_sa: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    loss = 0.5 * (q_sa - target.detach()).pow(2).mean()
    return loss, {"train/loss_q": loss.detach()}


def soft_value_iteration(reward: torch.Tensor, next_state: torch.Tensor, mask: torch.Tensor, terminal: torch.Tensor,
                         tau: torch.Tensor | float, gamma: float = 1.0, tol: float = 1e-10,
                         max_iterations: int = 1_000_000) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact soft-optimal (V [S], Q [S, A]) of a deterministic tabular MDP: reward [S, A], next_state
    [S, A], mask [S, A], terminal [S] (absorbing, value 0). Raises if the values diverge (the entropy
    bonus outweighs the cost of never terminating)."""
    value = torch.zeros(reward.shape[0], dtype=torch.float64)
    reward = reward.double()
    checkpoint_change = float("inf")
    for iteration in range(1, max_iterations + 1):
        q = reward + gamma * value[next_state]
        new = torch.where(terminal, torch.zeros_like(value), soft_value(q, mask, tau))
        change = float((new - value).abs().max())
        if not torch.isfinite(new).all() or change < tol:
            break
        value = new
        if iteration % DIVERGENCE_WINDOW == 0:  # a contraction shrinks its step; a divergence does not
            if change >= STALL_RATIO * checkpoint_change:
                raise ArithmeticError("soft value iteration diverged: at this temperature the entropy bonus "
                                      "outweighs the cost of never terminating; lower the temperature")
            checkpoint_change = change
    else:
        raise ArithmeticError(f"soft value iteration did not converge in {max_iterations} iterations")
    if not torch.isfinite(new).all():
        raise ArithmeticError("soft value iteration diverged to non-finite values; lower the temperature")
    return new, reward + gamma * new[next_state]
