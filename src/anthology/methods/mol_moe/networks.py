"""Mol-MoE's own modules: the base model with preference-token embeddings linear in the weight, and the
guard that keeps those embeddings fixed. The Mixtral merge, Rewarded Soups and sampling are reusable and
live in `anthology.nets.causal_lm`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from anthology.chem.smiles_tokenizer import WEIGHT_LEVELS
from anthology.nets.causal_lm import make_llama

from .config import Config


def preference_rows(tokenizer: Any, objectives: Sequence[str]) -> torch.Tensor:
    """Vocabulary ids of the preference tokens [K, WEIGHT_LEVELS] (row k: weights 0.00 ... 1.00)."""
    vocab = tokenizer.get_vocab()
    return torch.tensor([[vocab[f"<{o}={level / (WEIGHT_LEVELS - 1):.2f}>"] for level in range(WEIGHT_LEVELS)]
                         for o in objectives])


def prompt_only_ids(tokenizer: Any, objectives: Sequence[str]) -> torch.Tensor:
    """Ids a molecule never contains: preference tokens, <pad>, <s>, <unk>."""
    return torch.cat([preference_rows(tokenizer, objectives).reshape(-1),
                      torch.tensor([tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.unk_token_id])])


def make_base(cfg: Config, tokenizer: Any, generator: torch.Generator) -> Any:
    """A fresh Llama whose preference-token embeddings are linear in the weight,
    e(<o=w>) = w u_o + (1 - w) v_o, and stay fixed (like a number embedding: the paper's Llama reads the
    weights as text)."""
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    model = make_llama(cfg.lm, len(tokenizer), tokenizer.pad_token_id, tokenizer.bos_token_id,
                       tokenizer.eos_token_id)
    rows = preference_rows(tokenizer, cfg.objectives)
    levels = torch.linspace(0, 1, WEIGHT_LEVELS)[:, None]
    with torch.no_grad():
        for k in range(len(cfg.objectives)):
            u, v = torch.randn(2, cfg.lm.hidden, generator=generator) * model.config.initializer_range * 10
            model.model.embed_tokens.weight[rows[k]] = levels * u + (1 - levels) * v
    return model


class FixedRows:
    """Restores the preference-token embeddings after each optimizer step (AdamW decays them otherwise)."""

    def __init__(self, model: Any, rows: torch.Tensor) -> None:
        self.weight = model.get_input_embeddings().weight
        self.rows = rows.reshape(-1)
        self.saved = self.weight.detach()[self.rows].clone()

    def restore(self) -> None:
        with torch.no_grad():
            self.weight[self.rows] = self.saved
