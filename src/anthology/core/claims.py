"""The machine-readable summary of a method's reproduction: `results/<method>/claim.json`.

Schema (checked by `shared/tools/check_claims.py`): method, claim, command, preset, seeds, table rows
`{setting, variant, metric, mean, std, n, values}` (`values`: one number per seed, in the order of
`seeds`), `holds` (computed from the table by the method's `judge`) and `evidence` (one sentence computed
from the same table).

`holds` follows a per-seed rule, never means alone: `wins_on_every_seed` (paired by seed) or
`mean_difference_exceeds_se` (the mean of the paired differences is larger than its standard error).
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from collections.abc import Callable, Iterable, Sequence
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
    values: tuple[float, ...] = ()
    """One value per seed (in the claim's seed order); empty only in claims written before it existed."""


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
    return ClaimRow(setting, variant, metric, mean, std, len(vals), tuple(vals))


def per_seed(*rows: ClaimRow | Sequence[float]) -> list[tuple[float, ...]]:
    """The rows' values zipped by seed: one tuple per seed. A row with a single value (an exact,
    seed-free reference) is repeated for every seed."""
    columns = [list(r.values) if isinstance(r, ClaimRow) else [float(v) for v in r] for r in rows]
    n = max(len(c) for c in columns)
    columns = [c * n if len(c) == 1 else c for c in columns]
    if n == 0 or any(len(c) != n for c in columns):
        raise ValueError(f"cannot pair values per seed: lengths {[len(c) for c in columns]} (per-seed values missing?)")
    return list(zip(*columns))


def holds_on_every_seed(predicate: Callable[..., bool], *rows: ClaimRow | Sequence[float]) -> bool:
    """`predicate(*values of one seed)` is true for every seed."""
    return all(predicate(*values) for values in per_seed(*rows))


def wins_on_every_seed(a: ClaimRow | Sequence[float], b: ClaimRow | Sequence[float],
                       higher_is_better: bool = True) -> bool:
    """`a` beats `b` on every seed, paired by seed (strictly)."""
    return all((x > y) if higher_is_better else (x < y) for x, y in per_seed(a, b))


def mean_difference_exceeds_se(a: ClaimRow | Sequence[float], b: ClaimRow | Sequence[float],
                               higher_is_better: bool = True) -> bool:
    """The mean of the paired differences a - b (sign flipped when lower is better) is positive and larger
    than its standard error; with one seed, the single difference must be positive."""
    diffs = [(x - y) if higher_is_better else (y - x) for x, y in per_seed(a, b)]
    mean = sum(diffs) / len(diffs)
    if len(diffs) == 1:
        return mean > 0
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs))
    return mean > 0 and mean > se


def write_claim(path: str | pathlib.Path, claim: Claim) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, claim.to_dict())
    return path


def read_claim(path: str | pathlib.Path) -> Claim:
    data = json.loads(pathlib.Path(path).read_text())
    rows = [ClaimRow(**{**row, "values": tuple(row.get("values", ()))}) for row in data.pop("table")]
    return Claim(table=rows, **data)


def format_table(rows: Sequence[ClaimRow]) -> str:
    """The claim's table as Markdown: one line per row."""
    lines = ["| setting | variant | metric | mean | std | n | per seed |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        std = "" if r.std is None else f"{r.std:.3g}"
        per_seed = ", ".join(f"{v:.4g}" for v in r.values)
        lines.append(f"| {r.setting} | {r.variant} | {r.metric} | {r.mean:.4g} | {std} | {r.n} | {per_seed} |")
    return "\n".join(lines)
