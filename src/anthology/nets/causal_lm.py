"""Small causal language models from Hugging Face `transformers` classes, sampled with a KV cache.

- `make_llama`: a `LlamaForCausalLM` of any size (the base model and the single-objective experts).
- `merge_into_mixtral`: base + experts -> a `MixtralForCausalLM` whose experts are the experts' MLP
  blocks, with embeddings, attention, norms and output head from the base and every expert active
  (`num_experts_per_tok = num_local_experts`: a dense softmax mixture per token), as `mergekit-moe`
  builds Mol-MoE.
- `interpolate_mlps`: Rewarded Soups, a weight-space average of the experts.
- `sample`: ancestral sampling with temperature and nucleus (top-p) truncation, one token per forward
  pass over the KV cache, with an explicit `torch.Generator` so that runs are reproducible.
- `sequence_log_probs`: per-token log-probabilities of sampled continuations, for RL and KL terms.
- `fit_lm`: supervised next-token training on (prompt, continuation) rows, loss on the continuation.

`transformers` is imported lazily (the `llm` extra).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from anthology.core.config import check, validate
from anthology.core.errors import AnthologyError, require


@dataclasses.dataclass(frozen=True)
class LMConfig:
    """Size of a Llama-style causal LM."""

    hidden: int = 128
    """width d of the residual stream"""
    layers: int = 4
    heads: int = 4
    intermediate: int = 256
    """width of each (SwiGLU) MLP block"""
    max_length: int = 96
    """longest sequence (prompt + molecule) the position embedding is set up for"""

    def __post_init__(self) -> None:
        validate(self)
        check(self.hidden % self.heads == 0, f"LMConfig.hidden = {self.hidden} must be a multiple of heads = {self.heads}")


def make_llama(cfg: LMConfig, vocab_size: int, pad_id: int, bos_id: int, eos_id: int) -> Any:
    """A randomly initialised `LlamaForCausalLM` (untied input and output embeddings)."""
    transformers = require("transformers", "llm")
    config = transformers.LlamaConfig(
        vocab_size=vocab_size, hidden_size=cfg.hidden, intermediate_size=cfg.intermediate,
        num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads,
        max_position_embeddings=cfg.max_length, pad_token_id=pad_id, bos_token_id=bos_id, eos_token_id=eos_id,
        tie_word_embeddings=False, attn_implementation="sdpa")
    return transformers.LlamaForCausalLM(config)


def mlp_parameters(model: Any) -> list[torch.nn.Parameter]:
    """The MLP-block parameters of a Llama model: what a Mol-MoE expert changes."""
    return [p for layer in model.model.layers for p in layer.mlp.parameters()]


def set_trainable(model: Any, parameters: Sequence[torch.nn.Parameter]) -> None:
    """Freeze every parameter of `model` except `parameters`."""
    keep = {id(p) for p in parameters}
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)


def merge_into_mixtral(base: Any, experts: Sequence[Any], router_weights: Sequence[torch.Tensor] | None = None) -> Any:
    """A `MixtralForCausalLM` with one expert per model in `experts` (their MLP blocks) and everything
    else from `base`. Routing is dense: all experts are active with softmax gates.

    router_weights: one [n_experts, hidden] matrix per layer (the gates' initial weights); zeros
    (uniform mixing) when None.
    """
    transformers = require("transformers", "llm")
    b = base.config
    config = transformers.MixtralConfig(
        vocab_size=b.vocab_size, hidden_size=b.hidden_size, intermediate_size=b.intermediate_size,
        num_hidden_layers=b.num_hidden_layers, num_attention_heads=b.num_attention_heads,
        num_key_value_heads=b.num_key_value_heads, max_position_embeddings=b.max_position_embeddings,
        rms_norm_eps=b.rms_norm_eps, rope_theta=getattr(b, "rope_theta", None) or b.rope_parameters["rope_theta"],
        num_local_experts=len(experts), num_experts_per_tok=len(experts), router_jitter_noise=0.0,
        output_router_logits=False, pad_token_id=b.pad_token_id, bos_token_id=b.bos_token_id,
        eos_token_id=b.eos_token_id, tie_word_embeddings=False, sliding_window=None, attn_implementation="sdpa")
    moe = transformers.MixtralForCausalLM(config)
    with torch.no_grad():
        moe.model.embed_tokens.weight.copy_(base.model.embed_tokens.weight)
        moe.model.norm.weight.copy_(base.model.norm.weight)
        moe.lm_head.weight.copy_(base.lm_head.weight)
        for i, layer in enumerate(moe.model.layers):
            source = base.model.layers[i]
            layer.self_attn.load_state_dict(source.self_attn.state_dict())
            layer.input_layernorm.load_state_dict(source.input_layernorm.state_dict())
            layer.post_attention_layernorm.load_state_dict(source.post_attention_layernorm.state_dict())
            for e, expert in enumerate(experts):
                mlp = expert.model.layers[i].mlp
                # gate_up_proj[e] = [W_gate; W_up] ([2 * intermediate, hidden]); down_proj[e] = W_down
                layer.mlp.experts.gate_up_proj[e].copy_(torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight], 0))
                layer.mlp.experts.down_proj[e].copy_(mlp.down_proj.weight)
            weight = router_weights[i] if router_weights is not None else torch.zeros(len(experts), b.hidden_size)
            layer.mlp.gate.weight.copy_(weight)
    return moe


def router_parameters(moe: Any) -> list[torch.nn.Parameter]:
    """The gates of every MoE layer: what Mol-MoE's router training changes."""
    return [layer.mlp.gate.weight for layer in moe.model.layers]


@torch.no_grad()
def forward_capturing(model: Any, modules: Sequence[torch.nn.Module], read: Callable[[tuple, Any], torch.Tensor],
                      input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
    """One forward pass of `model`, returning `read(inputs, output)` of each module in `modules`, in call
    order (forward hooks, removed afterwards)."""
    captured: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, args, out: captured.append(read(args, out))) for m in modules]
    try:
        model(input_ids=input_ids, attention_mask=attention_mask)
    finally:
        for hook in hooks:
            hook.remove()
    return captured


