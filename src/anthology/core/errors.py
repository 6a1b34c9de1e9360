"""Errors a user can fix, and lazy imports of optional dependencies.

Every `AnthologyError` carries one line that says what went wrong and what to do; the CLI prints
that line and exits with code 2 instead of showing a traceback.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from types import ModuleType


class AnthologyError(Exception):
    """A mistake the user can fix; `str(err)` is the one-line message shown by the CLI."""


class UnknownNameError(AnthologyError):
    """A method, preset, system or other name that is not known."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        super().__init__(f"unknown {kind} '{name}'; choose one of: {', '.join(known)}.{hint}")
        self.kind, self.name, self.known = kind, name, known


class MissingExtraError(AnthologyError):
    """An optional dependency is not installed."""


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency, or raise a one-line error naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(
            f"'{module}' is not installed; install the '{extra}' extra: pip install 'anthology-ml[{extra}]'"
        ) from err
