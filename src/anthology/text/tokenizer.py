"""Tokenizers behind one small interface: `encode`, `decode`, `vocab_size`, `pad_id` and `attack_ids` (the
tokens an attack may use: printable ASCII, no special tokens, as the paper's GCG).

- `CharTokenizer`: one token per character (printable ASCII and the line break); what the from-scratch
  victims use. Every printable string survives a round trip.
- `BPETokenizer`: a Hugging Face `tokenizers` tokenizer: a real Pythia checkpoint's `tokenizer.json`, or
  one trained here with `train_bpe`. Merges make round trips fail (two tokens "a", "b" decode to "ab",
  which encodes as one token), which is what the attacks' retokenisation filter is for.
"""

from __future__ import annotations

import pathlib
import string
from collections.abc import Iterable, Sequence
from typing import Protocol

import torch

from anthology.core.errors import AnthologyError, require

PRINTABLE = string.digits + string.ascii_letters + string.punctuation + " "


class Tokenizer(Protocol):
    vocab_size: int
    pad_id: int
    lossless: bool
    """True when every string of attack tokens survives a decode/encode round trip."""

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def attack_ids(self) -> torch.Tensor: ...


class CharTokenizer:
    """ids: 0 pad, 1 unknown, then the line break and the 95 printable ASCII characters."""

    lossless = True
    """Every string of attack tokens survives a round trip, so the attacks skip the retokenisation check."""

    def __init__(self) -> None:
        self.chars = "\n" + PRINTABLE
        self.index = {c: i + 2 for i, c in enumerate(self.chars)}
        self.vocab_size, self.pad_id, self.unk_id = len(self.chars) + 2, 0, 1

    def encode(self, text: str) -> list[int]:
        return [self.index.get(c, self.unk_id) for c in text]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[i - 2] if i >= 2 else ("" if i == 0 else "\ufffd") for i in ids)

    def attack_ids(self) -> torch.Tensor:
        return torch.tensor([self.index[c] for c in PRINTABLE])


class BPETokenizer:
    """A `tokenizers.Tokenizer` (byte-level BPE such as Pythia's)."""

    lossless = False

    def __init__(self, tokenizer: object, pad_id: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.get_vocab_size()  # type: ignore[attr-defined]
        specials = set(self._special_ids())
        self.pad_id = pad_id if pad_id is not None else (min(specials) if specials else 0)

    @classmethod
    def from_file(cls, path: str | pathlib.Path) -> BPETokenizer:
        """`tokenizer.json` or a Hugging Face checkpoint folder holding one."""
        tokenizers = require("tokenizers", "llm")
        p = pathlib.Path(path)
        p = p / "tokenizer.json" if p.is_dir() else p
        if not p.is_file():
            raise AnthologyError(f"no tokenizer.json at {p}: give a Hugging Face checkpoint folder that has one")
        return cls(tokenizers.Tokenizer.from_file(str(p)))

    def _special_ids(self) -> list[int]:
        decoder = self.tokenizer.get_added_tokens_decoder()  # type: ignore[attr-defined]
        return [i for i, tok in decoder.items() if tok.special]

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids  # type: ignore[attr-defined]

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)  # type: ignore[attr-defined]

    def attack_ids(self) -> torch.Tensor:
        """Tokens that decode to non-empty printable ASCII, special tokens excluded (the paper's filter)."""
        special = set(self._special_ids())
        allowed = set(PRINTABLE)
        keep = [i for i in range(self.vocab_size) if i not in special
                and (s := self.decode([i])) and set(s) <= allowed]
        return torch.tensor(keep)


def train_bpe(texts: Iterable[str], vocab_size: int = 300) -> BPETokenizer:
    """A byte-level BPE tokenizer trained on `texts` (with a `<pad>` special token, id 0)."""
    tokenizers = require("tokenizers", "llm")
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>"],
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
                                             show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return BPETokenizer(tok, pad_id=0)