def mlp_inputs(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
    """The input of each layer's MLP block (the post-attention, normalised hidden state) [B, T, d]."""
    return forward_capturing(model, [layer.mlp for layer in model.model.layers], lambda args, _out: args[0].detach(),
                             input_ids, attention_mask)


def interpolate_mlps(experts: Sequence[Any], weights: Sequence[float]) -> Any:
    """Rewarded Soups: a copy of `experts[0]` whose MLP parameters are sum_i w_i theta_i. The experts
    share all other parameters (they fine-tuned only MLPs from one base)."""
    if len(experts) != len(weights):
        raise AnthologyError(f"{len(weights)} weights for {len(experts)} experts")
    soup = copy.deepcopy(experts[0])
    with torch.no_grad():
        for target, *sources in zip(mlp_parameters(soup), *(mlp_parameters(e) for e in experts), strict=True):
            target.copy_(sum(w * s for w, s in zip(weights, sources, strict=True)))
    return soup


def _top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Logits outside the smallest set of tokens whose probability reaches `top_p` set to -inf."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    probs = sorted_logits.softmax(-1)
    drop = probs.cumsum(-1) - probs >= top_p  # mass before this token already reaches top_p (keeps the crossing one)
    sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)


def suppress_tokens(logits: torch.Tensor, suppress: torch.Tensor | None) -> torch.Tensor:
    """Logits with the ids in `suppress` (tokens a continuation may not contain) set to -inf."""
    if suppress is None or len(suppress) == 0:
        return logits
    return logits.index_fill(-1, suppress, float("-inf"))


def sampling_logits(logits: torch.Tensor, suppress: torch.Tensor | None = None, temperature: float = 1.0,
                    top_p: float = 1.0) -> torch.Tensor:
    """The logits `sample` draws from (any leading shape, vocabulary last): suppressed ids removed, divided
    by the temperature, tokens outside the top-p nucleus at -inf. Their log-softmax is the sampling
    distribution's log-probability, which RL on sampled sequences must score."""
    return _top_p_filter(suppress_tokens(logits.float(), suppress) / max(temperature, 1e-6), top_p)


@torch.no_grad()
def sample(model: Any, prompt: torch.Tensor, max_new_tokens: int, eos_id: int, pad_id: int,
           generator: torch.Generator, temperature: float = 1.0, top_p: float = 1.0,
           suppress: torch.Tensor | None = None) -> torch.Tensor:
    """Continuations [B, max_new_tokens] of `prompt` [B, P] (all prompts the same length): tokens up to
    and including the first `eos_id`, `pad_id` after it. One forward pass per token over a KV cache.
    Ids in `suppress` (prompt-only tokens) are never sampled."""
    transformers = require("transformers", "llm")
    model.eval()
    batch = prompt.shape[0]
    cache = transformers.DynamicCache()
    out = model(input_ids=prompt, cache=cache, use_cache=True)
    tokens = torch.full((batch, max_new_tokens), pad_id, dtype=torch.long)
    done = torch.zeros(batch, dtype=torch.bool)
    for t in range(max_new_tokens):
        probs = sampling_logits(out.logits[:, -1], suppress, temperature, top_p).softmax(-1)
        token = torch.multinomial(probs, 1, generator=generator)[:, 0]  # [B]
        token = torch.where(done, torch.full_like(token, pad_id), token)
        tokens[:, t] = token
        done |= token == eos_id
        if bool(done.all()):
            break
        out = model(input_ids=token[:, None], cache=cache, use_cache=True)
    return tokens


