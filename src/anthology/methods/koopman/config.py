"""Configs and presets for Koopman autoencoders with periodic reencoding."""

from __future__ import annotations

import dataclasses
from typing import Literal

from anthology.core.config import check, validate

SystemName = Literal["duffing", "pendulum", "lotka_volterra", "lorenz63", "parabolic", "forced_duffing", "cheetah"]


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    kind: Literal["koopman", "mlp"] = "koopman"
    """'koopman': linear latent generator K_c (the method); 'mlp': nonlinear latent dynamics z' = z + f(z)."""
    latent_dim: int = 32
    """Size of the latent state z."""
    hidden: tuple[int, ...] = (64, 64)
    """Widths of the encoder's and decoder's hidden layers (and of the MLP dynamics)."""
    activation: str = "silu"
    """Hidden activation: silu, relu, tanh, elu or gelu."""
    generator_init: Literal["gaussian", "skew"] = "skew"
    """K_c at initialisation: i.i.d. Gaussian (half the modes start unstable) or its skew-symmetric part."""
    discretization: Literal["bilinear", "exact"] = "bilinear"
    """How K_c becomes the one-step map K: bilinear (Tustin, the paper) or the matrix exponential."""

    def __post_init__(self) -> None:
        validate(self)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    n_train: int = 1000
    """Training trajectories (each from its own initial condition)."""
    train_steps: int = 100
    """Steps per training trajectory; windows of `LossConfig.window` steps are drawn from them."""
    n_test: int = 50
    """Test initial conditions."""
    n_val: int = 50
    """Validation initial conditions (a third stream): where a reproduction picks the period k."""
    test_steps: int = 1000
    """Length of the evaluation rollouts (the longest horizon)."""
    seed: int = 0
    """Seed of the data (kept fixed across training seeds so every seed sees the same test set)."""

    def __post_init__(self) -> None:
        validate(self, seed=">=0")


@dataclasses.dataclass(frozen=True)
class LossConfig:
    window: int = 50
    """Unroll length T during training (the latent is never re-encoded while training)."""
    align: float = 1.0
    """Weight of the alignment loss ||z_hat_{t+s} - E(x_{t+s})||^2."""
    reconstruction: float = 1.0
    """Weight of the reconstruction loss ||x - D(E(x))||^2."""
    prediction: float = 1.0
    """Weight of the prediction loss ||x_{t+s} - D(z_hat_{t+s})||^2."""

    def __post_init__(self) -> None:
        validate(self)


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    reencode_periods: tuple[int, ...] = (0, 1, 5, 10, 25, 50, 100)
    """Periods k of z <- E(D(z)) during rollouts; 0 means never (a pure latent rollout)."""
    horizons: tuple[int, ...] = (100, 1000)
    """Horizons h at which MSE@h (mean squared error over steps 1..h, standardised units) is reported."""
    vpt_threshold: float = 0.5
    """Normalised error above which a prediction stops being valid (valid prediction time)."""

    def __post_init__(self) -> None:
        validate(self, reencode_periods=">=0", vpt_threshold=">0")


@dataclasses.dataclass(frozen=True)
class Config:
    system: SystemName = "duffing"
    """Which dynamical system to learn."""
    seed: int = 0
    """Seed of the model's initialisation and of the batches."""
    device: str = "cpu"
    """cpu, cuda, cuda:N or auto."""
    steps: int = 2000
    """Gradient steps."""
    batch_size: int = 64
    """Windows per gradient step."""
    lr: float = 1e-3
    """Adam's initial learning rate."""
    lr_final_fraction: float = 0.1
    """Cosine decay of the learning rate down to lr * this fraction."""
    grad_clip: float = 1.0
    """Global gradient-norm clipping."""
    log_every: int = 50
    """Steps between metric records (metrics.jsonl, progress bar, TensorBoard)."""
    checkpoint_every: int = 500
    """Steps between checkpoints of a run with a run directory (what --resume continues from)."""
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    loss: LossConfig = LossConfig()
    eval: EvalConfig = EvalConfig()

    def __post_init__(self) -> None:
        validate(self, seed=">=0", lr=">0", lr_final_fraction="[0,1]", grad_clip=">0")
        check(max(self.eval.horizons) <= self.data.test_steps, f"eval.horizons {self.eval.horizons} reach past the "
                f"test trajectories (data.test_steps = {self.data.test_steps}): lower the horizons or lengthen the data")


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    """The claim's experiment: systems x models x seeds, every model evaluated at every period k."""

    train: Config
    systems: tuple[SystemName, ...]
    seeds: tuple[int, ...]
    models: tuple[Literal["koopman", "mlp"], ...] = ("koopman", "mlp")
    workers: int = 2

    def __post_init__(self) -> None:
        validate(self, seeds=">=0")


_TINY_DATA = DataConfig(n_train=64, train_steps=30, n_test=8, test_steps=200)
_SMALL = ModelConfig(latent_dim=8, hidden=(32, 32))

PRESETS: dict[str, Config] = {
    "tiny": Config(steps=60, batch_size=32, log_every=10, checkpoint_every=20, model=_SMALL, data=_TINY_DATA,
                   loss=LossConfig(window=10), eval=EvalConfig(reencode_periods=(0, 1, 5, 25), horizons=(50, 200))),
    "demo": Config(),
    "quick": Config(),
    "paper": Config(steps=20000, batch_size=256, model=ModelConfig(latent_dim=64, hidden=(256, 256, 256)),
                    data=DataConfig(n_train=5000, train_steps=200, n_test=100, test_steps=1000),
                    checkpoint_every=1000),
}

REPRODUCE_PRESETS: dict[str, ReproduceConfig] = {
    "tiny": ReproduceConfig(PRESETS["tiny"], systems=("duffing", "parabolic"), seeds=(0,), workers=1),
    "demo": ReproduceConfig(PRESETS["demo"], systems=("duffing", "pendulum"), seeds=(0,)),
    "quick": ReproduceConfig(PRESETS["quick"], systems=("duffing", "pendulum", "lotka_volterra", "lorenz63",
                                                        "parabolic", "cheetah"), seeds=(0, 1, 2)),
    "paper": ReproduceConfig(PRESETS["paper"], systems=("duffing", "pendulum", "lotka_volterra", "lorenz63",
                                                        "parabolic", "cheetah"), seeds=(0, 1, 2, 3, 4)),
}
