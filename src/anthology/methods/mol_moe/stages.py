"""Mol-MoE's models and training stages: the shared context, the base, RLOO experts, MORLHF, the router
(initialisation from hidden states and RLOO on the gates) and Rewards-in-Context. `train.py` runs them
in order; each stage is a `save_pretrained` folder under `<run>/models/<stage>/`."""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from anthology.chem.smiles_tokenizer import (
    BOS,
    WEIGHT_LEVELS,
    decode_smiles,
    encode_smiles,
    preference_prompt,
    prompt_ids,
)
from anthology.core.errors import require
from anthology.core.run_dir import RunDir
from anthology.nets.causal_lm import (
    fit_lm,
    mlp_inputs,
    mlp_parameters,
    pad_batch,
    router_parameters,
    sample,
)
from anthology.rl.rloo import Prompts, Sampling, rloo_finetune
from anthology.tracking import Tracker

from .config import Config, RLConfig
from .networks import FixedRows, make_base, preference_rows, prompt_only_ids

Scorer = Callable[[Sequence[str]], tuple[np.ndarray, np.ndarray]]
METHODS = ("mol_moe", "rewarded_soups", "morlhf", "rewards_in_context", "mol_moe_init_router")
STAGES = ("base", *(f"expert_{i}" for i in range(8)), "morlhf", "mol_moe_init_router", "mol_moe", "rewards_in_context")


@dataclasses.dataclass
class Context:
    """What every stage needs: config, tokenizer, scorer, corpus, run folder, tracker."""

    cfg: Config
    tokenizer: Any
    scorer: Scorer
    corpus: list[str]
    run: RunDir | None
    tracker: Tracker | None

    @property
    def objectives(self) -> tuple[str, ...]:
        return self.cfg.objectives

    @functools.cached_property
    def suppress(self) -> torch.Tensor:
        return prompt_only_ids(self.tokenizer, self.objectives)

    @functools.cached_property
    def sampling(self) -> Sampling:
        """How every stage draws molecules (and RL scores them)."""
        return Sampling(self.cfg.max_new_tokens, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id,
                        self.cfg.temperature, self.cfg.top_p, self.suppress)

    def generator(self, stage: str) -> torch.Generator:
        """An independent, seeded stream per stage: a resumed run draws what an uninterrupted one does."""
        return torch.Generator().manual_seed(self.cfg.seed * 1000 + STAGES.index(stage))

    progress: int = 0
    """RL steps and evaluated preferences so far, over every stage (the progress bar's position)."""

    def log(self, stage: str, step: int, metrics: dict[str, float], advance: int = 1) -> None:
        """Metrics keyed `<stage>/<name>`, with the stage's own step as `<stage>/step`, at the overall
        progress (RL steps and evaluated preferences so far)."""
        self.progress += advance
        if self.tracker is not None:
            self.tracker.log(self.progress, {f"{stage}/step": float(step), **{f"{stage}/{k}": v for k, v in metrics.items()}})


# ----------------------------------------------------------------------------- models and stages


def hf() -> Any:
    """`transformers`, without its progress bars (a run shows its own progress)."""
    transformers = require("transformers", "llm")
    transformers.utils.logging.disable_progress_bar()
    return transformers


def stage(ctx: Context, name: str, build: Callable[[], Any]) -> Any:
    """The model of a stage: loaded when a previous run saved it, else built and saved."""
    transformers = hf()
    folder = None if ctx.run is None else ctx.run.path / "models" / name
    if folder is not None and (folder / "config.json").is_file():
        return transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    model = build()
    if folder is not None:
        model.save_pretrained(folder)
    return model


def random_preferences(n: int, k: int, alpha: float, generator: torch.Generator) -> torch.Tensor:
    """n Dirichlet(alpha) weight vectors [n, k], rounded to the two decimals a prompt can carry."""
    w = _gamma(n, k, alpha, generator)  # Dirichlet = normalised Gamma(alpha) draws
    w = w / w.sum(-1, keepdim=True)
    return torch.round(w * (WEIGHT_LEVELS - 1)) / (WEIGHT_LEVELS - 1)


def _gamma(n: int, k: int, alpha: float, generator: torch.Generator) -> torch.Tensor:
    # torch's Gamma sampler takes no generator: draw through numpy seeded from ours
    rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    return torch.from_numpy(rng.gamma(alpha, 1.0, size=(n, k))).float()


