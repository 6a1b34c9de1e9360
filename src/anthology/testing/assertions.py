"""Assertions every method's tests share: determinism, gradient flow, learning to a threshold."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from anthology.core.result import evaluation_metrics


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def assert_summaries_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
    """Two runs' summaries are identical, key for key and bit for bit (NaN equals NaN)."""
    assert a.keys() == b.keys(), f"different keys: {sorted(set(a) ^ set(b))}"
    diff = {k: (a[k], b[k]) for k in a if a[k] != b[k] and not (_is_nan(a[k]) and _is_nan(b[k]))}
    assert not diff, f"summaries differ: {diff}"


def assert_deterministic(run: Callable[[int], Mapping[str, Any]], seed: int = 0, other_seed: int = 1) -> None:
    """Same seed gives an identical summary; another seed changes at least one evaluation metric (`eval/...`;
    config echoes such as `seed` and training diagnostics do not count)."""
    first, second, other = run(seed), run(seed), run(other_seed)
    assert_summaries_equal(first, second)
    a, c = evaluation_metrics(first), evaluation_metrics(other)
    assert a, f"the summary has no numeric evaluation metric (eval/...): {sorted(first)}"
    changed = [k for k in a if k in c and a[k] != c[k]]
    assert changed, f"a different seed gave exactly the same evaluation metrics {sorted(a)}: is the seed used?"


def snapshot_parameters(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters() if p.requires_grad}


def assert_all_parameters_change(module: nn.Module, update: Callable[[], Any],
                                 ignore: Sequence[str] = ()) -> None:
    """After `update()` every trainable parameter has moved and every gradient is finite
    (catches detached graphs and parameters that never reach the loss)."""
    before = snapshot_parameters(module)
    update()
    unchanged, nonfinite = [], []
    for name, p in module.named_parameters():
        if name not in before or any(name.startswith(i) for i in ignore):
            continue
        if torch.equal(before[name], p.detach()):
            unchanged.append(name)
        if p.grad is not None and not torch.isfinite(p.grad).all():
            nonfinite.append(name)
    assert not unchanged, f"parameters did not change: {unchanged}"
    assert not nonfinite, f"non-finite gradients: {nonfinite}"


def assert_learns_to_threshold(values: Sequence[float], threshold: float, higher_is_better: bool = False,
                               name: str = "metric") -> None:
    """Every seed's final metric passes the threshold (finite, and on the right side of it)."""
    bad = [v for v in values if not math.isfinite(v) or (v < threshold if higher_is_better else v > threshold)]
    side = ">=" if higher_is_better else "<="
    assert not bad, f"{name} should be {side} {threshold} for every seed; got {list(values)}"
