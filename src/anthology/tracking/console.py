"""A rich progress bar: steps, elapsed time, ETA and the latest key metrics."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def format_metrics(metrics: Mapping[str, float], limit: int = 2) -> str:
    parts = []
    for key, value in list(metrics.items())[:limit]:
        parts.append(f"{key.split('/')[-1]}={value:.3g}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(parts)


class ConsoleTracker:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress: Progress | None = None
        self.task = None

    def start(self, total_steps: int, initial_step: int = 0, description: str = "") -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(bar_width=20), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
            console=self.console, transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task(description or "train", total=total_steps, completed=initial_step,
                                           info="")

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=step, info=format_metrics(metrics))

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