def supervised(ctx: Context, model: Any, examples: list[tuple[str, str]], epochs: int, lr: float, stage_name: str,
               generator: torch.Generator) -> Any:
    """Next-token training on (prompt, SMILES) pairs (`nets.causal_lm.fit_lm`), the preference-token
    embeddings held fixed."""
    rows = [encode_smiles(ctx.tokenizer, smiles, prompt) for prompt, smiles in examples]
    starts = [len(prompt_ids(ctx.tokenizer, prompt)) for prompt, _ in examples]
    fixed = FixedRows(model, preference_rows(ctx.tokenizer, ctx.objectives))
    return fit_lm(model, rows, starts, ctx.tokenizer.pad_token_id, epochs, lr, ctx.cfg.pretrain.batch_size,
                  ctx.cfg.pretrain.warmup_steps, generator, after_step=fixed.restore,
                  log=lambda step, loss: ctx.log(stage_name, step, {"loss": loss}, advance=0))


def pretrain(ctx: Context) -> Any:
    """The base model: SMILES of the corpus after `<s>`, half of them after a random preference prompt."""
    generator = ctx.generator("base")
    model = make_base(ctx.cfg, ctx.tokenizer, generator)
    weights = random_preferences(len(ctx.corpus), len(ctx.objectives), 1.0, generator)
    prefixed = torch.rand(len(ctx.corpus), generator=generator) < ctx.cfg.pretrain.preference_prefix
    examples = [(preference_prompt(ctx.objectives, weights[i].tolist()) if prefixed[i] else BOS, s)
                for i, s in enumerate(ctx.corpus)]
    return supervised(ctx, model, examples, ctx.cfg.pretrain.epochs, ctx.cfg.pretrain.lr, "base", generator)


def generate(ctx: Context, model: Any, prompts: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, list[str]]:
    s = ctx.sampling
    tokens = sample(model, prompts, s.max_new_tokens, s.eos_id, s.pad_id, generator, s.temperature, s.top_p,
                    s.suppress)
    return tokens, [decode_smiles(ctx.tokenizer, row) for row in tokens.tolist()]


