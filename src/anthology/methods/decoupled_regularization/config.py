"""Configs and presets for decoupled regularization."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from anthology.core.config import check, validate
from anthology.rl.distributions import LOG_STD_MAX

Temperature = Literal["fixed", "static", "auto", "dynamic"]
DISCRETE_ENVS = ("escape_grid", "distractor_chain")


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    name: str = "pendulum"
    """pendulum (Pendulum-v1 stacked `copies` times), a DeepMind Control Suite task written domain-task
    (e.g. cartpole-swingup; needs the control extra), escape_grid or distractor_chain (discrete: the
    agent is soft Q-learning instead of SAC)."""
    copies: int = 1
    """pendulum: d, the number of stacked pendulums (the action dimension)."""
    action_scale: float = 1.0
    """Continuous envs: the agent acts in [-s, s]^d (the paper's env.scale)."""
    reward_scale: float = 1.0
    """Continuous envs: rewards are multiplied by this. Control-suite rewards are in [0, 1] a step;
    `PENDULUM_DMC_SCALE` (1 / Pendulum's largest cost, 16.27) puts Pendulum's on the same scale."""
    max_episode_steps: int = 200
    """pendulum and the discrete envs: the time limit (a truncation: the agent still bootstraps)."""
    escape_dims: int = 3
    """escape_grid: n, the grid's dimension (2n actions)."""
    escape_width: int = 4
    chain: tuple[int, ...] = (2, 4, 16, 2, 8, 32)
    """distractor_chain: the number of actions at each state (one forward, the rest stay put)."""

    def __post_init__(self) -> None:
        validate(self, action_scale=">0", reward_scale=">0")


@dataclasses.dataclass(frozen=True)
class Config:
    env: EnvConfig = EnvConfig()
    temperature: Temperature = "auto"
    """fixed: t = tau. static: t = tau / (H_max - H_min) for a box, tau / max(log|A(s)|, 1) per state for
    discrete actions. auto: SAC's learned t with the entropy target -d. dynamic: learned t with the
    target alpha H_max + (1 - alpha) H_min."""
    tau: float = 0.2
    """fixed: the temperature itself; static: the numerator of tau / range."""
    target_alpha: float = 0.1
    """dynamic: where the entropy target sits between H_min (0) and H_max (1)."""
    initial_temperature: float = 0.2
    """auto and dynamic: t at the start (the authors' code: 0.2; CleanRL starts at 1)."""
    lr_temperature: float = 1e-3
    log_std_min: float = -3.0
    """The actor's floor on log sigma before the tanh (the authors' code: -3; CleanRL: -5)."""
    hidden: tuple[int, ...] = (256, 256)
    batch_size: int = 256
    buffer_size: int = 1_000_000
    gamma: float = 0.99
    target_ema: float = 0.005
    """Polyak rate of the target critics (the paper's EMA 0.995)."""
    lr_actor: float = 3e-4
    lr_q: float = 1e-3
    policy_frequency: int = 2
    """SAC: the actor (and temperature) take `policy_frequency` steps every `policy_frequency` env steps."""
    learning_starts: int = 5000
    """Env steps with uniformly random actions before the first update."""
    total_steps: int = 100_000
    eval_every: int = 5000
    eval_episodes: int = 5
    """Episodes with the deterministic (mean) action per evaluation; discrete envs are evaluated exactly."""
    seed: int = 0
    device: str = "cpu"
    log_every: int = 1000
    checkpoint_every: int = 10_000
    """Env steps between checkpoints (taken at the next episode boundary, so a resumed run is identical)."""

    def __post_init__(self) -> None:
        check(self.log_std_min < LOG_STD_MAX, f"log_std_min must be below {LOG_STD_MAX:g}, the actor's ceiling "
              f"(got {self.log_std_min:g})")
        validate(self, log_std_min="any", tau=">0", target_alpha="[0,1]", initial_temperature=">0", lr_temperature=">0", gamma="[0,1]", target_ema="(0,1]", lr_actor=">0", lr_q=">0", learning_starts=">=0", seed=">=0")


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    train: Config
    """SAC settings for the continuous experiments (the env and temperature are set per job)."""
    seeds: tuple[int, ...]
    scale_env: str = "pendulum"
    """The task of the two action-scale experiments (the paper: 24 control-suite tasks). Pendulum's
    reward is put on the control suite's scale (`PENDULUM_DMC_SCALE`)."""
    tau: float = 0.25
    """The paper's static experiment: fixed t = tau against static t = tau / range, the same tau (0.25)."""
    static_scales: tuple[float, ...] = (0.25, 1.0, 4.0)
    """Action scales s (the agent acts in [-s, s]^d) of the static experiment (the paper: 0.25 ... 4)."""
    auto_scales: tuple[float, ...] = (0.1, 1.0, 4.0)
    """Action scales of the learned-temperature experiment, auto (-d) against dynamic (the paper: 0.1, 0.25,
    1, 4)."""
    copies: tuple[int, ...] = (1, 2)
    """Our extension, not the paper's: Pendulum stacked d times, fixed against static with the same tau."""
    steps_per_copy: bool = True
    """Extension: train d times `train.total_steps` at dimension d (a bigger stack takes longer to learn)."""
    escape_tau: float = 0.4
    """Soft value iteration on the escape grid, n = 2..6 (the paper's toy, tau = 0.4)."""
    escape_dims: tuple[int, ...] = (2, 3, 4, 5, 6)
    chain_tau: float = 0.4
    chain_distractors: tuple[int, ...] = (1, 2, 4, 8)
    """Distractor chains whose states alternate 1 and k distractors (|A(s)| = 2 and k + 1), solved exactly."""
    chain_learned: tuple[int, ...] = (1, 8)
    """The k learned by soft Q-learning (both schemes, every seed)."""
    chain_train: Config = Config(env=EnvConfig(name="distractor_chain"), temperature="fixed", gamma=1.0)
    """Soft Q-learning settings for the learned chains."""
    workers: int = 2

    def __post_init__(self) -> None:
        validate(self, seeds=">=0", tau=">0", escape_tau=">0", static_scales=">0", auto_scales=">0")


PENDULUM_DMC_SCALE = 1.0 / (math.pi**2 + 0.1 * 8.0**2 + 0.001 * 2.0**2)
"""1 / Pendulum-v1's largest cost a step (`envs.stacked_pendulum.PENDULUM_MAX_COST`): its reward in [-1, 0]."""
_CHAIN = dict(env=EnvConfig(name="distractor_chain"), temperature="fixed", gamma=1.0, hidden=(64, 64),
              batch_size=64, learning_starts=500, lr_q=1e-3, target_ema=0.01)
_PENDULUM = EnvConfig(reward_scale=PENDULUM_DMC_SCALE)
PRESETS: dict[str, Config] = {
    "tiny": Config(hidden=(32, 32), batch_size=32, learning_starts=100, total_steps=400, eval_every=200,
                   eval_episodes=1, log_every=100, checkpoint_every=200,
                   env=EnvConfig(max_episode_steps=100, reward_scale=PENDULUM_DMC_SCALE)),
    "demo": Config(hidden=(128, 128), batch_size=128, learning_starts=1000, total_steps=4000, eval_every=2000,
                   eval_episodes=3, env=_PENDULUM),
    "quick": Config(hidden=(128, 128), batch_size=128, learning_starts=1000, total_steps=8000, eval_every=2000,
                    eval_episodes=5, env=_PENDULUM),
    "dmc": Config(env=EnvConfig(name="cartpole-swingup"), hidden=(256, 256), learning_starts=5000,
                  total_steps=100_000, eval_every=10_000, eval_episodes=5),
    "paper": Config(env=EnvConfig(name="cartpole-swingup"), learning_starts=10_000, total_steps=1_000_000,
                    eval_every=10_000, eval_episodes=10, lr_temperature=1e-4),
}

REPRODUCE_PRESETS: dict[str, ReproduceConfig] = {
    "tiny": ReproduceConfig(PRESETS["tiny"], seeds=(0,), static_scales=(1.0,), auto_scales=(1.0, 4.0),
                            copies=(1, 2), escape_dims=(2, 3), chain_distractors=(1, 4), chain_learned=(4,),
                            chain_train=Config(**{**_CHAIN, "learning_starts": 100}, total_steps=400, eval_every=200,
                                               log_every=100, checkpoint_every=200),
                            workers=1),
    "demo": ReproduceConfig(PRESETS["demo"], seeds=(0,), static_scales=(1.0,), auto_scales=(), copies=(),
                            chain_learned=(8,), chain_train=Config(**_CHAIN, total_steps=3000, eval_every=1000)),
    "quick": ReproduceConfig(PRESETS["quick"], seeds=(0, 1, 2),
                             chain_train=Config(**_CHAIN, total_steps=6000, eval_every=1000)),
    "dmc": ReproduceConfig(PRESETS["dmc"], seeds=(0, 1, 2), scale_env="cartpole-swingup", copies=(),
                           escape_dims=(2, 3), chain_distractors=(1, 8), chain_learned=(),
                           static_scales=(0.25, 1.0, 4.0), auto_scales=(0.1, 1.0, 4.0)),
    "paper": ReproduceConfig(PRESETS["paper"], seeds=tuple(range(10)), scale_env="cartpole-swingup",
                             static_scales=(0.25, 0.5, 1.0, 2.0, 4.0), auto_scales=(0.1, 0.25, 1.0, 4.0),
                             copies=(1, 4, 16), steps_per_copy=False,
                             chain_train=Config(**_CHAIN, total_steps=50_000, eval_every=5000)),
}
