"""anthology's TD3 (`anthology.rl.td3`) against Stable-Baselines3's TD3 on Pendulum-v1, side by side in one run.

Same algorithm (Fujimoto et al. 2018: target actor, twin critics with the min target, target policy
smoothing, actor and targets every second critic update), same networks (two hidden layers of 256 or
of 128, ReLU, no LayerNorm: SB3's), same batch (256 or 128), same update ratio (one critic update per
environment step after 1,000 random steps), same learning rate (SB3's default 1e-3), same noises in
action units (exploration N(0, 0.2^2), smoothing N(0, 0.4^2) clipped at 1.0: SB3's 0.1 / 0.2 / 0.5 on
actions scaled to [-1, 1], times Pendulum's half-range 2), one torch thread.
Measured: environment steps per second over the whole training run (acting, stepping, storing and
updating; evaluation excluded), the return of the deterministic policy after the step budget
(10 episodes), and for anthology where an update's time goes (the matrix products against the rest,
from the torch profiler). Writes results/self_predictive/vs_sb3.{json,md}.

    make bench      # creates .venv-bench (anthology + the bench extra, which brings stable-baselines3)
"""

from __future__ import annotations

import copy
import json
import pathlib
import platform
import sys
import time

import numpy as np
import torch

from anthology.rl.actor_critic import DeterministicActor, QEnsemble
from anthology.rl.evaluation import EPISODE_SEED_STRIDE, evaluate_policy
from anthology.rl.replay_buffer import ReplayBuffer
from anthology.rl.td3 import TD3Learner, add_exploration_noise, td3_update

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from peer_rows import comparison_row

OUT = pathlib.Path(__file__).parents[1] / "results" / "self_predictive"
STEPS, LEARNING_STARTS, EVAL_EPISODES = 10_000, 1_000, 10
SIZES = (256, 128)
SEEDS = (0, 1)
LR, GAMMA, TAU, POLICY_DELAY = 1e-3, 0.99, 0.005, 2
EXPLORATION, TARGET_NOISE, NOISE_CLIP = 0.2, 0.4, 1.0  # in Pendulum's action units (half-range 2)
MATMULS = ("aten::addmm", "aten::mm", "aten::bmm", "aten::baddbmm", "aten::linear", "aten::matmul")


def evaluate(act, seed: int) -> float:
    """The deterministic policy's mean return over EVAL_EPISODES, as every method evaluates (rl.evaluation)."""
    import gymnasium as gym

    return evaluate_policy(act, gym.make("Pendulum-v1"), EVAL_EPISODES, seed * EPISODE_SEED_STRIDE + 50_000)


def make_learner(hidden: int, obs_dim: int, low: torch.Tensor, high: torch.Tensor) -> TD3Learner:
    actor = DeterministicActor(obs_dim, low, high, (hidden, hidden))
    critic = QEnsemble(obs_dim, low.numel(), (hidden, hidden))
    return TD3Learner(actor, copy.deepcopy(actor).requires_grad_(False), critic,
                      copy.deepcopy(critic).requires_grad_(False),
                      # foreach: one kernel per step for all of a module's tensors, as the library's methods use Adam
                      torch.optim.Adam(actor.parameters(), lr=LR, foreach=True),
                      torch.optim.Adam(critic.parameters(), lr=LR, foreach=True))


def run_anthology(hidden: int, batch: int, seed: int) -> dict:
    import gymnasium as gym

    torch.manual_seed(seed)
    env = gym.make("Pendulum-v1")
    low, high = torch.as_tensor(env.action_space.low), torch.as_tensor(env.action_space.high)
    learner = make_learner(hidden, env.observation_space.shape[0], low, high)
    buffer = ReplayBuffer(STEPS, env.observation_space.shape[0], low.numel())
    generator = torch.Generator().manual_seed(seed)
    obs, _ = env.reset(seed=seed)
    tick = time.perf_counter()
    for step in range(STEPS):
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        if step < LEARNING_STARTS:
            action = low + (high - low) * torch.rand(low.shape, generator=generator)
        else:
            with torch.no_grad():
                action = add_exploration_noise(learner.actor(obs_t[None])[0], EXPLORATION, low, high, generator)
        next_obs, reward, terminated, truncated, _ = env.step(action.numpy())
        buffer.add(obs_t[None], action[None], torch.tensor([float(reward)]),
                   torch.as_tensor(next_obs, dtype=torch.float32)[None], torch.tensor([terminated]))
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
        if step >= LEARNING_STARTS:
            td3_update(learner, buffer.sample(batch, generator), GAMMA, step - LEARNING_STARTS, POLICY_DELAY,
                       TARGET_NOISE, NOISE_CLIP, TAU, generator)
    seconds = time.perf_counter() - tick
    return {"steps_per_sec": STEPS / seconds, "return": evaluate(learner.actor, seed), "profile": profile(learner, buffer, batch)}


