"""Where can a router read the preference? A linear probe (ridge regression) from each layer's MLP input
at molecule tokens to the prompt's weights, on a base model (default: the shipped one): the R^2 on
held-out molecules, per layer and objective. A Mixtral router is linear in exactly this input. Also
the validity of 512 samples after `<s>` alone and after three preference prompts: does the base still
write molecules after a prompt? Writes results/mol_moe/preference_probe[_NAME].{json,md}.

    .venv/bin/python benchmarks/mol_moe_preference_probe.py [N_MOLECULES [BASE_FOLDER NAME]]

`preference_probe_plain_base.*`: a base pretrained as the paper's, on `<s>SMILES</s>` only
(`python -m anthology.methods.mol_moe.pretrain --out plain --config.pretrain.prefix none`). (`preference_probe_prefixed_base.*` is the same probe on
our first base, pretrained with random preference prefixes in the one-token-per-weight format of that time.)

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
from anthology.chem.scoring import to_mol
from anthology.chem.smiles_tokenizer import encode_smiles, preference_prompt, prompt_ids
from anthology.methods.mol_moe import PRESETS
from anthology.nets.causal_lm import mlp_inputs, pad_batch

S = importlib.import_module("anthology.methods.mol_moe.stages")
E = importlib.import_module("anthology.methods.mol_moe.evaluation")
T = importlib.import_module("anthology.methods.mol_moe.train")
OUT = pathlib.Path(__file__).parents[1] / "results" / "mol_moe"


def main(n: int = 400, folder: str | None = None, name: str | None = None) -> None:
    torch.set_num_threads(1)
    transformers = S.hf()
    folder = folder or T.SHIPPED_BASE
    base = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    objectives = PRESETS["quick"].objectives
    molecules = moses_smiles("test", limit=n)
    weights = S.random_preferences(n, len(objectives), 1.0, torch.Generator().manual_seed(0))
    rows = [encode_smiles(tokenizer, s, preference_prompt(objectives, w.tolist())) for s, w in zip(molecules, weights, strict=True)]
    starts = [len(prompt_ids(tokenizer, preference_prompt(objectives, w.tolist()))) for w in weights]
    ids, attention, mask = pad_batch(rows, starts, tokenizer.pad_token_id)
    keep = mask.bool()
    sequence = torch.arange(n)[:, None].expand_as(keep)[keep].numpy()
    train = sequence < int(0.75 * n)
    targets = weights.numpy()[sequence]
    args = f"{n}" + (f" {folder} {name}" if name else "")
    result = {"command": f".venv/bin/python benchmarks/mol_moe_preference_probe.py {args}", "molecules": n,
              "objectives": list(objectives), "r2": [], "validity": validity_after_prompts(base, tokenizer, objectives)}
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
    stem = f"preference_probe_{name}" if name else "preference_probe"
    (OUT / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Where the preference is readable ({name or 'shipped'} base)", "", f"`{result['command']}`", "",
             "Held-out R^2 of a ridge regression from each layer's MLP input at molecule tokens to the prompt's "
             "weight on each objective (the router's input; 1 = fully readable, <= 0 = not at all):", "",
             "| layer | " + " | ".join(objectives) + " |", "|---" * (len(objectives) + 1) + "|"]
    lines += [f"| {i} | " + " | ".join(f"{v:.2f}" for v in r2) + " |" for i, r2 in enumerate(result["r2"])]
    lines += ["", "Validity of 512 samples after each prompt:", "", "| prompt | validity |", "|---|---|"]
    lines += [f"| `{prompt}` | {v:.3f} |" for prompt, v in result["validity"].items()]
    (OUT / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def validity_after_prompts(base, tokenizer, objectives) -> dict[str, float]:
    ctx = S.Context(PRESETS["quick"], tokenizer, None, [], None, None)
    generator = torch.Generator().manual_seed(0)
    out = {}
    for w in (None, (1.0, 0.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0), (0.25, 0.25, 0.25, 0.25)):
        smiles = E.sample_molecules(ctx, base, w, 512, generator)
        prompt = "<s>" if w is None else preference_prompt(objectives, list(w))
        out[prompt] = float(np.mean([to_mol(s) is not None for s in smiles]))
    return out


if __name__ == "__main__":
    main(*(int(a) if i == 0 else a for i, a in enumerate(sys.argv[1:])))
