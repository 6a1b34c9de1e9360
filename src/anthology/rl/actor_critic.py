"""Actor-critic networks: SAC's tanh-squashed Gaussian actor and TD3's deterministic tanh actor on the
environment's action box, and an ensemble of Q-functions (twin critics by default, optionally with LayerNorm)
evaluated in one batched pass."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from anthology.nets.ensemble import EnsembleMLP
from anthology.nets.mlp import make_mlp
from anthology.rl.distributions import LOG_STD_MIN, SquashedSample, bound_log_std, sample_squashed


class SquashedGaussianActor(nn.Module):
    """pi(a|s): a = bias + scale * tanh(u), u ~ N(mu(s), sigma(s)), on the box [low, high], with
    log sigma in [log_std_min, 2] (CleanRL's floor -5 by default)."""

    def __init__(self, obs_dim: int, low: torch.Tensor, high: torch.Tensor, hidden: Sequence[int],
                 log_std_min: float = LOG_STD_MIN) -> None:
        super().__init__()
        self.action_dim, self.log_std_min = low.numel(), log_std_min
        self.body = make_mlp(obs_dim, hidden, 2 * self.action_dim, activation="relu")
        self.register_buffer("scale", (high - low).float() / 2)
        self.register_buffer("bias", (high + low).float() / 2)

    def forward(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> SquashedSample:
        mean, raw_log_std = self.body(obs).chunk(2, dim=-1)  # [B, d] each
        return sample_squashed(mean, bound_log_std(raw_log_std, self.log_std_min), self.scale, self.bias, generator)


class DeterministicActor(nn.Module):
    """mu(s) = bias + scale * tanh(f(s)) on the box [low, high] (TD3's actor, Fujimoto et al. 2018), with the
    same scale/bias buffers as `SquashedGaussianActor`; `low`/`high` are kept as buffers for clipping noisy
    actions back onto the box."""

    def __init__(self, obs_dim: int, low: torch.Tensor, high: torch.Tensor, hidden: Sequence[int],
                 activation: str = "relu") -> None:
        super().__init__()
        self.action_dim = low.numel()
        self.body = make_mlp(obs_dim, hidden, self.action_dim, activation=activation)
        self.register_buffer("scale", (high - low).float() / 2)
        self.register_buffer("bias", (high + low).float() / 2)
        self.register_buffer("low", low.float().clone())
        self.register_buffer("high", high.float().clone())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """obs [B, o] -> action [B, d]."""
        return self.bias + self.scale * torch.tanh(self.body(obs))


class QEnsemble(nn.Module):
    """Q_j(s, a) for j = 1..members, one batched MLP: (obs [B, o], action [B, d]) -> [members, B]. With
    `layer_norm`, each hidden layer is Linear -> LayerNorm -> ReLU (per-member LayerNorm parameters)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int], members: int = 2,
                 layer_norm: bool = False) -> None:
        super().__init__()
        self.net = EnsembleMLP(members, obs_dim + action_dim, hidden, 1, activation="relu", layer_norm=layer_norm)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, action], dim=-1))[..., 0]

    def member(self, index: int, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q_index(s, a) alone [B]: the same numbers as forward(...)[index] at half the work of two members."""
        return self.net.member(index, torch.cat([obs, action], dim=-1))[..., 0]
