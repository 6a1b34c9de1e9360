"""Fakes for tests: a tracker that kills a run at a given step (to test checkpoint and resume)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SimulatedKill(Exception):
    """Raised by `KillAtStep` as if the process had died at that step."""


class KillAtStep:
    """A tracker that raises `SimulatedKill` when a metric record for `step` arrives."""

    def __init__(self, step: int) -> None:
        self.step = step

    def start(self, total_steps: int, initial_step: int = 0, description: str = "") -> None:
        pass

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        if step == self.step:
            raise SimulatedKill(f"killed at step {step}")

    def close(self) -> None:
        pass


def slow_oracle_call(item: str, seconds: float) -> Any:
    """A stand-in oracle call for worker pools and Ray tasks (importable there, unlike a test module's
    function): sleeps `seconds` when the item is "slow", then scores 1.0."""
    import time

    from anthology.chem.oracles import OracleResult

    time.sleep(seconds if item == "slow" else 0.0)
    return OracleResult(item, 1.0, "ok")


def crashing_oracle_call(item: str, seconds: float) -> Any:
    """Like `slow_oracle_call`, but the worker process dies (as in a segmentation fault) on "die", and
    "raise" raises inside the worker."""
    import os

    if item == "die":
        os._exit(139)
    if item == "raise":
        raise RuntimeError("the oracle broke")
    return slow_oracle_call(item, seconds)
