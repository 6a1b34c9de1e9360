"""MaestroMotif's stage 1: captions of transitions, preference labels per skill, Bradley-Terry reward models
normalised over the dataset, and the intrinsic reward built from them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from anthology.envs.nethack import ACTION_NAMES, Transition
from anthology.llm.annotators import ChatAnnotator, PreferenceAnnotator, RandomAnnotator, ScriptedAnnotator
from anthology.llm.client import ChatClient
from anthology.rl.preference_reward import (
    Caption,
    RewardModel,
    pair_accuracy,
    train_reward_model,
)

from .config import Config
from .evaluation import make_envs
from .skills import (
    RULES,
    goals,
)

DATA_SEED_OFFSET = 2_000  # the random transitions of the preference dataset come from seeds no run uses


def caption(t: Transition) -> Caption:
    """The paper's caption of a transition: previous and current message, and the stat changes."""
    change = t.after.stats - t.before.stats
    return Caption(t.before.message, t.after.message, tuple(float(round(v, 3)) for v in change))




def collect_captions(cfg: Config) -> list[Caption]:
    """Captions of a uniformly random policy's transitions (the paper uses agents' and humans' play)."""
    rng = np.random.default_rng(cfg.seed)
    envs = make_envs(cfg, min(cfg.envs, 8), cfg.seed + DATA_SEED_OFFSET)
    captions: list[Caption] = []
    while len(captions) < cfg.transitions:
        for t in envs.step(list(rng.integers(len(ACTION_NAMES), size=len(envs.envs)))):
            captions.append(caption(t))
    envs.close()
    return captions[:cfg.transitions]


def make_annotator(cfg: Config, client: ChatClient | None) -> PreferenceAnnotator:
    if cfg.annotator == "llm":
        assert client is not None
        return ChatAnnotator(client)
    if cfg.annotator == "random":
        return RandomAnnotator(cfg.seed)
    g = goals()
    return ScriptedAnnotator({g[name]: rule for name, rule in RULES.items()})  # keyed by the goal's text


@dataclasses.dataclass
class SkillReward:
    """A trained reward model, normalised over the dataset's captions, with its threshold eps."""

    model: RewardModel
    mean: float
    std: float
    threshold: float
    accuracy: float
    cache: dict[tuple[str, tuple[float, ...]], float] = dataclasses.field(default_factory=dict)

    def normalised(self, captions: Sequence[Caption]) -> list[float]:
        missing = list(dict.fromkeys((c.message, c.stats) for c in captions if (c.message, c.stats) not in self.cache))
        if missing:
            scores = self.model.score([Caption("", m, s) for m, s in missing])
            for key, r in zip(missing, scores.tolist(), strict=True):
                self.cache[key] = (r - self.mean) / self.std
        return [self.cache[(c.message, c.stats)] for c in captions]


def train_skill_reward(cfg: Config, goal: str, annotator: PreferenceAnnotator, captions: list[Caption],
                       seed: int) -> SkillReward:
    rng = np.random.default_rng(seed)
    idx = rng.integers(len(captions), size=(cfg.pairs, 2))
    pairs = [(captions[a], captions[b]) for a, b in idx]
    labels: list[float | None] = list(annotator.annotate(goal, [(a.text(), b.text()) for a, b in pairs]))
    held = max(1, cfg.pairs // 10)
    model = train_reward_model(pairs[held:], labels[held:], epochs=cfg.reward_epochs, batch_size=cfg.reward_batch,
                               lr=cfg.reward_lr, seed=seed, model=RewardModel())
    accuracy = pair_accuracy(model, pairs[:held], labels[:held])
    scores = model.score(captions)
    mean, std = float(scores.mean()), float(scores.std()) + 1e-8
    threshold = float(torch.quantile((scores - mean) / std, cfg.quantile))
    return SkillReward(model, mean, std, threshold, accuracy)


def intrinsic_reward(cfg: Config, normalised: float, threshold: float, count: int) -> float:
    """0.1 r 1[r > eps] / N(msg)^beta (the paper's eq. for each skill's reward)."""
    if normalised <= threshold:
        return 0.0
    return cfg.reward_scale * normalised / max(count, 1) ** cfg.count_exponent

