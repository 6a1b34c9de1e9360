"""The tanh-squashed Gaussian policy distribution of SAC (Haarnoja et al. 2018, App. C).

a = bias + scale * tanh(u), u ~ N(mu, sigma). The log-density includes the Jacobian of the squashing
*and of the scaling*: log pi(a) = log N(u) - sum_i log(scale_i (1 - tanh(u_i)^2)). Entropy is therefore
measured in the environment's action units; rescaling the actions by s shifts it by d log s, which is
why a fixed temperature means different things for different action scales (decoupled regularisation).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0  # CleanRL's bounds


class SquashedSample(NamedTuple):
    action: torch.Tensor  # [B, d] in the environment's units
    log_prob: torch.Tensor  # [B]
    mean_action: torch.Tensor  # [B, d] the deterministic action bias + scale * tanh(mu)


def bound_log_std(raw: torch.Tensor, low: float = LOG_STD_MIN, high: float = LOG_STD_MAX) -> torch.Tensor:
    """Map an unbounded network output into [low, high] smoothly (CleanRL's tanh rescaling)."""
    return low + 0.5 * (high - low) * (torch.tanh(raw) + 1)


def squashed_log_prob(pre_tanh: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor,
                      scale: torch.Tensor) -> torch.Tensor:
    """log pi(a) for a = bias + scale * tanh(pre_tanh), summed over action dimensions: [B]."""
    gaussian = -0.5 * ((pre_tanh - mean) / log_std.exp()).pow(2) - log_std - 0.5 * math.log(2 * math.pi)
    # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), stable for large |u|
    log_det = 2.0 * (math.log(2.0) - pre_tanh - F.softplus(-2.0 * pre_tanh)) + torch.log(scale)
    return (gaussian - log_det).sum(-1)


def sample_squashed(mean: torch.Tensor, log_std: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor,
                    generator: torch.Generator | None = None) -> SquashedSample:
    """A reparameterised sample (gradients flow to mean and log_std) and its log-probability."""
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype,
                        device=mean.device if generator is None else generator.device).to(mean.device)
    pre_tanh = mean + log_std.exp() * noise
    action = bias + scale * torch.tanh(pre_tanh)
    return SquashedSample(action, squashed_log_prob(pre_tanh, mean, log_std, scale), bias + scale * torch.tanh(mean))
