"""A GPT-NeoX (Pythia) sequence classifier written for speed at small sizes, weight-compatible with
Hugging Face's `GPTNeoXForSequenceClassification`.

The architecture is Pythia's: token embedding, `layers` blocks with parallel attention and MLP residuals
(x + attn(ln1(x)) + mlp(ln2(x))), rotary position embedding on the first `rotary_pct` of each head's
dimensions (rotate-half layout), fused query/key/value laid out per head, exact GELU MLP of width
`intermediate`, a final LayerNorm and a bias-free linear score read at each sequence's last token.
Parameter names are Hugging Face's, so a checkpoint's `model.safetensors` loads with `load_state_dict`
(`load_pretrained`), and `tests/unit/text` checks the logits against the Hugging Face class on a random
checkpoint. Hugging Face's own class runs these small models several times slower (its per-call mask and
cache plumbing dominates at 20k-1M parameters; `benchmarks/gcg_speed.py` measures both).

`forward` takes token ids or embeddings (the attacks differentiate through a one-hot of the attack's
tokens), right-padded, with each row's length; or rows that continue one shared prefix whose keys and
values `prefix` computed once (the attacks score all candidates of an example after its fixed prefix).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import torch
import torch.nn.functional as F
from torch import nn

from anthology.core.errors import AnthologyError, require

KVCache = list[tuple[torch.Tensor, torch.Tensor]]
"""Per layer (keys, values), each [1, heads, P, head size]."""


@dataclasses.dataclass(frozen=True)
class NeoXConfig:
    vocab_size: int = 98
    hidden: int = 64
    layers: int = 2
    heads: int = 4
    intermediate: int = 0
    """MLP width (0: 4 x hidden, as Pythia)."""
    rotary_pct: float = 0.25
    rotary_base: float = 10000.0
    layer_norm_eps: float = 1e-5
    parallel_residual: bool = True
    attention_bias: bool = True
    labels: int = 2

    @property
    def mlp_width(self) -> int:
        return self.intermediate or 4 * self.hidden


class Attention(nn.Module):
    def __init__(self, cfg: NeoXConfig) -> None:
        super().__init__()
        if cfg.hidden % cfg.heads:
            raise AnthologyError(f"hidden {cfg.hidden} is not divisible by heads {cfg.heads}")
        self.heads, self.head_size = cfg.heads, cfg.hidden // cfg.heads
        self.rotary = int(self.head_size * cfg.rotary_pct) // 2 * 2
        self.query_key_value = nn.Linear(cfg.hidden, 3 * cfg.hidden, bias=cfg.attention_bias)
        self.dense = nn.Linear(cfg.hidden, cfg.hidden, bias=cfg.attention_bias)
        inv_freq = 1.0 / cfg.rotary_base ** (torch.arange(0, max(self.rotary, 2), 2).float() / max(self.rotary, 2))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def rope(self, length: int, device: torch.device, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(offset, offset + length, device=device, dtype=torch.float32)
        freqs = torch.outer(positions, self.inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos(), emb.sin()

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor],
                past: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Attention output and this call's keys/values. With `past` (keys/values of a prefix, batch 1 or B),
        the new tokens follow the prefix: they see all of it and, causally, each other."""
        batch, length, width = x.shape
        qkv = self.query_key_value(x).view(batch, length, self.heads, 3 * self.head_size).transpose(1, 2)
        q, k, v = qkv.chunk(3, dim=-1)  # [B, h, T, d] each: per head, q | k | v
        if self.rotary:
            cos, sin = rope
            q, k = rotate(q, cos, sin, self.rotary), rotate(k, cos, sin, self.rotary)
        if past is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            present = (k, v)
        else:
            prefix = past[0].shape[2]
            keys = torch.cat([past[0].expand(batch, -1, -1, -1), k], dim=2)
            values = torch.cat([past[1].expand(batch, -1, -1, -1), v], dim=2)
            mask = torch.ones(length, prefix + length, dtype=torch.bool, device=x.device).tril(diagonal=prefix)
            y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
            present = (k, v)
        return self.dense(y.transpose(1, 2).reshape(batch, length, width)), present


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, dims: int) -> torch.Tensor:
    """Rotary embedding on the first `dims` of the last axis (rotate-half: pairs i and i + dims/2)."""
    r, rest = x[..., :dims], x[..., dims:]
    half = dims // 2
    rotated = torch.cat([-r[..., half:], r[..., :half]], dim=-1)
    return torch.cat([r * cos + rotated * sin, rest], dim=-1)


class MLP(nn.Module):
    def __init__(self, cfg: NeoXConfig) -> None:
        super().__init__()
        self.dense_h_to_4h = nn.Linear(cfg.hidden, cfg.mlp_width)
        self.dense_4h_to_h = nn.Linear(cfg.mlp_width, cfg.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense_4h_to_h(F.gelu(self.dense_h_to_4h(x)))


class Layer(nn.Module):
    def __init__(self, cfg: NeoXConfig) -> None:
        super().__init__()
        self.parallel = cfg.parallel_residual
        self.input_layernorm = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.post_attention_layernorm = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)
        self.attention = Attention(cfg)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor],
                past: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        attn, present = self.attention(self.input_layernorm(x), rope, past)
        if self.parallel:
            return x + attn + self.mlp(self.post_attention_layernorm(x)), present
        x = x + attn
        return x + self.mlp(self.post_attention_layernorm(x)), present


