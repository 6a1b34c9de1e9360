"""Test-time steering: molecules for a new preference from a trained Mol-MoE, without retraining.

    anthology generate mol_moe --weights qed=0.7,sa=0.3 -n 1000 [--run FOLDER] [--out FILE.csv]

The preference becomes the prompt `<qed=0.70><sa=0.30><tpsa=0.00><seh=0.00><s>`; unnamed objectives get
weight 0 and the weights are normalised to sum to one. The CSV has one row per sampled molecule: the
SMILES, whether it parses, its score on each objective and the weighted score.
"""

from __future__ import annotations

import csv
import dataclasses
import pathlib
import time

import numpy as np
import torch

from anthology.chem.objectives import ObjectiveScorer
from anthology.chem.smiles_tokenizer import (
    objectives_of,
    parse_weights,
    preference_prompt,
    prompt_ids,
)
from anthology.core.config import validate
from anthology.core.errors import AnthologyError

from .evaluation import sample_smiles
from .networks import prompt_only_ids
from .train import load_steerable


@dataclasses.dataclass(frozen=True)
class GenerateConfig:
    weights: str
    """Preference as name=value pairs, e.g. qed=0.7,sa=0.3 (objectives: qed, sa, tpsa, seh)."""
    n: int = 1000
    """Molecules to sample."""
    run: str | None = None
    """A finished Mol-MoE run folder (default: the newest under --runs)."""
    runs: str = "runs"
    out: str | None = None
    """CSV to write (default: generated/mol_moe-<time>.csv); an existing file is never overwritten."""
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 64
    seed: int = 0
    data_dir: str | None = None
    """Folder with the sEH proxy weights (default: $ANTHOLOGY_DATA, then the user cache)."""

    def __post_init__(self) -> None:
        validate(self, temperature=">0", top_p="(0,1]", seed=">=0")


def check_writable(out: pathlib.Path) -> None:
    """Fail before any sampling when the CSV cannot be created (a read-only or missing-permission folder)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = out.with_name(f".{out.name}.probe")
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as err:
        raise AnthologyError(f"cannot write {out} ({err.strerror or err}); choose another --out") from None


def find_run(runs: str | pathlib.Path) -> pathlib.Path:
    """The newest run folder under `runs/mol_moe` (train runs and reproduction jobs) with a trained Mol-MoE."""
    found = sorted(pathlib.Path(runs, "mol_moe").glob("**/models/mol_moe/config.json"),
                   key=lambda p: p.stat().st_mtime)
    if not found:
        raise AnthologyError(f"no trained Mol-MoE under {pathlib.Path(runs, 'mol_moe')}; train one with "
                             "'anthology train mol_moe --preset demo' or pass --run FOLDER")
    return found[-1].parents[2]


def generate(cfg: GenerateConfig) -> pathlib.Path:
    """Sample `cfg.n` molecules for the preference, score them and write the CSV; returns its path."""
    run = pathlib.Path(cfg.run) if cfg.run else find_run(cfg.runs)
    if not (run / "models" / "mol_moe" / "config.json").is_file() and not (run / "mol_moe" / "config.json").is_file():
        raise AnthologyError(f"{run} holds no trained Mol-MoE (models/mol_moe); pass a finished run folder")
    out = pathlib.Path(cfg.out or f"generated/mol_moe-{time.strftime('%Y%m%d-%H%M%S')}.csv")
    if out.exists():
        raise AnthologyError(f"{out} exists; results are never overwritten: choose another --out")
    check_writable(out)
    model, tokenizer = load_steerable(run)
    objectives = objectives_of(tokenizer)
    weights = parse_weights(cfg.weights, objectives)
    w = [weights[o] for o in objectives]
    prompt = prompt_ids(tokenizer, preference_prompt(objectives, w))
    longest = model.config.max_position_embeddings - len(prompt)
    if cfg.max_new_tokens > longest:
        raise AnthologyError(f"--max-new-tokens {cfg.max_new_tokens} is longer than this model can write "
                             f"({longest} tokens after its {len(prompt)}-token prompt)")
    smiles = sample_smiles(model, tokenizer, prompt, cfg.n, torch.Generator().manual_seed(cfg.seed),
                           prompt_only_ids(tokenizer), cfg.max_new_tokens, cfg.temperature, cfg.top_p)
    scores, valid = ObjectiveScorer(objectives, cfg.data_dir)(smiles)
    weighted = scores @ np.array(w)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("x", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "valid", *objectives, "weighted_score"])
        for s, ok, row, total in zip(smiles, valid, scores, weighted, strict=True):
            writer.writerow([s, int(ok), *(f"{v:.4f}" for v in row), f"{total:.4f}"])
    return out
