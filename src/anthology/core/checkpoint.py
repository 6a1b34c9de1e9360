"""Checkpoints without pickle: tensors in safetensors, everything else in JSON.

A checkpoint is a nested structure of dicts, lists, tensors and JSON values (a model's and an
optimizer's `state_dict`, generator states, counters). `save_checkpoint` splits it: every tensor is
stored in `tensors.safetensors` under its path (`model/encoder.0.weight`), and the rest goes to
`state.json` with a `{"__tensor__": path}` marker where a tensor was. Writes are atomic, so a run
killed while saving keeps its previous checkpoint.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
from typing import Any

import torch
from safetensors.torch import load_file, save_file

TENSORS, STATE = "tensors.safetensors", "state.json"
_MARK = "__tensor__"


def _split(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().to("cpu").contiguous()
        return {_MARK: path}
    if isinstance(obj, dict):
        return {"__dict__": [[_split(k, f"{path}/k{i}", tensors), _split(v, f"{path}/{k}", tensors)]
                             for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, list | tuple):
        return {"__list__": [_split(v, f"{path}/{i}", tensors) for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple)}
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot checkpoint a {type(obj).__name__} at '{path}'")


def _join(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if _MARK in obj:
            return tensors[obj[_MARK]]
        if "__dict__" in obj:
            return {_join(k, tensors): _join(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            items = [_join(v, tensors) for v in obj["__list__"]]
            return tuple(items) if obj["tuple"] else items
    return obj


def save_checkpoint(directory: str | os.PathLike, state: dict[str, Any]) -> pathlib.Path:
    """Write `state` to `directory` atomically (a temporary folder renamed into place)."""
    directory = pathlib.Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _split(state, "", tensors)
    save_file(tensors, str(tmp / TENSORS))
    (tmp / STATE).write_text(json.dumps(skeleton))
    old = directory.with_name(directory.name + ".old")
    if directory.exists():
        shutil.rmtree(old, ignore_errors=True)
        directory.rename(old)
    tmp.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
    return directory


def load_checkpoint(directory: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint` (never unpickles anything)."""
    directory = pathlib.Path(directory)
    if not (directory / STATE).exists():
        old = directory.with_name(directory.name + ".old")
        if (old / STATE).exists():  # killed between the two renames
            directory = old
        else:
            raise FileNotFoundError(f"no checkpoint in {directory}")
    tensors = load_file(str(directory / TENSORS))
    return _join(json.loads((directory / STATE).read_text()), tensors)


def save_training_state(directory: str | os.PathLike, step: int, stateful: dict[str, Any],
                        generator: torch.Generator | None = None, extra: dict[str, Any] | None = None) -> None:
    """Checkpoint everything a training loop needs to continue bit-for-bit: the step, every object with a
    `state_dict` (models, optimizers, schedulers), all random generators, and any extra values."""
    from anthology.core.seeding import capture_rng_state

    save_checkpoint(directory, {
        "step": step,
        "stateful": {name: obj.state_dict() for name, obj in stateful.items()},
        "rng": capture_rng_state(generator),
        "extra": extra or {},
    })


def load_training_state(directory: str | os.PathLike, stateful: dict[str, Any],
                        generator: torch.Generator | None = None) -> tuple[int, dict[str, Any]]:
    """Restore what `save_training_state` wrote into the given objects; returns (step, extra)."""
    from anthology.core.seeding import restore_rng_state

    state = load_checkpoint(directory)
    for name, obj in stateful.items():
        obj.load_state_dict(state["stateful"][name])
    restore_rng_state(state["rng"], generator)
    return int(state["step"]), state["extra"]
