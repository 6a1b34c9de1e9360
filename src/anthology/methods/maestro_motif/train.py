"""MaestroMotif on a MiniHack level: skill rewards from AI feedback, one skill-conditioned recurrent PPO
policy, composed zero-shot by code; and the baselines (one Motif reward, flat PPO, an LLM-only policy)."""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.device import resolve_device
from anthology.core.errors import AnthologyError
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir
from anthology.core.seeding import seed_everything
from anthology.envs.nethack import ACTION_NAMES, KILL, LevelEnvs, Observation, SkillLevel, Transition
from anthology.llm.annotators import ChatAnnotator, PreferenceAnnotator, RandomAnnotator, ScriptedAnnotator
from anthology.llm.client import ChatClient, ChatConfig
from anthology.llm.codegen import ChatCodeWriter, CodeWriter, TemplateCodeWriter, generate_code
from anthology.rl.ppo import compute_gae, recurrent_ppo_update
from anthology.rl.preference_reward import (
    Caption,
    RewardModel,
    encode_messages,
    pair_accuracy,
    train_reward_model,
)
from anthology.tracking import Tracker, make_tracker

from .config import Config
from .networks import SkillPolicy
from .skills import (
    RULES,
    SKILLS,
    TASK,
    ActionController,
    CodeFailure,
    OptionController,
    code_prompt,
    code_state,
    goals,
    prompt,
    view_state,
)

EVAL_SEED_OFFSET = 1_000  # evaluation levels come from seeds no training run uses
DATA_SEED_OFFSET = 2_000  # and so do the random transitions of the preference dataset


def make_level(cfg: Config) -> SkillLevel:
    lv = cfg.level
    return SkillLevel(size=lv.size, wall=lv.wall, gold=lv.gold, monster=lv.monster)


def make_envs(cfg: Config, n: int, seed: int, episodes: list[int] | None = None) -> LevelEnvs:
    return LevelEnvs(n, seed, make_level(cfg), cfg.level.max_steps, cfg.level.crop, episodes, cfg.level.dungeon)


def caption(t: Transition) -> Caption:
    """The paper's caption of a transition: previous and current message, and the stat changes."""
    change = t.after.stats - t.before.stats
    return Caption(t.before.message, t.after.message, tuple(float(round(v, 3)) for v in change))


# ---------------------------------------------------------------- stage 1: rewards from AI feedback

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


# ---------------------------------------------------------------- stage 2 and 3: code

def make_client(cfg: Config, run_dir: RunDir | None) -> ChatClient | None:
    if cfg.annotator != "llm" and cfg.code_writer != "llm":
        return None
    cache = None if run_dir is None else run_dir.path / "llm_cache.jsonl"
    return ChatClient(ChatConfig(base_url=cfg.llm_base_url, model=cfg.llm_model, api_key_env=cfg.llm_api_key_env),
                      cache)


SKILL_TESTS = [["collector", {"gold": 5.0, "depth": 1.0, "hp": 14.0, "message": "$ - 5 gold pieces.", "visible": [],
                              "kills": 0, "skill_steps": 3, "limit": 40},
                {"gold": 0.0, "depth": 1.0, "hp": 14.0, "message": "", "visible": ["$"], "kills": 0,
                 "skill_steps": 0, "limit": 40}],
               ["descender", {"gold": 0.0, "depth": 1.0, "hp": 14.0, "message": "", "visible": [">"], "kills": 0,
                              "skill_steps": 5, "limit": 40},
                {"gold": 0.0, "depth": 1.0, "hp": 14.0, "message": "", "visible": [">"], "kills": 0,
                 "skill_steps": 0, "limit": 40}],
               ["fighter", {"gold": 0.0, "depth": 1.0, "hp": 12.0, "message": "You kill the newt!", "visible": [],
                            "kills": 1, "skill_steps": 4, "limit": 40},
                {"gold": 0.0, "depth": 1.0, "hp": 14.0, "message": "", "visible": [":"], "kills": 0,
                 "skill_steps": 0, "limit": 40}]]
POLICY_TESTS = [[{}, {"gold": 0.0, "depth": 1.0, "hp": 14.0, "message": "", "visible": ["$", ":", ">"], "kills": 0,
                      "skill_steps": 0, "limit": 40}, 0.1],
                [{"kills": 1}, {"gold": 5.0, "depth": 1.0, "hp": 14.0, "message": "", "visible": [">"], "kills": 1,
                                "skill_steps": 0, "limit": 40}, 0.9]]


