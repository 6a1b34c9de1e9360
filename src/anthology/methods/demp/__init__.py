"""DemP: structured pruning by controlling dying neurons (Dufort-Labbé, D'Oro, Nikishin, Pascanu, Bacon,
Baratin, arXiv 2403.07688)."""

from anthology.core.registry import MethodSpec

from .config import PRESETS, REPRODUCE_PRESETS, Config, ReproduceConfig
from .reproduce import CLAIM, judge, reproduce
from .train import train

METHOD = MethodSpec(
    name="demp",
    title="DemP",
    paper="Dufort-Labbé, D'Oro, Nikishin, Pascanu, Bacon, Baratin. Maxwell's Demon at Work: Efficient Pruning by "
          "Leveraging Saturation of Neurons. arXiv 2403.07688",
    claim=CLAIM,
    reproduces="test accuracy against neuron sparsity and parameters remaining for DemP, constant regularisation, "
               "magnitude pruning with fine-tuning and network slimming (an MLP and a CNN with BatchNorm on "
               "Fashion-MNIST), and DemP's training time against dense",
    config_cls=Config,
    presets=PRESETS,
    train=train,
    reproduce=reproduce,
    reproduce_presets=REPRODUCE_PRESETS,
    judge=judge,
)

__all__ = ["METHOD", "PRESETS", "REPRODUCE_PRESETS", "Config", "ReproduceConfig", "reproduce", "train"]
