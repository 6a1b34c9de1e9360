"""Engine throughput for MaestroMotif's skill training on one core: sample-factory 2.1.1 (APPO, serial and
synchronous) against our own recurrent PPO loop (`anthology.methods.maestro_motif.train`), on the same
MiniHack level (the `quick` preset's: a 5 x 5 room, a one-square wall, 60 steps an episode, a 9 x 9 crop).

What is measured: environment steps per second of training, with one torch thread (and OMP/MKL at one
thread), each engine in its own subprocess, one at a time; `--repeats` runs of each engine alternated
(medians reported), then, with `--maestromotif`, one run of our loop with method=maestromotif. Per run:

- steady (the headline): the steps of training iterations 2..n over the time from the end of the first to
  the end of the last (no start-up at all), per wall-clock second and per CPU second of the engine's
  process (the cores are shared with other jobs, which moves the wall-clock rate more than the CPU rate);
- loop: steps / the engine's own training-loop time (sample-factory: its `main_loop` timer, the FPS it logs
  at the end, which includes creating the envs and the model; ours: `train_seconds`, which includes
  re-creating the envs every 8 updates);
- whole call: steps / wall time of the whole training call (sample-factory: building the runner, its
  env-info subprocess, the main loop; ours: `train()` with its one-episode final evaluation and, for
  maestromotif, its reward-model stage).

Both engines: 16 envs, rollout 64 (1024 transitions per update), 4 epochs of 4 minibatches of 256
transitions (whole 64-step sequences, backpropagation through all 64 steps), an LSTM of 128 units, lr 1e-3,
entropy 0.01, clip 0.2, GAE(0.99, 0.95), gradients clipped at 0.5, no input or return normalisation.
sample-factory gets a float vector (the 9 x 9 characters / 255, HP fraction, any gold, depth - 1) and an
MLP encoder (128, 128); ours encodes the characters with an embedding and a CNN, the message with an
embedding bag, and the stats, as in training (so its network is larger: both parameter counts are
reported). Reward: MiniHack's own for sample-factory, the task's success for ours (flat_ppo); the reward
does not change the throughput. sample-factory's per-env decorrelation (up to 15 x 64 random steps per env
before training) is switched off so that every step it takes is a training step.

sample-factory is not a dependency of anthology; set up its venv (Python 3.11) and run:

    python3 -m venv /tmp/sfv
    /tmp/sfv/bin/pip install sample-factory==2.1.1 torch==2.13.0 nle==1.0.0 minihack==1.0.2 "setuptools<81"
    /tmp/sfv/bin/pip install --no-deps -e .
    /tmp/sfv/bin/pip install tyro rich safetensors scipy matplotlib
    /tmp/sfv/bin/python benchmarks/engine_throughput.py --steps 50000 --repeats 2 --maestromotif

(about 8 minutes on 2 shared cores). Writes results/maestro_motif/engine.{json,md}.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "maestro_motif"
SCRIPT = "benchmarks/engine_throughput.py"
ENV_NAME = "maestro_motif_level"
SF_ARGS = [
    "--algo", "APPO", "--env", ENV_NAME, "--device", "cpu",
    "--serial_mode", "True", "--async_rl", "False", "--num_workers", "1", "--num_envs_per_worker", "16",
    "--worker_num_splits", "1", "--rollout", "64", "--recurrence", "64",
    "--batch_size", "256", "--num_batches_per_epoch", "4", "--num_epochs", "4",
    "--shuffle_minibatches", "True",
    "--encoder_mlp_layers", "128", "128", "--use_rnn", "True", "--rnn_type", "lstm", "--rnn_size", "128",
    "--learning_rate", "1e-3", "--adam_eps", "1e-5", "--exploration_loss_coeff", "0.01",
    "--ppo_clip_ratio", "0.2", "--gamma", "0.99", "--gae_lambda", "0.95", "--with_vtrace", "False",
    "--value_loss_coeff", "0.5", "--max_grad_norm", "0.5", "--normalize_input", "False",
    "--normalize_returns", "False", "--decorrelate_envs_on_one_worker", "False",
    "--save_every_sec", "100000", "--save_best_every_sec", "100000", "--restart_behavior", "overwrite",
    "--seed", "0",
]
PACKAGES = ("sample-factory", "torch", "nle", "minihack", "gymnasium", "numpy", "anthology-ml")


def one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def tick() -> tuple[float, float]:
    """(wall clock, this process's CPU time)."""
    return time.perf_counter(), time.process_time()


def rates(ticks: list[tuple[float, float]], per_iteration: int, done: int, began: tuple[float, float],
          ended: tuple[float, float], loop_seconds: float) -> dict[str, float]:
    """steady: steps of iterations 2..n over the time from the end of the first to the end of the last, per
    wall-clock second and per CPU second of this process (less sensitive to other jobs on shared cores)."""
    steady = steady_cpu = float("nan")
    if len(ticks) >= 2:
        steady = (len(ticks) - 1) * per_iteration / (ticks[-1][0] - ticks[0][0])
        steady_cpu = (len(ticks) - 1) * per_iteration / (ticks[-1][1] - ticks[0][1])
    return {"steady_steps_per_sec": steady, "steady_steps_per_cpu_sec": steady_cpu,
            "loop_steps_per_sec": done / loop_seconds, "whole_steps_per_sec": done / (ended[0] - began[0]),
            "whole_steps_per_cpu_sec": done / (ended[1] - began[1]), "whole_seconds": ended[0] - began[0],
            "loop_seconds": loop_seconds}


# --- sample-factory -----------------------------------------------------------------------------------------


def make_sf_env(full_env_name: str, cfg: Any = None, env_config: Any = None,
                render_mode: str | None = None) -> Any:
    """The quick preset's level, as a dict observation {"obs": float32 vector} for sample-factory."""
    import gymnasium as gym

    from anthology.envs.nethack import make_level_env, observe
    from anthology.methods.maestro_motif import PRESETS
    from anthology.methods.maestro_motif.evaluation import make_level

    cfg_ = PRESETS["quick"]

    class FlatLevel(gym.Wrapper):
        def __init__(self, env: Any) -> None:
            super().__init__(env)
            size = cfg_.level.crop ** 2 + 3
            self.observation_space = gym.spaces.Dict(
                {"obs": gym.spaces.Box(-1.0, 1.0, (size,), dtype=np.float32)})
            self.action_space = gym.spaces.Discrete(env.action_space.n)

        @staticmethod
        def flat(obs: dict[str, Any]) -> dict[str, np.ndarray]:
            o = observe(obs)
            stats = [float(o.stats[2]) / o.hp_max, float(o.stats[1] > 0), min(float(o.stats[0] - 1), 1.0)]
            vec = np.concatenate([o.chars.ravel().astype(np.float32) / 255.0, np.asarray(stats, np.float32)])
            return {"obs": vec}

        def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict]:
            obs, info = self.env.reset(**kwargs)
            return self.flat(obs), info

        def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
            obs, reward, terminated, truncated, info = self.env.step(int(action))
            return self.flat(obs), float(reward), bool(terminated), bool(truncated), info

    return FlatLevel(make_level_env(make_level(cfg_), cfg_.level.max_steps, cfg_.level.crop))


