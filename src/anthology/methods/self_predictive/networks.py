"""The networks of minimal self-predictive RL, shaped as the official `mujoco_code/models.py`:
an ELU encoder s -> z (deterministic, or Gaussian for the KL forms), an ELU latent model (z, a) -> z'
(or -> s' for OP), an ELU actor on z and twin critics Linear-LayerNorm-Tanh-Linear-ELU-Linear on (z, a)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import distributions as td
from torch import nn
from torch.nn import functional as F

from anthology.nets.ensemble import EnsembleLayerNorm, EnsembleLinear
from anthology.nets.mlp import make_mlp

STD_MIN, STD_MAX, MEAN_BOUND = 0.1, 10.0, 30.0  # the official bounds on Gaussian heads


def gaussian_head(x: torch.Tensor) -> td.Distribution:
    """[..., 2k] -> N(mean, std) over k independent dimensions, mean in (−30, 30), std in (0.1, 10)."""
    mean, std = x.chunk(2, dim=-1)
    mean = MEAN_BOUND * torch.tanh(mean / MEAN_BOUND)
    std = STD_MAX - F.softplus(STD_MAX - std)
    std = STD_MIN + F.softplus(std - STD_MIN)
    return td.Independent(td.Normal(mean, std), 1)


class Encoder(nn.Module):
    """φ(s): MLP (ELU) to z [B, k], or to a Gaussian over z when `stochastic`."""

    def __init__(self, obs_dim: int, hidden: Sequence[int], latent: int, stochastic: bool = False) -> None:
        super().__init__()
        self.stochastic = stochastic
        self.body = make_mlp(obs_dim, hidden, (2 if stochastic else 1) * latent, activation="elu")

    def forward(self, obs: torch.Tensor) -> torch.Tensor | td.Distribution:
        out = self.body(obs)
        return gaussian_head(out) if self.stochastic else out


class TransitionModel(nn.Module):
    """P_z(z'|z, a) (ZP), or p(s'|z, a) (OP) with `out_dim` the observation size: MLP (ELU)."""

    def __init__(self, latent: int, action_dim: int, hidden: Sequence[int], out_dim: int,
                 stochastic: bool = False) -> None:
        super().__init__()
        self.stochastic = stochastic
        self.body = make_mlp(latent + action_dim, hidden, (2 if stochastic else 1) * out_dim, activation="elu")

    def forward(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor | td.Distribution:
        out = self.body(torch.cat([z, action], dim=-1))
        return gaussian_head(out) if self.stochastic else out


class LatentActor(nn.Module):
    """μ(z) = bias + scale · tanh(f(z)) on the action box, f an ELU MLP (noise is added by the caller)."""

    def __init__(self, latent: int, low: torch.Tensor, high: torch.Tensor, hidden: Sequence[int]) -> None:
        super().__init__()
        self.body = make_mlp(latent, hidden, low.numel(), activation="elu")
        self.register_buffer("scale", (high - low).float() / 2)
        self.register_buffer("bias", (high + low).float() / 2)
        self.register_buffer("low", low.float().clone())
        self.register_buffer("high", high.float().clone())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.bias + self.scale * torch.tanh(self.body(z))


class TwinCritic(nn.Module):
    """Q_1, Q_2 (z, a) -> [2, B], each Linear -> LayerNorm -> Tanh -> Linear -> ELU -> Linear (the official
    critic), both held as one batched ensemble."""

    def __init__(self, latent: int, action_dim: int, hidden: int) -> None:
        super().__init__()
        self.first = EnsembleLinear(2, latent + action_dim, hidden)
        self.norm = EnsembleLayerNorm(2, hidden)
        self.second = EnsembleLinear(2, hidden, hidden)
        self.out = EnsembleLinear(2, hidden, 1)

    def forward(self, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([z, action], dim=-1)
        x = torch.tanh(self.norm(self.first(x.expand(2, *x.shape))))
        return self.out(F.elu(self.second(x)))[..., 0]
