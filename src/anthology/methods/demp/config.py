"""Configs and presets for DemP (Demon Pruning) and its structured-pruning baselines."""

from __future__ import annotations

import dataclasses
from typing import Literal

from anthology.core.config import check, validate

Method = Literal["demp", "dense", "constant", "magnitude", "slimming"]


@dataclasses.dataclass(frozen=True)
class Config:
    dataset: Literal["digits", "fashion_mnist", "cifar10"] = "fashion_mnist"
    """digits (bundled with scikit-learn), fashion_mnist (Debian's dataset-fashion-mnist, $ANTHOLOGY_DATA or
    `anthology data fetch fashion_mnist`), cifar10 (the binary batches, for users who have them)."""
    data_dir: str | None = None
    """Folder of the dataset's files (default: the places the dataset's loader searches)."""
    model: Literal["mlp", "cnn", "resnet18"] = "mlp"
    hidden: tuple[int, ...] = (1024, 1024)
    """The MLP's hidden widths; the CNN's fully connected width is hidden[0]."""
    channels: tuple[int, ...] = (32, 64)
    """The CNN's convolution channels (one 2x2 max-pool after each)."""
    width: int = 64
    """ResNet-18's stem width."""
    batch_norm: bool = False
    """BatchNorm after each hidden producer (MLP, CNN; ResNet-18 always has it)."""
    method: Method = "demp"
    """demp: one-cycle regulariser + live-unit noise + dead units removed while training; dense; constant:
    constant λ, no noise, dead units removed; magnitude: units with the smallest incoming-weight L1 norm removed
    once at `prune_at`, then fine-tuned; slimming: L1 on BatchNorm scales, the smallest |γ| removed at `prune_at`."""
    regulariser: Literal["l2", "lasso", "cdg_l2", "cdg_lasso"] = "l2"
    regularised: Literal["all", "weights", "bn_scale"] = "all"
    """Which parameters R applies to: all, weight matrices and kernels only, or BatchNorm scales only (the
    official DemP runs: lasso on `scale_only`)."""
    reg_lambda: float = 1e-3
    """λ: the one-cycle schedule's peak (demp), or the constant value (constant)."""
    noise_eta: float = 5e-5
    """Peak std of the live-unit noise (the official 5e-5)."""
    schedule_end: float = 0.9
    """Fraction of training at which λ's and the noise's one cycle ends (the official zero_end_reg_param: 0.9)."""
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 1e-2
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 256
    epochs: int = 10
    prune_every: int = 200
    """Steps between dead-unit sweeps and removals (demp, constant); one more after the last step."""
    death_fraction: float = 0.04
    """Fraction of the training set swept for dead units (the official train_size / 25)."""
    target_sparsity: float = 0.8
    """magnitude, slimming: the fraction of hidden units removed."""
    prune_at: float = 0.5
    """magnitude, slimming: the fraction of training after which units are removed; the rest fine-tunes."""
    slimming_lambda: float = 1e-4
    """slimming: the L1 coefficient on BatchNorm scales (Liu et al. 2017's 1e-4)."""
    max_train: int = 0
    """Use only the first max_train training images (0: all)."""
    seed: int = 0
    device: str = "cpu"
    eval_batch: int = 2048

    def __post_init__(self) -> None:
        validate(self, seed=">=0", reg_lambda=">=0", noise_eta=">=0", schedule_end="(0,1]", lr=">0",
                 momentum="[0,1)", weight_decay=">=0", death_fraction="(0,1]", target_sparsity="[0,1)",
                 prune_at="(0,1)", slimming_lambda=">=0", max_train=">=0")
        check(self.method != "slimming" or self.batch_norm or self.model == "resnet18",
              "slimming prunes by BatchNorm scales: set --batch-norm True (or use resnet18)")
        check(self.regularised != "bn_scale" or self.batch_norm or self.model == "resnet18",
              "regularised=bn_scale needs BatchNorm: set --batch-norm True (or use resnet18)")


_TINY = dict(dataset="digits", hidden=(32, 32), channels=(4, 8), epochs=2, batch_size=64, prune_every=10,
             eval_batch=512, death_fraction=0.2)

