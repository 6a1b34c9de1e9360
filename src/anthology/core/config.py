"""Frozen-dataclass configs: to/from plain dicts (for config.json and resuming) and nested overrides."""

from __future__ import annotations

import dataclasses
import math
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


# ---- validation ---------------------------------------------------------------------------------------
# Every numeric field of a config is checked when the config is built (`validate(self, ...)` in its
# __post_init__, so presets, CLI overrides, `override` and `config_from_dict` all pass through it). The
# defaults: an int is a size, a count or an interval (>= 1); a float is finite and >= 0. A class lists
# the fields that differ. A tuple of numbers is checked element by element.

RANGES: dict[str, tuple[float, float, bool, bool]] = {
    # name: (low, high, low included, high included)
    ">=1": (1, math.inf, True, False),
    ">=0": (0, math.inf, True, False),
    ">0": (0, math.inf, False, False),
    "[0,1]": (0, 1, True, True),
    "[0,1)": (0, 1, True, False),
    "(0,1]": (0, 1, False, True),
    "(0,1)": (0, 1, False, False),
    "any": (-math.inf, math.inf, False, False),
}


def _numbers(value: Any) -> list[Any] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, tuple) and value and all(isinstance(v, int | float) and not isinstance(v, bool)
                                                  for v in value):
        return list(value)
    return None


def validate(cfg: Any, **ranges: str) -> None:
    """Check every numeric field of a config dataclass against its range (see RANGES; default '>=1' for
    ints, '>=0' for floats, all finite); raise one `AnthologyError` line naming the field and the range."""
    hints = typing.get_type_hints(type(cfg))
    unknown = set(ranges) - set(hints)
    if unknown or not set(ranges.values()) <= set(RANGES):  # a mistake in the config class, not the user's
        raise TypeError(f"validate({type(cfg).__name__}): unknown fields {sorted(unknown)} or ranges "
                        f"{sorted(set(ranges.values()) - set(RANGES))}")
    for field in dataclasses.fields(cfg):
        values = _numbers(getattr(cfg, field.name))
        if values is None:
            continue
        kind = hints.get(field.name)
        declared_int = kind is int or typing.get_args(kind)[:1] == (int,)  # int or tuple[int, ...]
        default = ">=1" if declared_int else ">=0"
        rule = ranges.get(field.name, default)
        low, high, low_in, high_in = RANGES[rule]
        for v in values:
            ok = (math.isfinite(v) and (v >= low if low_in else v > low) and (v <= high if high_in else v < high))
            if not ok:
                raise AnthologyError(f"{type(cfg).__name__}.{field.name} = {getattr(cfg, field.name)!r} is out of "
                                     f"range: it must be finite and {rule}")


def check(condition: bool, message: str) -> None:
    """A cross-field check of a config: one `AnthologyError` line when it fails."""
    if not condition:
        raise AnthologyError(message)