def continuation_mask(tokens: torch.Tensor, eos_id: int) -> torch.Tensor:
    """1 for generated tokens up to and including the first EOS, 0 after [B, T]."""
    is_eos = (tokens == eos_id).long()
    after = torch.cumsum(is_eos, dim=1) - is_eos  # EOS tokens strictly before this position
    return (after == 0).float()


def sequence_log_probs(model: Any, prompt: torch.Tensor, tokens: torch.Tensor, mask: torch.Tensor,
                       suppress: torch.Tensor | None = None, temperature: float = 1.0,
                       top_p: float = 1.0) -> torch.Tensor:
    """log pi(token_t | prompt, tokens_<t) for every continuation token [B, T], zero where mask is 0,
    under the distribution `sample` draws from with the same `suppress`, `temperature` and `top_p`
    (`sampling_logits`), so that importance ratios of sampled sequences are unbiased."""
    inputs = torch.cat([prompt, tokens], dim=1)  # [B, P + T]
    attention = torch.cat([torch.ones_like(prompt, dtype=torch.float), mask], dim=1)
    logits = model(input_ids=inputs, attention_mask=attention.long()).logits  # [B, P + T, V]
    logits = sampling_logits(logits[:, prompt.shape[1] - 1:-1], suppress, temperature, top_p)  # [B, T, V]
    # padding after EOS may be a suppressed id (log-prob -inf): read any allowed id there, then mask it out
    readable = torch.where(mask.bool(), tokens, tokens[:, :1])
    log_probs = torch.gather(F.log_softmax(logits, -1), 2, readable[..., None])[..., 0]
    return torch.where(mask.bool(), log_probs, torch.zeros_like(log_probs))


def lm_loss(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy of the tokens where `loss_mask` [B, T] is 1 (the molecule and its EOS;
    a prompt's preference tokens are conditioned on, not predicted). Rows are right-padded."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]  # [B, T - 1, V]
    targets = input_ids[:, 1:].masked_fill(~loss_mask[:, 1:].bool(), -100)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=-100)


def pad_batch(rows: Sequence[Sequence[int]], starts: Sequence[int], pad_id: int) -> tuple[torch.Tensor, ...]:
    """Right-padded ids, attention mask and loss mask (1 from each row's `start`: the continuation)."""
    length = max(map(len, rows))
    ids = torch.full((len(rows), length), pad_id)
    attention = torch.zeros(len(rows), length, dtype=torch.long)
    loss_mask = torch.zeros(len(rows), length, dtype=torch.long)
    for i, (row, start) in enumerate(zip(rows, starts, strict=True)):
        ids[i, :len(row)] = torch.tensor(row)
        attention[i, :len(row)] = 1
        loss_mask[i, start:len(row)] = 1
    return ids, attention, loss_mask


def fit_lm(model: Any, rows: Sequence[Sequence[int]], starts: Sequence[int], pad_id: int, epochs: int, lr: float,
           batch_size: int, warmup_steps: int, generator: torch.Generator,
           after_step: Callable[[], None] | None = None, log: Callable[[int, float], None] | None = None) -> Any:
    """Next-token training (`lm_loss`) on token rows whose continuation starts at `starts`: AdamW (weight
    decay 0.01), linear warm-up then linear decay to zero, gradient norm 1, a seeded shuffle per epoch.
    `after_step` runs after every optimizer step; `log(step, loss)` every 50 steps and at the end."""
    model.requires_grad_(True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(rows) / batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(warmup_steps, 1)) * max(0.0, 1 - s / max(steps, 1)))
    model.train()
    step = 0
    for _ in range(epochs):
        order = torch.randperm(len(rows), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            ids, attention, loss_mask = pad_batch([rows[i] for i in chosen], [starts[i] for i in chosen], pad_id)
            loss = lm_loss(model, ids, attention, loss_mask)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            if after_step is not None:
                after_step()
            step += 1
            if log is not None and (step % 50 == 0 or step == steps):
                log(step, loss.item())
    return model.eval()
