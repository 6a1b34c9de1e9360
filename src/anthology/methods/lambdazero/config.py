"""Configs and presets for LambdaZero (RL + active learning over fragment molecules)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from anthology.core.config import check, validate

Strategy = Literal["lambdazero", "random_policy_al", "rl_oracle", "screen_fragments", "screen_moses"]
OracleKind = Literal["proxy", "vina"]


@dataclasses.dataclass(frozen=True)
class OracleConfig:
    kind: OracleKind = "proxy"
    """proxy: the 2021 sEH proxy stands in for docking (fast); vina: AutoDock Vina against sEH 4JNC."""
    exhaustiveness: int = 1
    """vina only (the paper docks at 8)."""
    workers: int = 2
    """vina only: docking processes (local) or concurrent Ray tasks (with ray_address)."""
    timeout: float = 120.0
    """vina only: seconds before one dock is recorded as a timeout."""
    ray_address: str | None = None
    """vina only: dock on this Ray cluster ("auto", "ray://host:10001"; extra `ray`) instead of local processes."""
    data_dir: str | None = None
    """Folder with the data files (default: $ANTHOLOGY_DATA, then the user cache; see `anthology data list`)."""
    cache: str | None = None
    """SQLite file of oracle results shared by runs (default: <runs>/lambdazero/oracle_cache.sqlite)."""
    reward_shift: float = 3.5
    reward_scale: float = 1.8
    """Score normalisation y = (score - shift) / scale before elu2 (LambdaZero: 8.6 and 1.1 for -Vina in
    kcal/mol). The proxy defaults put shift at mean + std / 2 and scale at one std of the proxy on 1,000
    random fragment molecules (mean 2.6, std 1.8), as LambdaZero's constants sit on docking scores."""

    def __post_init__(self) -> None:
        validate(self, timeout=">0", reward_shift="any", reward_scale=">0")


@dataclasses.dataclass(frozen=True)
class MDPConfig:
    blocks: str = "fragments/blocks_PDB_105.json"
    """A data file name (see `anthology data list`) or a path to a block library JSON."""
    max_blocks: int = 6
    max_atoms: int = 50
    max_stems: int = 20

    def __post_init__(self) -> None:
        validate(self)
        check(self.max_blocks >= 2, f"MDPConfig.max_blocks = {self.max_blocks}: a molecule needs room for 2+ blocks")


@dataclasses.dataclass(frozen=True)
class Config:
    mdp: MDPConfig = MDPConfig()
    oracle: OracleConfig = OracleConfig()
    strategy: Strategy = "lambdazero"
    """lambdazero (PPO on the proxy's UCB + active learning), random_policy_al (random molecules + the same
    active learning), rl_oracle (PPO rewarded by the oracle itself), screen_fragments (random fragment
    molecules) or screen_moses (random MOSES molecules)."""
    budget: int = 1000
    """Oracle calls (distinct molecules labelled), seed molecules included."""
    seed_molecules: int = 200
    """Random fragment molecules labelled before the first round (LambdaZero: 20k)."""
    acquire_per_round: int = 32
    """Molecules sent to the oracle each round, the top by UCB x discount (LambdaZero: 32)."""
    proposals_per_round: int = 256
    """Molecules proposed between acquisitions (LambdaZero: 1000)."""
    kappa: float = 1.0
    """UCB = mean + kappa * std (LambdaZero's main run: 1.0)."""
    qed_ramp: tuple[float, float] = (0.2, 0.5)
    sa_ramp: tuple[float, float] = (4.0, 6.5)
    """c_SA = ramp of 10 - SA between these (RDKit SA replaces LambdaZero's Chemprop synthesisability model)."""
    mw_window: tuple[float, float] = (250.0, 350.0)
    """Molecular weight a molecule must have to count (MOSES's own range, so that every arm searches the
    same space: the proxy's score grows with size). Part of the discount: c_MW ramps from 0.01 at
    `mw_ramp` outside the window to 1 inside it."""
    mw_ramp: float = 50.0
    max_alerts: int = 0
    """PAINS and Brenk structural alerts a molecule may carry to count; above it c_alert = 0.01."""
    uncertainty: Literal["deep_ensemble", "bootstrap"] = "deep_ensemble"
    """The proxy's sigma: an ensemble of MLPs trained on all labels from their own initialisations (a deep
    ensemble), or each on a bootstrap resample (until 2026-12-01; its sigma did not track the error)."""
    random_proposals_per_round: int = 3200
    """random_policy_al: random molecules proposed per round, of which `acquire_per_round` are acquired
    (the paper's config_randpolicy ratio, 256 of 25,600)."""
    ensemble: int = 5
    proxy_hidden: tuple[int, ...] = (256, 256)
    proxy_epochs: int = 60
    hidden: int = 64
    mp_steps: int = 4
    """Message-passing rounds of the policy's MPNN (LambdaZero: 6)."""
    episodes_per_update: int = 64
    ppo_epochs: int = 4
    minibatch_size: int = 128
    lr: float = 5e-4
    clip: float = 0.2
    entropy_coef: float = 1e-3
    gae_lambda: float = 0.95
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        validate(self, seed_molecules=">=1", kappa=">=0", qed_ramp="[0,1]", sa_ramp="any", max_alerts=">=0", lr=">0", clip=">0", entropy_coef=">=0", gae_lambda="[0,1]", seed=">=0")
        check(self.qed_ramp[0] < self.qed_ramp[1] and self.sa_ramp[0] < self.sa_ramp[1],
                f"qed_ramp {self.qed_ramp} and sa_ramp {self.sa_ramp} must each rise (low < high)")
        check(0 < self.mw_window[0] < self.mw_window[1], f"mw_window {self.mw_window} must rise from above 0")
        check(self.seed_molecules <= self.budget, f"seed_molecules = {self.seed_molecules} exceeds the budget of "
                f"{self.budget} oracle calls")


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str
    strategy: Strategy
    kappa: float = 1.0

    def __post_init__(self) -> None:
        validate(self, kappa=">=0")


