"""Mol-MoE (Calanzone, D'Oro and Bacon 2025): one pipeline from MOSES SMILES to a steerable mixture.

Mol-MoE pretrains a causal LM on SMILES, fine-tunes one expert per objective with RLOO and a KL penalty
to the base, merges the experts' MLP blocks into a Mixtral-style model with shared attention and dense
routing, and then trains only the router gates with preference prompts `<qed=0.70><sa=0.30>...<s>`
(w ~ Dirichlet) on the reward sum_i w_i s_i(x) minus a KL penalty to the merged model. At test time a
new preference is a new prompt: no retraining and no re-merging.

The same run trains the baselines on the same base: MORLHF (one RLOO policy on the mean score),
Rewarded Soups (the experts' MLPs averaged with weights w; needs a merge per preference) and
Rewards-in-Context (SFT on molecules prefixed with their own scores, then one online round). It ends
by measuring how well each follows 16 Dirichlet preferences (`evaluate_steering`).

    anthology train mol_moe --preset demo
    anthology generate mol_moe --weights qed=0.7,sa=0.3 -n 1000

Every stage's model is saved with `save_pretrained` under `<run>/models/<stage>/`; a killed run
resumes from the last finished stage, and each stage draws from its own seeded generator, so a resumed
run equals an uninterrupted one. Left out: the paper's 1B Llama-3.2 and its 3.5M-molecule corpus,
the JNK3/DRD2/GSK3B/CYP oracles (downloaded at run time; sEH proxy, QED, SA and a TPSA window instead)
and the OOD ablation.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from anthology.chem.data import moses_smiles
from anthology.chem.objectives import ObjectiveScorer
from anthology.chem.smiles_tokenizer import (
    make_smiles_tokenizer,
)
from anthology.core.device import require_cpu
from anthology.core.errors import AnthologyError
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir, write_json
from anthology.core.seeding import seed_everything
from anthology.nets.causal_lm import (
    merge_into_mixtral,
)
from anthology.tracking import Tracker, make_tracker

from .config import DESCRIPTORS, Config
from .evaluation import evaluate_steering, known_molecules, quality, sample_molecules
from .stages import (
    METHODS,
    Context,
    Scorer,
    hf,
    model_stats,
    pretrain,
    router_init,
    stage,
    train_expert,
    train_morlhf,
    train_ric,
    train_router,
)

# ----------------------------------------------------------------------------- the pipeline


def load_corpus(cfg: Config) -> list[str]:
    """The first `pretrain.molecules` MOSES training SMILES (RiC's scored molecules are the last ones)."""
    return moses_smiles("train", limit=cfg.pretrain.molecules)


def build_models(ctx: Context, methods: Sequence[str] = METHODS) -> dict[str, Any]:
    """Every stage in order, each loaded when a previous run finished it."""
    cfg = ctx.cfg
    transformers = hf()
    folder = base_folder(cfg)
    if folder is not None:
        base = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    else:
        base = stage(ctx, "base", lambda: pretrain(ctx))
    models: dict[str, Any] = {"base": base}
    model_stats(ctx, "base", base)
    models["experts"] = [stage(ctx, f"expert_{k}", lambda k=k: train_expert(ctx, base, k))
                         for k in range(len(cfg.objectives))]
    for k, expert in enumerate(models["experts"]):
        model_stats(ctx, f"expert_{k}", expert, reference=base)
    members = [*models["experts"], base] if cfg.base_expert else models["experts"]
    merged = stage(ctx, "mol_moe_init_router", lambda: merge_into_mixtral(base, members, router_init(ctx, base)))
    models["mol_moe_init_router"] = merged
    models["mol_moe"] = stage(ctx, "mol_moe", lambda: train_router(ctx, merged))
    if "morlhf" in methods:
        models["morlhf"] = stage(ctx, "morlhf", lambda: train_morlhf(ctx, base))
    if "rewards_in_context" in methods:
        models["rewards_in_context"] = stage(ctx, "rewards_in_context", lambda: train_ric(ctx, base))
    return models


SHIPPED_BASE = pathlib.Path(__file__).parent / "data" / "base"


def base_folder(cfg: Config) -> pathlib.Path | None:
    """Where the base model comes from: the shipped one, a folder, or None (pretrain in this run)."""
    if cfg.base_model is None:
        return None
    folder = SHIPPED_BASE if cfg.base_model == "shipped" else pathlib.Path(cfg.base_model)
    if not (folder / "config.json").is_file() or not (folder / "tokenizer.json").is_file():
        raise AnthologyError(f"no base model in {folder} (config.json and tokenizer.json); pretrain one with "
                             "'python -m anthology.methods.mol_moe.pretrain --out FOLDER' or set --base-model None")
    return folder


def pretrain_base(cfg: Config, out: pathlib.Path, tracker: Tracker | None = None) -> dict[str, float]:
    """Pretrain a base model on MOSES and save it with its tokenizer to `out` (what `--base-model` loads);
    returns its loss and the validity, uniqueness and novelty of 1,000 samples."""
    corpus = load_corpus(cfg)
    tokenizer = make_smiles_tokenizer(cfg.objectives, corpus, DESCRIPTORS)
    run = RunDir(out)
    out.mkdir(parents=True, exist_ok=True)
    tracker = tracker or make_tracker(run, console=False, tensorboard=False)
    ctx = Context(dataclasses.replace(cfg, base_model=None), tokenizer, lambda s: (np.zeros((len(s), 0)), np.ones(len(s), bool)),
                  corpus, run, tracker)
    model = pretrain(ctx)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    smiles = sample_molecules(ctx, model, None, 1000, torch.Generator().manual_seed(0))
    known = known_molecules(corpus)
    stats = quality(smiles, known)
    write_json(out / "pretraining.json", {"molecules": len(corpus), "epochs": cfg.pretrain.epochs,
                                          "lm": dataclasses.asdict(cfg.lm), **stats,
                                          "final_loss": run.read_metrics()[-1]["base/loss"]})
    return stats


def train(cfg: Config, tracker: Tracker | None = None, run_dir: RunDir | None = None,
          scorer: Scorer | None = None, corpus: list[str] | None = None) -> TrainResult:
    """Pretrain, train the experts, merge, train the router and the baselines, then measure steering.

    scorer: scores [N, K] and validity [N] of SMILES on `cfg.objectives` (default: chem.objectives);
    corpus: training SMILES (default: the first `cfg.pretrain.molecules` of MOSES train)."""
    require_cpu(cfg.device, "mol_moe", "its stages do not move models and batches to a GPU yet")
    seed_everything(cfg.seed)
    corpus = load_corpus(cfg) if corpus is None else corpus
    folder = base_folder(cfg)
    if folder is not None:
        tokenizer = hf().AutoTokenizer.from_pretrained(folder)
    else:
        tokenizer = make_smiles_tokenizer(cfg.objectives, corpus, DESCRIPTORS)
    scorer = ObjectiveScorer(cfg.objectives, cfg.data_dir) if scorer is None else scorer
    tracker = tracker or make_tracker(run_dir, console=False, tensorboard=False)
    ctx = Context(cfg, tokenizer, scorer, corpus, run_dir, tracker)
    if run_dir is not None:
        run_dir.write_config(cfg, "mol_moe", "custom")
        tokenizer.save_pretrained(run_dir.path / "models" / "tokenizer")
    methods = tuple(m for m in METHODS if (cfg.baselines or m not in ("morlhf", "rewards_in_context"))
                    and (cfg.eval.oracle or not m.startswith("oracle")))
    # progress: RL steps of every stage, then one tick per evaluated preference and method
    total = len(cfg.objectives) * cfg.expert.steps + cfg.router.steps + cfg.expert.steps * ("morlhf" in methods)
    tracker.start(total + cfg.eval.preferences * len(methods), 0, f"mol_moe (seed {cfg.seed})")
    models = build_models(ctx, methods)
    known = known_molecules(corpus)
    summary, curve = evaluate_steering(ctx, models, methods, known)
    summary = {"seed": cfg.seed, **summary, **expert_report(ctx),
               **{f"train/steps_{stage}": steps for stage, steps in ctx.steps.items()}}
    tracker.close()
    if run_dir is not None:
        write_json(run_dir.path / "steering.json", curve)
        run_dir.write_summary(summary)
    return TrainResult(summary, [], {"steering": curve, "models": models, "tokenizer": tokenizer})


def expert_report(ctx: Context) -> dict[str, float]:
    """Per objective: its expert's gain over the base in standard errors (calibration samples), the
    expert's KL to the base (nats per molecule) and the router's KL cost of routing fully to it (beta x
    KL, in the units of the normalised reward, where that expert's gain is 1)."""
    base = ctx.stats["base"]
    out: dict[str, float] = {}
    for k, name in enumerate(ctx.objectives):
        expert = ctx.stats[f"expert_{k}"]
        se = np.sqrt(base["sd"][k] ** 2 / max(base["n"], 1) + expert["sd"][k] ** 2 / max(expert["n"], 1))
        out[f"train/expert_gain_{name}"] = expert["mean"][k] - base["mean"][k]
        out[f"train/expert_gain_se_{name}"] = (expert["mean"][k] - base["mean"][k]) / max(se, 1e-12)
        out[f"train/expert_kl_{name}"] = expert.get("kl", math.nan)
        out[f"train/router_kl_cost_{name}"] = ctx.cfg.router.beta * expert.get("kl", math.nan)
    return out


def load_curve(run: RunDir) -> dict[str, Any]:
    import json

    return json.loads((run.path / "steering.json").read_text())


def load_steerable(run: pathlib.Path | str) -> tuple[Any, Any]:
    """(Mol-MoE model, tokenizer) from a finished run folder or a folder holding both."""
    transformers = hf()
    folder = pathlib.Path(run)
    models = folder / "models" if (folder / "models").is_dir() else folder
    model = transformers.AutoModelForCausalLM.from_pretrained(models / "mol_moe").eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(models / "tokenizer")
    return model, tokenizer
