"""Entropy temperatures, fixed or decoupled from the action space (Mohammadpour, Frejinger, Bacon,
"Decoupling regularization from the action space", ICLR 2024).

The range of the entropy regulariser over policies at a state grows with the action set: log|A(s)| for
discrete actions, H_max - H_min for a box. Decoupled temperatures divide by that range so that one tau
means the same amount of regularisation whatever the action space:

- static, discrete: tau(s) = tau / max(log|A(s)|, 1) (the official code's clamp);
- static, box: tau / (H_max - H_min), H_max = sum_i log(high_i - low_i) (uniform on the box),
  H_min = d log(1e-3) (a near-deterministic policy, the official constant);
- dynamic: SAC's automatic temperature with the entropy target alpha H_max + (1 - alpha) H_min
  (alpha = 0.1) instead of SAC's default -d.
"""

from __future__ import annotations

import math

import torch

H_MIN_WIDTH = 1e-3  # per-dimension width of the "near-deterministic" policy that defines H_min


def box_entropy_range(low: torch.Tensor, high: torch.Tensor) -> tuple[float, float]:
    """(H_max, H_min) of policies on the box [low, high]^d, in nats."""
    d = low.numel()
    return float(torch.log(high - low).sum()), d * math.log(H_MIN_WIDTH)


def static_box_temperature(tau: float, low: torch.Tensor, high: torch.Tensor) -> float:
    h_max, h_min = box_entropy_range(low, high)
    return tau / (h_max - h_min)


def static_discrete_temperature(tau: float, n_valid_actions: torch.Tensor) -> torch.Tensor:
    """tau / max(log |A(s)|, 1) per state (the clamp keeps small action sets from being over-heated)."""
    return tau / torch.log(n_valid_actions.to(torch.float64)).clamp(min=1.0)


def sac_entropy_target(action_dim: int) -> float:
    """SAC's default target entropy, -dim(A)."""
    return -float(action_dim)


def decoupled_entropy_target(low: torch.Tensor, high: torch.Tensor, alpha: float = 0.1) -> float:
    """alpha H_max + (1 - alpha) H_min: a fixed fraction of the way up the box's entropy range."""
    h_max, h_min = box_entropy_range(low, high)
    return alpha * h_max + (1 - alpha) * h_min
