"""Configs and presets for Mol-MoE (test-time steerable multi-objective molecule generation)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from anthology.chem.objectives import OBJECTIVES
from anthology.core.config import validate
from anthology.nets.causal_lm import LMConfig
from anthology.rl.rloo import RLOOConfig as RLConfig


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    molecules: int = 100_000
    """MOSES training SMILES the base model is pretrained on (the paper: 3.5M from ZINC, MOSES and ChEMBL)."""
    epochs: int = 3
    batch_size: int = 128
    lr: float = 2e-3
    warmup_steps: int = 50
    prefix: Literal["descriptors", "none", "random"] = "descriptors"
    """What precedes `<s>` in a share `prefix_share` of the pretraining molecules. "descriptors": four of
    the molecule's own `DESCRIPTORS` in random order, `<logp=0.62><rings=0.33>...<s>` (our remedy: the
    paper's base, "none", sees only `<s>SMILES</s>`; at 0.6M parameters it then neither carries a preference
    prompt into its hidden states nor generates after one, see the README). "random": a random preference
    over the objectives, independent of the molecule (our first base; it learned to ignore prompts)."""
    prefix_share: float = 0.5

    def __post_init__(self) -> None:
        validate(self, lr=">0", warmup_steps=">=0", prefix_share="[0,1]")


DESCRIPTORS = ("logp", "mw", "rings", "fsp3", "hbd", "hba", "rotb", "arom")
"""RDKit descriptors a pretraining prefix may carry, each scaled into [0, 1] (`stages.descriptors`): none
is a steering objective (TPSA, QED and SA are left out), so the base learns to read numbers in a prefix,
not what the objectives' names mean."""


EXPERT_RL = RLConfig(steps=80, patience=20, min_delta=0.02)
"""Experts train to a plateau: up to 80 steps, stopped after 20 steps without the smoothed reward (in
standard deviations of the objective under the base) rising 0.02 (the release: 50 logs without +0.025)."""
ROUTER_RL = RLConfig(steps=300, lr=1e-3, beta=0.05, ppo_epochs=4, patience=30, min_delta=0.01)
"""The router: Adam 1e-3, 64 samples a step, 4 PPO epochs (the paper's configuration), up to 300 steps
(1,200 updates, 19,200 episodes; the paper allows 100k episodes), stopped after 30 steps without the
smoothed reward (normalised units) rising 0.01."""


@dataclasses.dataclass(frozen=True)
class RiCConfig:
    """Rewards-in-Context: SFT on molecules prefixed by their own scores, then one online round."""

    molecules: int = 10_000
    """Scored MOSES molecules for the offline SFT."""
    epochs: int = 1
    lr: float = 5e-4
    online_samples: int = 1024
    """Molecules sampled in the online round (prompts: every weight 1.0 but one drawn from U(0, 1))."""
    quantile: float = 0.7
    """Online samples above this per-objective quantile (on any objective) are kept for the second SFT."""

    def __post_init__(self) -> None:
        validate(self, lr=">0", quantile="[0,1)")


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    preferences: int = 32
    """Dirichlet(1) preferences the steering is measured on (the paper: 10)."""
    samples: int = 128
    """Molecules sampled per preference and method (the paper: 2048)."""
    top_k: int = 10
    top_p: float = 0.9
    """Nucleus sampling at evaluation (the paper's 0.9); training samples at `Config.top_p`."""
    bootstrap: int = 1000
    """Resamples of the preferences for the 95% intervals on r."""
    oracle: bool = True
    """Also evaluate the merged model with its gates set to w at every layer and at layer 0 only."""

    def __post_init__(self) -> None:
        validate(self, top_p="(0,1]")


LM = LMConfig(hidden=128, layers=3, heads=4, intermediate=256, max_length=96)