def profile(learner: TD3Learner, buffer: ReplayBuffer, batch: int, updates: int = 200) -> dict:
    """Share of an update's CPU time in matrix products, and the other ops that cost most."""
    generator = torch.Generator().manual_seed(0)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for step in range(updates):
            td3_update(learner, buffer.sample(batch, generator), GAMMA, step, POLICY_DELAY, TARGET_NOISE,
                       NOISE_CLIP, TAU, generator)
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total = sum(e.self_cpu_time_total for e in events)
    matmul = sum(e.self_cpu_time_total for e in events if e.key in MATMULS)
    rest = sorted((e for e in events if e.key not in MATMULS), key=lambda e: -e.self_cpu_time_total)[:6]
    return {"matmul_share": matmul / total, "update_ms": total / updates / 1000,
            "top_other": [[e.key, e.self_cpu_time_total / total] for e in rest]}


def run_sb3(hidden: int, batch: int, seed: int) -> dict:
    import gymnasium as gym
    import stable_baselines3
    from stable_baselines3 import TD3
    from stable_baselines3.common.noise import NormalActionNoise

    env = gym.make("Pendulum-v1")
    noise = NormalActionNoise(np.zeros(1), 0.1 * np.ones(1))
    model = TD3("MlpPolicy", env, learning_rate=LR, buffer_size=STEPS, learning_starts=LEARNING_STARTS,
                batch_size=batch, tau=TAU, gamma=GAMMA, train_freq=1, gradient_steps=1, action_noise=noise,
                policy_delay=POLICY_DELAY, target_policy_noise=0.2, target_noise_clip=0.5,
                policy_kwargs={"net_arch": [hidden, hidden]}, seed=seed, device="cpu", verbose=0)
    tick = time.perf_counter()
    model.learn(total_timesteps=STEPS)
    seconds = time.perf_counter() - tick
    return {"steps_per_sec": STEPS / seconds, "return": evaluate(
                lambda o: torch.as_tensor(model.predict(o[0].numpy(), deterministic=True)[0]).reshape(1, -1), seed),
            "version": stable_baselines3.__version__}


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for hidden in SIZES:
        ours = [run_anthology(hidden, hidden, s) for s in SEEDS]
        ref = [run_sb3(hidden, hidden, s) for s in SEEDS]
        row = comparison_row(hidden, hidden, STEPS, list(SEEDS), ours, ref)
        rows.append(row)
        print(f"{hidden}x2: anthology {row['anthology']['steps_per_sec']:.1f} steps/s, SB3 "
              f"{row['sb3']['steps_per_sec']:.1f}, ratio {row['throughput_ratio']:.2f}", flush=True)
    result = {"command": "make bench (python benchmarks/td3_vs_sb3.py in .venv-bench)", "machine": platform.machine(),
              "threads": 1, "torch": torch.__version__, "stable_baselines3": rows[0]["sb3"]["runs"][0]["version"],
              "goal": "ahead of SB3's throughput at equal return", "rows": rows}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "vs_sb3.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# anthology TD3 vs Stable-Baselines3 {result['stable_baselines3']} TD3 (Pendulum-v1, 1 thread)", "",
             f"Command: `{result['command']}`. {STEPS} environment steps per run ({LEARNING_STARTS} random), seeds "
             f"{list(SEEDS)}. Goal: {result['goal']}. Same networks, batch, update ratio, noises and learning rate; "
             "anthology's Adam runs with foreach=True (SB3: torch's default), and its actor step evaluates the first "
             "critic only.", "",
             "| networks | batch | anthology steps/s | SB3 steps/s | ratio | anthology return (per seed) | SB3 return "
             "(per seed) | anthology update: matmul share |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a, s = r["anthology"], r["sb3"]
        seeds = [", ".join(f"{run['return']:.0f}" for run in x["runs"]) for x in (a, s)]
        lines.append(f"| {r['hidden'][0]}x2 | {r['batch_size']} | {a['steps_per_sec']:.1f} | {s['steps_per_sec']:.1f} | "
                     f"{r['throughput_ratio']:.2f} | {a['return']:.0f} ({seeds[0]}) | {s['return']:.0f} ({seeds[1]}) | "
                     f"{a['runs'][0]['profile']['matmul_share']:.0%} |")
    lines += ["", "What is left outside the matrix products (anthology, seed 0, share of an update's CPU time):", ""]
    for r in rows:
        top = ", ".join(f"{k} {v:.0%}" for k, v in r["anthology"]["runs"][0]["profile"]["top_other"])
        lines.append(f"- {r['hidden'][0]}x2: {top}")
    (OUT / "vs_sb3.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