def run_sample_factory(steps: int) -> dict[str, Any]:
    import torch
    from sample_factory.algo.runners.runner import AlgoObserver
    from sample_factory.algo.utils.misc import ExperimentStatus
    from sample_factory.cfg.arguments import parse_full_cfg, parse_sf_args
    from sample_factory.envs.env_utils import register_env
    from sample_factory.train import make_runner

    one_thread()
    register_env(ENV_NAME, make_sf_env)
    train_dir = tempfile.mkdtemp(prefix="sf_engine_", dir="/tmp")
    argv = [*SF_ARGS, "--train_for_env_steps", str(steps), "--train_dir", train_dir,
            "--experiment", "engine_throughput"]
    parser, _ = parse_sf_args(argv=argv)
    cfg = parse_full_cfg(parser, argv)

    class Clock(AlgoObserver):
        def __init__(self) -> None:
            self.ticks: list[tuple[float, float]] = []
            self.parameters = 0

        def on_training_step(self, runner: Any, training_iteration_since_resume: int) -> None:
            self.ticks.append(tick())
            if not self.parameters:  # the learner drops its model when it stops
                self.parameters = sum(p.numel() for p in runner.learners[0].learner.actor_critic.parameters())

    clock = Clock()
    began = tick()
    cfg, runner = make_runner(cfg)
    runner.register_observer(clock)
    status = runner.init()
    if status != ExperimentStatus.SUCCESS:
        raise RuntimeError(f"sample-factory init failed ({status})")
    initialised = time.perf_counter()
    status = runner.run()
    ended = tick()
    if status != ExperimentStatus.SUCCESS:
        raise RuntimeError(f"sample-factory training failed ({status})")
    done = int(sum(runner.env_steps.values()))
    main_loop = float(runner.timing.main_loop)
    per_iteration = cfg.batch_size * cfg.num_batches_per_epoch
    shutil.rmtree(train_dir, ignore_errors=True)
    return {"engine": "sample_factory", "steps": done, "iterations": len(clock.ticks),
            "steps_per_iteration": per_iteration,
            **rates(clock.ticks, per_iteration, done, began, ended, main_loop),
            "init_seconds": initialised - began[0], "parameters": clock.parameters,
            "torch_threads": torch.get_num_threads()}


