"""The claim's experiment: every search strategy at the same oracle budget, several seeds.

Claim (LambdaZero, Korablyov et al. 2024): at a fixed budget of oracle calls, RL on a UCB proxy refit by
active learning finds better constraint-satisfying molecules than screening. `holds` compares seed means
of the top-10 mean score among satisfying molecules at the full budget: LambdaZero against both
screening baselines (each that the preset runs).
"""

from __future__ import annotations

import functools
import math
import pathlib
from typing import Any

import numpy as np

from anthology.core.claims import Claim, ClaimRow, summarize, wins_on_every_seed
from anthology.core.config import override
from anthology.core.reproduction import (
    CurveJob,
    job_dir,
    line_figure,
    run_curve_job,
    run_reproduction,
    save_reproduction,
    series,
)
from anthology.core.run_dir import RunDir
from anthology.tracking import Tracker

from .config import REPRODUCE_PRESETS, VARIANTS, ReproduceConfig
from .train import load_curve, train

CLAIM = ("At a fixed budget of oracle calls, RL on a proxy's upper confidence bound, refit by active learning "
         "(LambdaZero), finds better constraint-satisfying molecules (QED and synthesisability ramps "
         "saturated) than screening random molecules.")
LAMBDAZERO = "lambdazero (ppo + al, kappa 1)"
SCREENS = ("screen fragment molecules", "screen moses")
METRICS = ("top1", "top10", "top50", "top50_diversity", "top50_scaffolds", "proxy_r2_mean", "satisfying",
           "failed_calls")


run_job = functools.partial(run_curve_job, train=train, load_curve=load_curve)


def make_jobs(rcfg: ReproduceConfig, reproduction: RunDir) -> list[CurveJob]:
    by_name = {v.name: v for v in VARIANTS}
    cache = str(reproduction.path.parents[1] / "oracle_cache.sqlite")  # runs/lambdazero/oracle_cache.sqlite
    jobs = []
    for name in rcfg.variants:
        v = by_name[name]
        for seed in rcfg.seeds:
            cfg = override(rcfg.train, strategy=v.strategy, kappa=v.kappa, seed=seed,
                           **{"oracle.cache": rcfg.train.oracle.cache or cache})
            tag = name.split(" (")[0].replace(" + ", "_").replace(" ", "_")
            run = job_dir(reproduction, f"{tag}-s{seed}")
            run.write_config(cfg, "lambdazero", reproduction.path.parent.name)
            jobs.append(CurveJob(cfg, name, str(run.path)))
    return jobs


def value(summary: dict[str, Any], metric: str) -> float:
    key = metric if metric in ("satisfying", "failed_calls") else f"eval/{metric}"
    v = summary.get(key)
    return math.nan if v is None else float(v)


def build_table(rcfg: ReproduceConfig, results: list[dict[str, Any]]) -> list[ClaimRow]:
    setting = f"sEH {rcfg.train.oracle.kind}, budget {rcfg.train.budget}"
    rows = []
    for name in rcfg.variants:
        runs = [r["summary"] for r in results if r["variant"] == name]
        for metric in METRICS:
            values = [value(s, metric) for s in runs]
            if all(math.isnan(v) for v in values):
                continue
            rows.append(summarize(setting, name, metric, values))
    return rows


def judge(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> tuple[bool, str]:
    """LambdaZero's top-10 mean beats every screening baseline's on every seed (paired by seed)."""
    rows_of = {(r.variant, r.metric): r for r in rows}
    table = {key: r.mean for key, r in rows_of.items()}
    screens = [s for s in SCREENS if s in rcfg.variants]
    ours = table[(LAMBDAZERO, "top10")]
    holds = bool(screens) and all(wins_on_every_seed(rows_of[(LAMBDAZERO, "top10")], rows_of[(s, "top10")])
                                  for s in screens)
    parts = [f"top-10 mean among satisfying molecules at {rcfg.train.budget} calls: LambdaZero {ours:.2f}"]
    for name in rcfg.variants:
        if name != LAMBDAZERO:
            parts.append(f"{name} {table.get((name, 'top10'), math.nan):.2f}")
    best = f"; best: LambdaZero {table[(LAMBDAZERO, 'top1')]:.2f}"
    best += "".join(f", {s} {table[(s, 'top1')]:.2f}" for s in screens)
    return holds, ", ".join(parts) + best + f" (mean of {len(rcfg.seeds)} seed(s))."


def make_figures(rcfg: ReproduceConfig, results: list[dict[str, Any]]) -> list[dict]:
    figures = []
    for metric, label in (("top1", "best score"), ("top10", "top-10 mean score"), ("top50", "top-50 mean score")):
        lines = []
        for name in rcfg.variants:
            curves = [r["curve"] for r in results if r["variant"] == name]
            grid = np.unique(np.concatenate([[c["train/oracle_calls"] for c in curve] for curve in curves]))
            ys = [np.interp(grid, [c["train/oracle_calls"] for c in curve],
                            [c[f"eval/{metric}"] if c[f"eval/{metric}"] is not None else np.nan for c in curve])
                  for curve in curves]
            lines.append(series(name, grid, np.mean(ys, axis=0)))
        figures.append(line_figure(f"{metric}_vs_oracle_calls",
                                   f"{label} of constraint-satisfying molecules (mean of {len(rcfg.seeds)} seeds)",
                                   "oracle calls", f"{label} ({rcfg.train.oracle.kind})", lines))
    return figures


def reproduce(preset: str = "quick", out: str | pathlib.Path | None = None, root: str | pathlib.Path = "runs",
              workers: int | None = None, resume: bool = False, tracker: Tracker | None = None,
              backend: str = "process", device: str | None = None) -> Claim:
    rcfg, reproduction, results = run_reproduction(
        "lambdazero", preset, REPRODUCE_PRESETS[preset], make_jobs, run_job,
        lambda result: f"{result['variant']}/s{result['summary']['seed']}", root,
        workers, resume, tracker, backend, device)
    rows = build_table(rcfg, results)
    holds, evidence = judge(rcfg, rows)
    claim = Claim(method="lambdazero", claim=CLAIM, command=f"anthology reproduce lambdazero --preset {preset}",
                  preset=preset, seeds=list(rcfg.seeds), table=rows, holds=holds, evidence=evidence)
    save_reproduction(reproduction, claim, make_figures(rcfg, results), out)
    return claim
