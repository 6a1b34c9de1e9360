"""Configs and presets for minimal self-predictive RL (ZP beside TD3)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from anthology.core.config import check, validate

from .linear import LinearConfig
from .recurrent import RecurrentConfig

Aux = Literal["zp", "op", "none"]
Form = Literal["l2", "fkl", "rkl"]
TargetKind = Literal["ema", "detached", "online"]


@dataclasses.dataclass(frozen=True)
class Config:
    env: str = "Pendulum-v1"
    """Gymnasium environment id with a continuous action box (Pendulum-v1, HalfCheetah-v5, ...)."""
    distractors: int = 0
    """Observation dimensions of i.i.d. N(0, distractor_scale^2) noise appended to each observation."""
    distractor_scale: float = 1.0
    aux: Aux = "zp"
    """zp: self-predictive (φ_L), op: observation-predictive (φ_O), none: model-free (φ_Q*)."""
    form: Form = "l2"
    """Distance of the auxiliary loss: l2, or the KL forms (fkl, rkl; Gaussian encoder and model)."""
    target: TargetKind = "ema"
    """ZP target z̄' of s': the EMA encoder, the online encoder detached, or online (with gradient)."""
    aux_coef: float = 10.0
    """Weight of the auxiliary loss (the official 10 for l2 with EMA targets, 1 for the KL forms)."""
    seed: int = 0
    device: str = "cpu"
    total_steps: int = 500_000
    """Environment steps (one update per step after the warm-up)."""
    warmup_steps: int = 5000
    """Steps of uniformly random actions before the first update."""
    buffer_size: int = 100_000
    batch_size: int = 512
    latent: int = 50
    """Dimension of z (the official 50)."""
    encoder_hidden: tuple[int, ...] = (512, 512)
    model_hidden: tuple[int, ...] = (1024, 1024)
    """Hidden widths of the latent (or observation) model."""
    critic_hidden: int = 512
    actor_hidden: tuple[int, ...] = (512, 512)
    lr: float = 1e-4
    """Adam's learning rate for the encoder and model, the critics and the actor (the official 1e-4)."""
    gamma: float = 0.99
    tau: float = 0.005
    """Polyak rate of the EMA encoder and the target critics."""
    explore_start: float = 1.0
    explore_end: float = 0.1
    explore_steps: int = 100_000
    """The exploration noise's std decays linearly from explore_start to explore_end over these steps."""
    noise_clip: float = 0.3
    """Clip of the smoothing noise on target and actor-loss actions (the official stddev_clip)."""
    max_grad_norm: float = 100.0
    eval_every: int = 5000
    eval_episodes: int = 10
    log_every: int = 500
    """Steps between metric records (with the collapse diagnostics of the latent batch)."""
    checkpoint_every: int = 5000
    """Steps between checkpoints, taken at the next episode start (what --resume continues from)."""

    def __post_init__(self) -> None:
        validate(self, seed=">=0", distractors=">=0", aux_coef=">=0", lr=">0", tau="(0,1]", gamma="[0,1]",
                 warmup_steps=">=0", distractor_scale=">=0", noise_clip=">=0")
        check(self.warmup_steps < self.total_steps, f"warmup_steps ({self.warmup_steps}) must be below total_steps "
              f"({self.total_steps}): no update would run")
        check(self.batch_size <= self.buffer_size, "batch_size must not exceed buffer_size")


_TINY = dict(total_steps=300, warmup_steps=100, buffer_size=300, batch_size=32, latent=8, encoder_hidden=(16,),
             model_hidden=(16,), critic_hidden=16, actor_hidden=(16,), explore_steps=300, eval_every=150,
             eval_episodes=1, log_every=50, checkpoint_every=100)
# the design notes' CPU scale: networks 128 wide, latent 32, batch 128 (about 9 ms per update on one core)
_SMALL = dict(latent=32, encoder_hidden=(128, 128), model_hidden=(128, 128), critic_hidden=128,
              actor_hidden=(128, 128), batch_size=128, lr=3e-4, explore_steps=10_000, warmup_steps=1000,
              eval_every=2000, eval_episodes=5)

# MiniGrid at CPU scale (the design notes' smoke scale, longer): LSTM 64, batch 32 chunks, burn-in 10;
# ε decays over a tenth of the run as the official 400k of 4M steps
_MINIGRID = dict(latent=64, q_hidden=64, burn_in=10, batch_size=32, total_steps=30_000, eps_decay=3000,
                 eval_every=5000, log_every=500, checkpoint_every=5000)