# --- ours ---------------------------------------------------------------------------------------------------


def run_ours(steps: int, method: str) -> dict[str, Any]:
    import torch

    from anthology.core.config import override
    from anthology.methods.maestro_motif import PRESETS, train

    one_thread()

    class Clock:
        def __init__(self) -> None:
            self.ticks: list[tuple[float, float]] = []

        def start(self, total_steps: int, initial_step: int = 0, description: str = "") -> None:
            pass

        def log(self, step: int, metrics: Any) -> None:
            if "time/steps_per_sec" in metrics:  # one log per update
                self.ticks.append(tick())

        def close(self) -> None:
            pass

    cfg = override(PRESETS["quick"], method=method, total_steps=steps, eval_every=10 ** 9, eval_episodes=1)
    clock = Clock()
    began = tick()
    run = train(cfg, tracker=clock)
    ended = tick()
    s, art = run.summary, run.artifacts
    # the timings are artifacts (older versions: summary keys "time/...")
    loop = float(art.get("train_seconds", s.get("time/train_seconds", float("nan"))))
    reward_stage = float(art.get("reward_seconds", s.get("time/reward_seconds", float("nan"))))
    done = int(s["steps"])
    per_iteration = cfg.envs * cfg.rollout
    return {"engine": method, "steps": done, "iterations": len(clock.ticks),
            "steps_per_iteration": per_iteration,
            **rates(clock.ticks, per_iteration, done, began, ended, loop),
            "reward_stage_seconds": reward_stage,
            "parameters": sum(p.numel() for p in run.artifacts["policy"].parameters()),
            "torch_threads": torch.get_num_threads()}


# --- driver -------------------------------------------------------------------------------------------------


