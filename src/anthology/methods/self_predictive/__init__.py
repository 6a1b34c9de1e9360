"""Minimal self-predictive RL: ZP representation learning beside TD3 (Ni, Eysenbach, SeyedSalehi, Ma,
Gehring, Mahajan, Bacon, ICLR 2024)."""

from anthology.core.registry import MethodSpec

from .config import PRESETS, REPRODUCE_PRESETS, Config, ReproduceConfig
from .reproduce import CLAIM, judge, reproduce
from .train import TrainResult, train

METHOD = MethodSpec(
    name="self_predictive",
    title="Self-predictive RL",
    paper="Ni, Eysenbach, SeyedSalehi, Ma, Gehring, Mahajan, Bacon. Bridging State and History Representations: "
          "Understanding Self-Predictive RL. ICLR 2024",
    claim=CLAIM,
    reproduces="the linear theorem's |cos| between encoder columns under online, detached and EMA targets "
               "(MountainCar RBF features, a random linear MDP), TD3 / ZP / OP returns on Pendulum with Gaussian "
               "distractor dimensions, and recurrent Q-learning with and without ZP on two MiniGrid tasks",
    config_cls=Config,
    presets=PRESETS,
    train=train,
    reproduce=reproduce,
    reproduce_presets=REPRODUCE_PRESETS,
    judge=judge,
)

__all__ = ["METHOD", "PRESETS", "REPRODUCE_PRESETS", "Config", "ReproduceConfig", "TrainResult", "reproduce",
           "train"]
