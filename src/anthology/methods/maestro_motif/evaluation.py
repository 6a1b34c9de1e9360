"""MaestroMotif's evaluation: the level's environments, the policy's inputs, and success on the composite
task for each method (the written code runs in a sandbox session; its failure fails the episodes)."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
import torch

from anthology.envs.nethack import ACTION_NAMES, KILL, LevelEnvs, Observation, SkillLevel, Transition
from anthology.rl.preference_reward import encode_messages

from .config import Config
from .networks import SkillPolicy
from .skills import (
    SKILLS,
    ActionController,
    CodeFailure,
    OptionController,
    code_state,
    view_state,
)

EVAL_SEED_OFFSET = 1_000  # evaluation levels come from seeds no training run uses


def make_level(cfg: Config) -> SkillLevel:
    lv = cfg.level
    return SkillLevel(size=lv.size, wall=lv.wall, gold=lv.gold, monster=lv.monster)


def make_envs(cfg: Config, n: int, seed: int, episodes: list[int] | None = None) -> LevelEnvs:
    return LevelEnvs(n, seed, make_level(cfg), cfg.level.max_steps, cfg.level.crop, episodes, cfg.level.dungeon)


def decide(controller: OptionController | None, observations: list[Observation], steps: list[int], new: list[bool],
           generator: torch.Generator, cfg: Config) -> tuple[list[int], list[bool]]:
    """Each env's skill for its current observation, and whether its previous option ended (its skill
    terminated or its episode ended); `steps` (turns in the running skill) is reset where a skill starts.
    Without a controller (one skill) an option is an episode. A failure of the code raises CodeFailure."""
    if controller is None:
        return [0] * len(observations), list(new)
    states = [code_state(o, cfg.option_steps) for o in observations]
    skills, ended = controller.step(states, new, torch.rand(len(observations), generator=generator).tolist())
    for i, e in enumerate(ended):
        if e:
            steps[i] = 0
    return skills, [e or n for e, n in zip(ended, new, strict=True)]


def stat_features(obs: Observation, skill_steps: int, limit: int) -> list[float]:
    return [float(obs.stats[2]) / obs.hp_max, float(obs.stats[1] > 0), float(obs.stats[0] - 1),
            min(skill_steps / limit, 1.0)]


def policy_inputs(observations: list[Observation], steps: list[int], limit: int, device: torch.device
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    chars = torch.as_tensor(np.stack([o.chars for o in observations]))
    messages = encode_messages([o.message for o in observations])
    stats = torch.tensor([stat_features(o, s, limit) for o, s in zip(observations, steps, strict=True)])
    return chars.to(device), messages.to(device), stats.to(device)


@dataclasses.dataclass
class EpisodeTracker:
    """Per env: what the composite task needs (gold, a kill, the descent) and the episode's message counts."""

    gold: bool = False
    kill: bool = False
    counts: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def see(self, t: Transition) -> None:
        self.gold |= bool(t.after.stats[1] > 0)
        self.kill |= bool(KILL.search(t.after.message))
        self.counts[t.after.message] += 1

    def success(self, t: Transition) -> bool:
        return t.descended and self.gold and self.kill


def evaluate(cfg: Config, kind: str, policy: SkillPolicy | None, codes: dict[str, str], seed: int,
             device: torch.device) -> dict[str, float]:
    """Success on the composite task over `eval_episodes` episodes of held-out levels (stochastic policy)."""
    n = min(cfg.envs, cfg.eval_episodes)
    envs = make_envs(cfg, n, seed + EVAL_SEED_OFFSET)
    generator = torch.Generator().manual_seed(seed + EVAL_SEED_OFFSET)
    trackers = [EpisodeTracker() for _ in range(n)]
    results: dict[int, tuple[bool, bool, bool, bool]] = {}
    state = policy.initial_state(n) if policy is not None else None
    new = [True] * n
    steps = [0] * n
    skills = [0] * n
    failure = ""
    controller: OptionController | ActionController | None = None
    try:
        if kind == "maestromotif":
            controller = OptionController(codes["skills"] + "\n" + codes["task_policy"], SKILLS, n)
        elif kind == "llm_policy":
            controller = ActionController(codes["llm_policy"], ACTION_NAMES, n)
    except CodeFailure as err:
        failure = str(err)
    while len(results) < cfg.eval_episodes and not failure:
        obs = envs.current
        try:
            if isinstance(controller, OptionController):
                skills, _ = decide(controller, obs, steps, new, generator, cfg)
            if isinstance(controller, ActionController):
                actions = controller.step([view_state(o) for o in obs], new)
        except CodeFailure as err:
            failure = str(err)
            break
        if kind in ("maestromotif", "motif", "flat_ppo"):
            assert policy is not None and state is not None
            with torch.no_grad():
                chars, messages, stats = policy_inputs(obs, steps, cfg.option_steps, device)
                x = policy.encode(chars, messages, stats, torch.tensor(skills, device=device))
                logits, _, state = policy.step(x, state, torch.tensor(new, device=device))
                actions = torch.multinomial(logits.cpu().softmax(-1), 1, generator=generator).squeeze(1).tolist()
        elif kind == "random":
            actions = torch.randint(len(ACTION_NAMES), (n,), generator=generator).tolist()
        episodes = list(envs.episodes)
        for i, t in enumerate(envs.step(actions)):
            trackers[i].see(t)
            steps[i] += 1
            new[i] = t.terminated or t.truncated
            if new[i]:
                if episodes[i] < cfg.eval_episodes:
                    tr = trackers[i]
                    results[episodes[i]] = (tr.success(t), tr.gold, tr.kill, t.descended)
                trackers[i], steps[i] = EpisodeTracker(), 0
    envs.close()
    if controller is not None:
        controller.close()
    rows = [results.get(e, (False, False, False, False)) for e in range(cfg.eval_episodes)]
    out = {f"eval/{name}": float(np.mean([r[j] for r in rows])) for j, name in
           enumerate(("success", "gold", "kill", "descend"))}
    out["eval/code_failed"] = float(bool(failure))
    return out

