"""Time from a new preference to 1,000 scored molecules, and sampling throughput.

- Mol-MoE: write the preference into the prompt, sample, score (no training, no merge).
- Rewarded Soups: average the experts' weights by w, sample, score.
- MORLHF: retrain one RLOO policy on the weighted reward (the preset's expert budget), sample, score.
- Sampling throughput in molecules per second of the Mol-MoE model: our KV-cache loop
  (`nets.causal_lm.sample`), Hugging Face `generate` (the peer, with its KV cache), and the same loop
  without a cache (a full forward pass per token).

Uses the models of a finished Mol-MoE run (default: the newest under runs/mol_moe). Writes
results/mol_moe/steering_latency.{json,md}.

    ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/steering_latency.py [RUN_FOLDER]
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
import os
import pathlib
import platform
import sys
import time

import numpy as np
import torch

from anthology.chem.objectives import ObjectiveScorer
from anthology.chem.smiles_tokenizer import preference_prompt, prompt_ids
from anthology.core.config import config_from_dict
from anthology.core.run_dir import RunDir
from anthology.methods.mol_moe import Config
from anthology.methods.mol_moe.generate import find_run
from anthology.nets.causal_lm import interpolate_mlps, mlp_parameters, sample, suppress_tokens

S = importlib.import_module("anthology.methods.mol_moe.stages")
E = importlib.import_module("anthology.methods.mol_moe.evaluation")
T = importlib.import_module("anthology.methods.mol_moe.train")
OUT = pathlib.Path(__file__).parents[1] / "results" / "mol_moe"
N = 1000
WEIGHTS = [0.1, 0.2, 0.6, 0.1]


def timed(fn):
    tick = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - tick


def load(run: pathlib.Path):
    transformers = S.hf()
    cfg = config_from_dict(Config, RunDir(run).read_config()["config"])
    models = run / "models"
    tokenizer = transformers.AutoTokenizer.from_pretrained(models / "tokenizer")

    def model(name):
        return transformers.AutoModelForCausalLM.from_pretrained(models / name).eval()

    base_dir = T.base_folder(cfg) or models / "base"  # the shipped base, or the one this run pretrained
    loaded = {"base": transformers.AutoModelForCausalLM.from_pretrained(base_dir).eval(), "mol_moe": model("mol_moe"),
              "experts": [model(f"expert_{k}") for k in range(len(cfg.objectives))]}
    corpus = T.load_corpus(cfg)
    return cfg, S.Context(cfg, tokenizer, ObjectiveScorer(cfg.objectives, cfg.data_dir), corpus, None, None), loaded


def main(run_arg: str | None = None) -> None:
    torch.set_num_threads(1)
    run = pathlib.Path(run_arg) if run_arg else find_run("runs")
    cfg, ctx, models = load(run)
    w = torch.tensor(WEIGHTS[:len(cfg.objectives)])
    w = (w / w.sum()).tolist()
    generator = torch.Generator().manual_seed(0)
    rows = []

    def steer(name, prepare, prompted):
        def go():
            model = prepare()
            smiles = E.sample_molecules(ctx, model, w if prompted else None, N, generator)
            scores, valid = ctx.scorer(smiles)
            return float((scores[valid] @ np.array(w)).mean())
        reward, seconds = timed(go)
        rows.append({"method": name, "seconds_to_1000_scored": seconds, "mean_weighted_score": reward})

    steer("mol_moe (prompt)", lambda: models["mol_moe"], True)
    steer("rewarded_soups (merge per preference)", lambda: interpolate_mlps(models["experts"], w), False)

    def retrain():
        policy = copy.deepcopy(models["base"])
        weights = torch.tensor(w)
        return S.reinforce(ctx, policy, models["base"], mlp_parameters(policy), cfg.expert, S.bos_prompts(ctx),
                           lambda scores, _v, _c: torch.as_tensor(scores, dtype=torch.float) @ weights, "morlhf")
    steer(f"morlhf (retrain, {cfg.expert.steps} RLOO steps)", retrain, False)

    # sampling throughput of the Mol-MoE model, molecules per second (no scoring)
    moe, tokenizer = models["mol_moe"], ctx.tokenizer
    prompt = torch.tensor([prompt_ids(tokenizer, preference_prompt(cfg.objectives, w))] * 250)
    throughput = []
    _, ours = timed(lambda: [sample(moe, prompt, cfg.max_new_tokens, tokenizer.eos_token_id, tokenizer.pad_token_id,
                                      generator, suppress=ctx.suppress) for _ in range(2)])
    throughput.append({"sampler": "anthology sample (KV cache)", "molecules_per_second": 500 / ours})
    bad = [[i] for i in ctx.suppress.tolist()]
    with torch.no_grad():
        _, hf = timed(lambda: [moe.generate(prompt, do_sample=True, max_new_tokens=cfg.max_new_tokens, top_p=1.0,
                                            top_k=0, bad_words_ids=bad, pad_token_id=tokenizer.pad_token_id,
                                            eos_token_id=tokenizer.eos_token_id) for _ in range(2)])
    throughput.append({"sampler": "transformers generate (KV cache, peer)", "molecules_per_second": 500 / hf})
    _, nocache = timed(lambda: sample_without_cache(moe, prompt[:50], cfg.max_new_tokens, tokenizer, ctx.suppress, generator))
    throughput.append({"sampler": "full forward per token (no cache)", "molecules_per_second": 50 / nocache})
    result = {"command": f"ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/steering_latency.py {run_arg or ''}".strip(),
              "run": str(run), "preset_lm": dataclasses.asdict(cfg.lm), "weights": w, "molecules": N,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, 1 torch thread, torch {torch.__version__}",
              "steering": rows, "sampling": throughput,
              "ratio_ours_vs_hf_generate": throughput[0]["molecules_per_second"] / throughput[1]["molecules_per_second"]}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "steering_latency.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Steering latency and sampling throughput", "", f"`{result['command']}` ({result['machine']})", "",
             f"Time from a new preference w = {[round(x, 3) for x in w]} to {N} scored molecules:", "",
             "| method | seconds | mean weighted score |", "|---|---|---|"]
    lines += [f"| {r['method']} | {r['seconds_to_1000_scored']:.1f} | {r['mean_weighted_score']:.3f} |" for r in rows]
    lines += ["", "Sampling throughput of the Mol-MoE model (250 molecules a batch, no scoring):", "",
              "| sampler | molecules / s |", "|---|---|"]
    lines += [f"| {t['sampler']} | {t['molecules_per_second']:.0f} |" for t in throughput]
    lines += ["", f"Ours / transformers generate: {result['ratio_ours_vs_hf_generate']:.2f}x."]
    (OUT / "steering_latency.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


@torch.no_grad()
def sample_without_cache(model, prompt, max_new_tokens, tokenizer, suppress, generator):
    tokens = prompt
    done = torch.zeros(len(prompt), dtype=torch.bool)
    for _ in range(max_new_tokens):
        logits = suppress_tokens(model(input_ids=tokens).logits[:, -1].float(), suppress)
        token = torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]
        token = torch.where(done, torch.full_like(token, tokenizer.pad_token_id), token)
        tokens = torch.cat([tokens, token[:, None]], 1)
        done |= token == tokenizer.eos_token_id
        if bool(done.all()):
            break
    return tokens


if __name__ == "__main__":
    main(*sys.argv[1:])
