"""The machine-readable summary of a method's reproduction: `results/<method>/claim.json`.

Schema (checked by `shared/tools/check_claims.py`): method, claim, command, preset, seeds, table rows
`{setting, variant, metric, mean, std, n}`, `holds` (computed from the table by the method's
reproduction code) and `evidence` (one sentence computed from the same table).
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from collections.abc import Iterable, Sequence
from typing import Any

from anthology.core.run_dir import write_json


@dataclasses.dataclass(frozen=True)
class ClaimRow:
    setting: str
    variant: str
    metric: str
    mean: float
    std: float | None
    n: int


@dataclasses.dataclass(frozen=True)
class Claim:
    method: str
    claim: str
    command: str
    preset: str
    seeds: list[int]
    table: list[ClaimRow]
    holds: bool
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def rows(self, setting: str | None = None, variant: str | None = None,
             metric: str | None = None) -> list[ClaimRow]:
        return [r for r in self.table if (setting is None or r.setting == setting)
                and (variant is None or r.variant == variant) and (metric is None or r.metric == metric)]

    def value(self, setting: str, variant: str, metric: str) -> float:
        (row,) = self.rows(setting, variant, metric)
        return row.mean


def summarize(setting: str, variant: str, metric: str, values: Iterable[float]) -> ClaimRow:
    """Mean and sample standard deviation over seeds (std is None for a single value)."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError(f"no values for {setting}/{variant}/{metric}")
    mean = sum(vals) / len(vals)
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else None
    return ClaimRow(setting, variant, metric, mean, std, len(vals))


def write_claim(path: str | pathlib.Path, claim: Claim) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, claim.to_dict())
    return path


def read_claim(path: str | pathlib.Path) -> Claim:
    data = json.loads(pathlib.Path(path).read_text())
    rows = [ClaimRow(**row) for row in data.pop("table")]
    return Claim(table=rows, **data)


def format_table(rows: Sequence[ClaimRow]) -> str:
    """The claim's table as Markdown: one line per row."""
    lines = ["| setting | variant | metric | mean | std | n |", "|---|---|---|---|---|---|"]
    for r in rows:
        std = "" if r.std is None else f"{r.std:.3g}"
        lines.append(f"| {r.setting} | {r.variant} | {r.metric} | {r.mean:.4g} | {std} | {r.n} |")
    return "\n".join(lines)
