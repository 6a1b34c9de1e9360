"""Koopman autoencoder (linear latent generator, Tustin discretisation) and the nonlinear-latent baseline.

Paper symbols: E = `encoder`, D = `decoder`, K_c = `generator`, L_c = `control_matrix`,
K and L = `transition()` (the one-step maps after discretisation with step delta = `dt`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from anthology.envs.dynamical_systems import parabolic_embedding, parabolic_koopman_generator
from anthology.nets import Standardizer, make_mlp

from .config import ModelConfig


def bilinear_discretization(generator: torch.Tensor, dt: float,
                            control_matrix: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Tustin: K = (I - dt/2 K_c)^-1 (I + dt/2 K_c), L = (I - dt/2 K_c)^-1 dt L_c.

    Maps the open left half-plane into the open unit disc (stable stays stable) and matches
    expm(dt K_c) up to O(dt^3) per step.
    """
    eye = torch.eye(generator.shape[0], dtype=generator.dtype, device=generator.device)
    left = eye - 0.5 * dt * generator
    transition = torch.linalg.solve(left, eye + 0.5 * dt * generator)
    control = torch.linalg.solve(left, dt * control_matrix) if control_matrix is not None else None
    return transition, control


def exact_discretization(generator: torch.Tensor, dt: float,
                         control_matrix: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Zero-order hold: K = expm(dt K_c), L = int_0^dt expm(s K_c) ds L_c (via one augmented expm)."""
    n = generator.shape[0]
    if control_matrix is None:
        return torch.linalg.matrix_exp(dt * generator), None
    m = control_matrix.shape[1]
    block = torch.zeros(n + m, n + m, dtype=generator.dtype, device=generator.device)
    block[:n, :n] = generator
    block[:n, n:] = control_matrix
    expo = torch.linalg.matrix_exp(dt * block)
    return expo[:n, :n], expo[:n, n:]


def init_generator(latent_dim: int, kind: str) -> torch.Tensor:
    """K_c at initialisation. 'gaussian': i.i.d. N(0, 1/n) entries (eigenvalues fill the unit disc, so about
    half the modes start unstable); 'skew': the skew-symmetric part of that, whose eigenvalues lie on the
    imaginary axis (undamped oscillators, neutrally stable under the Tustin map)."""
    a = torch.randn(latent_dim, latent_dim) / math.sqrt(latent_dim)
    if kind == "gaussian":
        return a
    if kind == "skew":
        return (a - a.T) / math.sqrt(2.0)
    raise ValueError(f"unknown generator init '{kind}'; choose gaussian or skew")


DISCRETIZATIONS = {"bilinear": bilinear_discretization, "exact": exact_discretization}


class LatentModel(nn.Module):
    """Shared encode/decode around a standardiser; subclasses define `step(z, u)`."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, state_dim: int) -> None:
        super().__init__()
        self.normalizer = Standardizer(state_dim)
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # [..., d] -> [..., n]
        return self.encoder(self.normalizer(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:  # [..., n] -> [..., d]
        return self.normalizer.inverse(self.decoder(z))

    def step(self, z: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def stepper(self) -> Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]:
        """The one-step latent map for a whole rollout (lets a model prepare it once, not per step)."""
        return self.step

    def rollout_latent(self, z0: torch.Tensor, steps: int, controls: torch.Tensor | None = None) -> torch.Tensor:
        """z_hat_{t+1..t+steps} from z_t without re-encoding: [B, n] -> [B, steps, n]."""
        step = self.stepper()
        out, z = [], z0
        for s in range(steps):
            z = step(z, None if controls is None else controls[:, s])
            out.append(z)
        return torch.stack(out, dim=1)


class KoopmanAutoencoder(LatentModel):
    """z = E(x); dz/dt = K_c z + L_c u, discretised; x_hat = D(z)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, state_dim: int, latent_dim: int, dt: float,
                 control_dim: int = 0, discretization: str = "bilinear",
                 generator_init: torch.Tensor | None = None) -> None:
        super().__init__(encoder, decoder, state_dim)
        self.dt = dt
        self.discretize = DISCRETIZATIONS[discretization]
        if generator_init is None:
            generator_init = init_generator(latent_dim, "gaussian")
        self.generator = nn.Parameter(generator_init.clone())
        self.control_matrix = (nn.Parameter(torch.randn(latent_dim, control_dim) / math.sqrt(latent_dim))
                               if control_dim else None)

    def transition(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The one-step maps (K, L)."""
        return self.discretize(self.generator, self.dt, self.control_matrix)

    @torch.no_grad()
    def spectral_radius(self) -> float:
        """max |eigenvalue| of K: above 1, a pure latent rollout grows without bound."""
        transition, _ = self.discretize(self.generator.double(), self.dt)
        return float(torch.linalg.eigvals(transition).abs().max())

    def stepper(self) -> Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]:
        transition, control = self.transition()  # discretise once per rollout, not per step

        def step(z: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
            z_next = z @ transition.T
            if control is not None and u is not None:
                z_next = z_next + u @ control.T
            return z_next

        return step

    def step(self, z: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        return self.stepper()(z, u)


class MlpLatentDynamics(LatentModel):
    """Baseline: the same autoencoder with nonlinear latent dynamics z' = z + f([z, u])."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, state_dim: int, latent_dim: int,
                 hidden: tuple[int, ...], activation: str, control_dim: int = 0) -> None:
        super().__init__(encoder, decoder, state_dim)
        self.dynamics = make_mlp(latent_dim + control_dim, hidden, latent_dim, activation)

    def step(self, z: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        inputs = z if u is None else torch.cat([z, u], dim=-1)
        return z + self.dynamics(inputs)


def make_model(cfg: ModelConfig, state_dim: int, dt: float, control_dim: int = 0) -> LatentModel:
    encoder = make_mlp(state_dim, cfg.hidden, cfg.latent_dim, cfg.activation)
    decoder = make_mlp(cfg.latent_dim, cfg.hidden, state_dim, cfg.activation)
    if cfg.kind == "koopman":
        return KoopmanAutoencoder(encoder, decoder, state_dim, cfg.latent_dim, dt, control_dim, cfg.discretization,
                                  init_generator(cfg.latent_dim, cfg.generator_init))
    return MlpLatentDynamics(encoder, decoder, state_dim, cfg.latent_dim, cfg.hidden, cfg.activation, control_dim)


class _Lambda(nn.Module):
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def make_exact_parabolic_model(dt: float, discretization: str = "exact") -> KoopmanAutoencoder:
    """The parabolic attractor's exact Koopman model: E(x) = (x1, x2, x1^2), D(z) = (z1, z2), fixed K_c."""
    encoder = _Lambda(parabolic_embedding)
    decoder = _Lambda(lambda z: z[..., :2])
    generator = torch.as_tensor(parabolic_koopman_generator(), dtype=torch.float64)
    model = KoopmanAutoencoder(encoder, decoder, 2, 3, dt, 0, discretization, generator_init=generator)
    return model.double().requires_grad_(False)


__all__ = ["KoopmanAutoencoder", "LatentModel", "MlpLatentDynamics", "bilinear_discretization",
           "exact_discretization", "make_exact_parabolic_model", "make_model"]
