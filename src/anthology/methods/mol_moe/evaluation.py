"""Mol-MoE's steering evaluation: sampling under a preference for each method, and how well the achieved
mean scores follow the prompted weights (MAE, Pearson r, weighted and top-k score, hypervolume, sample
quality)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
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

from .networks import oracle_gates, prompted_gate_statistics
from .stages import Context, generate, prompts_for, random_preferences

# ----------------------------------------------------------------------------- evaluation


@contextlib.contextmanager
def steering(ctx: Context, method: str, models: dict[str, Any], weights: Sequence[float]) -> Iterator[tuple[Any, Any]]:
    """The model that answers preference w for each method, and the weights its prompt carries (None:
    the prompt is `<s>`). Rewards-in-Context is prompted with the scaled targets lo_i + w_i (hi_i - lo_i)
    in score space (it conditions on scores); the oracle mixtures are the merged model with its gates
    set to w at every layer or at layer 0 only (`networks.oracle_gates`), prompted with `<s>` as the
    experts were trained."""
    if method == "rewarded_soups":
        yield interpolate_mlps(models["experts"], weights), None
    elif method == "morlhf":
        yield models["morlhf"], None
    elif method == "rewards_in_context":
        lo, span = ctx.ranges()
        yield models[method], np.clip(lo + np.asarray(weights) * span, 0.0, 1.0).tolist()
    elif method in ORACLES:
        with oracle_gates(models["mol_moe_init_router"], weights, ORACLES[method]) as moe:
            yield moe, None
    else:
        yield models[method], list(weights)


ORACLES = {"oracle_gates": None, "oracle_gates_layer0": [0]}
PROMPTED_MOE = ("mol_moe", "mol_moe_init_router")


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
                     generator: torch.Generator, batch: int = 256, top_p: float | None = None) -> list[str]:
    """n SMILES from `model`, prompted with preference `weights` (or `<s>` when None), at the training
    sampler's top-p unless `top_p` is given."""
    prompt = prompt_ids(ctx.tokenizer, BOS if weights is None else preference_prompt(ctx.objectives, list(weights)))
    return sample_smiles(model, ctx.tokenizer, prompt, n, generator, ctx.suppress, ctx.cfg.max_new_tokens,
                         ctx.cfg.temperature, ctx.cfg.top_p if top_p is None else top_p, batch)


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
    """For each method and each Dirichlet preference: sample at top-p `eval.top_p`, score, and compare
    the achieved mean scores with the prompted weights: the paper's MAE against scaled targets
    (|w_i - (mean s_i - lo_i) / (hi_i - lo_i)|, `Context.ranges`) and Pearson r per objective with a
    bootstrap interval over preferences, plus the weighted reward, sample quality and the hypervolume of
    the achieved score vectors. Prompted mixtures also get the vertex check (one-hot w: the normalised
    score on that objective, 1 = its expert) and per-layer gate statistics."""
    cfg = ctx.cfg.eval
    generator = ctx.generator("mol_moe")
    if weights is None:
        weights = random_preferences(cfg.preferences, len(ctx.objectives), 1.0, torch.Generator().manual_seed(10_000))
    summary: dict[str, float] = {}
    curve: dict[str, Any] = {"weights": weights.tolist(), "objectives": list(ctx.objectives)}
    lo, span = ctx.ranges()
    w_arr = weights.numpy()
    for method in methods:
        achieved, rewards, rewards_raw, top, qualities = [], [], [], [], []
        for w in weights:
            with steering(ctx, method, models, w.tolist()) as (model, prompt):
                smiles = sample_molecules(ctx, model, prompt, cfg.samples, generator, top_p=cfg.top_p)
            scores, valid = ctx.scorer(smiles)
            mean = scores[valid].mean(0) if valid.any() else np.zeros(len(ctx.objectives))
            achieved.append(mean)
            weighted = scores @ w.numpy()
            rewards.append(float((ctx.normalised(scores) @ w.numpy()).mean()))
            rewards_raw.append(float(weighted.mean()))
            top.append(float(np.sort(weighted)[-cfg.top_k:].mean()))
            qualities.append(quality(smiles, known))
            ctx.log("eval", len(qualities), {"method_index": float(methods.index(method))})
        achieved_arr = np.array(achieved)
        scaled = (achieved_arr - lo) / span
        curve[method] = achieved_arr.tolist()
        m: dict[str, float] = {}  # this method's metrics, stored as eval/<method>/<name>
        for k, name in enumerate(ctx.objectives):
            m[f"mae_{name}"] = float(np.abs(w_arr[:, k] - scaled[:, k]).mean())
            m[f"mae_raw_{name}"] = float(np.abs(w_arr[:, k] - achieved_arr[:, k]).mean())
            m[f"r_{name}"] = pearson(w_arr[:, k], achieved_arr[:, k])
            m[f"mean_{name}"] = float(achieved_arr[:, k].mean())
        m["mae"] = float(np.mean([m[f"mae_{n}"] for n in ctx.objectives]))
        m["mae_raw"] = float(np.mean([m[f"mae_raw_{n}"] for n in ctx.objectives]))
        m["r"] = mean_r(w_arr, achieved_arr)
        m["r_low"], m["r_high"] = bootstrap_r(w_arr, achieved_arr, cfg.bootstrap, ctx.cfg.seed)
        m["reward"] = float(np.mean(rewards))
        m["reward_raw"] = float(np.mean(rewards_raw))
        m["top_reward"] = float(np.mean(top))
        m["hypervolume"] = hypervolume(achieved_arr)
        for key in qualities[0]:
            values = [q[key] for q in qualities if not math.isnan(q[key])]
            m[key] = float(np.mean(values)) if values else math.nan
        if method in PROMPTED_MOE:
            m.update(vertices(ctx, models[method], generator))
            m.update(gate_report(ctx, models[method], weights, generator))
        summary.update({f"eval/{method}/{key}": value for key, value in m.items()})
    return summary, curve