VARIANTS: tuple[Variant, ...] = (
    Variant("lambdazero (ppo + al, kappa 1)", "lambdazero", 1.0),
    Variant("lambdazero kappa 0", "lambdazero", 0.0),
    Variant("random policy + al", "random_policy_al", 1.0),
    Variant("rl on oracle", "rl_oracle"),
    Variant("screen fragment molecules", "screen_fragments"),
    Variant("screen moses", "screen_moses"),
)


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    train: Config
    seeds: tuple[int, ...]
    variants: tuple[str, ...] = tuple(v.name for v in VARIANTS if v.strategy != "screen_moses")
    screen_pool: int = 30_000
    """MOSES molecules drawn for the screening pool (those that meet the constraints are scored once by a
    cheap oracle; a docking oracle screens through the `screen moses` arm instead)."""
    workers: int = 2

    def __post_init__(self) -> None:
        validate(self, seeds=">=0")


VINA = OracleConfig(kind="vina", exhaustiveness=1, reward_shift=8.6, reward_scale=1.1)
VINA_PAPER = dataclasses.replace(VINA, exhaustiveness=8)

PRESETS: dict[str, Config] = {
    "tiny": Config(budget=48, seed_molecules=16, acquire_per_round=16, proposals_per_round=32, episodes_per_update=16,
                   random_proposals_per_round=64, proxy_epochs=10, hidden=16, mp_steps=2, ensemble=3,
                   proxy_hidden=(32,), mdp=MDPConfig(max_blocks=4)),
    "demo": Config(budget=200, seed_molecules=64, proposals_per_round=128, random_proposals_per_round=640,
                   proxy_epochs=30),
    "quick": Config(),
    "long": Config(budget=2000),
    "vina": Config(oracle=VINA, budget=320, seed_molecules=64, acquire_per_round=32, proposals_per_round=256),
    "paper": Config(oracle=VINA_PAPER, budget=10_000, seed_molecules=2000, proposals_per_round=1000, mp_steps=6,
                    random_proposals_per_round=100_000),
}

_PAPERS = ("lambdazero (ppo + al, kappa 1)", "random policy + al", "rl on oracle")  # the paper's arms
_SEARCHES = (*_PAPERS, "lambdazero kappa 0", "screen fragment molecules")  # and our two
REPRODUCE_PRESETS: dict[str, ReproduceConfig] = {
    "tiny": ReproduceConfig(PRESETS["tiny"], seeds=(0,), workers=1, screen_pool=400,
                            variants=("lambdazero (ppo + al, kappa 1)", "screen fragment molecules")),
    "demo": ReproduceConfig(PRESETS["demo"], seeds=(0,), screen_pool=2000,
                            variants=("lambdazero (ppo + al, kappa 1)", "random policy + al")),
    # quick runs the paper's arms (71 minutes on 2 cores on 2026-12-01); long adds kappa 0 and the fragment screen
    "quick": ReproduceConfig(PRESETS["quick"], seeds=(0, 1, 2), variants=_PAPERS),
    "long": ReproduceConfig(PRESETS["long"], seeds=(0, 1, 2, 3, 4), variants=_SEARCHES),
    "vina": ReproduceConfig(PRESETS["vina"], seeds=(0, 1, 2), workers=1,
                            variants=("lambdazero (ppo + al, kappa 1)", "screen fragment molecules", "screen moses")),
    "paper": ReproduceConfig(PRESETS["paper"], seeds=(0, 1, 2), workers=1,
                             variants=(*_SEARCHES, "screen moses")),
}
