"""Mol-MoE's own modules: the base model, the ids a molecule never contains, oracle gates (the mixture
steered by setting its gates to w) and the gates' statistics. The Mixtral merge,
Rewarded Soups and sampling are reusable and live in `anthology.nets.causal_lm`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from anthology.chem.smiles_tokenizer import WEIGHT_LEVELS, names_of, weight_tokens
from anthology.nets.causal_lm import continuation_mask, forward_capturing, make_llama

from .config import Config


def preference_rows(tokenizer: Any, names: Sequence[str] | None = None) -> torch.Tensor:
    """Vocabulary ids of the weight tokens [names, WEIGHT_LEVELS] (row k: weights 0.00 ... 1.00), for
    `names` (default: every name the tokenizer has, objectives and descriptors)."""
    return torch.tensor([tokenizer.convert_tokens_to_ids(weight_tokens(n)) for n in (names or names_of(tokenizer))])


def prompt_only_ids(tokenizer: Any) -> torch.Tensor:
    """Ids a molecule never contains: weight tokens, <pad>, <s>, <unk>."""
    return torch.cat([preference_rows(tokenizer).reshape(-1),
                      torch.tensor([tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.unk_token_id])])


def make_base(cfg: Config, tokenizer: Any, generator: torch.Generator) -> Any:
    """A fresh Llama whose weight-token embeddings are linear in the weight, e(<o=w>) = w u_o + (1 - w) v_o,
    and stay fixed (`FixedRows`): a number embedding, for every name (objectives and descriptors)."""
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    model = make_llama(cfg.lm, len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id,
                       tokenizer.eos_token_id)
    rows = preference_rows(tokenizer)
    levels = torch.linspace(0, 1, WEIGHT_LEVELS)[:, None]
    with torch.no_grad():
        for k in range(len(rows)):
            u, v = torch.randn(2, cfg.lm.hidden, generator=generator) * model.config.initializer_range * 10
            model.model.embed_tokens.weight[rows[k]] = levels * u + (1 - levels) * v
    return model


class FixedRows:
    """Restores the weight-token embeddings after each optimizer step (AdamW decays them otherwise)."""

    def __init__(self, model: Any, rows: torch.Tensor) -> None:
        self.weight = model.get_input_embeddings().weight
        self.rows = rows.reshape(-1)
        self.saved = self.weight.detach()[self.rows].clone()

    def restore(self) -> None:
        with torch.no_grad():
            self.weight[self.rows] = self.saved


@contextlib.contextmanager
def oracle_gates(moe: Any, weights: Sequence[float], layers: Sequence[int] | None = None) -> Iterator[Any]:
    """Within the block, the gates of `moe` at `layers` (default: all) are `weights` for every token,
    whatever the hidden state: the ceiling a router linear in the hidden state can reach by reading the
    preference. The other layers route uniformly over the first len(weights) experts (the objectives'
    experts; a base expert after them gets gate 0)."""
    n_experts = moe.config.num_local_experts
    chosen = set(range(len(moe.model.layers)) if layers is None else layers)
    w = torch.zeros(n_experts)
    w[:len(weights)] = torch.as_tensor(list(weights), dtype=torch.float)
    uniform = torch.zeros(n_experts)
    uniform[:len(weights)] = 1.0 / len(weights)

    def fixed(gates: torch.Tensor) -> Callable[..., Any]:
        def hook(_module: Any, args: tuple[torch.Tensor, ...], output: Any) -> Any:
            tokens = args[0].reshape(-1, args[0].shape[-1]).shape[0]
            scores = gates.expand(tokens, n_experts).to(output[1].dtype)
            indices = torch.arange(n_experts).expand(tokens, n_experts)
            return gates.clamp_min(1e-12).log().expand(tokens, n_experts), scores, indices
        return hook

    hooks = [layer.mlp.gate.register_forward_hook(fixed(w if i in chosen else uniform))
             for i, layer in enumerate(moe.model.layers)]
    try:
        yield moe
    finally:
        for hook in hooks:
            hook.remove()


def gate_probabilities(moe: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[torch.Tensor]:
    """Each layer's gate probabilities [B, T, n_experts] on a batch (the router's softmax)."""
    gates = forward_capturing(moe, [layer.mlp.gate for layer in moe.model.layers],
                              lambda _args, out: out[0].float().softmax(-1), input_ids, attention_mask)
    return [g.view(*input_ids.shape, -1) for g in gates]


def prompted_gate_statistics(moe: Any, prompts: torch.Tensor, tokens: torch.Tensor, eos_id: int,
                             weights: torch.Tensor) -> dict[str, float]:
    """`gate_statistics` of `moe` on continuations `tokens` [B, T] of `prompts` [B, P] carrying `weights`
    [B, K], counted over the molecule's tokens up to its EOS."""
    mask = continuation_mask(tokens, eos_id)
    gates = gate_probabilities(moe, torch.cat([prompts, tokens], 1), torch.cat([torch.ones_like(prompts), mask.long()], 1))
    return gate_statistics(gates, torch.cat([torch.zeros_like(prompts, dtype=torch.float), mask], 1), weights)


def gate_statistics(gates: Sequence[torch.Tensor], mask: torch.Tensor, weights: torch.Tensor) -> dict[str, float]:
    """Per layer l, over the molecule tokens (`mask` [B, T]) of sequences prompted with `weights` [B, K]:
    `gate_entropy_l{l}` (mean entropy of the gates, nats) and `gate_corr_l{l}` (Pearson correlation
    across sequences between w_k and the sequence's mean gate of expert k, averaged over k)."""
    out: dict[str, float] = {}
    m = mask.float()[..., None]
    for layer, g in enumerate(gates):
        entropy = -(g * g.clamp_min(1e-12).log()).sum(-1)
        out[f"gate_entropy_l{layer}"] = float((entropy * m[..., 0]).sum() / m.sum().clamp_min(1))
        per_sequence = (g * m).sum(1) / m.sum(1).clamp_min(1)  # [B, n_experts]
        corrs = []
        for k in range(weights.shape[1]):
            x, y = weights[:, k].float(), per_sequence[:, k]
            if float(x.std()) > 1e-9 and float(y.std()) > 1e-9:
                corrs.append(float(torch.corrcoef(torch.stack([x, y]))[0, 1]))
        out[f"gate_corr_l{layer}"] = sum(corrs) / len(corrs) if corrs else 0.0
    return out
