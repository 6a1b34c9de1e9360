"""Koopman speed benchmark: training steps/s (Koopman vs the MLP-latent baseline) and rollout cost per k.

There is no official code to compare against (none was published), so this records our own costs on
the machine it runs on, one torch thread, and the relative cost of re-encoding during rollouts.

    python benchmarks/koopman_speed.py            # writes results/koopman/benchmark.json and benchmark.md
"""

from __future__ import annotations

import json
import pathlib
import platform
import time

import torch

from anthology.core.config import override
from anthology.envs.dynamical_systems import generate_trajectories, make_system
from anthology.methods.koopman import PRESETS
from anthology.methods.koopman.losses import koopman_loss
from anthology.methods.koopman.networks import make_model
from anthology.methods.koopman.reencoding import rollout
from anthology.methods.koopman.train import as_tensors, sample_windows

OUT = pathlib.Path(__file__).parents[1] / "results" / "koopman"


def time_training(kind: str, repeats: int = 60, warmup: int = 10) -> float:
    cfg = override(PRESETS["quick"], **{"model.kind": kind})
    system = make_system(cfg.system)
    data = generate_trajectories(system, cfg.data.n_train, cfg.data.train_steps, seed=0)
    states, controls = as_tensors(data, torch.device("cpu"))
    torch.manual_seed(0)
    model = make_model(cfg.model, system.state_dim, system.dt)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(0)
    for i in range(warmup + repeats):
        if i == warmup:
            start = time.perf_counter()
        window = sample_windows(states, controls, cfg.loss.window, cfg.batch_size, gen)
        loss, _ = koopman_loss(model, window)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return repeats / (time.perf_counter() - start)


def time_rollout(k: int, steps: int = 1000, starts: int = 50) -> float:
    torch.manual_seed(0)
    model = make_model(PRESETS["quick"].model, 2, 0.01)
    x0 = torch.randn(starts, 2)
    start = time.perf_counter()
    rollout(model, x0, steps, k)
    return steps / (time.perf_counter() - start)


def main() -> None:
    torch.set_num_threads(1)
    train = {kind: time_training(kind) for kind in ("koopman", "mlp")}
    roll = {str(k): time_rollout(k) for k in (0, 1, 25)}
    result = {
        "command": "python benchmarks/koopman_speed.py", "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__, "threads": 1,
        "train_steps_per_sec": train, "train_ratio_mlp_over_koopman": train["koopman"] / train["mlp"],
        "rollout_steps_per_sec_50_starts": roll,
        "rollout_cost_ratio_k1_over_none": roll["0"] / roll["1"],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "benchmark.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Koopman speed (`python benchmarks/koopman_speed.py`, 1 thread)", "",
             "| what | value |", "|---|---|"]
    lines += [f"| train steps/s, {k} (quick preset: batch 64, window 50) | {v:.1f} |" for k, v in train.items()]
    lines += [f"| rollout steps/s, 50 starts, k={'none' if k == '0' else k} | {v:.0f} |" for k, v in roll.items()]
    lines.append(f"| MLP-latent step cost / Koopman step cost | {result['train_ratio_mlp_over_koopman']:.2f} |")
    (OUT / "benchmark.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
