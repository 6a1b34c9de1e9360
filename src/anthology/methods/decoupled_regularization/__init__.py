"""Decoupled regularization: an entropy temperature that does not depend on the action space (Mohammadpour,
Frejinger, Bacon, ICLR 2024)."""

from anthology.core.registry import MethodSpec

from .config import PRESETS, REPRODUCE_PRESETS, Config, EnvConfig, ReproduceConfig
from .reproduce import CLAIM, judge, reproduce
from .train import TrainResult, train

METHOD = MethodSpec(
    name="decoupled_regularization",
    title="Decoupled regularization",
    paper="Mohammadpour, Frejinger, Bacon. Decoupling regularization from the action space. ICLR 2024",
    claim=CLAIM,
    reproduces="expected episode length on the escape grid (n = 2..6) and on distractor chains, exact and "
               "learned by soft Q-learning; SAC's final return on stacked Pendulum against the action dimension "
               "and against the action scale, fixed vs decoupled temperatures",
    config_cls=Config,
    presets=PRESETS,
    train=train,
    reproduce=reproduce,
    reproduce_presets=REPRODUCE_PRESETS,
    judge=judge,
)

__all__ = ["METHOD", "PRESETS", "REPRODUCE_PRESETS", "Config", "EnvConfig", "ReproduceConfig", "TrainResult",
           "reproduce", "train"]
