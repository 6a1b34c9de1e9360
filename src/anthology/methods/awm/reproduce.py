"""The claim's experiment: true return against horizon, per policy-gradient source, task and seed.

Claim (Ma et al. 2024): policy gradients through a transformer Actions World Model (states predicted
from s_1 and the actions alone) are better than those through a history world model fed its own
predictions or an unrolled one-step model, the more so at long horizons; on a chaotic system they are
better even than the simulator's own gradient, because the model's return landscape is smoother.
`judge` is written before the runs.
"""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Any

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

from .config import REPRODUCE_PRESETS, ReproduceConfig
from .first_action import LANDSCAPE_FILE
from .train import train

CLAIM = ("Policy gradients through a transformer Actions World Model, which predicts every state from the initial "
         "state and the actions alone, train better policies at long horizons than gradients through a history "
         "world model or an unrolled one-step model, and on the chaotic double pendulum better than the simulator's "
         "own gradient.")
AWM = "awm (transformer)"
SIMULATOR = "simulator bptt"
CHAOTIC = "double_pendulum"
ONLINE_ONLY = ("sac", "svg")  # methods with a policy trained online only (no first-action schedule)
METRICS = ("return", "normalised_return", "grad_cosine_mean", "landscape_tv_true", "landscape_tv_model")


def load_curves(run: RunDir) -> dict[str, Any]:
    """A job's curves: the AWM's first-action landscape (when it has one) and its evaluations over training
    (online runs: return and the policy gradient's agreement with the simulator's since the last evaluation)."""
    path = run.path / LANDSCAPE_FILE
    return {"landscape": json.loads(path.read_text()) if path.is_file() else None, "evaluations": run.read_curve()}


run_job = functools.partial(run_curve_job, train=train, load_curve=load_curves)


def describe_job(result: dict[str, Any]) -> str:
    s = result["summary"]
    return f"{s['task']}/H={s['horizon']}/{result['variant']}/s{s['seed']}"


def setting(task: str, horizon: int) -> str:
    return f"{task} H={horizon}"


def make_jobs(rcfg: ReproduceConfig, reproduction: RunDir) -> list[CurveJob]:
    jobs = []
    for task, horizons, schedule in rcfg.tasks:
        for horizon in horizons:
            for name, method, core in rcfg.methods:
                if schedule == "first_action" and method in ONLINE_ONLY:
                    continue
                for seed in rcfg.seeds:
                    cfg = override(rcfg.train, task=task, horizon=horizon, method=method, seed=seed,
                                   schedule=schedule, **{"world_model.core": core})
                    tag = name.replace(" (", "-").replace(")", "").replace(" ", "_")
                    run = job_dir(reproduction, f"{task}-H{horizon}-{tag}-s{seed}")
                    run.write_config(cfg, "awm", reproduction.path.parent.name)
                    jobs.append(CurveJob(cfg, name, str(run.path)))
    return jobs


def build_table(rcfg: ReproduceConfig, results: list[dict[str, Any]]) -> list[ClaimRow]:
    rows = []
    for task, horizons, _ in rcfg.tasks:
        for horizon in horizons:
            for name, _, _ in rcfg.methods:
                runs = [r["summary"] for r in results if r["variant"] == name and r["summary"]["task"] == task
                        and r["summary"]["horizon"] == horizon]
                if not runs:  # an online-only arm on a first-action task
                    continue
                runs.sort(key=lambda s: rcfg.seeds.index(s["seed"]))
                for metric in METRICS:
                    key = f"eval/{metric}" if f"eval/{metric}" in runs[0] else f"final/{metric}"
                    if key in runs[0]:
                        rows.append(summarize(setting(task, horizon), name, metric, [s[key] for s in runs]))
    return rows


