"""TensorBoard scalars (needs the `tensorboard` package: extra `bench` or `dev`)."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

from anthology.core.errors import require


class TensorBoardTracker:
    def __init__(self, log_dir: pathlib.Path) -> None:
        require("tensorboard", "bench")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(log_dir))

    def start(self, total_steps: int, initial_step: int = 0, description: str = "") -> None:
        pass

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            if isinstance(value, int | float):
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        self.writer.close()
