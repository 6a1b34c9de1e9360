"""Actions World Models on this machine: world-model updates and policy updates per second, imagination
with the key/value cache against recomputing the whole prefix each step, and one policy gradient through
the AWM against one through the simulator (BPTT). Writes results/awm/speed.{json,md}.

    python benchmarks/awm_speed.py [REPEATS] [THREADS]

Each figure is the median of REPEATS timings after one warm-up, with the official arm_default sizes
(width 48, 2 layers, 3 heads, decoder 64-64, 64 episodes per model update, 16 imagined rollouts).
"""

from __future__ import annotations

import json
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from anthology.core.config import override
from anthology.envs.control_tasks import make_control_task
from anthology.methods.awm import PRESETS
from anthology.methods.awm.episodes import collect_episode, sample_episodes
from anthology.methods.awm.losses import Simulator, bpo_loss, world_model_loss
from anthology.methods.awm.networks import make_policy, make_world_model
from timing import median_seconds

OUT = pathlib.Path(__file__).resolve().parents[1] / "results" / "awm"
TASK, HORIZONS = "cancer", (20, 100)


def imagine_by_recomputing(model: torch.nn.Module, policy: torch.nn.Module, task, s1: torch.Tensor) -> torch.Tensor:
    """The AWM rollout without a cache: each step runs the whole prefix through the model again."""
    actions = torch.zeros(s1.shape[0], 0, task.action_dim)
    state, total = s1, torch.zeros(s1.shape[0])
    for t in range(task.horizon):
        action = policy(state.detach()).action
        actions = torch.cat([actions, action[:, None]], dim=1)
        next_state = model.predict(s1, actions)[:, -1]
        total = total + task.reward(state, action, next_state, t)
        state = next_state
    return total


def measure_model(task, data, method: str, core: str, repeats: int) -> list[dict]:
    cfg = override(PRESETS["paper"], task=TASK, horizon=task.horizon, method=method, **{"world_model.core": core})
    model = make_world_model(cfg, task)
    policy = make_policy(cfg, task)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    s1 = data.states[:cfg.policy_batch, 0]

    def model_update() -> None:
        model.train()
        loss, _ = world_model_loss(model, sample_episodes(data, cfg.world_model.batch, generator))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def policy_update() -> None:
        model.eval()
        loss, _ = bpo_loss(policy, model, task, s1, cfg.entropy_coef, generator)
        loss.backward()

    name = f"{method} ({core})" if method != "markov" else "one-step model"
    rows = [{"horizon": task.horizon, "model": name, "what": "world-model update", "seconds": median_seconds(model_update, repeats)},
            {"horizon": task.horizon, "model": name, "what": "policy update (imagined rollouts + backward)",
             "seconds": median_seconds(policy_update, repeats)}]
    if (method, core) == ("awm", "gpt"):
        with torch.no_grad():
            cached = median_seconds(lambda: bpo_loss(policy, model, task, s1, 0.0, None), repeats)
            recomputed = median_seconds(lambda: imagine_by_recomputing(model, policy, task, s1), repeats)
        rows.append({"horizon": task.horizon, "model": name, "what": "imagination with the KV cache", "seconds": cached})
        rows.append({"horizon": task.horizon, "model": name, "what": "imagination recomputing the prefix",
                     "seconds": recomputed, "ratio_to_cached": recomputed / cached})
    return rows


def measure_simulator(task, data, repeats: int) -> dict:
    policy = make_policy(PRESETS["paper"], task)
    s1 = data.states[:PRESETS["paper"].policy_batch, 0]

    def simulator_gradient() -> None:
        loss, _ = bpo_loss(policy, Simulator(task), task, s1, 0.1, None)
        loss.backward()

    return {"horizon": task.horizon, "model": "simulator", "what": "policy update (BPTT through the simulator)",
            "seconds": median_seconds(simulator_gradient, repeats)}


def main(repeats: int = 5, threads: int = 1) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rows = []
    for horizon in HORIZONS:
        task = make_control_task(TASK, horizon)
        data, _ = collect_episode(task, None, torch.Generator().manual_seed(0), 256)
        for method, core in (("awm", "gpt"), ("awm", "lstm"), ("history", "gpt"), ("markov", "gpt")):
            rows += measure_model(task, data, method, core, repeats)
        simulator = measure_simulator(task, data, repeats)
        awm = next(r for r in rows if r["horizon"] == horizon and r["model"] == "awm (gpt)"
                   and r["what"].startswith("policy update"))
        simulator["awm_gradient_to_simulator"] = awm["seconds"] / simulator["seconds"]
        rows.append(simulator)
    command = f"python benchmarks/awm_speed.py {repeats} {threads}"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "speed.json").write_text(json.dumps({"command": command, "task": TASK, "threads": threads,
                                                "rows": rows}, indent=2) + "\n")
    lines = ["# Actions World Models: speed on this machine", "",
             f"Command: `{command}` ({TASK}, {threads} thread(s), median of {repeats} after a warm-up; the "
             "official arm_default sizes).", "",
             "| L | model | what | seconds | per second | note |", "|---|---|---|---|---|---|"]
    for r in rows:
        note = f"{r['ratio_to_cached']:.1f}x the cached rollout" if "ratio_to_cached" in r else ""
        if "awm_gradient_to_simulator" in r:
            note = f"one AWM policy gradient takes {r['awm_gradient_to_simulator']:.2f}x this"
        lines.append(f"| {r['horizon']} | {r['model']} | {r['what']} | {r['seconds']:.4f} | {1 / r['seconds']:.1f} "
                     f"| {note} |")
    (OUT / "speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
