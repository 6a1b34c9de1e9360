"""The method registry: names to `MethodSpec`s, found without a hard-coded list and imported lazily.

A method is a package `anthology.methods.<name>` that exports `METHOD`, a `MethodSpec`: the registry finds
every sub-package of `anthology.methods` on disk (without importing it), so adding a method touches only
its own folder. Methods from other distributions register an entry point in the group
`anthology.methods` (`name = "package.module"`). A method is imported only when it is asked for, so a
method whose extra is missing fails with a one-line message only when it is used.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import pkgutil
from collections.abc import Callable, Mapping
from typing import Any

from anthology.core.errors import UnknownNameError

PRESET_NAMES = ("tiny", "demo", "quick", "paper")
METHODS_PACKAGE = "anthology.methods"
ENTRY_POINT_GROUP = "anthology.methods"


def method_modules() -> dict[str, str]:
    """Method name -> module: the packages under `anthology.methods` (sorted), then entry points."""
    spec = importlib.util.find_spec(METHODS_PACKAGE)
    found = {info.name: f"{METHODS_PACKAGE}.{info.name}"
             for info in pkgutil.iter_modules(list(spec.submodule_search_locations or []))
             if info.ispkg and not info.name.startswith("_")}
    modules = dict(sorted(found.items()))
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        modules.setdefault(entry.name, entry.value)
    return modules


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
    judge: Callable[[Any, list[Any]], tuple[bool, str]]
    """(reproduce config, claim rows) -> (holds, evidence): the per-seed rule, written before the runs;
    `tests/test_committed_claims.py` re-judges every committed claim.json with it."""
    generate: Callable[..., Any] | None = None
    """Sampling from a trained model (`anthology generate <method>`), for generative methods."""
    generate_config: type | None = None

    def preset(self, name: str) -> Any:
        if name not in self.presets:
            raise UnknownNameError(f"preset of '{self.name}'", name, self.presets)
        return self.presets[name]


def method_names() -> list[str]:
    return list(method_modules())


def get_method(name: str) -> MethodSpec:
    modules = method_modules()
    if name not in modules:
        raise UnknownNameError("method", name, modules)
    spec = importlib.import_module(modules[name]).METHOD
    if not isinstance(spec, MethodSpec) or spec.name != name:
        raise TypeError(f"{modules[name]}.METHOD should be a MethodSpec named '{name}'")
    return spec
