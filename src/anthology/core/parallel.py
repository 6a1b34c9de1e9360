"""Run independent jobs (seeds x settings) in worker processes, one torch thread each."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

J = TypeVar("J")
R = TypeVar("R")


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run_jobs(fn: Callable[[J], R], jobs: Sequence[J], workers: int = 1,
             on_result: Callable[[int, R], Any] | None = None) -> list[R]:
    """Apply `fn` to every job, in `workers` spawned processes (in-process when workers <= 1).

    Results come back in job order; `on_result(index, result)` is called as each one finishes.
    `fn` must be a module-level function and jobs must be picklable.
    """
    results: list[Any] = [None] * len(jobs)
    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            results[i] = fn(job)
            if on_result:
                on_result(i, results[i])
        return results
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker) as pool:
        futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
        for fut in cf.as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            if on_result:
                on_result(i, results[i])
    return results
