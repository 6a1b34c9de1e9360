"""Exact hypervolume of a small set of points (maximisation) by slicing along the first objective."""

from __future__ import annotations

import numpy as np


def pareto_front(points: np.ndarray) -> np.ndarray:
    """The points no other point dominates (maximisation), duplicates removed."""
    points = np.unique(np.asarray(points, dtype=float), axis=0)
    keep = [i for i, p in enumerate(points)
            if not np.any(np.all(points >= p, axis=1) & np.any(points > p, axis=1))]
    return points[keep]


def hypervolume(points: np.ndarray, reference: np.ndarray | None = None) -> float:
    """Volume dominated by `points` [n, d] and dominating `reference` (default: the origin). Exact;
    cost grows like n^d, meant for tens of points in a few dimensions."""
    points = np.asarray(points, dtype=float)
    if points.ndim != 2:
        raise ValueError("points must be [n, d]")
    reference = np.zeros(points.shape[1]) if reference is None else np.asarray(reference, dtype=float)
    points = points[np.all(points > reference, axis=1)]
    if len(points) == 0:
        return 0.0
    return _slice_volume(pareto_front(points), reference)


def _slice_volume(points: np.ndarray, reference: np.ndarray) -> float:
    if points.shape[1] == 1:
        return float(points[:, 0].max() - reference[0])
    order = np.argsort(-points[:, 0])
    points = points[order]
    volume = 0.0
    for i in range(len(points)):
        upper = points[i, 0]
        lower = points[i + 1, 0] if i + 1 < len(points) else reference[0]
        if upper > lower:  # the slab (lower, upper] in dimension 0 is covered by points[:i + 1]
            volume += (upper - lower) * _slice_volume(pareto_front(points[:i + 1, 1:]), reference[1:])
    return volume