class Backbone(nn.Module):
    def __init__(self, cfg: NeoXConfig) -> None:
        super().__init__()
        self.embed_in = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.layers = nn.ModuleList(Layer(cfg) for _ in range(cfg.layers))
        self.final_layer_norm = nn.LayerNorm(cfg.hidden, eps=cfg.layer_norm_eps)


class NeoXClassifier(nn.Module):
    def __init__(self, cfg: NeoXConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.gpt_neox = Backbone(cfg)
        self.score = nn.Linear(cfg.hidden, cfg.labels, bias=False)
        self.apply(_init)

    @property
    def embedding(self) -> nn.Embedding:
        return self.gpt_neox.embed_in

    def forward(self, ids: torch.Tensor | None = None, lengths: torch.Tensor | None = None,
                embeds: torch.Tensor | None = None, past: KVCache | None = None) -> torch.Tensor:
        """Logits [B, labels] at each row's last token (`lengths`; default: the full width). With `past`
        (`prefix`'s cache of one shared prefix), the rows continue that prefix and are not padded."""
        x = self.gpt_neox.embed_in(ids) if embeds is None else embeds
        x, _ = self._run(x, past)
        last = x[:, -1] if lengths is None else x[torch.arange(x.shape[0], device=x.device), lengths - 1]
        return self.score(self.gpt_neox.final_layer_norm(last))

    def prefix(self, ids: torch.Tensor) -> KVCache:
        """The keys and values of a prefix [1, P], for `forward(..., past=)` (GCG's prefix cache)."""
        return self._run(self.gpt_neox.embed_in(ids), None)[1]

    def _run(self, x: torch.Tensor, past: KVCache | None) -> tuple[torch.Tensor, KVCache]:
        layers = self.gpt_neox.layers
        offset = 0 if past is None else past[0][0].shape[2]
        rope = layers[0].attention.rope(x.shape[1], x.device, offset) if len(layers) else None
        cache = []
        for i, layer in enumerate(layers):
            x, present = layer(x, rope, None if past is None else past[i])
            cache.append(present)
        return x, cache


def _init(module: nn.Module) -> None:  # Hugging Face GPT-NeoX's: N(0, 0.02) weights, zero biases
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module, embedding: bool = True) -> int:
    """All parameters, or without the token embedding (the FLOPs formula's N)."""
    total = sum(p.numel() for p in model.parameters())
    if not embedding and isinstance(model, NeoXClassifier):
        total -= model.embedding.weight.numel()
    return total


def config_from_hf(hf: dict, labels: int = 2) -> NeoXConfig:
    """Our config from a Hugging Face GPT-NeoX `config.json` (old and new key names)."""
    rope = hf.get("rope_parameters") or hf.get("rope_scaling") or {}
    return NeoXConfig(vocab_size=hf["vocab_size"], hidden=hf["hidden_size"], layers=hf["num_hidden_layers"],
                      heads=hf["num_attention_heads"], intermediate=hf.get("intermediate_size", 0),
                      rotary_pct=hf.get("rotary_pct", hf.get("partial_rotary_factor",
                                                          rope.get("partial_rotary_factor", 0.25))),
                      rotary_base=hf.get("rotary_emb_base", hf.get("rope_theta", rope.get("rope_theta", 10000.0))),
                      layer_norm_eps=hf.get("layer_norm_eps", 1e-5),
                      parallel_residual=hf.get("use_parallel_residual", True),
                      attention_bias=hf.get("attention_bias", True), labels=labels)


def load_pretrained(path: str | pathlib.Path, labels: int = 2) -> NeoXClassifier:
    """A Pythia (GPT-NeoX) checkpoint folder in Hugging Face format (`config.json` + `model.safetensors`):
    the backbone's weights, and the score head's when the checkpoint is a sequence classifier (a causal
    LM's output head, `embed_out` or `lm_head`, is dropped and the head starts fresh, as fine-tuning a
    classifier from Pythia)."""
    folder = pathlib.Path(path)
    config, weights = folder / "config.json", folder / "model.safetensors"
    if not config.is_file() or not weights.is_file():
        raise AnthologyError(f"{folder} is not a Hugging Face checkpoint folder: it needs config.json and "
                             "model.safetensors (save one with save_pretrained(..., safe_serialization=True))")
    hf = json.loads(config.read_text())
    if hf.get("model_type") != "gpt_neox":
        raise AnthologyError(f"{folder} holds a '{hf.get('model_type')}' model; only GPT-NeoX (Pythia) loads here")
    state = require("safetensors.torch", "llm").load_file(str(weights))
    model = NeoXClassifier(config_from_hf(hf, labels))
    state = {k: v for k, v in state.items() if k.startswith(("gpt_neox.", "score."))}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.startswith("score.")]:
        raise AnthologyError(f"{folder}: weights do not match the GPT-NeoX layout (missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]})")
    return model
