"""The method registry: names to `MethodSpec`s, imported lazily so `anthology list` stays fast.

A method package `anthology.methods.<name>` exports `METHOD`, a `MethodSpec`. The registry only knows
the module names; this layer never imports a method at import time.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from anthology.core.errors import UnknownNameError

PRESET_NAMES = ("tiny", "demo", "quick", "paper")

METHOD_MODULES: dict[str, str] = {
    "koopman": "anthology.methods.koopman",
    "maxent_gfn": "anthology.methods.maxent_gfn",
    "decoupled_regularization": "anthology.methods.decoupled_regularization",
    "lambdazero": "anthology.methods.lambdazero",
    "mol_moe": "anthology.methods.mol_moe",
}


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """What the CLI, the report and the tests need to know about a method."""

    name: str
    title: str
    paper: str
    claim: str
    reproduces: str
    config_cls: type
    presets: Mapping[str, Any]
    train: Callable[..., Any]
    reproduce: Callable[..., Any]
    reproduce_presets: Mapping[str, Any]
    generate: Callable[..., Any] | None = None
    """Sampling from a trained model (`anthology generate <method>`), for generative methods."""
    generate_config: type | None = None

    def preset(self, name: str) -> Any:
        if name not in self.presets:
            raise UnknownNameError(f"preset of '{self.name}'", name, self.presets)
        return self.presets[name]


def method_names() -> list[str]:
    return list(METHOD_MODULES)


def get_method(name: str) -> MethodSpec:
    if name not in METHOD_MODULES:
        raise UnknownNameError("method", name, METHOD_MODULES)
    return importlib.import_module(METHOD_MODULES[name]).METHOD
