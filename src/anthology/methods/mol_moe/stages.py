"""Mol-MoE's models and training stages: the shared context, the base, RLOO experts, MORLHF, the router
(initialisation from hidden states and RLOO on the gates) and Rewards-in-Context. `train.py` runs them
in order; each stage is a `save_pretrained` folder under `<run>/models/<stage>/`."""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from anthology.chem.scoring import to_mol
from anthology.chem.smiles_tokenizer import (
    BOS,
    WEIGHT_LEVELS,
    decode_smiles,
    encode_smiles,
    preference_prompt,
    prompt_ids,
)
from anthology.core.errors import require
from anthology.core.run_dir import RunDir, write_json
from anthology.nets.causal_lm import (
    continuation_mask,
    fit_lm,
    mlp_inputs,
    mlp_parameters,
    pad_batch,
    router_parameters,
    sample,
    sequence_log_probs,
)
from anthology.rl.rloo import Prompts, Sampling, rloo_finetune
from anthology.tracking import Tracker

from .config import DESCRIPTORS, Config, RLConfig
from .networks import (
    FixedRows,
    make_base,
    preference_rows,
    prompt_only_ids,
    prompted_gate_statistics,
)

Scorer = Callable[[Sequence[str]], tuple[np.ndarray, np.ndarray]]
METHODS = ("mol_moe", "rewarded_soups", "morlhf", "rewards_in_context", "mol_moe_init_router", "oracle_gates",
           "oracle_gates_layer0")
STAGES = ("base", *(f"expert_{i}" for i in range(8)), "morlhf", "mol_moe_init_router", "mol_moe", "rewards_in_context",
          "stats_base", *(f"stats_expert_{i}" for i in range(8)), "vertices")


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
        return prompt_only_ids(self.tokenizer)

    @functools.cached_property
    def sampling(self) -> Sampling:
        """How every stage draws molecules (and RL scores them)."""
        return Sampling(self.cfg.max_new_tokens, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id,
                        self.cfg.temperature, self.cfg.top_p, self.suppress)

    def generator(self, stage: str) -> torch.Generator:
        """An independent, seeded stream per stage: a resumed run draws what an uninterrupted one does."""
        index = STAGES.index(stage) if stage in STAGES else 100 + zlib.crc32(stage.encode()) % 900
        return torch.Generator().manual_seed(self.cfg.seed * 1000 + index)

    progress: int = 0
    """RL steps and evaluated preferences so far, over every stage (the progress bar's position)."""
    stats: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """`model_stats` of the base and each expert, by stage name."""
    steps: dict[str, float] = dataclasses.field(default_factory=dict)
    """RL steps each stage ran before early stopping (saved beside its model as `steps.json`)."""

    def ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, span) per objective: the base's mean score and the distance to its own expert's mean,
        the achievable range a weight of 0 to 1 is scaled into (the paper's scaled targets)."""
        lo = np.array(self.stats["base"]["mean"])
        hi = np.array([self.stats[f"expert_{k}"]["mean"][k] for k in range(len(self.objectives))])
        return lo, np.maximum(hi - lo, 1e-3)

    def normalised(self, scores: np.ndarray) -> np.ndarray:
        """Scores [N, K] in units of each objective's range: 0 at the base's mean, 1 at its expert's."""
        lo, span = self.ranges()
        return (scores - lo) / span

    def preference_reward(self, scores: np.ndarray, valid: np.ndarray, w: torch.Tensor) -> torch.Tensor:
        """sum_i w_i s_i(x), on normalised scores (`router_reward` "normalised") or raw ones [N]. An
        invalid molecule scores 0 on every raw objective (`invalid_reward` "zero") or the base's mean
        ("neutral": validity neither rewarded nor punished)."""
        if self.cfg.invalid_reward == "neutral":
            scores = np.where(valid[:, None], scores, self.ranges()[0][None, :])
        values = self.normalised(scores) if self.cfg.router_reward == "normalised" else scores
        return (torch.as_tensor(values, dtype=torch.float) * w).sum(1)

    def log(self, stage: str, step: int, metrics: dict[str, float], advance: int = 1) -> None:
        """Metrics keyed `<stage>/<name>`, with the stage's own step as `<stage>/step`, at the overall
        progress (RL steps and evaluated preferences so far)."""
        self.progress += advance
        if "stopped_at" in metrics:
            self.steps[stage] = metrics["stopped_at"]
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
        if (folder / "steps.json").is_file():
            ctx.steps[name] = json.loads((folder / "steps.json").read_text())["steps"]
        return transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    model = build()
    if folder is not None:
        if name in ctx.steps:
            folder.mkdir(parents=True, exist_ok=True)
            write_json(folder / "steps.json", {"steps": ctx.steps[name]})
        model.save_pretrained(folder)
    return model


@torch.no_grad()
def model_stats(ctx: Context, name: str, model: Any, reference: Any | None = None) -> dict[str, Any]:
    """Mean and standard deviation of each objective over the valid molecules of `calibration_samples`
    draws after `<s>`, their validity and, with a reference, the KL to it (mean sequence log-ratio, nats).
    Saved as `<run>/models/stats/<name>.json` and read back by a resumed run."""
    if name in ctx.stats:
        return ctx.stats[name]
    path = None if ctx.run is None else ctx.run.path / "models" / "stats" / f"{name}.json"
    if path is not None and path.is_file():
        ctx.stats[name] = json.loads(path.read_text())
        return ctx.stats[name]
    generator = ctx.generator(f"stats_{name}")
    n, s = ctx.cfg.calibration_samples, ctx.sampling
    prompts = torch.full((n, 1), ctx.tokenizer.bos_token_id)
    tokens, smiles = generate(ctx, model, prompts, generator)
    scores, valid = ctx.scorer(smiles)
    kept = scores[valid] if valid.any() else np.zeros((1, len(ctx.objectives)))
    out: dict[str, Any] = {"mean": kept.mean(0).tolist(), "sd": kept.std(0).tolist(), "n": int(valid.sum()),
                           "validity": float(valid.mean())}
    if reference is not None:
        mask = continuation_mask(tokens, s.eos_id)
        log_ratio = (sequence_log_probs(model, prompts, tokens, mask, s.suppress, s.temperature, s.top_p).sum(1)
                     - sequence_log_probs(reference, prompts, tokens, mask, s.suppress, s.temperature).sum(1))
        out["kl"] = float(log_ratio.mean())
    ctx.stats[name] = out
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, out)
    return out


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
    """Next-token training on (prompt, SMILES) pairs (`nets.causal_lm.fit_lm`); the prompt is read, not
    predicted, and the weight-token embeddings stay fixed."""
    rows = [encode_smiles(ctx.tokenizer, smiles, prompt) for prompt, smiles in examples]
    starts = [len(prompt_ids(ctx.tokenizer, prompt)) for prompt, _ in examples]
    fixed = FixedRows(model, preference_rows(ctx.tokenizer))
    return fit_lm(model, rows, starts, ctx.tokenizer.pad_token_id, epochs, lr, ctx.cfg.pretrain.batch_size,
                  ctx.cfg.pretrain.warmup_steps, generator, after_step=fixed.restore,
                  log=lambda step, loss: ctx.log(stage_name, step, {"loss": loss}, advance=0))


