"""Robustness and scale: attacks and adversarial training of language-model classifiers across model sizes
(Howe, McKenzie, Hollinsworth, Zajac, Tseng, Tucker, Bacon, Gleave, arXiv 2407.18213)."""

from anthology.core.registry import MethodSpec

from .config import PRESETS, REPRODUCE_PRESETS, AttackConfig, Config, ReproduceConfig
from .reproduce import CLAIM, judge, reproduce
from .train import train

METHOD = MethodSpec(
    name="robust_scaling",
    title="Robustness and scale",
    paper="Howe, McKenzie, Hollinsworth, Zajac, Tseng, Tucker, Bacon, Gleave. Scaling Trends in Language Model "
          "Robustness. arXiv 2407.18213",
    claim=CLAIM,
    reproduces="GCG and random-token attack success against parameter count (a ladder of GPT-NeoX classifiers "
               "trained from scratch on PasswordMatch and WordLength), iterations to 50% success, and "
               "adversarial training in rounds: success against round and defence FLOPs per size, with transfer",
    config_cls=Config,
    presets=PRESETS,
    train=train,
    reproduce=reproduce,
    reproduce_presets=REPRODUCE_PRESETS,
    judge=judge,
)

__all__ = ["METHOD", "PRESETS", "REPRODUCE_PRESETS", "AttackConfig", "Config", "ReproduceConfig", "reproduce",
           "train"]