def write_code(cfg: Config, writer_kind: str, client: ChatClient | None, task: str, template: str, entry: str,
               inputs: list[Any], prelude: str = "") -> tuple[str, list[dict[str, Any]]]:
    """The code for one piece through the generate, test, self-check, rewrite loop; the template when the
    writer fails every round (recorded in the returned log)."""
    writer: CodeWriter = (ChatCodeWriter(client) if writer_kind == "llm" and client is not None
                          else TemplateCodeWriter(prompt(template)))
    generated = generate_code(writer, task, entry, inputs, prelude=prelude)
    log = [{"verdict": a.verdict, "kind": a.result.kind, "error": a.result.error} for a in generated.attempts]
    if generated.code is None:
        log.append({"verdict": "fallback", "kind": "template", "error": "every attempt failed"})
        return prompt(template), log
    return generated.code, log


# ---------------------------------------------------------------- stage 4: RL and evaluation

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
                states = [code_state(o, 0, s, cfg.option_steps) for o, s in zip(obs, steps, strict=True)]
                skills, ended = controller.step(states, new, torch.rand(n, generator=generator).tolist())
                steps = [0 if e else s for s, e in zip(steps, ended, strict=True)]
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


def decide(controller: OptionController | None, observations: list[Observation], steps: list[int], new: list[bool],
           generator: torch.Generator, cfg: Config) -> tuple[list[int], list[bool]]:
    """Each env's skill for its current observation, and whether its previous option ended (its skill
    terminated or its episode ended); `steps` (turns in the running skill) is reset where a skill starts.
    Without a controller (one skill) an option is an episode."""
    if controller is None:
        return [0] * len(observations), list(new)
    states = [code_state(o, 0, s, cfg.option_steps) for o, s in zip(observations, steps, strict=True)]
    try:
        skills, ended = controller.step(states, new, torch.rand(len(observations), generator=generator).tolist())
    except CodeFailure as err:
        raise AnthologyError(f"the training-time policy over skills failed: {err}") from err
    for i, e in enumerate(ended):
        if e:
            steps[i] = 0
    return skills, [e or n for e, n in zip(ended, new, strict=True)]


