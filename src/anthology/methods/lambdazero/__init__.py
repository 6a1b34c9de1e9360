"""LambdaZero: RL + active learning over fragment molecules with a docking oracle (Korablyov et al. 2024)."""

from anthology.core.registry import MethodSpec

from .config import PRESETS, REPRODUCE_PRESETS, Config, MDPConfig, OracleConfig, ReproduceConfig
from .reproduce import CLAIM, judge, reproduce
from .train import TrainResult, train

METHOD = MethodSpec(
    name="lambdazero",
    title="LambdaZero",
    paper="Korablyov et al. LambdaZero: generative active learning for the search of small-molecule protein "
          "binders (sEH docking). 2024",
    claim=CLAIM,
    reproduces="best / top-10 / top-50 sEH score of constraint-satisfying molecules against oracle calls for "
               "PPO + active learning on a UCB proxy, kappa 0, random policy + active learning, RL on the "
               "oracle and screening of fragment and MOSES molecules",
    config_cls=Config,
    presets=PRESETS,
    train=train,
    reproduce=reproduce,
    reproduce_presets=REPRODUCE_PRESETS,
    judge=judge,
)

__all__ = ["METHOD", "PRESETS", "REPRODUCE_PRESETS", "Config", "MDPConfig", "OracleConfig", "ReproduceConfig",
           "TrainResult", "reproduce", "train"]
