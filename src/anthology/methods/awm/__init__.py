"""Actions World Models: policy gradients through world models of the initial state and the actions
(Ma, Ni, Gehring, D'Oro, Bacon, ICML 2024)."""

from anthology.core.registry import MethodSpec

from .config import PRESETS, REPRODUCE_PRESETS, Config, ReproduceConfig
from .reproduce import CLAIM, judge, reproduce
from .train import TrainResult, train

METHOD = MethodSpec(
    name="awm",
    title="Actions World Models",
    paper="Ma, Ni, Gehring, D'Oro, Bacon. Do Transformer World Models Give Better Policy Gradients? ICML 2024",
    claim=CLAIM,
    reproduces="true return against horizon for policies trained through a transformer AWM, an LSTM AWM, a history "
               "transformer, a one-step model and the simulator itself, on the chaotic double pendulum and Myriad's "
               "cancer treatment",
    config_cls=Config,
    presets=PRESETS,
    train=train,
    reproduce=reproduce,
    reproduce_presets=REPRODUCE_PRESETS,
    judge=judge,
)

__all__ = ["METHOD", "PRESETS", "REPRODUCE_PRESETS", "Config", "ReproduceConfig", "TrainResult", "reproduce",
           "train"]
