"""Mol-MoE: test-time steerable multi-objective molecule generation (Calanzone, D'Oro and Bacon 2025)."""

from anthology.core.registry import MethodSpec

from .config import (
    PRESETS,
    REPRODUCE_PRESETS,
    Config,
    EvalConfig,
    PretrainConfig,
    ReproduceConfig,
    RiCConfig,
    RLConfig,
)
from .generate import GenerateConfig, generate
from .reproduce import CLAIM, judge, reproduce
from .train import TrainResult, train

METHOD = MethodSpec(
    name="mol_moe",
    title="Mol-MoE",
    paper="Calanzone, D'Oro and Bacon. Mol-MoE: training preference-guided routers for molecule generation. 2025",
    claim=CLAIM,
    reproduces="steerability (MAE and Pearson r between prompted weights and achieved mean scores), hypervolume "
               "and sample quality over Dirichlet preferences for Mol-MoE, Rewarded Soups, MORLHF and "
               "Rewards-in-Context on QED, SA, a TPSA window and the sEH proxy",
    config_cls=Config,
    presets=PRESETS,
    train=train,
    reproduce=reproduce,
    reproduce_presets=REPRODUCE_PRESETS,
    judge=judge,
    generate=generate,
    generate_config=GenerateConfig,
)

__all__ = ["METHOD", "PRESETS", "REPRODUCE_PRESETS", "Config", "EvalConfig", "GenerateConfig", "PretrainConfig",
           "RLConfig", "ReproduceConfig", "RiCConfig", "TrainResult", "generate", "reproduce", "train"]
