"""MaestroMotif: skill design from AI feedback (Klissarov, Henaff, Raileanu, Sodhani, Vincent, Zhang, Bacon,
Precup, Machado, D'Oro, ICLR 2025)."""

from anthology.core.registry import MethodSpec

from .config import PRESETS, REPRODUCE_PRESETS, Config, ReproduceConfig
from .reproduce import CLAIM, judge, reproduce
from .train import train

METHOD = MethodSpec(
    name="maestro_motif",
    title="MaestroMotif",
    paper="Klissarov, Henaff, Raileanu, Sodhani, Vincent, Zhang, Bacon, Precup, Machado, D'Oro. MaestroMotif: "
          "Skill Design from Artificial Intelligence Feedback. ICLR 2025",
    claim=CLAIM,
    reproduces="success on a composite MiniHack task (collect gold, kill the monster, descend) of skills trained "
               "from AI feedback and composed by code, against one Motif reward, flat PPO, an LLM-only policy and "
               "random actions; the skill reward models' pair accuracy",
    config_cls=Config,
    presets=PRESETS,
    train=train,
    reproduce=reproduce,
    reproduce_presets=REPRODUCE_PRESETS,
    judge=judge,
)

__all__ = ["METHOD", "PRESETS", "REPRODUCE_PRESETS", "Config", "ReproduceConfig", "reproduce", "train"]
