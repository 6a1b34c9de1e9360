"""Run independent jobs (seeds x settings) in worker processes, one torch thread each, or on Ray."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
import time
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


def _timed_worker(connection: Any) -> None:
    """A worker process of `imap_with_timeout`: receives (fn, item, args), sends back fn(item, *args) (or
    the exception it raised), until it receives None."""
    _init_worker()
    while True:
        task = connection.recv()
        if task is None:
            return
        fn, item, args = task
        try:
            connection.send(("ok", fn(item, *args)))
        except Exception as err:  # the caller decides what an exception means
            connection.send(("error", f"{type(err).__name__}: {err}"[:300]))


class _Worker:
    def __init__(self, context: Any) -> None:
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_timed_worker, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.task: int | None = None
        self.started = 0.0

    def death(self) -> str:
        """Why the worker is gone (waits briefly for its exit code after its pipe closed)."""
        self.process.join(timeout=10)
        return f"worker process died (exit code {self.process.exitcode})"

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self.connection.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


def imap_with_timeout(fn: Callable[..., R], items: Sequence[J], args: tuple, workers: int, timeout: float,
                      on_timeout: Callable[[J], R], on_crash: Callable[[J, str], R]) -> Iterator[tuple[int, R]]:
    """Yield (index, fn(item, *args)) for every item the moment it is computed, in completion order, in
    `workers` spawned processes that live as long as the call (so per-process state such as a docking
    grid is built once each). An item running longer than `timeout` seconds is killed with its worker and
    yields `on_timeout(item)`; an item whose worker dies (a segmentation fault in C++ code) or raises
    yields `on_crash(item, reason)` at once. Workers are replaced as needed; nothing else is lost. For work
    that can hang or crash inside C++ (docking, RDKit on odd inputs), where only the process can be killed."""
    import multiprocessing.connection

    context = mp.get_context("spawn")
    queue = list(range(len(items)))
    pool = [_Worker(context) for _ in range(max(1, min(workers, len(items))))]
    try:
        while queue or any(w.task is not None for w in pool):
            for w in pool:
                if w.task is None and queue:
                    w.task, w.started = queue.pop(0), time.monotonic()
                    w.connection.send((fn, items[w.task], args))
            busy = [w for w in pool if w.task is not None]
            deadline = min(w.started for w in busy) + timeout
            ready = multiprocessing.connection.wait(
                [w.connection for w in busy] + [w.process.sentinel for w in busy],
                timeout=max(0.0, deadline - time.monotonic()))
            for n, w in enumerate(pool):
                if w.task is None:
                    continue
                index, item = w.task, items[w.task]
                if w.connection in ready:
                    try:
                        kind, value = w.connection.recv()
                    except (EOFError, OSError):  # died: its pipe closed, maybe before its exit code is known
                        kind, value = "crash", w.death()
                elif w.process.sentinel in ready:
                    kind, value = "crash", w.death()
                elif time.monotonic() - w.started >= timeout:
                    kind, value = "timeout", None
                else:
                    continue
                if kind == "ok":
                    w.task = None
                    yield index, value
                    continue
                if kind == "error":
                    w.task = None
                    yield index, on_crash(item, value)
                    continue
                w.stop(kill=True)  # a dead or hung worker is replaced
                pool[n] = _Worker(context)
                yield index, (on_timeout(item) if kind == "timeout" else on_crash(item, value))
    finally:
        for w in pool:
            w.stop(kill=w.task is not None)


def map_with_timeout(fn: Callable[..., R], items: Sequence[J], args: tuple, workers: int, timeout: float,
                     on_timeout: Callable[[J], R], on_crash: Callable[[J, str], R] | None = None) -> Iterator[R]:
    """`imap_with_timeout` in input order: each result is yielded as soon as every earlier one is known.
    Without `on_crash`, a crashed item counts as a timeout."""
    crash = on_crash or (lambda item, reason: on_timeout(item))
    done: dict[int, R] = {}
    next_out = 0
    for index, result in imap_with_timeout(fn, items, args, workers, timeout, on_timeout, crash):
        done[index] = result
        while next_out in done:
            yield done.pop(next_out)
            next_out += 1
