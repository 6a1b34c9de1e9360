"""Throughput of MaestroMotif's pieces on one core: the raw MiniHack step rate on the method's level, the same
steps through our observation wrapper, skill training (policy, reward models, the sandboxed code and PPO
updates included), and the reward side (scripted annotations, reward-model scoring with and without the
per-caption cache).

`python benchmarks/nethack_throughput.py` writes results/maestro_motif/throughput.{json,md}.
"""

from __future__ import annotations

import json
import pathlib
import platform
import sys
import time

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parents[1] / "results" / "maestro_motif"
COMMAND = "python benchmarks/nethack_throughput.py"


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def raw_steps(cfg, steps: int) -> float:
    """gymnasium's step on the level with random actions, resets included."""
    from anthology.envs.nethack import make_level_env
    from anthology.methods.maestro_motif.evaluation import make_level

    env = make_level_env(make_level(cfg), cfg.level.max_steps, cfg.level.crop)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    tick = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(10)))
        if terminated or truncated:
            env.reset()
    out = time.perf_counter() - tick
    env.close()
    return rate(steps, out)


def wrapped_steps(cfg, steps: int, envs: int = 16) -> float:
    """`LevelEnvs` (observations decoded, seeded resets) with random actions."""
    from anthology.methods.maestro_motif.evaluation import make_envs

    vec = make_envs(cfg, envs, 0)
    rng = np.random.default_rng(0)
    tick = time.perf_counter()
    for _ in range(steps // envs):
        vec.step(list(rng.integers(10, size=envs)))
    out = time.perf_counter() - tick
    vec.close()
    return rate(steps // envs * envs, out)


def skill_training(cfg, steps: int) -> dict[str, float]:
    from anthology.core.config import override
    from anthology.methods.maestro_motif import train

    run = train(override(cfg, total_steps=steps, eval_every=10 ** 9, eval_episodes=1))
    seconds = run.artifacts["train_seconds"]
    return {"steps": run.summary["steps"], "train_seconds": round(seconds, 1),
            "steps_per_sec": rate(run.summary["steps"], seconds),
            "reward_stage_seconds": round(run.artifacts["reward_seconds"], 1)}


def reward_side(cfg) -> dict[str, float]:
    from anthology.methods.maestro_motif.rewards import (
        SkillReward,
        collect_captions,
        goals,
        make_annotator,
    )
    from anthology.rl.preference_reward import RewardModel

    captions = collect_captions(cfg)
    annotator = make_annotator(cfg, None)
    texts = [(a.text(), b.text()) for a, b in zip(captions[::2], captions[1::2], strict=False)]
    tick = time.perf_counter()
    annotator.annotate(goals()["collector"], texts)
    annotations = rate(len(texts), time.perf_counter() - tick)
    model = RewardModel()
    tick = time.perf_counter()
    model.score(captions[:4096])
    scored = rate(4096, time.perf_counter() - tick)
    reward = SkillReward(model, 0.0, 1.0, 0.0, 1.0)
    reward.normalised(captions)  # fill the cache
    tick = time.perf_counter()
    for c in captions:
        reward.normalised([c])
    cached = rate(len(captions), time.perf_counter() - tick)
    distinct = len({(c.message, c.stats) for c in captions})
    return {"captions": len(captions), "distinct_captions": distinct, "scripted_annotations_per_sec": annotations,
            "reward_model_captions_per_sec": scored, "cached_rewards_per_sec": cached}


def main() -> None:
    torch.set_num_threads(1)
    from anthology.methods.maestro_motif import PRESETS

    cfg = PRESETS["quick"]
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 32_768
    raw = raw_steps(cfg, 20_000)
    wrapped = wrapped_steps(cfg, 20_000)
    results = {"command": COMMAND, "machine": f"{platform.machine()}, torch threads 1", "preset": "quick",
               "raw_minihack_steps_per_sec": raw, "wrapped_steps_per_sec": wrapped}
    for method in ("maestromotif", "flat_ppo"):
        from anthology.core.config import override

        results[f"training_{method}"] = skill_training(override(cfg, method=method), steps)
    results["reward_side"] = reward_side(cfg)
    mm = results["training_maestromotif"]["steps_per_sec"]
    results["training_share_of_raw"] = round(mm / raw, 3)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "throughput.json").write_text(json.dumps(results, indent=2) + "\n")
    rs = results["reward_side"]
    lines = [f"# MaestroMotif throughput on one core (`{COMMAND}`)", "",
             f"Level of the `quick` preset; {steps} training steps; {results['machine']}.", "",
             "| what | steps/s |", "|---|---|",
             f"| raw MiniHack step (gymnasium, random actions) | {raw} |",
             f"| the same through `LevelEnvs` (16 envs, observations decoded) | {wrapped} |",
             f"| skill training, maestromotif (policy, reward models, sandboxed code, PPO updates) | {mm} |",
             f"| training, flat_ppo (no reward models, no code) | {results['training_flat_ppo']['steps_per_sec']} |",
             "", f"Skill training runs at **{results['training_share_of_raw']:.1%}** of the raw step rate.", "",
             "| reward side | per second |", "|---|---|",
             f"| scripted annotations (caption pairs) | {rs['scripted_annotations_per_sec']} |",
             f"| reward-model scoring, uncached (captions, batch 1024) | {rs['reward_model_captions_per_sec']} |",
             f"| rewards with the per-caption cache | {rs['cached_rewards_per_sec']} |", "",
             f"{rs['captions']} random transitions held {rs['distinct_captions']} distinct captions (message, stat "
             "changes), which is why the cache pays."]
    (OUT / "throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
