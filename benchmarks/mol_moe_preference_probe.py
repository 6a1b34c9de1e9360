"""Where can a router read the preference? A linear probe (ridge regression) from each layer's MLP input
at molecule tokens to the prompt's weights, on the shipped base model: the R^2 on held-out molecules,
per layer and objective. A Mixtral router is linear in exactly this input.
Writes results/mol_moe/preference_probe.{json,md}.

    .venv/bin/python benchmarks/mol_moe_preference_probe.py [N_MOLECULES]
"""

from __future__ import annotations

import importlib
import json
import pathlib
import sys

import numpy as np
import torch

from anthology.chem.data import moses_smiles
from anthology.chem.smiles_tokenizer import encode_smiles, preference_prompt
from anthology.methods.mol_moe import PRESETS
from anthology.nets.causal_lm import mlp_inputs

S = importlib.import_module("anthology.methods.mol_moe.stages")
E = importlib.import_module("anthology.methods.mol_moe.evaluation")
T = importlib.import_module("anthology.methods.mol_moe.train")
OUT = pathlib.Path(__file__).parents[1] / "results" / "mol_moe"


def main(n: int = 400) -> None:
    torch.set_num_threads(1)
    transformers = S.hf()
    base = transformers.AutoModelForCausalLM.from_pretrained(T.SHIPPED_BASE).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(T.SHIPPED_BASE)
    objectives = PRESETS["quick"].objectives
    molecules = moses_smiles("test", limit=n)
    weights = S.random_preferences(n, len(objectives), 1.0, torch.Generator().manual_seed(0))
    rows = [encode_smiles(tokenizer, s, preference_prompt(objectives, w.tolist())) for s, w in zip(molecules, weights, strict=True)]
    ids, attention, mask = S.batch_of(tokenizer, rows, [len(objectives) + 1] * n)
    keep = mask.bool()
    sequence = torch.arange(n)[:, None].expand_as(keep)[keep].numpy()
    train = sequence < int(0.75 * n)
    targets = weights.numpy()[sequence]
    result = {"command": f".venv/bin/python benchmarks/mol_moe_preference_probe.py {n}", "molecules": n,
              "objectives": list(objectives), "r2": []}
    for hidden in mlp_inputs(base, ids, attention):
        x = hidden[keep].numpy()
        x_mean, y_mean = x[train].mean(0), targets[train].mean(0)
        a = x[train] - x_mean
        coef = np.linalg.solve(a.T @ a + 1.0 * np.eye(a.shape[1]), a.T @ (targets[train] - y_mean))
        pred = (x[~train] - x_mean) @ coef + y_mean
        truth = targets[~train]
        r2 = 1 - ((pred - truth) ** 2).sum(0) / ((truth - truth.mean(0)) ** 2).sum(0)
        result["r2"].append(np.round(r2, 3).tolist())
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "preference_probe.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Where the preference is readable (shipped base)", "", f"`{result['command']}`", "",
             "Held-out R^2 of a ridge regression from each layer's MLP input at molecule tokens to the prompt's "
             "weight on each objective (the router's input; 1 = fully readable, <= 0 = not at all):", "",
             "| layer | " + " | ".join(objectives) + " |", "|---" * (len(objectives) + 1) + "|"]
    lines += [f"| {i} | " + " | ".join(f"{v:.2f}" for v in r2) + " |" for i, r2 in enumerate(result["r2"])]
    (OUT / "preference_probe.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
