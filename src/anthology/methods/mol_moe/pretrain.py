"""Pretrain Mol-MoE's base model on MOSES and save it with its tokenizer.

    python -m anthology.methods.mol_moe.pretrain --out src/anthology/methods/mol_moe/data/base

This is how the shipped base (`--base-model shipped`, the default of the demo and quick presets) was
made; its `pretraining.json` holds the loss and the validity, uniqueness and novelty of 1,000 samples.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys

from anthology.core.errors import AnthologyError

from .config import PRESETS, Config
from .train import pretrain_base

SHIPPED = dataclasses.replace(PRESETS["quick"], base_model=None)


@dataclasses.dataclass(frozen=True)
class PretrainArgs:
    out: str
    """Folder to write the model, tokenizer and pretraining.json to."""
    config: Config = SHIPPED


def main(argv: list[str] | None = None) -> int:
    import tyro

    args = tyro.cli(PretrainArgs, args=argv)
    try:
        stats = pretrain_base(args.config, pathlib.Path(args.out))
    except AnthologyError as err:
        print(f"anthology: error: {err}", file=sys.stderr)
        return 2
    print(" ".join(f"{k}={v:.3f}" for k, v in stats.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
