"""What every method's `train` returns, and the metric naming rule.

Metric keys are `group/name`: `eval/...` for evaluation metrics (what determinism and claims compare),
`train/...` for training diagnostics, `time/...` for timings (never in a summary). Keys without a `/`
in a summary are echoes of the configuration (`method`, `seed`, `system`, ...) and carry no result.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

EVAL_GROUP = "eval"
METRIC_GROUPS = ("eval", "train", "time")


@dataclasses.dataclass
class TrainResult:
    """One training run's outcome: `summary` (the run folder's `summary.json`), `curve` (one record per
    evaluation during training, the run folder's `curve.json`; keys `step` and `group/name`; empty for a
    method that evaluates once, at the end) and
    `artifacts` (trained modules and anything else a caller may reuse; never serialised here)."""

    summary: dict[str, Any]
    curve: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    artifacts: dict[str, Any] = dataclasses.field(default_factory=dict)


def evaluation_metrics(summary: Mapping[str, Any]) -> dict[str, float]:
    """The numeric evaluation metrics of a summary (`eval/...`), config echoes and diagnostics left out."""
    out = {}
    for key, value in summary.items():
        if key.split("/", 1)[0] != EVAL_GROUP or isinstance(value, bool):
            continue
        if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
            out[key] = float(value)
    return out