def judge(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> tuple[bool, str]:
    """Written before the runs. At each task's longest horizon, the transformer AWM's final true return
    (the policy's mean action on held-out initial states) beats that of every other model-based arm run
    (history transformer, one-step model, LSTM AWM, SVG) on every seed, paired by seed; on the double pendulum
    it also beats simulator BPTT on every seed. Holds when every part holds."""
    table = {(r.setting, r.variant, r.metric): r for r in rows}
    parts, ok = [], True
    for task, horizons, _ in rcfg.tasks:
        where = setting(task, max(horizons))
        awm = table[(where, AWM, "return")]
        rivals = [name for name, method, _ in rcfg.methods if name != AWM and method != "sac"
                  and (method != "simulator" or task == CHAOTIC) and (where, name, "return") in table]
        for rival in rivals:
            other = table[(where, rival, "return")]
            won = wins_on_every_seed(awm, other)
            ok &= won
            parts.append(f"{where}: awm {awm.mean:.3g} vs {rival} {other.mean:.3g} "
                         f"({'wins on every seed' if won else 'not on every seed'})")
    return ok, ("Final true return at each task's longest horizon (mean of seeds; per-seed values in the "
                "table): " + "; ".join(parts) + ".")


def make_figures(rcfg: ReproduceConfig, results: list[dict[str, Any]], rows: list[ClaimRow]) -> list[dict]:
    table = {(r.setting, r.variant, r.metric): r for r in rows}
    figures = []
    for task, horizons, _ in rcfg.tasks:
        curves = [series(name, horizons, [table[(setting(task, h), name, "return")].mean for h in horizons])
                  for name, _, _ in rcfg.methods if (setting(task, horizons[0]), name, "return") in table]
        figures.append(line_figure(f"return_vs_horizon_{task}", f"{task}: final true return vs horizon (mean of seeds)",
                                   "horizon", "true return", curves))
        first_seed = [r for r in results if r["summary"]["task"] == task and r["summary"]["seed"] == min(rcfg.seeds)]
        longest = [r for r in first_seed if r["summary"]["horizon"] == max(horizons)
                   and any("train/grad_cosine" in e for e in r["curve"]["evaluations"])]
        if longest:
            figures.append(line_figure(
                f"grad_cosine_{task}", f"{task} H={max(horizons)}: gradient cosine with the simulator's (seed "
                f"{min(rcfg.seeds)})", "environment step", "cosine (mean since the previous evaluation)",
                [series(r["variant"], [e["step"] for e in r["curve"]["evaluations"] if "train/grad_cosine" in e],
                        [e["train/grad_cosine"] for e in r["curve"]["evaluations"] if "train/grad_cosine" in e])
                 for r in longest]))
        landscapes = [r for r in first_seed if r["curve"]["landscape"] and r["variant"] == AWM]
        for r in sorted(landscapes, key=lambda r: r["summary"]["horizon"]):
            land = r["curve"]["landscape"]
            figures.append(line_figure(
                f"landscape_{task}_H{r['summary']['horizon']}",
                f"{task} H={r['summary']['horizon']}: J(a), seed {min(rcfg.seeds)}; total variation "
                f"{land['tv_true']:.0f} (true) vs {land['tv_model']:.0f} (AWM)", "first action a", "J(a)",
                [series("true J(a)", land["actions"], land["true"]), series("AWM J(a)", land["actions"], land["model"], "--")]))
    return figures


def reproduce(preset: str = "quick", out: str | pathlib.Path | None = None, root: str | pathlib.Path = "runs",
              workers: int | None = None, resume: bool = False, tracker: Tracker | None = None,
              backend: str = "process", device: str | None = None) -> Claim:
    """Run the claim's experiment for a preset; returns the claim (also written to the folders)."""
    rcfg, reproduction, results = run_reproduction(
        "awm", preset, REPRODUCE_PRESETS[preset], make_jobs, run_job, describe_job, root,
        workers, resume, tracker, backend, device)
    rows = build_table(rcfg, results)
    holds, evidence = judge(rcfg, rows)
    claim = Claim(method="awm", claim=CLAIM, command=f"anthology reproduce awm --preset {preset}",
                  preset=preset, seeds=list(rcfg.seeds), table=rows, holds=holds, evidence=evidence)
    save_reproduction(reproduction, claim, make_figures(rcfg, results, rows), out)
    return claim

