"""The paper's linear theorem (Ni et al. 2024, Sec. 4.2, Fig. 2): a linear encoder z = Φᵀx trained on the
self-predictive (ZP) loss with the latent transition P solved by least squares at every step keeps ΦᵀΦ
constant when the target is stopped (detached or EMA), so its columns stay orthogonal; with the online
target (gradient through z') nothing holds ΦᵀΦ and the columns drift towards each other (collapse).

Data: MountainCar (Sutton & Barto 10.1) under an ε-greedy policy that pushes along the velocity, states
as 10 x 10 radial basis features (the official `linear_code` setup), and our own random linear-Gaussian
MDP (the design prototype's). Both give (x, one-hot a, x') arrays; `train_linear_encoder` runs full-batch
SGD on Φ for each target kind and records |cos| between Φ's two columns.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, NamedTuple

import torch

from anthology.core.errors import require

Target = Literal["online", "detached", "ema"]
TARGETS: tuple[Target, ...] = ("online", "detached", "ema")


class Transitions(NamedTuple):
    states: torch.Tensor  # [N, d] features of s_t
    actions: torch.Tensor  # [N, |A|] one-hot a_t
    next_states: torch.Tensor  # [N, d] features of s_{t+1}


@dataclasses.dataclass(frozen=True)
class LinearConfig:
    task: Literal["mountain_car", "random_mdp"] = "mountain_car"
    """mountain_car (the paper's) or random_mdp (ours: x' = A_a x + noise)."""
    latent: int = 2
    """Columns of Φ (the official 2: one cosine between them)."""
    steps: int = 500
    """Full-batch SGD steps."""
    lr: float = 1e-2
    """SGD learning rate (the official 1e-2)."""
    ema_tau: float = 0.005
    """EMA target: Φ̄ <- (1 - τ) Φ̄ + τ Φ after each step (the official 0.005)."""
    log_every: int = 10
    """Steps between records of |cos|."""
    trajectories: int = 10
    """mountain_car: episodes collected (the official 10 of at most 200 steps)."""
    max_steps: int = 200
    centers: int = 10
    """mountain_car: RBF centres per state dimension (10 x 10 features)."""
    rbf_scale: float = 0.15
    """mountain_car: RBF width as a fraction of each dimension's range (the official 0.15)."""
    epsilon: float = 0.1
    """mountain_car: probability of a uniformly random action."""
    features: int = 30
    """random_mdp: state dimension d."""
    actions: int = 3
    samples: int = 2000
    """random_mdp: transitions N."""


def rbf_features(states: torch.Tensor, low: torch.Tensor, high: torch.Tensor, centers: int, scale: float) -> torch.Tensor:
    """exp(-sum_i ((s_i - c_i) / (scale * range_i))^2) over a uniform grid of centres c: [N, 2] -> [N, centers^2]."""
    grids = torch.meshgrid(*[torch.linspace(float(lo), float(hi), centers, dtype=torch.float64)
                             for lo, hi in zip(low, high, strict=True)], indexing="xy")
    grid = torch.stack([g.flatten() for g in grids], dim=0)  # [dims, centers^dims]
    width = (high - low).to(torch.float64) * scale
    diff = (states.to(torch.float64)[..., None] - grid) / width[:, None]  # [N, dims, centers^dims]
    return torch.exp(-(diff ** 2).sum(dim=-2))


def mountain_car_dataset(cfg: LinearConfig, seed: int) -> Transitions:
    """`cfg.trajectories` MountainCar episodes (Gymnasium's dynamics, start position U[-0.6, -0.4], speed
    0) under ε-greedy "push along the velocity", as RBF features and one-hot actions."""
    mountain_car = require("gymnasium.envs.classic_control.mountain_car", "control")
    env = mountain_car.MountainCarEnv()
    low, high = torch.as_tensor(env.low), torch.as_tensor(env.high)
    generator = torch.Generator().manual_seed(seed)
    states, actions, next_states = [], [], []
    for episode in range(cfg.trajectories):
        obs, _ = env.reset(seed=int(torch.randint(2**31 - 1, (1,), generator=generator)) if episode == 0 else None)
        for _ in range(cfg.max_steps):
            if float(torch.rand(1, generator=generator)) < cfg.epsilon:
                action = int(torch.randint(3, (1,), generator=generator))
            else:
                action = 0 if obs[1] < 0 else 2
            next_obs, _, terminated, _, _ = env.step(action)
            states.append(torch.as_tensor(obs))
            actions.append(action)
            next_states.append(torch.as_tensor(next_obs))
            obs = next_obs
            if terminated:
                break
    features = [rbf_features(torch.stack(x), low, high, cfg.centers, cfg.rbf_scale) for x in (states, next_states)]
    one_hot = torch.nn.functional.one_hot(torch.as_tensor(actions), 3).to(torch.float64)
    return Transitions(features[0], one_hot, features[1])


