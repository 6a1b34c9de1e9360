"""anthology's SAC against Stable-Baselines3's SAC on Pendulum-v1, side by side in one run.

Same task (Pendulum-v1, 200-step episodes, actions in [-2, 2]), same networks (actor and twin critics,
two hidden layers of 256 or of 128, ReLU), same batch (256 or 128), same update ratio (one critic and
one actor update per environment step after 1,000 random steps), same learning rates (3e-4 for
everything, SB3's default), same automatic temperature (target -d, starting at 1), one torch thread.
Measured: environment steps per second over the whole training run (acting, stepping, storing and
updating; evaluation excluded) and the return of the deterministic policy after the step budget
(10 episodes, mean over seeds). Writes results/decoupled_regularization/vs_sb3.{json,md}.

    make bench      # creates .venv-bench (anthology + the bench extra, which brings stable-baselines3)
"""

from __future__ import annotations

import json
import pathlib
import platform
import sys
import time

import numpy as np
import torch

from anthology.methods.decoupled_regularization.config import Config, EnvConfig
from anthology.methods.decoupled_regularization.train import make_env, train

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from peer_rows import comparison_row

OUT = pathlib.Path(__file__).parents[1] / "results" / "decoupled_regularization"
STEPS, LEARNING_STARTS, EVAL_EPISODES = 10_000, 1_000, 10
SIZES = ((256, 256), (128, 128))
SEEDS = (0, 1)
LR = 3e-4


def run_anthology(hidden: int, batch: int, seed: int) -> dict:
    cfg = Config(env=EnvConfig(name="pendulum", copies=1, action_scale=2.0), temperature="auto",
                 hidden=(hidden, hidden), batch_size=batch, learning_starts=LEARNING_STARTS, total_steps=STEPS,
                 lr_actor=LR, lr_q=LR, lr_temperature=LR, policy_frequency=1, eval_every=STEPS,
                 eval_episodes=EVAL_EPISODES, seed=seed, log_every=STEPS)
    result = train(cfg)
    return {"steps_per_sec": STEPS / result.artifacts["train_seconds"], "return": result.summary["eval/return"]}


def run_sb3(hidden: int, batch: int, seed: int) -> dict:
    import gymnasium as gym
    import stable_baselines3
    from stable_baselines3 import SAC

    env = gym.make("Pendulum-v1")
    model = SAC("MlpPolicy", env, learning_rate=LR, buffer_size=STEPS, learning_starts=LEARNING_STARTS,
                batch_size=batch, tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1, ent_coef="auto_1.0",
                policy_kwargs={"net_arch": [hidden, hidden]}, seed=seed, device="cpu", verbose=0)
    tick = time.perf_counter()
    model.learn(total_timesteps=STEPS)
    seconds = time.perf_counter() - tick
    eval_env = make_env(EnvConfig(name="pendulum", copies=1, action_scale=2.0))
    returns = []
    for episode in range(EVAL_EPISODES):
        obs, _ = eval_env.reset(seed=seed * 100_003 + 50_000 + episode)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = eval_env.step(action)
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return {"steps_per_sec": STEPS / seconds, "return": float(np.mean(returns)),
            "version": stable_baselines3.__version__}


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for hidden in (h for h, _ in SIZES):
        batch = hidden
        ours = [run_anthology(hidden, batch, s) for s in SEEDS]
        ref = [run_sb3(hidden, batch, s) for s in SEEDS]
        row = comparison_row(hidden, batch, STEPS, list(SEEDS), ours, ref)
        rows.append(row)
        print(f"{hidden}x2 batch {batch}: anthology {row['anthology']['steps_per_sec']:.1f} steps/s "
              f"(return {row['anthology']['return']:.0f}), SB3 {row['sb3']['steps_per_sec']:.1f} steps/s "
              f"(return {row['sb3']['return']:.0f}), ratio {row['throughput_ratio']:.2f}", flush=True)
    result = {"command": "make bench (python benchmarks/sac_vs_sb3.py in .venv-bench)", "machine": platform.machine(),
              "threads": 1, "torch": torch.__version__, "stable_baselines3": rows[0]["sb3"]["runs"][0]["version"],
              "goal": "at least 1.5x SB3's throughput at equal return", "rows": rows}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "vs_sb3.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result)


def write_markdown(result: dict) -> None:
    lines = [f"# anthology SAC vs Stable-Baselines3 {result['stable_baselines3']} SAC (Pendulum-v1, 1 thread)", "",
             f"Command: `{result['command']}` (`--from-json` rewrites this page from vs_sb3.json). Both libraries "
             f"run in the same process, one after the other, {STEPS} environment steps per run ({LEARNING_STARTS} "
             f"random), seeds {list(SEEDS)}; return of the deterministic policy over {EVAL_EPISODES} episodes after "
             f"training. Goal: {result['goal']}.", "",
             "| networks | batch | anthology steps/s | SB3 steps/s | ratio | anthology return (per seed) "
             "| SB3 return (per seed) |", "|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        a, s = r["anthology"], r["sb3"]
        per_seed = [", ".join(f"{run['return']:.0f}" for run in x["runs"]) for x in (a, s)]
        lines.append(f"| {r['hidden'][0]}x2 | {r['batch_size']} | {a['steps_per_sec']:.1f} | {s['steps_per_sec']:.1f} "
                     f"| {r['throughput_ratio']:.2f} | {a['return']:.0f} ({per_seed[0]}) | {s['return']:.0f} "
                     f"({per_seed[1]}) |")
    lines += ["", "Why the ratio is small at 256 x 2: an update is then almost all matrix products of the hidden "
              "layers, which one core already runs near its peak, and the two implementations do nearly the same "
              "ones. Per environment step, counting one hidden-layer matmul as a unit: the critic step is 6 (2 "
              "critics, forward and two backward products), the target critics 2, the next-action sample 1, the "
              "actor step 3, and the critics inside the actor loss 4 for anthology, which freezes the critics' "
              "weights there and only back-propagates to the action, against 6 for SB3, which also computes the "
              "critics' weight gradients and then discards them: 16 units against 18. What is left for anthology "
              "to save is Python and dispatch overhead, a larger share at 128 x 2.", "",
              "Returns after 10k steps vary from seed to seed in both libraries; two seeds do not establish equal "
              "return. The quick reproduction's d = 1 Pendulum runs (CleanRL's settings: critic lr 1e-3, actor "
              "every second step) reach -120 on every seed (`results/decoupled_regularization/table.md`)."]
    (OUT / "vs_sb3.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if "--from-json" in sys.argv:
        write_markdown(json.loads((OUT / "vs_sb3.json").read_text()))
    else:
        main()