def pretrain(ctx: Context) -> Any:
    """The base model: `<s>SMILES</s>`, a share `pretrain.prefix_share` of the molecules after a prefix
    (`PretrainConfig.prefix`: four of their own descriptors, or a random preference, or none)."""
    cfg = ctx.cfg.pretrain
    generator = ctx.generator("base")
    model = make_base(ctx.cfg, ctx.tokenizer, generator)
    prefixed = (torch.rand(len(ctx.corpus), generator=generator) < cfg.prefix_share).tolist()
    if cfg.prefix == "random":
        weights = random_preferences(len(ctx.corpus), len(ctx.objectives), 1.0, generator)
        prefixes = [preference_prompt(ctx.objectives, w.tolist()) for w in weights]
    elif cfg.prefix == "descriptors":
        values = descriptors(ctx.corpus)
        prefixes = []
        for row in values:
            chosen = torch.randperm(len(DESCRIPTORS), generator=generator)[:4].tolist()
            prefixes.append(preference_prompt([DESCRIPTORS[j] for j in chosen], [float(row[j]) for j in chosen]))
    else:
        prefixes = [BOS] * len(ctx.corpus)
    examples = [(prefixes[i] if prefixed[i] else BOS, s) for i, s in enumerate(ctx.corpus)]
    return supervised(ctx, model, examples, cfg.epochs, cfg.lr, "base", generator)


def descriptors(smiles: Sequence[str]) -> np.ndarray:
    """`DESCRIPTORS` of each molecule scaled into [0, 1] [N, 8] (rows of an unparsable SMILES: 0): logP on
    [-2, 6], MW on [150, 450], rings / 6, Fsp3, H-bond donors / 5, acceptors / 10, rotatable bonds / 10,
    aromatic rings / 4, each clipped."""
    from rdkit.Chem import Descriptors, Lipinski, rdMolDescriptors

    out = np.zeros((len(smiles), len(DESCRIPTORS)))
    for i, s in enumerate(smiles):
        mol = to_mol(s)
        if mol is None:
            continue
        raw = ((Descriptors.MolLogP(mol) + 2) / 8, (Descriptors.MolWt(mol) - 150) / 300,
               rdMolDescriptors.CalcNumRings(mol) / 6, rdMolDescriptors.CalcFractionCSP3(mol),
               Lipinski.NumHDonors(mol) / 5, Lipinski.NumHAcceptors(mol) / 10,
               rdMolDescriptors.CalcNumRotatableBonds(mol) / 10, rdMolDescriptors.CalcNumAromaticRings(mol) / 4)
        out[i] = np.clip(raw, 0.0, 1.0)
    return out