def random_mdp_dataset(cfg: LinearConfig, seed: int) -> Transitions:
    """Ours: x ~ N(0, I_d), a uniform, x' = A_a x + 0.1 ε with A_a Gaussian scaled to spectral norm 0.9."""
    generator = torch.Generator().manual_seed(seed)
    d = cfg.features
    maps = torch.randn(cfg.actions, d, d, generator=generator, dtype=torch.float64)
    maps = 0.9 * maps / torch.linalg.matrix_norm(maps, ord=2)[:, None, None]
    states = torch.randn(cfg.samples, d, generator=generator, dtype=torch.float64)
    action = torch.randint(cfg.actions, (cfg.samples,), generator=generator)
    noise = 0.1 * torch.randn(cfg.samples, d, generator=generator, dtype=torch.float64)
    next_states = torch.einsum("nij,nj->ni", maps[action], states) + noise
    return Transitions(states, torch.nn.functional.one_hot(action, cfg.actions).to(torch.float64), next_states)


def make_dataset(cfg: LinearConfig, seed: int) -> Transitions:
    return mountain_car_dataset(cfg, seed) if cfg.task == "mountain_car" else random_mdp_dataset(cfg, seed)


def stack_datasets(datasets: list[Transitions]) -> tuple[Transitions, torch.Tensor]:
    """Seeds' datasets as one batch [S, N_max, ...], zero-padded (a zero row adds nothing to the least
    squares or the loss), with each seed's count N_s [S]."""
    counts = torch.tensor([d.states.shape[0] for d in datasets])
    longest = int(counts.max())

    def pad(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pad(x, (0, 0, 0, longest - x.shape[0]))

    return Transitions(*(torch.stack([pad(getattr(d, f)) for d in datasets]) for f in Transitions._fields)), counts


def linear_zp_loss(phi: torch.Tensor, target_phi: torch.Tensor, data: Transitions, counts: torch.Tensor,
                   target: Target) -> torch.Tensor:
    """Sum over seeds of ½ mean_n ‖Pᵀ[Φᵀx_n; a_n] − z̄'_n‖², with P the least-squares transition (held
    constant: no gradient) and z̄' = Φᵀx' with its gradient (online), Φᵀx' without (detached) or Φ̄ᵀx'
    (ema). phi, target_phi: [S, d, k]; data: [S, N, ...]; counts: [S]."""
    z = data.states @ phi  # [S, N, k]
    if target == "online":
        next_z = data.next_states @ phi
    elif target == "detached":
        next_z = data.next_states @ phi.detach()
    else:
        next_z = data.next_states @ target_phi
    inputs = torch.cat([z, data.actions], dim=2)  # [S, N, k + |A|]
    with torch.no_grad():  # least squares through the normal equations: [S, k + |A|, k + |A|] systems
        transition = torch.linalg.lstsq(inputs.mT @ inputs, inputs.mT @ next_z).solution  # [S, k + |A|, k]
    residual = (inputs @ transition - next_z).pow(2).sum(dim=2)  # [S, N]
    return (0.5 * residual.sum(dim=1) / counts).sum()


def column_cosine(phi: torch.Tensor) -> torch.Tensor:
    """|cos| between the first two columns of each Φ: [S, d, k] -> [S]."""
    return torch.nn.functional.cosine_similarity(phi[..., 0], phi[..., 1], dim=-1).abs()


def train_linear_encoder(cfg: LinearConfig, data: Transitions, counts: torch.Tensor, target: Target,
                         seeds: list[int]) -> dict[str, list]:
    """Full-batch SGD on the ZP loss from an orthogonal Φ per seed (all seeds at once; each seed's loss
    and gradient are its own). Returns, every `log_every` steps, per seed: |cos| between Φ's columns
    and ‖ΦᵀΦ − Φ₀ᵀΦ₀‖_F (the invariant the theorem preserves)."""
    phis = []
    for seed in seeds:
        phi = torch.empty(data.states.shape[2], cfg.latent, dtype=torch.float64)
        phis.append(torch.nn.init.orthogonal_(phi, generator=torch.Generator().manual_seed(seed)))
    phi = torch.stack(phis)  # [S, d, k]
    gram0 = phi.mT @ phi
    phi.requires_grad_(True)
    target_phi = phi.detach().clone()
    record: dict[str, list] = {"step": [], "cosine": [], "gram_drift": []}
    for step in range(cfg.steps + 1):
        if step % cfg.log_every == 0 or step == cfg.steps:
            with torch.no_grad():
                record["step"].append(step)
                record["cosine"].append(column_cosine(phi).tolist())
                record["gram_drift"].append(torch.linalg.matrix_norm(phi.mT @ phi - gram0).tolist())
        if step == cfg.steps:
            break
        (grad,) = torch.autograd.grad(linear_zp_loss(phi, target_phi, data, counts, target), phi)
        with torch.no_grad():
            phi -= cfg.lr * grad
            target_phi.lerp_(phi, cfg.ema_tau)
    return record
