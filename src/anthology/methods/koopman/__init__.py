"""Koopman representations with periodic reencoding (Fathi et al., ICLR 2024)."""

from anthology.core.registry import MethodSpec

from .config import PRESETS, REPRODUCE_PRESETS, Config, ReproduceConfig
from .reproduce import CLAIM, judge, reproduce
from .train import TrainResult, train

METHOD = MethodSpec(
    name="koopman",
    title="Koopman with periodic reencoding",
    paper="Fathi, Gehring, Pilault, Kanaa, Bacon, Goroshin. Course Correcting Koopman Representations. ICLR 2024",
    claim=CLAIM,
    reproduces="rollout MSE at horizons 100/1000 vs reencoding period k on Duffing, pendulum, Lotka-Volterra, "
               "Lorenz-63 and the parabolic attractor, against a nonlinear-latent MLP baseline",
    config_cls=Config,
    presets=PRESETS,
    train=train,
    reproduce=reproduce,
    reproduce_presets=REPRODUCE_PRESETS,
    judge=judge,
)

__all__ = ["METHOD", "PRESETS", "REPRODUCE_PRESETS", "Config", "ReproduceConfig", "TrainResult", "reproduce",
           "train"]