def reinforce(ctx: Context, policy: Any, reference: Any, trainable: list[torch.nn.Parameter], rl: RLConfig,
              make_prompts: Prompts, reward: Callable[[np.ndarray, torch.Tensor], torch.Tensor], stage_name: str) -> Any:
    """RLOO (`rl.rloo.rloo_finetune`) on the molecules' scores: reward(scores [N, K], context of each
    sample [N, ...]) -> [N], sampled as `generate` draws."""
    def score(tokens: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        scores, valid = ctx.scorer([decode_smiles(ctx.tokenizer, row) for row in tokens.tolist()])
        return reward(scores, context), {"validity": float(valid.mean())}

    return rloo_finetune(policy, reference, trainable, rl, ctx.sampling, make_prompts, score, ctx.generator(stage_name),
                         lambda step, metrics: ctx.log(stage_name, step, metrics))


def bos_prompts(ctx: Context) -> Prompts:
    def make(n: int, _generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.full((n, 1), ctx.tokenizer.bos_token_id), torch.zeros(n, 1)
    return make


def preference_prompts(ctx: Context) -> Prompts:
    """Dirichlet preferences and their prompts: the sampler the original release never fed to the router."""
    def make(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        w = random_preferences(n, len(ctx.objectives), ctx.cfg.dirichlet_alpha, generator)
        return prompts_for(ctx, w), w
    return make


def prompts_for(ctx: Context, weights: torch.Tensor) -> torch.Tensor:
    return torch.tensor([prompt_ids(ctx.tokenizer, preference_prompt(ctx.objectives, w.tolist())) for w in weights])


def train_expert(ctx: Context, base: Any, k: int, rl: RLConfig | None = None, name: str | None = None) -> Any:
    """RLOO fine-tune of the base's MLP blocks on objective k (a stated deviation: the paper tunes all
    weights; tuning only MLPs makes the merge exact: one-hot routing reproduces the expert)."""
    policy = copy.deepcopy(base)
    return reinforce(ctx, policy, base, mlp_parameters(policy), rl or ctx.cfg.expert, bos_prompts(ctx),
                     lambda scores, _c: torch.as_tensor(scores[:, k], dtype=torch.float), name or f"expert_{k}")


def train_morlhf(ctx: Context, base: Any) -> Any:
    """MORLHF: one RLOO policy on the mean of the objectives (same parameters and budget as an expert)."""
    policy = copy.deepcopy(base)
    return reinforce(ctx, policy, base, mlp_parameters(policy), ctx.cfg.expert, bos_prompts(ctx),
                     lambda scores, _c: torch.as_tensor(scores.mean(1), dtype=torch.float), "morlhf")


def router_init(ctx: Context, base: Any) -> list[torch.Tensor]:
    """Gate rows from hidden states (mergekit `gate_mode: hidden`): per layer, the direction by which
    expert k's one-hot preference prompt moves the MLP inputs over corpus molecules (whitened by their
    covariance), scaled so that
    the gate logits vary with standard deviation `router_init_std` over those tokens (a softmax that
    is neither uniform nor saturated: saturated gates pass no gradient). The directions are made
    orthogonal to the mean hidden state, so that the routing of an average token is balanced."""
    n_obj = len(ctx.objectives)
    molecules = ctx.corpus[:64]
    means, tokens = [], []  # [K][layer] -> [d]; [K][layer] -> [tokens, d]
    for k in range(n_obj):
        prompt = preference_prompt(ctx.objectives, [1.0 if j == k else 0.0 for j in range(n_obj)])
        start = len(prompt_ids(ctx.tokenizer, prompt))
        ids, attention, loss_mask = pad_batch([encode_smiles(ctx.tokenizer, s, prompt) for s in molecules],
                                              [start] * len(molecules), ctx.tokenizer.pad_token_id)
        hidden = mlp_inputs(base, ids, attention)
        keep = loss_mask.reshape(-1).bool()
        tokens.append([h.reshape(-1, h.shape[-1])[keep] for h in hidden])
        means.append([t.mean(0) for t in tokens[-1]])
    gates = []
    for layer in range(len(means[0])):
        h = torch.stack([means[k][layer] for k in range(n_obj)])  # [K, d]
        shared = h.mean(0) / h.mean(0).norm().clamp_min(1e-12)
        # Fisher discriminant: the preference's shift whitened by the tokens' own covariance, so the gate
        # reads the preference rather than the molecule (mergekit uses the raw mean hidden states)
        centred = torch.cat([tokens[k][layer] - means[k][layer] for k in range(n_obj)])  # [tokens, d]
        covariance = centred.T @ centred / len(centred)
        ridge = 1e-3 * covariance.diagonal().mean() * torch.eye(len(covariance))
        directions = torch.linalg.solve(covariance + ridge, (h - h.mean(0, keepdim=True)).T).T  # [K, d]
        # orthogonal to the shared mean: an average token is routed evenly
        directions = directions - (directions @ shared)[:, None] * shared
        directions = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
        logits = torch.cat([tokens[k][layer] for k in range(n_obj)]) @ directions.T  # [tokens, K]
        spread = float(logits.std(0).mean())
        gates.append(directions * (ctx.cfg.router_init_std / spread) if spread > 1e-12 else torch.zeros_like(directions))
    return gates


def train_router(ctx: Context, merged: Any) -> Any:
    """Only the gates train: prompts carry w ~ Dirichlet(alpha), reward sum_i w_i s_i(x) - beta KL to the
    merged model before router training, RLOO advantages, clipped ratio (the notes' L(phi))."""
    policy = copy.deepcopy(merged)
    return reinforce(ctx, policy, merged, router_parameters(policy), ctx.cfg.router, preference_prompts(ctx),
                     lambda scores, w: (torch.as_tensor(scores, dtype=torch.float) * w).sum(1), "mol_moe")


def train_ric(ctx: Context, base: Any) -> Any:
    """Rewards-in-Context: SFT on `<o1=s1>...<s>SMILES` with each molecule's own scores, then one online
    round: prompts with every weight 1.0 but one drawn from U(0, 1); samples above the per-objective
    quantile on any objective are added to a second SFT pass."""
    cfg = ctx.cfg.ric
    generator = ctx.generator("rewards_in_context")
    molecules = ctx.corpus[-cfg.molecules:]
    scores, valid = ctx.scorer(molecules)
    examples = [(preference_prompt(ctx.objectives, s.tolist()), m) for m, s, v in zip(molecules, scores, valid, strict=True) if v]
    model = supervised(ctx, copy.deepcopy(base), examples, cfg.epochs, cfg.lr, "rewards_in_context", generator)
    n_obj = len(ctx.objectives)
    w = torch.ones(cfg.online_samples, n_obj)
    w[torch.arange(cfg.online_samples), torch.randint(0, n_obj, (cfg.online_samples,), generator=generator)] = \
        torch.rand(cfg.online_samples, generator=generator)
    w = torch.round(w * (WEIGHT_LEVELS - 1)) / (WEIGHT_LEVELS - 1)
    smiles: list[str] = []
    for start in range(0, cfg.online_samples, 256):
        smiles += generate(ctx, model, prompts_for(ctx, w[start:start + 256]), generator)[1]
    online, ok = ctx.scorer(smiles)
    good = [i for i in range(len(smiles)) if ok[i] and smiles[i]]
    threshold = np.quantile(online[good], cfg.quantile, axis=0) if good else np.ones(n_obj)
    keep = [i for i in good if np.any(online[i] > threshold)]
    ctx.log("rewards_in_context", 0, {"online_kept": float(len(keep)), "online_validity": float(ok.mean())}, advance=0)
    second = [(preference_prompt(ctx.objectives, online[i].tolist()), smiles[i]) for i in keep]
    if second:
        model = supervised(ctx, model, examples[:len(second) * 4] + second, 1, cfg.lr / 2, "rewards_in_context",
                           generator)
    return model
