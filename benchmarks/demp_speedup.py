"""DemP's training speed-up over dense training, and the pruned model's inference latency, in one process.

Dense and DemP (the `quick` preset's MLP on Fashion-MNIST at the reference λ) train alternately, seed by seed,
in this process on one torch thread; then the final models' forward latency is timed on a batch of 1 and of 256
(median of repeats). Writes results/demp/speedup.{json,md}.

    python benchmarks/demp_speedup.py [seeds] [epochs]     # default: 2 seeds, the preset's epochs
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import platform
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from anthology.methods.demp.config import REPRODUCE_PRESETS
from anthology.methods.demp.train import train
from timing import median_seconds

OUT = pathlib.Path(__file__).parents[1] / "results" / "demp"


def latency(model: torch.nn.Module, shape: tuple[int, ...], batch: int, repeats: int = 200) -> float:
    x = torch.randn(batch, *shape)
    model.eval()
    with torch.no_grad():
        return median_seconds(lambda: model(x), repeats)


def main() -> None:
    torch.set_num_threads(1)
    seeds = range(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    rcfg = REPRODUCE_PRESETS["quick"]
    setting = rcfg.models[0]
    base = dataclasses.replace(rcfg.train, **dict(setting.overrides))
    if len(sys.argv) > 2:
        base = dataclasses.replace(base, epochs=int(sys.argv[2]))
    runs = []
    for seed in seeds:
        row = {"seed": seed}
        for name, changes in (("dense", {"method": "dense"}), ("demp", {"method": "demp", "reg_lambda": setting.reference})):
            cfg = dataclasses.replace(base, seed=seed, **changes)
            tick = time.perf_counter()
            result = train(cfg)
            row[name] = {"wall_seconds": time.perf_counter() - tick,
                         "train_seconds": sum(e["time/epoch_seconds"] for e in result.curve),
                         "epoch_seconds": [e["time/epoch_seconds"] for e in result.curve],
                         "accuracy": result.summary["eval/accuracy"],
                         "neuron_sparsity": result.summary["eval/neuron_sparsity"],
                         "params_remaining": result.summary["eval/params_remaining"],
                         "latency_ms_batch1": 1e3 * latency(result.artifacts["model"], (1, 28, 28), 1),
                         "latency_ms_batch256": 1e3 * latency(result.artifacts["model"], (1, 28, 28), 256, 50)}
            print(seed, name, {k: v for k, v in row[name].items() if k != "epoch_seconds"}, flush=True)
        row["training_speedup"] = row["dense"]["train_seconds"] / row["demp"]["train_seconds"]
        row["inference_speedup_batch256"] = row["dense"]["latency_ms_batch256"] / row["demp"]["latency_ms_batch256"]
        runs.append(row)
    command = "python benchmarks/demp_speedup.py " + " ".join(sys.argv[1:])
    result = {"command": command.strip(), "machine": platform.machine(), "threads": 1, "torch": torch.__version__,
              "model": f"MLP {base.hidden} on {base.dataset}, {base.epochs} epochs, λ={setting.reference:g}",
              "runs": runs}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "speedup.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# DemP training and inference speed against dense ({result['model']})", "",
             f"Command: `{result['command']}` (one torch thread; dense and DemP alternate in one process).", "",
             "| seed | dense train s | DemP train s | training speed-up | dense acc | DemP acc | DemP neuron sparsity | "
             "params remaining | latency b=256 dense / DemP (ms) | inference speed-up |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        d, p = r["dense"], r["demp"]
        lines.append(f"| {r['seed']} | {d['train_seconds']:.1f} | {p['train_seconds']:.1f} | {r['training_speedup']:.2f}x "
                     f"| {d['accuracy']:.4f} | {p['accuracy']:.4f} | {p['neuron_sparsity']:.3f} | "
                     f"{p['params_remaining']:.3f} | {d['latency_ms_batch256']:.2f} / {p['latency_ms_batch256']:.2f} | "
                     f"{r['inference_speedup_batch256']:.2f}x |")
    lines += ["", "Epoch wall times (s), seed 0: dense " + ", ".join(f"{s:.1f}" for s in runs[0]["dense"]["epoch_seconds"])
              + "; DemP " + ", ".join(f"{s:.1f}" for s in runs[0]["demp"]["epoch_seconds"]) + "."]
    (OUT / "speedup.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
