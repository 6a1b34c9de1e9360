"""Mol-MoE's steering evaluation: sampling under a preference for each method, and how well the achieved
mean scores follow the prompted weights (MAE, Pearson r, weighted and top-k score, hypervolume, sample
quality)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from anthology.chem.scoring import canonical_smiles, sample_metrics
from anthology.chem.smiles_tokenizer import (
    BOS,
    decode_smiles,
    preference_prompt,
    prompt_ids,
)
from anthology.core.hypervolume import hypervolume
from anthology.nets.causal_lm import (
    interpolate_mlps,
    sample,
)

from .stages import Context, random_preferences

# ----------------------------------------------------------------------------- evaluation


def steering_model(method: str, models: dict[str, Any], weights: Sequence[float]) -> tuple[Any, bool]:
    """The model that answers preference w for each method, and whether w goes in its prompt."""
    if method == "rewarded_soups":
        return interpolate_mlps(models["experts"], weights), False
    if method == "morlhf":
        return models["morlhf"], False
    return models[method], True


def sample_smiles(model: Any, tokenizer: Any, prompt: list[int], n: int, generator: torch.Generator,
                  suppress: torch.Tensor, max_new_tokens: int = 64, temperature: float = 1.0, top_p: float = 1.0,
                  batch: int = 256) -> list[str]:
    """n SMILES sampled after the prompt ids, in batches, prompt-only ids suppressed."""
    out: list[str] = []
    while len(out) < n:
        m = min(batch, n - len(out))
        tokens = sample(model, torch.tensor([prompt] * m), max_new_tokens, tokenizer.eos_token_id,
                        tokenizer.pad_token_id, generator, temperature, top_p, suppress)
        out += [decode_smiles(tokenizer, row) for row in tokens.tolist()]
    return out


def sample_molecules(ctx: Context, model: Any, weights: Sequence[float] | None, n: int,
                     generator: torch.Generator, batch: int = 256) -> list[str]:
    """n SMILES from `model`, prompted with preference `weights` (or `<s>` when None)."""
    prompt = prompt_ids(ctx.tokenizer, BOS if weights is None else preference_prompt(ctx.objectives, list(weights)))
    return sample_smiles(model, ctx.tokenizer, prompt, n, generator, ctx.suppress, ctx.cfg.max_new_tokens,
                         ctx.cfg.temperature, ctx.cfg.top_p, batch)


def known_molecules(corpus: Sequence[str]) -> set[str]:
    """Canonical SMILES of the corpus, what novelty is measured against."""
    return {c for c in (canonical_smiles(s) for s in corpus) if c}


def quality(smiles: list[str], known: set[str]) -> dict[str, float]:
    """Validity, uniqueness, novelty against the pretraining corpus and internal diversity (chem.scoring)."""
    metrics = sample_metrics(smiles, known=known)
    return {"validity": metrics["validity"], "uniqueness": metrics["uniqueness"], "novelty": metrics["novelty"],
            "diversity": metrics["internal_diversity"]}


def evaluate_steering(ctx: Context, models: dict[str, Any], methods: Sequence[str], known: set[str],
                      weights: torch.Tensor | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """For each method and each Dirichlet preference: sample, score, and compare the achieved mean
    scores with the prompted weights (MAE and Pearson r per objective, as the paper's steerability),
    plus the weighted reward, sample quality and the hypervolume of the achieved score vectors."""
    cfg = ctx.cfg.eval
    generator = ctx.generator("mol_moe")
    if weights is None:
        weights = random_preferences(cfg.preferences, len(ctx.objectives), 1.0, torch.Generator().manual_seed(10_000))
    summary: dict[str, float] = {}
    curve: dict[str, Any] = {"weights": weights.tolist(), "objectives": list(ctx.objectives)}
    for method in methods:
        achieved, rewards, top, qualities = [], [], [], []
        for w in weights:
            model, prompted = steering_model(method, models, w.tolist())
            smiles = sample_molecules(ctx, model, w.tolist() if prompted else None, cfg.samples, generator)
            scores, valid = ctx.scorer(smiles)
            mean = scores[valid].mean(0) if valid.any() else np.zeros(len(ctx.objectives))
            achieved.append(mean)
            weighted = scores @ w.numpy()
            rewards.append(float(weighted.mean()))
            top.append(float(np.sort(weighted)[-cfg.top_k:].mean()))
            qualities.append(quality(smiles, known))
            ctx.log("eval", len(qualities), {"method_index": float(methods.index(method))})
        achieved_arr, w_arr = np.array(achieved), weights.numpy()
        curve[method] = achieved_arr.tolist()
        m: dict[str, float] = {}  # this method's metrics, stored as eval/<method>/<name>
        for k, name in enumerate(ctx.objectives):
            m[f"mae_{name}"] = float(np.abs(w_arr[:, k] - achieved_arr[:, k]).mean())
            m[f"r_{name}"] = pearson(w_arr[:, k], achieved_arr[:, k])
            m[f"mean_{name}"] = float(achieved_arr[:, k].mean())
        m["mae"] = float(np.mean([m[f"mae_{n}"] for n in ctx.objectives]))
        m["r"] = float(np.nanmean([m[f"r_{n}"] for n in ctx.objectives]))
        m["reward"] = float(np.mean(rewards))
        m["top_reward"] = float(np.mean(top))
        m["hypervolume"] = hypervolume(achieved_arr)
        for key in qualities[0]:
            values = [q[key] for q in qualities if not math.isnan(q[key])]
            m[key] = float(np.mean(values)) if values else math.nan
        summary.update({f"eval/{method}/{key}": value for key, value in m.items()})
    return summary, curve


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    if np.std(x) < 1e-12 or np.std(y) < 1e-12:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])