PRESETS: dict[str, Config] = {
    "tiny": Config(**_TINY),
    # Fashion-MNIST, MLP 784-512-512-10, Adam lr 1e-2, removals every 50 steps (the official 1000 of 15.6k: 6%)
    "demo": Config(hidden=(512, 512), epochs=3, prune_every=50),
    "quick": Config(hidden=(512, 512), epochs=5, prune_every=50),
    "paper": Config(dataset="cifar10", model="resnet18", batch_norm=True, regulariser="lasso", regularised="bn_scale",
                    optimizer="adam", lr=5e-3, weight_decay=5e-4, batch_size=128, epochs=160, prune_every=5000,
                    noise_eta=5e-5),
}


@dataclasses.dataclass(frozen=True)
class ModelSetting:
    """One model of the claim's experiment: its config changes and each method's grid."""

    name: str
    overrides: tuple[tuple[str, object], ...]
    lambdas: tuple[float, ...]
    """DemP's peak λ values (one point of its trade-off curve each)."""
    reference: float
    """The λ whose run is timed against dense, side by side."""
    constant: tuple[float, ...] = ()
    """λ values of the constant-regulariser ablation (no noise)."""
    magnitude: tuple[float, ...] = ()
    """Target neuron sparsities of one-shot magnitude pruning with fine-tuning."""
    slimming: tuple[float, ...] = ()
    """Target neuron sparsities of network slimming (BatchNorm models)."""


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    train: Config
    models: tuple[ModelSetting, ...]
    seeds: tuple[int, ...]
    workers: int = 2

    def __post_init__(self) -> None:
        validate(self, seeds=">=0")
        for m in self.models:
            check(m.reference in m.lambdas, f"{m.name}: the reference λ {m.reference} is not in its grid {m.lambdas}")


# the CNN with BatchNorm, DemP as the official runs: lasso on the BatchNorm scales; 3 epochs (12 s each on a core)
_CNN = (("model", "cnn"), ("batch_norm", True), ("channels", (8, 16)), ("hidden", (64,)), ("epochs", 3),
        ("regulariser", "lasso"), ("regularised", "bn_scale"))

REPRODUCE_PRESETS: dict[str, ReproduceConfig] = {
    "tiny": ReproduceConfig(PRESETS["tiny"], (
        ModelSetting("mlp", (), (1e-2,), 1e-2, (1e-2,), (0.1, 0.5)),
        ModelSetting("cnn", (("model", "cnn"), ("batch_norm", True), ("regulariser", "lasso"),
                             ("regularised", "bn_scale")), (1e-2,), 1e-2, (), (), (0.1, 0.5))), (0,), workers=1),
    # seed 0 probes (5 epochs): DemP l2 λ 1e-4 / 3e-3 / 1e-2 reached 73 / 80 / 76% neuron sparsity at 85.9 / 85.8 /
    # 84.6% accuracy (dense 86.2%), magnitude 0.6 / 0.75 reached 86.0 / 84.8%; CNN (3 epochs): DemP lasso-on-γ λ
    # 3e-2 / 1e-1 reached 8 / 15% at 87.7 / 85.5% (dense 90.4%), slimming 0.5 84.8%
    "demo": ReproduceConfig(PRESETS["demo"], (ModelSetting("mlp", (), (3e-3,), 3e-3, (), (0.6, 0.9)),), (0,)),
    "quick": ReproduceConfig(PRESETS["quick"], (
        ModelSetting("mlp", (), (1e-4, 3e-3, 1e-2), 3e-3, (3e-3,), (0.6, 0.75, 0.9)),
        ModelSetting("cnn", _CNN, (3e-2, 1e-1), 3e-2, (), (0.05, 0.2, 0.5), (0.05, 0.2, 0.5))), (0, 1, 2)),
    "paper": ReproduceConfig(PRESETS["paper"], (
        ModelSetting("resnet18", (), (1e-5, 1e-4, 1e-3), 1e-4, (1e-4,), (0.5, 0.8, 0.9), (0.5, 0.8, 0.9)),),
        (0, 1, 2)),
}