def child(engine: str, steps: int) -> dict[str, Any]:
    """Run one engine in a fresh interpreter (one torch/OMP thread) and return its measurements."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = f.name
    load = os.getloadavg()[0]
    cmd = [sys.executable, str(ROOT / SCRIPT), "--child", engine, "--steps", str(steps), "--child-out", path]
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)
    out = json.loads(pathlib.Path(path).read_text())
    os.unlink(path)
    out["load_average_1min_before"] = round(load, 2)
    return out


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    out["anthology commit"] = git.stdout.strip() or "unknown"
    return out


def rounded(d: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in d.items()}


RATES = ("steady_steps_per_sec", "steady_steps_per_cpu_sec", "loop_steps_per_sec", "whole_steps_per_sec",
         "whole_steps_per_cpu_sec")
NAMES = {"sample_factory": "sample-factory 2.1.1 APPO (serial, sync)", "flat_ppo": "ours, flat_ppo",
         "maestromotif": "ours, maestromotif"}


def markdown(results: dict[str, Any]) -> str:
    lines = [f"# Training engine throughput on one core (`{results['command']}`)", "",
             f"MaestroMotif's `quick` level; {results['steps_requested']} env steps asked per run; "
             f"{results['machine']}.", "",
             "| engine | run | steps | steady steps/s | steady steps/CPU-s | loop steps/s | "
             "whole-call steps/s | whole call s | load before |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results["runs"]:
        lines.append(f"| {NAMES[r['engine']]} | {r['run']} | {r['steps']} | "
                     f"{r['steady_steps_per_sec']:.0f} | {r['steady_steps_per_cpu_sec']:.0f} | "
                     f"{r['loop_steps_per_sec']:.0f} | {r['whole_steps_per_sec']:.0f} | "
                     f"{r['whole_seconds']:.1f} | {r['load_average_1min_before']} |")
    lines += ["", "Medians over the runs:", "",
              "| engine | runs | parameters | steady steps/s | steady steps/CPU-s | loop steps/s | "
              "whole-call steps/s |",
              "|---|---|---|---|---|---|---|"]
    for engine, m in results["medians"].items():
        lines.append(f"| {NAMES[engine]} | {m['runs']} | {m['parameters']} | "
                     f"{m['steady_steps_per_sec']:.0f} | {m['steady_steps_per_cpu_sec']:.0f} | "
                     f"{m['loop_steps_per_sec']:.0f} | "
                     f"{m['whole_steps_per_sec']:.0f} |")
    for r in results["runs"]:
        if r.get("reward_stage_seconds", 0.0) > 0.01:
            lines += ["", f"{NAMES[r['engine']]} (run {r['run']}): its reward-model stage took "
                      f"{r['reward_stage_seconds']:.1f} s (in the whole call, not in the loop or steady "
                      "rates)."]
    lines += ["", "Ratios of the medians, sample-factory / ours:", "",
              "| ours | steady | steady per CPU-s | loop | whole call |", "|---|---|---|---|---|"]
    for method, ratio in results["ratios"].items():
        lines.append(f"| {method} | {ratio['steady_steps_per_sec']:.2f} | "
                     f"{ratio['steady_steps_per_cpu_sec']:.2f} | {ratio['loop_steps_per_sec']:.2f} | "
                     f"{ratio['whole_steps_per_sec']:.2f} |")
    lines += ["", "steady: training iterations 2..n (no start-up), per wall-clock second and per CPU second "
              "of the engine's process; loop: sample-factory's main-loop FPS (envs and model created inside "
              "it) and our `train_seconds` (envs re-created every 8 updates); whole call: the whole training "
              "call, start-up included. The cores are shared with other jobs (load average in the first "
              "table), so the wall-clock rates move between runs; the CPU-second rates move less.", "",
              "Settings (both): " + results["settings"]["shared"], "",
              "sample-factory: `" + " ".join(results["settings"]["sample_factory_args"]) + "`; observation: "
              + results["settings"]["sample_factory_observation"], "",
              "Ours: " + results["settings"]["ours"], "",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()), ""]
    lines += ["Setup and run:", "", "```", *results["setup"], results["command"], "```"]
    return "\n".join(lines) + "\n"


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": len(runs), "parameters": runs[0]["parameters"]}
    for key in RATES:
        out[key] = round(statistics.median(r[key] for r in runs), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50_000, help="env steps of training per run")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of sample-factory and of our flat_ppo, alternated (medians reported)")
    parser.add_argument("--maestromotif", action="store_true",
                        help="also time our loop once with method=maestromotif")
    parser.add_argument("--child", choices=list(NAMES), help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "sample_factory":
            out = run_sample_factory(args.steps)
        else:
            out = run_ours(args.steps, args.child)
        pathlib.Path(args.child_out).write_text(json.dumps(out))
        return

    command = (f"/tmp/sfv/bin/python {SCRIPT} --steps {args.steps} --repeats {args.repeats}"
               + (" --maestromotif" if args.maestromotif else ""))
    order = [e for _ in range(args.repeats) for e in ("sample_factory", "flat_ppo")]
    order += ["maestromotif"] if args.maestromotif else []
    runs: list[dict[str, Any]] = []
    for engine in order:
        r = rounded(child(engine, args.steps))
        r["run"] = sum(x["engine"] == engine for x in runs) + 1
        runs.append(r)
        print(f"{engine} run {r['run']}: {r['steady_steps_per_sec']} steps/s steady", flush=True)
    medians = {e: median_of([r for r in runs if r["engine"] == e]) for e in NAMES
               if any(r["engine"] == e for r in runs)}
    sf = medians["sample_factory"]
    ratios = {e: {k: round(sf[k] / m[k], 2) for k in RATES} for e, m in medians.items()
              if e != "sample_factory"}
    setup = ["python3 -m venv /tmp/sfv",
             "/tmp/sfv/bin/pip install sample-factory==2.1.1 torch==2.13.0 nle==1.0.0 minihack==1.0.2 "
             '"setuptools<81"',
             "/tmp/sfv/bin/pip install --no-deps -e .",
             "/tmp/sfv/bin/pip install tyro rich safetensors scipy matplotlib"]
    results = {
        "command": command, "setup": setup, "steps_requested": args.steps,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared with other jobs, torch threads 1, "
                   "OMP/MKL threads 1, one engine at a time in its own process",
        "versions": versions(),
        "settings": {
            "shared": "16 envs, rollout 64 (1024 transitions an update), 4 epochs x 4 minibatches of 256 "
                      "(whole 64-step sequences), LSTM 128, lr 1e-3, entropy 0.01, clip 0.2, "
                      "GAE(0.99, 0.95), grad clip 0.5, no input/return normalisation, CPU",
            "sample_factory_args": [*SF_ARGS, "--train_for_env_steps", str(args.steps)],
            "sample_factory_observation": "dict {'obs': float32[84]}: 9x9 chars / 255, HP fraction, "
                                          "any gold, depth - 1; MLP encoder 128, 128",
            "ours": "PRESETS['quick'] with method=<method>, total_steps=<steps>, eval_every=10**9, "
                    "eval_episodes=1 (char embedding + CNN, message embedding bag, stats, skill one-hot -> "
                    "LSTMCell 128)",
        },
        "runs": runs, "medians": medians, "ratios": ratios,
        "headline": {"sample_factory_steady_steps_per_sec": sf["steady_steps_per_sec"],
                     "ours_flat_ppo_steady_steps_per_sec": medians["flat_ppo"]["steady_steps_per_sec"],
                     "ratio_steady": ratios["flat_ppo"]["steady_steps_per_sec"],
                     "ratio_steady_per_cpu_sec": ratios["flat_ppo"]["steady_steps_per_cpu_sec"]},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "engine.json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    (OUT / "engine.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