PRESETS: dict[str, Config | RecurrentConfig] = {
    "tiny": Config(**_TINY),
    # seed 0 at 10k steps (one core, 128 wide): every arm reaches about -160 on Pendulum by 4-6k steps
    # without distractors; with 64, ZP by 6k and OP by 8k; a run takes about 150 s
    "demo": Config(total_steps=4000, **_SMALL),
    "quick": Config(total_steps=10_000, **_SMALL),
    "paper": Config(env="HalfCheetah-v5"),
    # the POMDP part: recurrent Q-learning on MiniGrid (`anthology train self_predictive --preset minigrid`)
    "minigrid_tiny": RecurrentConfig(env="MiniGrid-Empty-5x5-v0", latent=8, q_hidden=8, burn_in=3, learn_len=4,
                                     n_step=2, batch_size=4, total_steps=300, eps_decay=100, eval_every=150,
                                     eval_episodes=1, log_every=50, checkpoint_every=100),
    "minigrid": RecurrentConfig(**_MINIGRID),
    "minigrid_paper": RecurrentConfig(),
}

ARMS: tuple[tuple[str, Aux], ...] = (("td3", "none"), ("zp", "zp"), ("op", "op"))
"""(name, aux) of the distractor experiment: model-free φ_Q*, self-predictive φ_L (ZP l2, EMA), φ_O (OP l2)."""
POMDP_ARMS: tuple[tuple[str, Aux], ...] = (("r2d2", "none"), ("zp", "zp"))
"""(name, aux) of the MiniGrid experiment: the recurrent model-free agent and ZP (EMA) on its LSTM states."""


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    """The claim's experiments: the linear theorem on `linear_tasks` x `linear_seeds`, and the RL arms on
    `train.env` with each number of distractors, on `seeds`."""

    train: Config
    linear: LinearConfig
    linear_tasks: tuple[str, ...]
    linear_seeds: tuple[int, ...]
    distractors: tuple[int, ...]
    arms: tuple[tuple[str, Aux], ...]
    seeds: tuple[int, ...]
    workers: int = 2
    pomdp: RecurrentConfig | None = None
    """The recurrent agent for the POMDP part (None: skip it); its device follows `train.device`."""
    pomdp_tasks: tuple[str, ...] = ()
    pomdp_arms: tuple[tuple[str, Aux], ...] = POMDP_ARMS

    def __post_init__(self) -> None:
        validate(self, seeds=">=0", distractors=">=0", linear_seeds=">=0")


MINIGRID_TASKS = ("MiniGrid-DoorKey-5x5-v0", "MiniGrid-MultiRoom-N2-S4-v0")

REPRODUCE_PRESETS: dict[str, ReproduceConfig] = {
    "tiny": ReproduceConfig(PRESETS["tiny"], LinearConfig(steps=20, trajectories=2, max_steps=50, samples=200),
                            ("mountain_car", "random_mdp"), (0, 1), (0, 4), ARMS, (0,), workers=1,
                            pomdp=PRESETS["minigrid_tiny"], pomdp_tasks=("MiniGrid-Empty-5x5-v0",)),
    # demo: ZP against OP with 64 distractors only, at 4k steps, where seed 0 measured -593 against -1359
    "demo": ReproduceConfig(PRESETS["demo"], LinearConfig(), ("mountain_car", "random_mdp"), tuple(range(10)),
                            (64,), ARMS[1:], (0,)),
    # quick: ZP and OP only (the judged arms); with TD3 too the 18 runs take about 36 minutes on 2 cores.
    # MiniGrid at 30k steps: the two of the paper's tasks that the model-free agent learns within it (seed 0:
    # DoorKey-5x5 by 30k, MultiRoom-N2-S4 by 16k; SimpleCrossingS9N1, Unlock and KeyCorridorS3R1 stay at 0)
    "quick": ReproduceConfig(PRESETS["quick"], LinearConfig(), ("mountain_car", "random_mdp"), tuple(range(100)),
                             (0, 64), ARMS[1:], (0, 1, 2), pomdp=PRESETS["minigrid"], pomdp_tasks=MINIGRID_TASKS),
    # our CPU-scale look at the MuJoCo task the issue names: HalfCheetah-v5 (17-d observations), d in {0, 64},
    # ZP and OP at the quick sizes for 15k steps (the paper: 500k); no linear or POMDP part; results/self_predictive/mujoco
    "mujoco": ReproduceConfig(Config(env="HalfCheetah-v5", total_steps=15_000, **{**_SMALL, "eval_every": 5000,
                                                                                   "warmup_steps": 5000}),
                              LinearConfig(), (), (), (0, 64), ARMS[1:], (0, 1, 2)),
    "paper": ReproduceConfig(PRESETS["paper"], LinearConfig(), ("mountain_car", "random_mdp"), tuple(range(100)),
                             (0, 256), ARMS, (0, 1, 2, 3, 4), pomdp=PRESETS["minigrid_paper"],
                             pomdp_tasks=MINIGRID_TASKS),
}
