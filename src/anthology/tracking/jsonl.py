"""Metrics appended to the run directory's metrics.jsonl, one record per logged step."""

from __future__ import annotations

from collections.abc import Mapping

from anthology.core.run_dir import RunDir


class JsonlTracker:
    def __init__(self, run_dir: RunDir) -> None:
        self.run_dir = run_dir

    def start(self, total_steps: int, initial_step: int = 0, description: str = "") -> None:
        if initial_step > 0:
            self.run_dir.append_metrics({"event": "resume", "step": initial_step})

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        self.run_dir.append_metrics({"step": step, **metrics})

    def close(self) -> None:
        pass