@torch.no_grad()
def generate(ctx: Context, model: Any, prompts: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, list[str]]:
    s = ctx.sampling
    tokens = sample(model, prompts, s.max_new_tokens, s.eos_id, s.pad_id, generator, s.temperature, s.top_p,
                    s.suppress)
    return tokens, [decode_smiles(ctx.tokenizer, row) for row in tokens.tolist()]


def reinforce(ctx: Context, policy: Any, reference: Any, trainable: list[torch.nn.Parameter], rl: RLConfig,
              make_prompts: Prompts, reward: Callable[[np.ndarray, np.ndarray, torch.Tensor], torch.Tensor],
              stage_name: str) -> Any:
    """RLOO (`rl.rloo.rloo_finetune`) on the molecules' scores: reward(scores [N, K], valid [N], context
    of each sample [N, ...]) -> [N], sampled as `generate` draws."""
    def score(tokens: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        scores, valid = ctx.scorer([decode_smiles(ctx.tokenizer, row) for row in tokens.tolist()])
        return reward(scores, valid, context), {"validity": float(valid.mean())}

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
    weights; tuning only MLPs makes the merge exact: one-hot routing reproduces the expert). With
    `expert_reward` "standardised" the score is divided by its standard deviation under the base, so
    that beta weighs every objective's gain alike (RLOO's baseline removes any shift)."""
    policy = copy.deepcopy(base)
    scale = 1.0
    if ctx.cfg.expert_reward == "standardised":
        scale = 1.0 / max(model_stats(ctx, "base", base)["sd"][k], 1e-3)
    return reinforce(ctx, policy, base, mlp_parameters(policy), rl or ctx.cfg.expert, bos_prompts(ctx),
                     lambda scores, _v, _c: torch.as_tensor(scores[:, k] * scale, dtype=torch.float), name or f"expert_{k}")


def train_morlhf(ctx: Context, base: Any) -> Any:
    """MORLHF: one RLOO policy on the mean of the objectives, normalised as the router's reward (same
    parameters and budget as an expert)."""
    policy = copy.deepcopy(base)
    uniform = torch.full((len(ctx.objectives),), 1.0 / len(ctx.objectives))
    return reinforce(ctx, policy, base, mlp_parameters(policy), ctx.cfg.expert, bos_prompts(ctx),
                     lambda scores, valid, _c: ctx.preference_reward(scores, valid, uniform), "morlhf")


def router_init(ctx: Context, base: Any) -> list[torch.Tensor]:
    """Gate rows from hidden states (mergekit `gate_mode: hidden`): per layer, the direction by which
    expert k's one-hot preference prompt moves the MLP inputs over corpus molecules (whitened by their
    covariance), scaled so that
    the gate logits vary with standard deviation `router_init_std` over those tokens (a softmax that
    is neither uniform nor saturated: saturated gates pass no gradient). The directions are made
    orthogonal to the mean hidden state, so that the routing of an average token is balanced. With
    `base_expert`, a last row of zeros for the base."""
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
        rows = directions * (ctx.cfg.router_init_std / spread) if spread > 1e-12 else torch.zeros_like(directions)
        # the base as an extra expert has no preference of its own: its row starts at zero, the logit an
        # average token gives every expert (the objectives' rows are orthogonal to the mean hidden state)
        gates.append(torch.cat([rows, torch.zeros(1, rows.shape[1])]) if ctx.cfg.base_expert else rows)
    return gates


def train_router(ctx: Context, merged: Any, rl: RLConfig | None = None, name: str = "mol_moe") -> Any:
    """Only the gates train: prompts carry w ~ Dirichlet(alpha), reward sum_i w_i s_i(x) (normalised
    scores by default) - beta KL to the merged model before router training, RLOO advantages, clipped
    ratio (the notes' L(phi)). Each step also logs, per layer, the gates' entropy and their correlation
    with the prompted weights, and the mean score of each objective."""
    policy = copy.deepcopy(merged)
    s = ctx.sampling

    def reward(tokens: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        smiles = [decode_smiles(ctx.tokenizer, row) for row in tokens.tolist()]
        scores, valid = ctx.scorer(smiles)
        kept = scores[valid] if valid.any() else np.zeros((1, len(ctx.objectives)))
        metrics = {"validity": float(valid.mean()),
                   **prompted_gate_statistics(policy, prompts_for(ctx, w), tokens, s.eos_id, w),
                   **{f"score_{o}": float(kept[:, k].mean()) for k, o in enumerate(ctx.objectives)}}
        return ctx.preference_reward(scores, valid, w), metrics

    return rloo_finetune(policy, merged, router_parameters(policy), rl or ctx.cfg.router, s, preference_prompts(ctx),
                         reward, ctx.generator(name), lambda step, metrics: ctx.log(name, step, metrics))


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
