"""Mol-MoE's router ablations on the experts of one finished run (seed 0 of `quick` by default): the
router retrained with one setting changed, each evaluated on the run's 32 test preferences as in the run.

- lr 3e-4 and 3e-3 (the paper's 1e-3 in the run): the learning-rate sweep;
- beta 0 and 0.2 (0.05 in the run);
- the raw reward sum_i w_i s_i instead of the normalised one;
- an invalid molecule scored at the base's mean (0 normalised) instead of 0 raw (-8 to -13 normalised on
  QED and SA): tests whether the router learns validity rather than the preference;
- the experts merged without the base as an extra expert (re-merged, router re-initialised);
- our first budget: 30 steps x 4 PPO epochs = 120 updates, no early stopping (the run: up to 1,600).

The run's own router, its initial router and the oracle gates are in the run's summary. Variants run in
two processes; each finished one is appended to results/mol_moe/ablations.jsonl (a rerun skips those
already there), and the table results/mol_moe/ablations.md is rewritten from it.

    ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/mol_moe_ablations.py RUN_FOLDER [WORKERS]
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import multiprocessing
import pathlib
import sys
import time

import torch

from anthology.chem.objectives import ObjectiveScorer
from anthology.core.config import config_from_dict
from anthology.core.run_dir import RunDir
from anthology.methods.mol_moe import Config
from anthology.nets.causal_lm import merge_into_mixtral

S = importlib.import_module("anthology.methods.mol_moe.stages")
E = importlib.import_module("anthology.methods.mol_moe.evaluation")
T = importlib.import_module("anthology.methods.mol_moe.train")
OUT = pathlib.Path(__file__).parents[1] / "results" / "mol_moe"
LOG = OUT / "ablations.jsonl"


def variants(cfg: Config) -> dict[str, Config]:
    router = cfg.router
    return {
        "lr 3e-4": dataclasses.replace(cfg, router=dataclasses.replace(router, lr=3e-4)),
        "lr 3e-3": dataclasses.replace(cfg, router=dataclasses.replace(router, lr=3e-3)),
        "beta 0": dataclasses.replace(cfg, router=dataclasses.replace(router, beta=0.0)),
        "beta 0.2": dataclasses.replace(cfg, router=dataclasses.replace(router, beta=0.2)),
        "raw reward": dataclasses.replace(cfg, router_reward="raw"),
        "invalid = base mean": dataclasses.replace(cfg, invalid_reward="neutral"),
        "no base expert": dataclasses.replace(cfg, base_expert=False),
        "120 updates": dataclasses.replace(cfg, router=dataclasses.replace(router, steps=30, patience=0)),
    }


def load(run: pathlib.Path, cfg: Config) -> tuple[S.Context, dict]:
    transformers = S.hf()
    models = run / "models"
    tokenizer = transformers.AutoTokenizer.from_pretrained(models / "tokenizer")
    ctx = S.Context(cfg, tokenizer, ObjectiveScorer(cfg.objectives, cfg.data_dir), T.load_corpus(cfg), None, None)
    ctx.stats.update({p.stem: json.loads(p.read_text()) for p in (models / "stats").glob("*.json")})

    def model(name: str):
        return transformers.AutoModelForCausalLM.from_pretrained(models / name).eval()

    experts = [model(f"expert_{k}") for k in range(len(cfg.objectives))]
    if cfg.base_expert:
        return ctx, {"experts": experts, "mol_moe_init_router": model("mol_moe_init_router")}
    base = transformers.AutoModelForCausalLM.from_pretrained(T.base_folder(cfg) or models / "base").eval()
    return ctx, {"experts": experts, "mol_moe_init_router": merge_into_mixtral(base, experts, S.router_init(ctx, base))}


def run_variant(args: tuple[str, str, dict]) -> dict:
    run, name, cfg_dict = args
    torch.set_num_threads(1)
    cfg = config_from_dict(Config, cfg_dict)
    ctx, models = load(pathlib.Path(run), cfg)
    steps: list[float] = []
    ctx.tracker = None
    tick = time.perf_counter()
    original = ctx.log

    def log(stage: str, step: int, metrics: dict, advance: int = 1) -> None:
        if "stopped_at" in metrics:
            steps.append(metrics["stopped_at"])
        original(stage, step, metrics, advance)

    ctx.log = log  # type: ignore[method-assign]
    models["mol_moe"] = S.train_router(ctx, models["mol_moe_init_router"], name=f"ablation {name}")
    summary, _ = E.evaluate_steering(ctx, models, ("mol_moe",), E.known_molecules(ctx.corpus))
    return {"variant": name, "router_steps": steps[-1] if steps else None, "seconds": time.perf_counter() - tick,
            **{k.removeprefix("eval/mol_moe/"): v for k, v in summary.items()}}


def write_table(run: pathlib.Path) -> None:
    rows = [json.loads(line) for line in LOG.read_text().splitlines()] if LOG.is_file() else []
    summary = json.loads((run / "summary.json").read_text())
    reference = [{"variant": f"{label} (the run)", "router_steps": None,
                  **{k.split("/")[-1]: v for k, v in summary.items() if k.startswith(f"eval/{m}/")}}
                 for label, m in (("Mol-MoE", "mol_moe"), ("initial router", "mol_moe_init_router"),
                                  ("oracle gates, every layer", "oracle_gates"),
                                  ("oracle gates, layer 0", "oracle_gates_layer0"),
                                  ("Rewarded Soups", "rewarded_soups"))]
    columns = ("mae", "r", "r_low", "r_high", "reward", "vertex", "validity")
    lines = ["# Mol-MoE router ablations (one seed)", "",
             f"`ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/mol_moe_ablations.py {run}`", "",
             "Each variant retrains the router of this run's merged model with one setting changed and is "
             "evaluated on the run's 32 test preferences (128 molecules each, top-p 0.9). MAE against scaled "
             "targets; r with its 95% bootstrap interval over preferences; reward in normalised units; vertex: "
             "the normalised score on objective k under a one-hot prompt (1 = the expert).", "",
             "| variant | router steps | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    for row in reference + rows:
        cells = [f"{row[c]:.3f}" if isinstance(row.get(c), float) else "" for c in columns]
        steps = "" if row.get("router_steps") is None else f"{row['router_steps']:.0f}"
        lines.append(f"| {row['variant']} | {steps} | " + " | ".join(cells) + " |")
    (OUT / "ablations.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(run_arg: str, workers: int = 2) -> None:
    run = pathlib.Path(run_arg)
    cfg = config_from_dict(Config, RunDir(run).read_config()["config"])
    done = {json.loads(line)["variant"] for line in LOG.read_text().splitlines()} if LOG.is_file() else set()
    todo = [(str(run), name, dataclasses.asdict(c)) for name, c in variants(cfg).items() if name not in done]
    OUT.mkdir(parents=True, exist_ok=True)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for row in pool.imap_unordered(run_variant, todo):
            with LOG.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(f"{row['variant']}: r {row['r']:.3f}, MAE {row['mae']:.3f} ({row['seconds']:.0f} s)", flush=True)
    write_table(run)


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:]))
