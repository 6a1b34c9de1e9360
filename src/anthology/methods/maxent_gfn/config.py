"""Configs and presets for maximum-entropy GFlowNets."""

from __future__ import annotations

import dataclasses
from typing import Literal

from anthology.core.config import check, validate

Algorithm = Literal["tb", "db", "subtb", "soft_q"]
Backward = Literal["uniform", "free", "maxent", "maxent_learned"]
SoftQReward = Literal["per_step", "gsql", "naive"]


FRAGMENT_BLOCKS = (4, 12, 13, 40, 52, 64, 18, 36, 37, 57, 25, 90)
"""Rows of `fragments/blocks_PDB_105.json` for the fragment-tree task: piperidine, two amide linkers,
thiazole, thiophene, piperazine, naphthalene, indole, morpholine, a purinone, fluorine and a pyrimidinone
(1 to 3 attachment points each). With at most 4 blocks: 20,569 trees."""


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    kind: Literal["hypergrid", "fragments"] = "hypergrid"
    """hypergrid (the theorems' testbed) or fragments (the paper's sEH task, small enough to list: every
    tree of at most `max_blocks` blocks from `blocks`, reward from the sEH proxy, exact n by counting)."""
    ndim: int = 4
    height: int = 8
    r0: float = 0.1
    """Base reward; smaller values make the modes harder to find."""
    blocked: float = 0.0
    """Fraction of cells removed at random (then n(s) has no closed form and must be learned)."""
    seed: int = 0
    """Seed of the blocked cells."""
    blocks: tuple[int, ...] = FRAGMENT_BLOCKS
    """fragments: rows of the 105-block library."""
    max_blocks: int = 4
    beta: float = 8.0
    """fragments: R(x) = max(sEH proxy(x) / 8, 1e-3)^beta."""

    def __post_init__(self) -> None:
        validate(self, r0=">0", blocked="[0,1)", seed=">=0", max_blocks=">=1", beta=">0")
        check(self.height >= 2, f"EnvConfig.height = {self.height}: a grid needs height >= 2")
        check(bool(self.blocks) and all(0 <= b < 105 for b in self.blocks),
              f"EnvConfig.blocks = {self.blocks}: rows of the 105-block library (0..104)")


@dataclasses.dataclass(frozen=True)
class Config:
    env: EnvConfig = EnvConfig()
    algorithm: Algorithm = "tb"
    """tb (trajectory balance), db (detailed balance), subtb (sub-trajectory balance) or soft_q (soft DQN)."""
    backward: Backward = "maxent"
    """P_B: uniform over parents, free (learned by the GFlowNet loss), maxent (n(s)/n(s') from the
    environment's path counts), or maxent_learned (a log n head trained by the n-loss, detached in the
    GFlowNet loss)."""
    soft_q_reward: SoftQReward = "per_step"
    """soft_q only: per_step: each move earns log P_B(s|s'); gsql (the paper's GSQL, max-ent P_B only):
    moves earn 0 and the exit from x earns log R(x) - log n(x), the same total telescoped onto the last
    move; naive: moves earn 0 and the exit log R(x), which samples n(x)R(x). The first two have the same
    exact optimum, R(x)/Z."""
    n_loss: Literal["transition", "subtb", "termtb", "starttb", "tb"] = "transition"
    """maxent_learned only: the flow-balance loss of the inverted MDP that trains log n and P_B."""
    n_loss_weight: float = 1.0
    subtb_lambda: float = 0.9
    munchausen_alpha: float = 0.0
    """soft_q only: weight of the Munchausen term (0 = plain soft DQN)."""
    target_ema: float = 0.05
    """soft_q only: target network update, theta_target <- (1 - ema) theta_target + ema theta."""
    epsilon: float = 0.0
    """Probability of a uniformly random valid action while sampling."""
    hidden: int = 256
    layers: int = 2
    batch_size: int = 16
    iterations: int = 4000
    lr: float = 1e-3
    lr_log_z: float = 0.1
    eval_every: int = 250
    """Iterations between exact evaluations (L1, H(tau), log Z error, log n error)."""
    seed: int = 0
    device: str = "cpu"
    log_every: int = 50
    checkpoint_every: int = 1000

    def __post_init__(self) -> None:
        validate(self, subtb_lambda=">0", munchausen_alpha="[0,1]", target_ema="(0,1]", epsilon="[0,1]", lr=">0", lr_log_z=">0", seed=">=0")


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    algorithm: Algorithm
    backward: Backward
    soft_q_reward: SoftQReward = "per_step"
    env: EnvConfig | None = None
    """Another grid than the reproduction's (the exploration experiment's)."""


VARIANTS: tuple[Variant, ...] = (
    Variant("tb uniform", "tb", "uniform"),
    Variant("tb free", "tb", "free"),
    Variant("tb maxent", "tb", "maxent"),
    Variant("tb maxent learned", "tb", "maxent_learned"),
    Variant("soft-q per-step log P_B", "soft_q", "maxent", "per_step"),
    Variant("soft-q gsql", "soft_q", "maxent", "gsql"),
    Variant("soft-q naive", "soft_q", "maxent", "naive"),
)
EXPLORATION_GRID = EnvConfig(ndim=2, height=64, r0=1e-3)
"""A grid where modes are hard to find (on 4-D height 8, every sampler finds all 16 modes)."""
EXPLORATION_VARIANTS: tuple[Variant, ...] = tuple(
    Variant(f"{name} (2-D h64, r0 1e-3)", "tb", backward, env=EXPLORATION_GRID)
    for name, backward in (("tb uniform", "uniform"), ("tb free", "free"), ("tb maxent", "maxent")))


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    train: Config
    seeds: tuple[int, ...]
    variants: tuple[str, ...] = tuple(v.name for v in VARIANTS)
    exploration: tuple[str, ...] = tuple(v.name for v in EXPLORATION_VARIANTS)
    """Runs on `EXPLORATION_GRID` for the modes-found curves (reported, not judged)."""
    workers: int = 2

    def __post_init__(self) -> None:
        validate(self, seeds=">=0")


PRESETS: dict[str, Config] = {
    "tiny": Config(env=EnvConfig(ndim=2, height=4), hidden=32, iterations=40, eval_every=20, log_every=10,
                   checkpoint_every=20),
    "demo": Config(iterations=1500),
    "quick": Config(iterations=4000),
    "paper": Config(iterations=50000, batch_size=64, eval_every=1000, checkpoint_every=5000),
}

FRAGMENTS = Config(env=EnvConfig(kind="fragments"), iterations=2000, eval_every=125)
FRAGMENT_VARIANTS = ("tb uniform", "tb maxent", "tb maxent learned")

REPRODUCE_PRESETS: dict[str, ReproduceConfig] = {
    "tiny": ReproduceConfig(PRESETS["tiny"], seeds=(0,), workers=1, exploration=()),
    "demo": ReproduceConfig(PRESETS["demo"], seeds=(0,), exploration=()),
    # the exploration runs (2-D height 64: trajectories of up to 126 steps) would triple quick's time on 2 cores
    "quick": ReproduceConfig(PRESETS["quick"], seeds=(0, 1, 2), exploration=()),
    "paper": ReproduceConfig(PRESETS["paper"], seeds=(0, 1, 2, 3, 4)),
    # the paper's sEH fragment task at a listable size: every tree of at most 4 of 12 blocks (20,569)
    "fragments": ReproduceConfig(FRAGMENTS, seeds=(0, 1, 2), variants=FRAGMENT_VARIANTS, exploration=()),
}