def mean_r(w: np.ndarray, achieved: np.ndarray) -> float:
    """Pearson r between prompted weight and achieved mean score, averaged over objectives."""
    return float(np.nanmean([pearson(w[:, k], achieved[:, k]) for k in range(w.shape[1])]))


def bootstrap_r(w: np.ndarray, achieved: np.ndarray, resamples: int, seed: int) -> tuple[float, float]:
    """95% percentile interval of `mean_r` over preferences resampled with replacement."""
    rng = np.random.default_rng(seed)
    draws = [mean_r(w[idx], achieved[idx]) for idx in rng.integers(0, len(w), size=(resamples, len(w)))]
    return float(np.nanpercentile(draws, 2.5)), float(np.nanpercentile(draws, 97.5))


def vertices(ctx: Context, model: Any, generator: torch.Generator) -> dict[str, float]:
    """The vertex check: prompted with a one-hot w, the normalised score on that objective (1: its expert's
    mean, 0: the base's)."""
    n_obj = len(ctx.objectives)
    out = {}
    for k, name in enumerate(ctx.objectives):
        smiles = sample_molecules(ctx, model, [1.0 if j == k else 0.0 for j in range(n_obj)], ctx.cfg.eval.samples,
                                  generator, top_p=ctx.cfg.top_p)
        scores, valid = ctx.scorer(smiles)
        out[f"vertex_{name}"] = float(ctx.normalised(scores[valid])[:, k].mean()) if valid.any() else math.nan
    out["vertex"] = float(np.nanmean([out[f"vertex_{n}"] for n in ctx.objectives]))
    return out


def gate_report(ctx: Context, moe: Any, weights: torch.Tensor, generator: torch.Generator,
                per_preference: int = 16) -> dict[str, float]:
    """Per layer, the gates' entropy and their correlation with the prompted weights
    (`networks.gate_statistics`) on `per_preference` molecules sampled for each test preference."""
    w = weights.repeat_interleave(per_preference, 0)
    prompts = prompts_for(ctx, w)
    tokens, _ = generate(ctx, moe, prompts, generator)
    return prompted_gate_statistics(moe, prompts, tokens, ctx.tokenizer.eos_token_id, w)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    if np.std(x) < 1e-12 or np.std(y) < 1e-12:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])
