"""Maximum-entropy GFlowNets with soft Q-learning (Mohammadpour, Bengio, Frejinger, Bacon, AISTATS 2024)."""

from anthology.core.registry import MethodSpec

from .config import PRESETS, REPRODUCE_PRESETS, Config, EnvConfig, ReproduceConfig
from .reproduce import CLAIM, judge, reproduce
from .train import TrainResult, train

METHOD = MethodSpec(
    name="maxent_gfn",
    title="Maximum-entropy GFlowNets",
    paper="Mohammadpour, Bengio, Frejinger, Bacon. Maximum entropy GFlowNets with soft Q-learning. AISTATS 2024",
    claim=CLAIM,
    reproduces="exact L1 and trajectory entropy on the 4-D hypergrid for TB with uniform, free, max-ent and "
               "learned max-ent backward policies, and soft Q-learning with the per-step, GSQL and naive rewards",
    config_cls=Config,
    presets=PRESETS,
    train=train,
    reproduce=reproduce,
    reproduce_presets=REPRODUCE_PRESETS,
    judge=judge,
)

__all__ = ["METHOD", "PRESETS", "REPRODUCE_PRESETS", "Config", "EnvConfig", "ReproduceConfig", "TrainResult", "reproduce", "train"]
