"""Run independent jobs (seeds x settings) in worker processes, one torch thread each, or on Ray."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from anthology.core.errors import UnknownNameError, require

J = TypeVar("J")
R = TypeVar("R")


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _run_ray(fn: Callable[[J], R], jobs: Sequence[J], workers: int,
             on_result: Callable[[int, R], Any] | None) -> list[R]:
    """Jobs as Ray tasks (extra `ray`): joins the cluster in RAY_ADDRESS, else starts a local one."""
    ray = require("ray", "ray")
    if not ray.is_initialized():
        ray.init(num_cpus=None if os.environ.get("RAY_ADDRESS") else workers, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(fn)
    refs = {remote.remote(job): i for i, job in enumerate(jobs)}
    results: list[Any] = [None] * len(jobs)
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        i = refs[ready[0]]
        results[i] = ray.get(ready[0])
        if on_result:
            on_result(i, results[i])
    return results


def run_jobs(fn: Callable[[J], R], jobs: Sequence[J], workers: int = 1,
             on_result: Callable[[int, R], Any] | None = None, backend: str = "process") -> list[R]:
    """Apply `fn` to every job, in `workers` spawned processes (in-process when workers <= 1), or as
    Ray tasks with `backend="ray"`.

    Results come back in job order; `on_result(index, result)` is called as each one finishes.
    `fn` must be a module-level function and jobs must be picklable.
    """
    if backend == "ray":
        return _run_ray(fn, jobs, workers, on_result)
    if backend != "process":
        raise UnknownNameError("parallel backend", backend, ("process", "ray"))
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


def map_with_timeout(fn: Callable[..., R], items: Sequence[J], args: tuple, workers: int, timeout: float,
                     on_timeout: Callable[[J], R]) -> Iterator[R]:
    """Yield fn(item, *args) for every item, in input order, computed in `workers` spawned processes.
    An item still running `timeout` seconds after it is waited for yields `on_timeout(item)` instead and
    the pool is replaced (what other workers had finished is kept). For work that can hang inside C++
    (docking, RDKit on odd inputs), where only killing the process stops it."""
    context = mp.get_context("spawn")
    results: dict[int, Any] = {}
    pending, next_out = list(range(len(items))), 0
    while pending:
        with context.Pool(workers) as pool:
            futures = {i: pool.apply_async(fn, (items[i], *args)) for i in pending}
            pending = []
            for i, future in futures.items():
                if i not in results:
                    try:
                        results[i] = future.get(timeout=timeout)
                    except mp.TimeoutError:
                        results[i] = on_timeout(items[i])
                        for j, other in futures.items():
                            if j not in results and other.ready():
                                results[j] = other.get()
                        pending = [j for j in futures if j not in results]
                        pool.terminate()
                while next_out in results:
                    yield results[next_out]
                    next_out += 1
                if pending:
                    break
