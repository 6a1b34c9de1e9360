"""Configs and presets for Actions World Models (policy gradients through world models)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from anthology.core.config import check, validate

Method = Literal["awm", "history", "markov", "simulator", "svg", "sac"]
Core = Literal["gpt", "lstm", "rnn"]
Schedule = Literal["online", "first_action"]


@dataclasses.dataclass(frozen=True)
class WorldModelConfig:
    core: Core = "gpt"
    """Sequence core of the awm and history models: gpt (causal transformer), lstm or rnn (plain tanh)."""
    width: int = 48
    """Token embedding width (the official arm_default: 48)."""
    layers: int = 2
    """Transformer layers (gpt only)."""
    heads: int = 3
    """Attention heads (gpt only)."""
    dropout: float = 0.1
    """Dropout on embeddings, attention and residuals (gpt only); off while imagining."""
    decoder_hidden: tuple[int, ...] = (64, 64)
    """Hidden widths of the state decoder (and of the recurrent cores' embedders and the Markov model)."""
    lr: float = 1e-3
    """Adam's learning rate for the world model."""
    batch: int = 64
    """Real episodes per world-model update."""

    def __post_init__(self) -> None:
        validate(self, dropout="[0,1)")
        check(self.width % self.heads == 0 or self.core != "gpt",
              f"world_model.width ({self.width}) must be divisible by world_model.heads ({self.heads})")


@dataclasses.dataclass(frozen=True)
class Config:
    task: str = "cancer"
    """Control task (`anthology.envs.control_tasks.make_control_task`): double_pendulum, credit_assignment,
    or a Myriad problem (cancer, bioreactor, predator_prey, glucose, ...)."""
    horizon: int = 100
    """Episode length L: actions per episode (the Euler steps of a Myriad problem, H of the pendulum)."""
    method: Method = "awm"
    """Whose gradient trains the policy: awm (s_1 and actions only), history (fed its own predictions),
    markov (one-step model unrolled), svg (the one-step model unrolled `svg_unroll` steps, then a
    critic), simulator (backpropagation through the true dynamics), or sac
    (model-free: SAC from `anthology.rl`, one update per real step after the warm-up)."""
    seed: int = 0
    """Seed of the networks, the environment's initial states and the policy's noise."""
    device: str = "cpu"
    """cpu, cuda, cuda:N or auto."""
    env_steps: int = 5000
    """Real environment steps in all (episodes of `horizon` steps)."""
    warmup_steps: int = 1500
    """Steps of uniformly random actions before any update."""
    model_every: int = 2
    """Environment steps per world-model update."""
    policy_every: int = 16
    """Environment steps per policy update."""
    policy_batch: int = 16
    """Imagined rollouts per policy update, each from a real episode's initial state."""
    policy_lr: float = 1e-4
    """Adam's learning rate for the policy."""
    policy_hidden: tuple[int, ...] = (64, 64)
    """Hidden widths of the tanh-Gaussian policy."""
    entropy_coef: float = 0.1
    """Weight of the policy's entropy (its per-step estimate -log pi(a_t|s_t), averaged over the episode)."""
    grad_clip: float = 100.0
    """Global norm clipping of the policy gradient."""
    compare_gradients: bool = True
    """At each policy update also compute the simulator's gradient with the same noise and log the cosine
    similarity and L2 error of the method's gradient against it."""
    eval_episodes: int = 32
    """Real episodes (mean actions, held-out initial states) per evaluation."""
    eval_every: int = 1000
    """Environment steps between evaluations (rounded up to whole episodes)."""
    log_every: int = 1
    """Episodes between metric records."""
    checkpoint_every: int = 10
    """Episodes between checkpoints of a run with a run directory (what --resume continues from)."""
    world_model: WorldModelConfig = WorldModelConfig()
    sac_hidden: tuple[int, ...] = (128, 128)
    """sac: hidden widths of the actor and the twin critics (the official SAC baseline's 128 x 128)."""
    sac_lr: float = 3e-4
    """sac: Adam's learning rate for the actor, the critics and the temperature."""
    sac_batch: int = 128
    """sac: transitions per update."""
    gamma: float = 0.99
    """sac: discount (the state carries the clock, so the episode's end is part of the state)."""
    svg_unroll: int = 2
    """svg: model steps before the critic's bootstrap (the official SVG baseline's 2)."""
    svg_bp_discount: float = 0.9
    """svg: factor on the gradient through each predicted state (the official 0.9)."""
    critic_lr: float = 1e-3
    """svg: Adam's learning rate for the critic V(s) (updated with the model)."""
    schedule: Schedule = "online"
    """online: the paper's loop (act, fit the model, improve the policy). first_action: for a task whose
    first action decides the episode from one fixed state (the double pendulum), the design prototype's
    experiment: fit the model on `offline_episodes` random episodes for `model_steps` updates, then
    optimise `starts` first actions by gradient ascent through it and score them on the true task."""
    offline_episodes: int = 3000
    """first_action: random episodes the model is fitted on."""
    model_steps: int = 1500
    """first_action: world-model updates."""
    starts: int = 32
    """first_action: first actions optimised, from a seeded uniform draw over the bounds."""
    action_steps: int = 200
    """first_action: Adam steps on the first actions (projected back into the bounds)."""
    action_lr: float = 0.01
    """first_action: Adam's learning rate on the first actions."""

    def __post_init__(self) -> None:
        validate(self, seed=">=0", policy_lr=">0", grad_clip=">0", entropy_coef=">=0", warmup_steps=">=0")
        check(self.method not in ("sac", "svg") or self.schedule == "online",
              f"method {self.method} runs only with schedule online")
        check(self.warmup_steps < self.env_steps, f"warmup_steps ({self.warmup_steps}) must be below env_steps "
              f"({self.env_steps}): no step would be left for learning")


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    """The claim's experiment: true return against horizon per method, seeds, on each task."""

    train: Config
    """The base config of every run (its task, horizon, method, core, seed and schedule are set per job)."""
    tasks: tuple[tuple[str, tuple[int, ...], Schedule], ...]
    """(task, horizons, schedule) triples."""
    methods: tuple[tuple[str, Method, Core], ...]
    """(name, method, core) per compared arm."""
    seeds: tuple[int, ...]
    workers: int = 2

    def __post_init__(self) -> None:
        validate(self, seeds=">=0")


_TINY_MODEL = WorldModelConfig(width=16, layers=1, heads=2, decoder_hidden=(16,), batch=8)

PRESETS: dict[str, Config] = {
    "tiny": Config(horizon=10, env_steps=120, warmup_steps=40, model_every=2, policy_every=8, policy_batch=4,
                   policy_hidden=(16,), eval_episodes=4, eval_every=60, checkpoint_every=4, world_model=_TINY_MODEL,
                   offline_episodes=64, model_steps=20, starts=4, action_steps=5),
    # demo: the double pendulum's first-action experiment at H = 40 with 800 model updates of 32 episodes
    # and 128 starts; the AWM's margin over the one-step model (true J) was 4.6 / 0.9 / 4.1 on seeds 0-2
    "demo": Config(task="double_pendulum", horizon=40, schedule="first_action", model_steps=800, starts=128,
                   world_model=WorldModelConfig(batch=32)),
    # quick: the pendulum's model fitted with 600 updates of 32 episodes; the Myriad tasks' online loop at
    # the official 5,000 steps with a world-model update every 10 steps and a policy update every 50
    # (at the official 2 and 16 one run at L = 100 costs about 7 minutes on one idle core: speed.md)
    "quick": Config(model_steps=600, starts=64, model_every=10, policy_every=50, world_model=WorldModelConfig(batch=32)),
    "paper": Config(),  # the official arm_default schedule and sizes
}

ARMS: tuple[tuple[str, Method, Core], ...] = (
    ("awm (transformer)", "awm", "gpt"),
    ("awm (lstm)", "awm", "lstm"),
    ("history transformer", "history", "gpt"),
    ("one-step model", "markov", "gpt"),
    ("simulator bptt", "simulator", "gpt"),
    ("sac (model-free)", "sac", "gpt"),
)

REPRODUCE_PRESETS: dict[str, ReproduceConfig] = {
    "tiny": ReproduceConfig(PRESETS["tiny"], tasks=(("double_pendulum", (10,), "first_action"),
                                                    ("cancer", (10,), "online")), seeds=(0,), workers=1,
                            methods=(ARMS[0], ARMS[4])),
    # demo judges the AWM against the one-step model only: the history model's and the simulator's
    # margins at this budget are within the seed-to-seed spread (see the README)
    "demo": ReproduceConfig(PRESETS["demo"], tasks=(("double_pendulum", (20, 40), "first_action"),), seeds=(0,),
                            methods=(ARMS[0], ARMS[3])),
    # quick: the LSTM AWM is left to paper (about 20 % more time); SAC runs on the Myriad task only
    "quick": ReproduceConfig(PRESETS["quick"], tasks=(("double_pendulum", (20, 40, 80), "first_action"),
                                                      ("cancer", (100,), "online")), seeds=(0, 1, 2),
                             methods=(ARMS[0], ARMS[2], ARMS[3], ARMS[4], ARMS[5])),
    "paper": ReproduceConfig(PRESETS["paper"], tasks=(("double_pendulum", (20, 40, 80, 120), "first_action"),
                                                      ("cancer", (100, 200), "online")), seeds=(0, 1, 2, 3, 4),
                             methods=ARMS),
}
