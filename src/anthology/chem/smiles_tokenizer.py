"""A SMILES tokenizer built with Hugging Face `tokenizers`: one token per atom, bond, branch or ring label.

The vocabulary is
- the special tokens `<pad>`, `<s>` (start of molecule), `</s>` (end) and `<unk>`;
- one token per name and weight, `<qed=0.70>`, for weights 0.00, 0.01, ..., 1.00 (Mol-MoE's prompt
  format `<JNK3=0.30><DRD2=0.70><s>`, with each `<name=w>` a single token), for every objective and every
  other name a prompt may carry (e.g. the descriptors of Mol-MoE's pretraining prefixes);
- the SMILES tokens of the regex below: bracket atoms, two-letter halogens, organic-subset atoms,
  bonds, branches and ring labels. The organic subset, bonds, ring labels and the bracket atoms seen in
  the training SMILES are in the vocabulary; anything else is an unknown character, an error.

The result is a `transformers.PreTrainedTokenizerFast`, so `save_pretrained` / `from_pretrained` and
`model.generate` work with it as with any Hugging Face tokenizer. `encode_smiles` and `decode_smiles`
are the checked round trip used in training.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from anthology.core.errors import AnthologyError, require

# The regex of Schwaller et al. (Molecular Transformer), the usual SMILES tokenisation.
SMILES_REGEX = (r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$|%[0-9]{2}|[0-9])")
PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)
WEIGHT_LEVELS = 101  # preference weights are written with two decimals: 0.00 ... 1.00
BASE_TOKENS = ("B", "C", "N", "O", "P", "S", "F", "Cl", "Br", "I", "b", "c", "n", "o", "s", "p",
               "(", ")", ".", "=", "#", "-", "+", "\\", "/", ":", "@", "*",
               *[str(d) for d in range(10)], *[f"%{d}" for d in range(10, 20)])
_PIECE = re.compile(SMILES_REGEX)
_PREFERENCE = re.compile(r"<([A-Za-z0-9_]+)=([01]\.[0-9]{2})>")


class UnknownSmilesTokenError(AnthologyError):
    """A SMILES character or bracket atom outside the tokenizer's vocabulary."""


def smiles_pieces(smiles: str) -> list[str]:
    """The regex tokens of a SMILES; raises when a character is not covered by any token."""
    pieces, position = [], 0
    for match in _PIECE.finditer(smiles):
        if match.start() != position:
            raise UnknownSmilesTokenError(
                f"unknown character '{smiles[position]}' at position {position} of SMILES '{smiles}'; "
                "write atoms, bonds, branches and ring labels as in OpenSMILES")
        pieces.append(match.group())
        position = match.end()
    if position != len(smiles):
        raise UnknownSmilesTokenError(f"unknown character '{smiles[position]}' at position {position} of "
                                      f"SMILES '{smiles}'; write atoms, bonds, branches and ring labels as in "
                                      "OpenSMILES")
    return pieces


def weight_tokens(name: str) -> list[str]:
    """The tokens of `name` for weights 0.00 ... 1.00, in order."""
    return [f"<{name}={level / (WEIGHT_LEVELS - 1):.2f}>" for level in range(WEIGHT_LEVELS)]


def preference_token(objective: str, weight: float) -> str:
    """`<qed=0.70>`: the single token for weight `weight` (rounded to two decimals) on `objective`."""
    if not 0.0 <= weight <= 1.0:
        raise AnthologyError(f"preference weight {weight} for '{objective}' is outside [0, 1]")
    return f"<{objective}={round(weight * (WEIGHT_LEVELS - 1)) / (WEIGHT_LEVELS - 1):.2f}>"


def preference_prompt(objectives: Sequence[str], weights: Sequence[float]) -> str:
    """The text prompt for one preference, ending in `<s>`: `<qed=0.70><sa=0.30><s>`."""
    return "".join(preference_token(o, w) for o, w in zip(objectives, weights, strict=True)) + BOS


def make_smiles_tokenizer(objectives: Sequence[str], smiles: Iterable[str] = (), other_names: Sequence[str] = ()) -> Any:
    """A `PreTrainedTokenizerFast` whose vocabulary covers `BASE_TOKENS`, the tokens of `smiles` and one
    token per weight level for each objective and each other name a prompt may carry (`other_names`)."""
    tokenizers = require("tokenizers", "llm")
    transformers = require("transformers", "llm")
    seen = set(BASE_TOKENS)
    for s in smiles:
        seen.update(smiles_pieces(s))
    preference = [t for name in (*objectives, *other_names) for t in weight_tokens(name)]
    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *preference, *sorted(seen)])}
    model = tokenizers.models.WordLevel(vocab=vocab, unk_token=UNK)
    tokenizer = tokenizers.Tokenizer(model)
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Split(tokenizers.Regex(SMILES_REGEX), behavior="isolated")
    tokenizer.add_special_tokens([*SPECIAL_TOKENS, *preference])
    tokenizer.decoder = tokenizers.decoders.Fuse()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS,
                                                pad_token=PAD, unk_token=UNK, model_max_length=256)
    fast.init_kwargs["objectives"] = list(objectives)
    return fast


