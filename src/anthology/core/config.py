"""Frozen-dataclass configs: to/from plain dicts (for config.json and resuming) and nested overrides."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

from anthology.core.errors import AnthologyError

T = TypeVar("T")


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A dataclass as a JSON-able dict (tuples become lists)."""
    return dataclasses.asdict(cfg)


def _coerce(kind: Any, value: Any) -> Any:
    origin = typing.get_origin(kind)
    if dataclasses.is_dataclass(kind):
        return config_from_dict(kind, value)
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v) for v in value)
        return tuple(_coerce(a, v) for a, v in zip(args, value, strict=True))
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(kind):
            if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                return config_from_dict(arg, value)
    return value


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a (nested) frozen dataclass from `config_to_dict`'s output."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise AnthologyError(f"unknown config field(s) {sorted(unknown)} for {cls.__name__}")
    return cls(**{k: _coerce(hints[k], v) for k, v in data.items()})


def override(cfg: T, **changes: Any) -> T:
    """`dataclasses.replace` that also accepts dotted paths: override(cfg, **{"model.hidden": 64})."""
    direct = {k: v for k, v in changes.items() if "." not in k}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        if "." in key:
            head, rest = key.split(".", 1)
            nested.setdefault(head, {})[rest] = value
    for head, sub in nested.items():
        direct[head] = override(getattr(cfg, head), **sub)
    try:
        return dataclasses.replace(cfg, **direct)  # type: ignore[type-var]
    except TypeError as err:
        raise AnthologyError(f"bad config override {sorted(changes)}: {err}") from err
