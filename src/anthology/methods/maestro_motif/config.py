"""Configs and presets for MaestroMotif (skills from AI feedback, composed by LLM-written code) and its
baselines on a small MiniHack level."""

from __future__ import annotations

import dataclasses
from typing import Literal

from anthology.core.config import check, validate

Method = Literal["maestromotif", "motif", "flat_ppo", "llm_policy", "random"]
METHODS: tuple[str, ...] = ("maestromotif", "motif", "flat_ppo", "llm_policy", "random")


@dataclasses.dataclass(frozen=True)
class LevelConfig:
    """The MiniHack level (`anthology.envs.nethack.SkillLevel`): a lit room with a wall in its middle column,
    gold, a monster, an altar and the stairs down, placed at random each episode."""

    size: int = 5
    wall: int = 1
    """Squares of wall in the room's middle column (they hide what is behind them)."""
    gold: int = 5
    monster: str = "newt"
    max_steps: int = 60
    """Steps per episode (training and evaluation)."""
    crop: int = 9
    """Side of the agent-centred view (9 sees the whole 5 x 5 room from any square)."""
    dungeon: bool = False
    """Play NetHack itself (NLE's NetHackScore-v0: the dungeon's first levels, the paper's setting) instead of
    the room; the episode ends at the first descent or after max_steps."""

    def __post_init__(self) -> None:
        validate(self, size=">=1", wall=">=0", gold=">=1", max_steps=">=1", crop=">=1")
        check(self.size >= 3, f"LevelConfig.size = {self.size} is too small: the room needs 3 squares a side")
        check(self.wall < self.size, f"LevelConfig.wall = {self.wall} must be shorter than the room ({self.size})")
        check(self.crop % 2 == 1, f"LevelConfig.crop = {self.crop} must be odd (the agent is at its centre)")


@dataclasses.dataclass(frozen=True)
class Config:
    method: Method = "maestromotif"
    """maestromotif: one skill-conditioned policy trained on the skills' AI-feedback rewards, composed
    zero-shot by a policy over skills written by the code writer; motif: one AI-feedback reward for the
    whole task; flat_ppo: PPO on the task's sparse success reward; llm_policy: the code writer's policy over
    primitive actions, no training; random: uniform actions."""
    level: LevelConfig = LevelConfig()
    annotator: Literal["scripted", "llm", "random"] = "scripted"
    """Who labels caption pairs: the scripted rules, an LLM (--llm-base-url), or coin flips (a control)."""
    code_writer: Literal["template", "llm"] = "template"
    """Who writes the initiation/termination functions and the policies over skills: the shipped templates,
    or an LLM (--llm-base-url) through the generate, test, self-check, rewrite loop."""
    llm_base_url: str = ""
    """An OpenAI-compatible server (vLLM, llama.cpp server, a hosted API), e.g. http://127.0.0.1:8000/v1."""
    llm_model: str = "meta-llama/Llama-3.1-70B-Instruct"
    llm_api_key_env: str = "OPENAI_API_KEY"
    transitions: int = 20_000
    """Transitions of a random policy captioned for the preference dataset."""
    pairs: int = 10_000
    """Caption pairs labelled per skill (10% held out for pair accuracy)."""
    reward_epochs: int = 10
    reward_batch: int = 500
    reward_lr: float = 1e-3
    """Adam's learning rate for the reward models (the paper's 1e-5 is for 80k-200k pairs)."""
    reward_scale: float = 0.1
    """The intrinsic reward's 0.1 in 0.1 r 1[r > eps] / N(msg)^beta."""
    count_exponent: float = 3.0
    """beta: the message-count exponent."""
    quantile: float = 0.85
    """eps: the normalised reward's quantile over the dataset below which the reward is zeroed."""
    option_steps: int = 25
    """The termination functions' step limit for skills that do not end by themselves."""
    envs: int = 16
    total_steps: int = 150_000
    """Environment steps of PPO training (maestromotif, motif, flat_ppo)."""
    rollout: int = 64
    """Steps per env between updates (truncated backpropagation through time over these)."""
    epochs: int = 4
    minibatches: int = 4
    lr: float = 1e-3
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    entropy_coef: float = 0.01
    hidden: int = 128
    eval_episodes: int = 100
    eval_every: int = 100_000
    checkpoint_every: int = 8
    """Updates between checkpoints (all envs are reset there, so a resumed run repeats exactly)."""
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        validate(self, seed=">=0", reward_lr=">0", reward_scale=">0", count_exponent=">=0", quantile="[0,1)",
                 lr=">0", gamma="(0,1]", gae_lambda="[0,1]", clip=">0", entropy_coef=">=0")
        check((self.annotator != "llm" and self.code_writer != "llm") or bool(self.llm_base_url),
              "the llm annotator or code writer needs --llm-base-url (an OpenAI-compatible server)")
        check(self.pairs >= 10, f"Config.pairs = {self.pairs}: at least 10 pairs (a tenth is held out)")


PRESETS: dict[str, Config] = {
    "tiny": Config(transitions=600, pairs=200, reward_epochs=2, envs=4, total_steps=512, rollout=32, epochs=1,
                   minibatches=2, hidden=32, eval_episodes=4, eval_every=256, checkpoint_every=2),
    "demo": Config(transitions=5_000, pairs=3_000, reward_epochs=8, total_steps=40_000, eval_episodes=50,
                   eval_every=20_000),
    "quick": Config(),
    # NetHack itself (the paper's runs use the Monk's full action set and 4e9 APPO steps)
    "paper": Config(level=LevelConfig(dungeon=True, crop=21, max_steps=5_000), transitions=200_000, pairs=100_000,
                    reward_epochs=20, reward_batch=1000, envs=64, option_steps=500, total_steps=50_000_000,
                    rollout=128, eval_episodes=500, eval_every=5_000_000, hidden=512),
}


@dataclasses.dataclass(frozen=True)
class ReproduceConfig:
    train: Config
    methods: tuple[str, ...] = METHODS
    seeds: tuple[int, ...] = (0, 1, 2)
    workers: int = 2

    def __post_init__(self) -> None:
        validate(self, seeds=">=0")
        check(set(self.methods) <= set(METHODS) and "maestromotif" in self.methods,
              f"methods must include maestromotif and come from {', '.join(METHODS)}")


REPRODUCE_PRESETS: dict[str, ReproduceConfig] = {
    "tiny": ReproduceConfig(PRESETS["tiny"], seeds=(0, 1)),
    # flat PPO is left out of demo to keep it under 2 minutes on 2 cores (it is in quick)
    "demo": ReproduceConfig(PRESETS["demo"], methods=("maestromotif", "motif", "llm_policy", "random"), seeds=(0,)),
    "quick": ReproduceConfig(PRESETS["quick"]),
    "paper": ReproduceConfig(PRESETS["paper"], seeds=(0, 1, 2, 3, 4)),
}