def train(cfg: Config, tracker: Tracker | None = None, run_dir: RunDir | None = None) -> TrainResult:
    """MaestroMotif (Klissarov, Henaff, Raileanu, Sodhani, Vincent, Zhang, Bacon, Precup, Machado, D'Oro,
    "MaestroMotif: Skill Design from Artificial Intelligence Feedback", ICLR 2025) on a MiniHack level.

    1. Captions of random transitions are paired and labelled per skill by an annotator (the paper: an
       LLM; offline: scripted rules); a Bradley-Terry reward model per skill (char-CNN + stat MLP) is
       trained on the labels, normalised over the dataset, and thresholded at a quantile eps.
    2. The code writer writes the skills' initiation/termination functions and a training-time policy over
       skills; both run in the sandbox.
    3. One skill-conditioned LSTM policy is trained by PPO on the active skill's reward
       0.1 r 1[r > eps] / N(msg)^3, each option's return ending where its skill terminates.
    4. Zero-shot, the code writer writes the task's policy over skills (collect the gold, kill the monster,
       descend), which is evaluated with the trained skills. Baselines: `motif` (one reward model for the
       whole task, same PPO), `flat_ppo` (PPO on the task's success reward), `llm_policy` (the code writer
       acting directly), `random`.

    CLI: `anthology train maestro_motif --preset demo --method motif`.
    `--level.dungeon True` (the `paper` preset) plays NetHack itself (NetHackScore-v0) with the same skills and
    task. Left out: the Monk's full action set, APPO at 4e9 steps, and the merchant, worshipper and
    ascender skills.
    """
    tracker = tracker or make_tracker(run_dir, console=False, tensorboard=False)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    client = make_client(cfg, run_dir)
    kind = cfg.method
    learned = kind in ("maestromotif", "motif", "flat_ppo")
    skill_names: list[str] = list(SKILLS) if kind == "maestromotif" else [TASK]
    if run_dir is not None:
        run_dir.write_config(cfg, "maestro_motif", "custom")

    began = time.perf_counter()
    # stage 1: the reward models (rebuilt from the seed on resume: the stage is deterministic)
    rewards: dict[str, SkillReward] = {}
    if kind in ("maestromotif", "motif"):
        captions = collect_captions(cfg)
        annotator = make_annotator(cfg, client)
        g = goals()
        for k, name in enumerate(skill_names):
            rewards[name] = train_skill_reward(cfg, g[name], annotator, captions, cfg.seed * 100 + k)
    reward_seconds = time.perf_counter() - began
    # stages 2 and 3: the code
    code_log: dict[str, list[dict[str, Any]]] = {}
    codes: dict[str, str] = {}
    if kind == "maestromotif":
        codes["skills"], code_log["skills"] = write_code(cfg, cfg.code_writer, client, code_prompt("skills_code.txt"),
                                                         "template_skills.txt", "termination", SKILL_TESTS)
        for piece in ("training_policy", "task_policy"):
            codes[piece], code_log[piece] = write_code(cfg, cfg.code_writer, client, code_prompt(f"{piece}.txt"),
                                                       f"template_{piece}.txt", "choose", POLICY_TESTS,
                                                       prelude=codes["skills"])
    if kind == "llm_policy":
        codes["llm_policy"], code_log["llm_policy"] = write_code(
            cfg, cfg.code_writer, client, prompt("llm_policy.txt"), "template_llm_policy.txt", "act",
            [[{}, {"view": ["   ", " @$", "   "], "message": "", "gold": 0.0, "depth": 1.0, "hp": 14.0}]])

    policy = SkillPolicy(len(ACTION_NAMES), len(skill_names), cfg.level.crop, cfg.hidden).to(device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.lr, eps=1e-5)
    generator = torch.Generator().manual_seed(cfg.seed)
    stateful = {"policy": policy, "optimizer": optimizer}
    per_update = cfg.envs * cfg.rollout
    updates = cfg.total_steps // per_update if learned else 0
    start_update, curve, next_episode = 0, [], 0
    if run_dir is not None and run_dir.has_checkpoint():
        start_update, extra = load_training_state(run_dir.checkpoint_path, stateful, generator)
        curve, next_episode = extra["curve"], extra["next_episode"]
    tracker.start(updates * per_update, start_update * per_update, f"maestro_motif {kind}")

    envs: LevelEnvs | None = None
    controller: OptionController | None = None
    train_seconds, last_log = 0.0, time.perf_counter()
    for update in range(start_update, updates):
        tick = time.perf_counter()
        if update % cfg.checkpoint_every == 0:  # a segment starts: every env on a fresh episode
            if envs is not None:
                next_episode = envs.next_episode  # after the episodes the last segment started
                envs.close()
            if run_dir is not None and update > start_update:
                save_training_state(run_dir.checkpoint_path, update, stateful, generator,
                                    {"curve": curve, "next_episode": next_episode})
            envs = make_envs(cfg, cfg.envs, cfg.seed, list(range(next_episode, next_episode + cfg.envs)))
            if controller is not None:
                controller.close()
            if kind == "maestromotif":
                try:
                    controller = OptionController(codes["skills"] + "\n" + codes["training_policy"], SKILLS, cfg.envs)
                except CodeFailure as err:
                    raise AnthologyError(f"the training-time policy over skills cannot run: {err}") from err
            lstm = policy.initial_state(cfg.envs)
            trackers = [EpisodeTracker() for _ in range(cfg.envs)]
            new, steps, skills = [True] * cfg.envs, [0] * cfg.envs, [0] * cfg.envs
        assert envs is not None
        if update % cfg.checkpoint_every == 0:
            skills, _ = decide(controller, envs.current, steps, new, generator, cfg)
        initial = (lstm[0].detach(), lstm[1].detach())
        buf: dict[str, list[torch.Tensor]] = collections.defaultdict(list)
        for _ in range(cfg.rollout):
            chars, messages, stats = policy_inputs(envs.current, steps, cfg.option_steps, device)
            skill_t = torch.tensor(skills, device=device)
            start_t = torch.tensor(new, device=device)
            with torch.no_grad():
                x = policy.encode(chars, messages, stats, skill_t)
                logits, values, lstm = policy.step(x, lstm, start_t)
                dist = torch.distributions.Categorical(logits=logits.cpu())
                action = torch.multinomial(dist.probs, 1, generator=generator).squeeze(1)
            transitions = envs.step(action.tolist())
            reward = torch.zeros(cfg.envs)
            for i, t in enumerate(transitions):
                trackers[i].see(t)
                if kind == "flat_ppo":
                    reward[i] = float(trackers[i].success(t))
                else:
                    r = rewards[skill_names[skills[i]]]
                    value = r.normalised([caption(t)])[0]
                    reward[i] = intrinsic_reward(cfg, value, r.threshold, trackers[i].counts[t.after.message])
                steps[i] += 1
                new[i] = t.terminated or t.truncated
                if new[i]:
                    trackers[i] = EpisodeTracker()
            # the option's return ends where its skill terminates or its episode ends
            skills, ended = decide(controller, envs.current, steps, new, generator, cfg)
            for key, value in (("chars", chars), ("messages", messages), ("stats", stats), ("skill", skill_t),
                               ("start", start_t), ("action", action), ("log_prob", dist.log_prob(action)),
                               ("value", values.cpu().gather(1, skill_t.cpu()[:, None]).squeeze(1)),
                               ("reward", reward), ("option_end", torch.tensor(ended))):
                buf[key].append(value)
        with torch.no_grad():
            chars, messages, stats = policy_inputs(envs.current, steps, cfg.option_steps, device)
            x = policy.encode(chars, messages, stats, torch.tensor(skills, device=device))
            _, last_values, _ = policy.step(x, lstm, torch.tensor(new, device=device))
            last = last_values.cpu().gather(1, torch.tensor(skills)[:, None]).squeeze(1)
        values = torch.cat([torch.stack(buf["value"]), last[None]])
        advantages, returns = compute_gae(torch.stack(buf["reward"]), values, torch.stack(buf["option_end"]), cfg.gamma,
                                          cfg.gae_lambda)
        batch = {k: torch.stack(v) for k, v in buf.items()}

        def evaluate_columns(columns: torch.Tensor, batch: dict[str, torch.Tensor] = batch,
                             initial: tuple[torch.Tensor, torch.Tensor] = initial) -> tuple[torch.Tensor, torch.Tensor]:
            cols = columns.to(device)
            return policy.unroll(batch["chars"][:, cols], batch["messages"][:, cols], batch["stats"][:, cols],
                                 batch["skill"][:, cols], batch["start"][:, cols],
                                 (initial[0][cols], initial[1][cols]))

        info = recurrent_ppo_update(evaluate_columns, policy.parameters(), optimizer, batch["action"],
                                    batch["log_prob"], advantages, returns, cfg.epochs, cfg.minibatches, cfg.clip,
                                    cfg.entropy_coef, generator)
        train_seconds += time.perf_counter() - tick
        done_steps = (update + 1) * per_update
        now = time.perf_counter()
        tracker.log(done_steps, {**info, "train/reward_mean": float(batch["reward"].mean()),
                                 "time/steps_per_sec": per_update / max(now - last_log, 1e-9)})
        last_log = now
        if done_steps // cfg.eval_every > update * per_update // cfg.eval_every and update + 1 < updates:
            record = {"step": done_steps, **evaluate(cfg, kind, policy, codes, cfg.seed, device)}
            curve.append(record)
            tracker.log(done_steps, {k: v for k, v in record.items() if k != "step"})
    if envs is not None:
        envs.close()
    if controller is not None:
        controller.close()

    final = evaluate(cfg, kind, policy if learned else None, codes, cfg.seed, device)
    curve.append({"step": updates * per_update, **final})
    summary: dict[str, Any] = {"method": "maestro_motif", "variant": kind, "seed": cfg.seed,
                               "steps": updates * per_update, **final}
    for name, r in rewards.items():
        # None when the held-out pairs had no decided pair (tiny datasets)
        summary[f"eval/pair_accuracy_{name}"] = None if np.isnan(r.accuracy) else r.accuracy
    summary["code_log"] = code_log
    tracker.log(updates * per_update, {**final, "time/reward_seconds": reward_seconds,
                                       "time/train_seconds": train_seconds})
    tracker.close()
    if run_dir is not None:
        run_dir.write_curve(curve)
        run_dir.write_summary(summary)
    return TrainResult(summary, curve, {"policy": policy, "rewards": rewards, "codes": codes,
                                        "reward_seconds": reward_seconds, "train_seconds": train_seconds})
