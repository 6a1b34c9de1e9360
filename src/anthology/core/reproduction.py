"""Shared plumbing of `anthology reproduce <method>`: the reproduction folder, resumable jobs and outputs.

A reproduction lives in `runs/<method>/<preset>/reproduce-<time>/`: its `config.json`, one run folder
per job under `jobs/` (a finished job is reused when the reproduction is resumed; a killed one resumes
from its checkpoint), and the outputs `claim.json` and `figures.json`. With `out` (the committed
`results/<method>/` for the `quick` preset) the outputs are also written there.

`figures.json` is a list of figure specs the report layer renders to PNG, each
`{"name", "title", "xlabel", "ylabel", "logy", "xlim", "ylim", "series": [{"label", "x", "y", "style"}]}`.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

from anthology.core.claims import Claim, write_claim
from anthology.core.config import override
from anthology.core.parallel import run_jobs
from anthology.core.run_dir import REPRODUCTION_PREFIX, RunDir, write_json

CLAIM_FILE, FIGURES_FILE = "claim.json", "figures.json"


def open_reproduction(method: str, preset: str, cfg: Any, root: str | pathlib.Path = "runs",
                      resume: bool = False) -> RunDir:
    """A new reproduction folder, or with `resume` the newest one of this method and preset: its finished
    jobs are reused, killed ones resume from their checkpoints, and the outputs are written anew (so a
    finished reproduction is re-aggregated in seconds after a change to its table or figures)."""
    if resume:
        last = RunDir.latest(method, preset, root, prefix=REPRODUCTION_PREFIX)
        if last is not None:
            return last
    run = RunDir.create(method, preset, 0, root, tag=REPRODUCTION_PREFIX)
    run.write_config(cfg, method, preset)
    return run


def run_reproduction(method: str, preset: str, cfg: Any, make_jobs: Callable[[Any, RunDir], Sequence[Any]],
                     run_job: Callable[[Any], dict[str, Any]], describe: Callable[[dict[str, Any]], str],
                     root: str | pathlib.Path = "runs", workers: int | None = None, resume: bool = False,
                     tracker: Any = None, backend: str = "process",
                     device: str | None = None) -> tuple[Any, RunDir, list[dict[str, Any]]]:
    """Open (or resume) the reproduction folder, run every job with progress per finished job, and
    return the config actually run, the folder and the results in job order.

    `cfg` is a method's reproduce config with `workers` (the default parallelism) and `train.device`
    (overridden by `device`). `run_job` must be a module-level function."""
    if device is not None:
        cfg = override(cfg, **{"train.device": device})
    workers = cfg.workers if workers is None else workers
    reproduction = open_reproduction(method, preset, cfg, root, resume)
    jobs = make_jobs(cfg, reproduction)
    done: list[int] = []
    if tracker is not None:
        tracker.start(len(jobs), 0, f"{method} reproduce ({preset})")

    def on_result(index: int, result: dict[str, Any]) -> None:
        done.append(index)
        if tracker is not None:
            tracker.log(len(done), {"job": describe(result)})

    results = run_jobs(run_job, jobs, workers, on_result, backend)
    if tracker is not None:
        tracker.close()
    return cfg, reproduction, results


@dataclasses.dataclass(frozen=True)
class CurveJob:
    """One training run of a reproduction whose result is its summary and a curve of evaluations."""

    cfg: Any
    variant: str
    run_path: str


def run_curve_job(job: CurveJob, train: Callable[..., Any], load_curve: Callable[[RunDir], Any]) -> dict[str, Any]:
    """Train the job's run (resuming from its checkpoint if it was killed), or reuse it when it finished
    before; bind `train` and `load_curve` with functools.partial to get a picklable `run_job`."""
    run = RunDir(pathlib.Path(job.run_path))
    summary = run.read_summary()
    if summary is None:
        summary = train(job.cfg, run_dir=run).summary
    return {"variant": job.variant, "summary": summary, "curve": load_curve(run)}


def job_dir(reproduction: RunDir, name: str) -> RunDir:
    path = reproduction.path / "jobs" / name
    path.mkdir(parents=True, exist_ok=True)
    return RunDir(path)


def save_reproduction(reproduction: RunDir, claim: Claim, figures: list[dict[str, Any]],
                      out: str | pathlib.Path | None = None) -> list[pathlib.Path]:
    """Write claim.json and figures.json into the reproduction folder and, when given, into `out`."""
    written = []
    for folder in [reproduction.path, *([pathlib.Path(out)] if out is not None else [])]:
        folder.mkdir(parents=True, exist_ok=True)
        written.append(write_claim(folder / CLAIM_FILE, claim))
        write_json(folder / FIGURES_FILE, figures)
    return written


def line_figure(name: str, title: str, xlabel: str, ylabel: str, series: list[dict[str, Any]],
                logy: bool = False, xlim: tuple[float, float] | None = None,
                ylim: tuple[float, float] | None = None) -> dict[str, Any]:
    return {"name": name, "title": title, "xlabel": xlabel, "ylabel": ylabel, "logy": logy, "series": series,
            "xlim": xlim, "ylim": ylim}


def series(label: str, x: Any, y: Any, style: str = "-") -> dict[str, Any]:
    return {"label": label, "x": [float(v) for v in x], "y": [float(v) for v in y], "style": style}