@dataclasses.dataclass(frozen=True)
class Config:
    objectives: tuple[str, ...] = OBJECTIVES
    """Objectives in [0, 1] (see chem.objectives): qed, sa, tpsa (a window), seh (the sEH proxy)."""
    lm: LMConfig = LM
    pretrain: PretrainConfig = PretrainConfig()
    expert: RLConfig = EXPERT_RL
    router: RLConfig = ROUTER_RL
    """Router training: only the gates; reward sum_i w_i s_i(x) with w ~ Dirichlet(alpha) in the prompt."""
    dirichlet_alpha: float = 1.0
    calibration_samples: int = 512
    """Molecules sampled from the base and from each expert to place each objective's range: 0 at the
    base's mean score, 1 at its expert's (router reward, MORLHF reward, scaled targets)."""
    expert_reward: Literal["standardised", "raw"] = "standardised"
    """Experts' reward: the score divided by its standard deviation under the base, or the raw score."""
    router_reward: Literal["normalised", "raw"] = "normalised"
    """Router (and MORLHF) reward sum_i w_i s_i on scores normalised per objective, or on raw scores."""
    invalid_reward: Literal["zero", "neutral"] = "zero"
    """What an invalid molecule scores in the router's and MORLHF's reward: 0 on every raw objective (as
    the scorers give it: -lo/span in normalised units, in the quick run -8 to -13 on QED and SA, -0.3 to
    -1.1 on TPSA and sEH), or the base's mean on each (0 in normalised units: validity neither rewarded
    nor punished)."""
    base_expert: bool = True
    """Merge the base's MLPs as an extra expert (the paper's 6 experts include the base)."""
    router_init_std: float = 1.0
    """Router initialisation from hidden states (mergekit's gate_mode hidden): the gate rows are the
    directions by which each expert's one-hot preference prompt moves the hidden states, scaled so that
    the gate logits over molecule tokens have this standard deviation."""
    ric: RiCConfig = RiCConfig()
    eval: EvalConfig = EvalConfig()
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 64
    base_model: str | None = "shipped"
    """The base to start from: "shipped" (pretrained on 100k MOSES SMILES, see mol_moe/README.md), a folder
    written by `python -m anthology.methods.mol_moe.pretrain`, or None to pretrain in this run."""
    baselines: bool = True
    """Also train MORLHF and Rewards-in-Context (Rewarded Soups needs only the experts)."""
    data_dir: str | None = None
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        validate(self, dirichlet_alpha=">0", calibration_samples=">0", router_init_std=">0", temperature=">0", top_p="(0,1]", seed=">=0")


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    train: Config
    seeds: tuple[int, ...]
    workers: int = 2

    def __post_init__(self) -> None:
        validate(self, seeds=">=0")


TINY_RL = RLConfig(steps=4, prompts=4, k=2, minibatch=8)
PRESETS: dict[str, Config] = {
    # tiny starts from the shipped base: a base pretrained in seconds samples almost no valid molecule, so
    # every reward is 0, the RLOO advantages vanish and experts, router and MORLHF never move
    "tiny": Config(pretrain=PretrainConfig(molecules=1000), expert=dataclasses.replace(TINY_RL, steps=2),
                   router=dataclasses.replace(TINY_RL, steps=2, lr=1e-3, beta=0.05),
                   ric=RiCConfig(molecules=64, online_samples=16),
                   eval=EvalConfig(preferences=3, samples=8, bootstrap=20), calibration_samples=16, max_new_tokens=40),
    # demo (2 minutes on 2 cores): experts and router at a tenth of quick's samples, Rewarded Soups as the
    # only baseline (it needs nothing beyond the experts), 10 preferences as the paper, no oracle gates
    "demo": Config(pretrain=PretrainConfig(molecules=30_000), expert=RLConfig(steps=8, prompts=8),
                   router=RLConfig(steps=8, prompts=8, lr=1e-3, beta=0.05, ppo_epochs=2),
                   ric=RiCConfig(molecules=3000, online_samples=256), baselines=False,
                   eval=EvalConfig(preferences=10, samples=32, oracle=False), calibration_samples=64),
    "quick": Config(),
    "paper": Config(lm=LMConfig(hidden=512, layers=8, heads=8, intermediate=1536, max_length=128), base_model=None,
                    pretrain=PretrainConfig(molecules=1_584_663, epochs=1, batch_size=256, lr=5e-4),
                    expert=RLConfig(steps=1000, prompts=64, k=2, ppo_epochs=4, patience=50, min_delta=0.02),
                    router=RLConfig(steps=1600, prompts=32, k=2, lr=1e-3, beta=0.05, ppo_epochs=4, patience=50,
                                    min_delta=0.01),
                    ric=RiCConfig(molecules=200_000), eval=EvalConfig(preferences=32, samples=2048),
                    calibration_samples=2048),
}

REPRODUCE_PRESETS: dict[str, ReproduceConfig] = {
    "tiny": ReproduceConfig(PRESETS["tiny"], seeds=(0,), workers=1),
    "demo": ReproduceConfig(PRESETS["demo"], seeds=(0,), workers=1),
    "quick": ReproduceConfig(PRESETS["quick"], seeds=(0, 1, 2), workers=3),
    "paper": ReproduceConfig(PRESETS["paper"], seeds=(0, 1, 2), workers=1),
}
