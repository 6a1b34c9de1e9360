"""The tracker protocol and the sink that fans out to several trackers."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from anthology.core.run_dir import RunDir


@runtime_checkable
class Tracker(Protocol):
    """Receives metrics keyed `group/name` at a step; `start` announces the step range."""

    def start(self, total_steps: int, initial_step: int = 0, description: str = "") -> None: ...

    def log(self, step: int, metrics: Mapping[str, float]) -> None: ...

    def close(self) -> None: ...


class NullTracker:
    def start(self, total_steps: int, initial_step: int = 0, description: str = "") -> None:
        pass

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


class MultiTracker:
    def __init__(self, *trackers: Tracker) -> None:
        self.trackers = [t for t in trackers if t is not None]

    def start(self, total_steps: int, initial_step: int = 0, description: str = "") -> None:
        for t in self.trackers:
            t.start(total_steps, initial_step, description)

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        for t in self.trackers:
            t.log(step, metrics)

    def close(self) -> None:
        for t in self.trackers:
            t.close()


def make_tracker(run_dir: RunDir | None, console: bool = True, tensorboard: bool | None = None) -> Tracker:
    """JSONL into the run directory, a rich progress bar when `console`, and TensorBoard when installed
    (`tensorboard=None`) or when asked for (`True`, which errors without the `bench` extra). With no run
    directory and no console, nothing is recorded."""
    from anthology.tracking.console import ConsoleTracker
    from anthology.tracking.jsonl import JsonlTracker

    trackers: list[Tracker] = []
    if run_dir is not None:
        trackers.append(JsonlTracker(run_dir))
        if tensorboard or (tensorboard is None and importlib.util.find_spec("tensorboard") is not None):
            from anthology.tracking.tensorboard import TensorBoardTracker

            trackers.append(TensorBoardTracker(run_dir.path / "tensorboard"))
    if console:
        trackers.append(ConsoleTracker())
    return MultiTracker(*trackers)
