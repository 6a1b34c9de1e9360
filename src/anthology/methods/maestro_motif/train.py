"""MaestroMotif on a MiniHack level: skill rewards from AI feedback, one skill-conditioned recurrent PPO
policy, composed zero-shot by code; and the baselines (one Motif reward, flat PPO, an LLM-only policy)."""

from __future__ import annotations

import collections
import time
from typing import Any

import numpy as np
import torch

from anthology.core.checkpoint import load_training_state, save_training_state
from anthology.core.device import resolve_device
from anthology.core.errors import AnthologyError
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir
from anthology.core.seeding import seed_everything
from anthology.envs.nethack import ACTION_NAMES, LevelEnvs, Observation
from anthology.rl.ppo import compute_gae, recurrent_ppo_update
from anthology.tracking import Tracker, make_tracker

from .code_writing import POLICY_TESTS, SKILL_TESTS, make_client, write_code
from .config import Config
from .evaluation import EpisodeTracker, decide, evaluate, make_envs, policy_inputs
from .networks import SkillPolicy
from .rewards import (
    SkillReward,
    caption,
    collect_captions,
    intrinsic_reward,
    make_annotator,
    train_skill_reward,
)
from .skills import (
    SKILLS,
    TASK,
    CodeFailure,
    OptionController,
    code_prompt,
    goals,
    prompt,
)


def decide_or_stop(controller: OptionController | None, observations: list[Observation], steps: list[int],
                   new: list[bool], generator: torch.Generator, cfg: Config) -> tuple[list[int], list[bool]]:
    """`decide` during training, where a failure of the training-time code ends the run (one line)."""
    try:
        return decide(controller, observations, steps, new, generator, cfg)
    except CodeFailure as err:
        raise AnthologyError(f"the training-time policy over skills failed: {err}") from err


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
            skills, _ = decide_or_stop(controller, envs.current, steps, new, generator, cfg)
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
            skills, ended = decide_or_stop(controller, envs.current, steps, new, generator, cfg)
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