def names_of(tokenizer: Any) -> list[str]:
    """Every name a tokenizer has weight tokens for, in vocabulary order."""
    names: list[str] = []
    for token in sorted(tokenizer.get_vocab(), key=tokenizer.get_vocab().get):
        match = _PREFERENCE.fullmatch(token)
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names


def objectives_of(tokenizer: Any) -> list[str]:
    """The objectives a tokenizer was made for (`make_smiles_tokenizer`'s first argument)."""
    return list(tokenizer.init_kwargs.get("objectives") or names_of(tokenizer))


def encode_smiles(tokenizer: Any, smiles: str, prompt: str = BOS, eos: bool = True) -> list[int]:
    """Token ids of `prompt` + SMILES (+ `</s>`); raises `UnknownSmilesTokenError` on a character or
    bracket atom the vocabulary does not have."""
    vocab = tokenizer.get_vocab()
    ids = prompt_ids(tokenizer, prompt)
    for piece in smiles_pieces(smiles):
        if piece not in vocab:
            raise UnknownSmilesTokenError(f"token '{piece}' of SMILES '{smiles}' is not in the vocabulary; the "
                                          "model was trained without it")
        ids.append(vocab[piece])
    if eos:
        ids.append(vocab[EOS])
    return ids


def _prompt_tokens(prompt: str) -> list[str]:
    tokens = [f"<{name}={weight}>" for name, weight in _PREFERENCE.findall(prompt)]
    if "".join(tokens) + BOS != prompt:
        raise AnthologyError(f"a prompt is preference tokens then <s>, like '<qed=0.70><sa=0.30><s>'; got '{prompt}'")
    return [*tokens, BOS]


def prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    """Token ids of a prompt (`<s>` or preference tokens then `<s>`)."""
    tokens = _prompt_tokens(prompt) if prompt != BOS else [BOS]
    ids = tokenizer.convert_tokens_to_ids(tokens)
    if tokenizer.unk_token_id in ids:
        raise AnthologyError(f"prompt '{prompt}' names an objective the tokenizer does not know; it knows "
                             f"{', '.join(names_of(tokenizer))}")
    return ids


def decode_smiles(tokenizer: Any, ids: Sequence[int]) -> str:
    """The SMILES between `<s>` and the first `</s>` (or the end), without preference tokens."""
    tokens = tokenizer.convert_ids_to_tokens(list(ids))
    if BOS in tokens:
        tokens = tokens[tokens.index(BOS) + 1:]
    if EOS in tokens:
        tokens = tokens[:tokens.index(EOS)]
    return "".join(t for t in tokens if t not in SPECIAL_TOKENS)


def parse_weights(text: str, objectives: Sequence[str]) -> dict[str, float]:
    """`qed=0.7,sa=0.3` -> weights for every objective (unnamed ones 0), normalised to sum to one."""
    weights = dict.fromkeys(objectives, 0.0)
    named: set[str] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep:
            raise AnthologyError(f"write weights as name=value pairs, like qed=0.7,sa=0.3; got '{part}'")
        if name not in weights:
            raise AnthologyError(f"unknown objective '{name}'; choose from {', '.join(objectives)}")
        if name in named:
            raise AnthologyError(f"objective '{name}' is named twice; give each objective one weight")
        named.add(name)
        try:
            weights[name] = float(value)
        except ValueError:
            raise AnthologyError(f"weight '{value}' for '{name}' is not a number") from None
        if not math.isfinite(weights[name]) or weights[name] < 0:
            raise AnthologyError(f"weight for '{name}' is {weights[name]}: weights must be finite and not negative")
    total = sum(weights.values())
    if not math.isfinite(total):  # each finite, but their sum overflows: scale them down first
        scale = max(weights.values())
        weights = {k: v / scale for k, v in weights.items()}
        total = sum(weights.values())
    if total <= 0:
        raise AnthologyError("at least one weight must be positive")
    return {k: v / total for k, v in weights.items()}


def weights_vector(weights: Mapping[str, float], objectives: Sequence[str]) -> list[float]:
    return [float(weights.get(o, 0.0)) for o in objectives]
