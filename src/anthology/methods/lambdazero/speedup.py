"""The paper's metric: oracle calls needed to reach a score, against screening a library.

LambdaZero's claim is a speed-up in oracle calls: how many calls a search needs before its running
top-k mean (among constraint-satisfying molecules) reaches a threshold T, against how many a screen of a
drug-like library would need. A search run gives one number per T (censored at its budget, `inf` when
never reached). A screen needs no runs: score one large pool once with the same oracle, and its expected
calls to reach T are those of a random order of the pool (`screening_calls`, Monte Carlo over orders).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np


def running_top_k_mean(scores: Sequence[float | None], counts: Sequence[bool], k: int = 10) -> np.ndarray:
    """After each call c (0-based), the mean of the k best scores among calls 0..c that count (satisfy the
    constraints and succeeded); NaN while fewer than k count. Non-decreasing once defined."""
    out = np.full(len(scores), np.nan)
    best: list[float] = []  # min-heap of the k best so far
    total = 0.0
    for c, (score, ok) in enumerate(zip(scores, counts, strict=True)):
        if ok and score is not None:
            if len(best) < k:
                heapq.heappush(best, score)
                total += score
            elif score > best[0]:
                total += score - heapq.heappushpop(best, score)
        if len(best) == k:
            out[c] = total / k
    return out


def calls_to_reach(curve: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """For each T, the number of calls after which `curve` (a running top-k mean) first reaches T; `inf`
    when it never does within the calls made (censored at the budget)."""
    reached = np.nan_to_num(curve, nan=-np.inf)
    out = np.full(len(thresholds), np.inf)
    for i, t in enumerate(thresholds):
        hits = np.flatnonzero(reached >= t)
        if len(hits):
            out[i] = hits[0] + 1
    return out


def screening_calls(pool: np.ndarray, thresholds: Sequence[float], k: int = 10, orders: int = 200,
                    seed: int = 0) -> np.ndarray:
    """Expected calls for a screen of `pool` (the oracle's scores of molecules that already pass the
    constraints, each screened once) to reach each T: the mean over `orders` random orders of the pool;
    `inf` for a T above the whole pool's top-k mean (the pool is too small to say)."""
    pool = np.asarray(pool, dtype=float)
    thresholds = np.asarray(thresholds, dtype=float)
    reachable = thresholds <= np.sort(pool)[-k:].mean() if len(pool) >= k else np.zeros(len(thresholds), bool)
    rng = np.random.default_rng(seed)
    calls = np.zeros(len(thresholds))
    for _ in range(orders):
        order = pool[rng.permutation(len(pool))]
        calls += calls_to_reach(running_top_k_mean(order.tolist(), [True] * len(order), k), thresholds)
    return np.where(reachable, calls / orders, np.inf)


def bootstrap_lower(values: Sequence[float], resamples: int = 10_000, level: float = 0.95, seed: int = 0) -> float:
    """The lower end of the percentile bootstrap interval of the mean over seeds (one-sided at `level`)."""
    v = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(len(v), size=(resamples, len(v)))].mean(1)
    return float(np.quantile(means, 1.0 - level))
