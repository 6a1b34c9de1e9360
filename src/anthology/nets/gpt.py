"""A small causal transformer over embedded tokens (GPT-2 blocks), with a key/value cache.

Inputs are embeddings, not token ids: the caller embeds whatever its tokens are (states, actions, a
time index) and reads the hidden states back. `forward(x)` runs a whole sequence in one pass with a
causal mask; `forward(x, cache)` appends new tokens to a cache of earlier keys and values, so that a
sequence generated one token at a time costs one token's work a step. The cache keeps the autograd
graph: a gradient from a later output reaches the inputs of the cached tokens (what a policy gradient
through an imagined rollout needs).

Blocks are GPT-2's (pre-layer-norm, GELU MLP of width 4d, dropout on attention weights, residuals and
embeddings), as Hugging Face's GPT2Model that the Actions World Models code builds on.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

KVCache = list[tuple[torch.Tensor, torch.Tensor]]
"""Per layer (keys, values), each [B, heads, T, d_head]."""


@dataclasses.dataclass(frozen=True)
class GPTConfig:
    width: int = 48
    """Embedding width d (divisible by heads)."""
    layers: int = 2
    heads: int = 3
    dropout: float = 0.1
    max_tokens: int = 1024
    """Longest sequence: the learned position table's size."""


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        if cfg.width % cfg.heads:
            raise ValueError(f"width {cfg.width} is not divisible by heads {cfg.heads}")
        self.heads, self.dropout = cfg.heads, cfg.dropout
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.out = nn.Linear(cfg.width, cfg.width)
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        batch, new, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=-1)  # [B, T, d] each
        q, k, v = (t.view(batch, new, self.heads, width // self.heads).transpose(1, 2) for t in (q, k, v))
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # [B, h, T_past + T, d_head]
        total = k.shape[2]
        # query i (absolute position total - new + i) sees keys 0 .. total - new + i
        mask = None
        if new > 1:
            mask = torch.ones(new, total, dtype=torch.bool, device=x.device).tril(diagonal=total - new)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(batch, new, width)  # [B, T, d]
        return self.resid_drop(self.out(y)), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln_attn, self.ln_mlp = nn.LayerNorm(cfg.width), nn.LayerNorm(cfg.width)
        self.attn = CausalSelfAttention(cfg)
        self.mlp = nn.Sequential(nn.Linear(cfg.width, 4 * cfg.width), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * cfg.width, cfg.width), nn.Dropout(cfg.dropout))

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        attended, present = self.attn(self.ln_attn(x), past)
        x = x + attended
        return x + self.mlp(self.ln_mlp(x)), present


class GPT(nn.Module):
    """Embeddings [B, T, d] -> hidden states [B, T, d] (final layer norm applied) and the updated cache.
    Positions are learned and counted from the cache's length."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.position = nn.Embedding(cfg.max_tokens, cfg.width)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln_final = nn.LayerNorm(cfg.width)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:  # GPT-2's initialisation
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> tuple[torch.Tensor, KVCache]:
        start = 0 if cache is None else cache[0][0].shape[2]
        if start + x.shape[1] > self.cfg.max_tokens:
            raise ValueError(f"{start + x.shape[1]} tokens exceed max_tokens {self.cfg.max_tokens}")
        positions = torch.arange(start, start + x.shape[1], device=x.device)
        h = self.drop(x + self.position(positions))
        present: KVCache = []
        for i, block in enumerate(self.blocks):
            h, kv = block(h, None if cache is None else cache[i])
            present.append(kv)
        return self.ln_final(h), present
