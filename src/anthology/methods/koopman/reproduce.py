"""The claim's experiment: every system x model x seed, each model rolled out at every reencoding period.

Claim (Fathi et al. 2024): re-encoding the latent every k steps with an intermediate k gives lower
long-horizon error than both extremes, the pure latent rollout (never) and re-encoding every step.
`holds` is computed per system at the longest horizon from the seed means of the Koopman model, and is
true when it holds on a majority of the systems run.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Any

import numpy as np

from anthology.core.claims import Claim, ClaimRow, summarize, wins_on_every_seed
from anthology.core.config import override
from anthology.core.reproduction import job_dir, line_figure, run_reproduction, save_reproduction, series
from anthology.core.run_dir import RunDir
from anthology.envs.dynamical_systems import make_system
from anthology.tracking import Tracker

from .config import REPRODUCE_PRESETS, Config, ReproduceConfig
from .reencoding import period_name
from .train import load_evaluation, train

CLAIM = ("Re-encoding the latent state every k steps with an intermediate k gives lower long-horizon rollout "
         "error than both a pure latent rollout (never re-encoding) and re-encoding at every step.")
CURVE_STRIDE = 5  # plotted MSE-vs-horizon curves keep every 5th step


@dataclasses.dataclass(frozen=True)
class Job:
    cfg: Config
    run_path: str


def run_job(job: Job) -> dict[str, Any]:
    """Train one (system, model, seed), or reuse its finished run; resumes from a checkpoint if killed."""
    run = RunDir(pathlib.Path(job.run_path))
    summary = run.read_summary()
    if summary is None:
        result = train(job.cfg, run_dir=run)
        summary, curves, portraits = result.summary, result.artifacts["curves"], result.artifacts["portraits"]
    else:
        curves, portraits = load_evaluation(run)
    return {"summary": summary, "curves": curves, "portraits": portraits}


def describe_job(result: dict[str, Any]) -> str:
    s = result["summary"]
    return f"{s['system']}/{s['model']}/s{s['seed']}"


def make_jobs(rcfg: ReproduceConfig, reproduction: RunDir) -> list[Job]:
    jobs = []
    for system in rcfg.systems:
        for kind in rcfg.models:
            for seed in rcfg.seeds:
                cfg = override(rcfg.train, system=system, seed=seed, **{"model.kind": kind})
                run = job_dir(reproduction, f"{system}-{kind}-s{seed}")
                run.write_config(cfg, "koopman", reproduction.path.parent.name)
                jobs.append(Job(cfg, str(run.path)))
    return jobs


def build_table(rcfg: ReproduceConfig, results: list[dict[str, Any]]) -> list[ClaimRow]:
    horizons = [min(h, rcfg.train.data.test_steps) for h in rcfg.train.eval.horizons]
    rows = []
    for system in rcfg.systems:
        metrics = [f"mse@{h}" for h in horizons] + (["vpt"] if make_system(system).lyapunov_exponent else [])
        for kind in rcfg.models:
            runs = [r["summary"] for r in results if r["summary"]["system"] == system and r["summary"]["model"] == kind]
            for k in rcfg.train.eval.reencode_periods:
                name = period_name(k)
                for metric in metrics:
                    rows.append(summarize(system, f"{kind} k={name}", metric,
                                          [s[f"eval/k={name}/{metric}"] for s in runs]))
            if kind == "koopman":  # ln(spectral radius of K) / dt: > 0 means the pure latent rollout grows
                rows.append(summarize(system, kind, "latent_growth_rate",
                                      [math.log(s["eval/spectral_radius"]) / make_system(system).dt for s in runs]))
    return rows


def judge(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> tuple[bool, str]:
    """Per system: the best intermediate k (chosen by its seed mean) beats both never and every-step
    re-encoding of the Koopman model at the longest horizon on every seed, paired by seed. Holds on a
    majority of systems."""
    metric = f"mse@{min(max(rcfg.train.eval.horizons), rcfg.train.data.test_steps)}"
    table = {(r.setting, r.variant, r.metric): r for r in rows}
    middle = [k for k in rcfg.train.eval.reencode_periods if k > 1]
    wins, parts = 0, []
    for system in rcfg.systems:
        never = table[(system, "koopman k=none", metric)]
        every = table[(system, "koopman k=1", metric)]
        best_k = min(middle, key=lambda k: table[(system, f"koopman k={k}", metric)].mean)
        best = table[(system, f"koopman k={best_k}", metric)]
        won = (wins_on_every_seed(best, never, higher_is_better=False)
               and wins_on_every_seed(best, every, higher_is_better=False))
        wins += won
        parts.append(f"{system} k={best_k} {best.mean:.3g} vs none {never.mean:.3g} / k=1 {every.mean:.3g}"
                     f"{'' if won else ' (not better on every seed)'}")
    holds = wins > len(rcfg.systems) / 2
    evidence = (f"At {metric} the best intermediate period beats both extremes on every seed on {wins} of "
                f"{len(rcfg.systems)} systems (means): " + "; ".join(parts) + ".")
    return holds, evidence


def make_figures(rcfg: ReproduceConfig, results: list[dict[str, Any]], rows: list[ClaimRow]) -> list[dict]:
    metric = f"mse@{min(max(rcfg.train.eval.horizons), rcfg.train.data.test_steps)}"
    table = {(r.setting, r.variant, r.metric): r.mean for r in rows}
    figures = []
    for system in rcfg.systems:
        sys_info = make_system(system)
        koop = [r for r in results if r["summary"]["system"] == system and r["summary"]["model"] == "koopman"]
        mlp = [r for r in results if r["summary"]["system"] == system and r["summary"]["model"] == "mlp"]
        curves = []
        for k in rcfg.train.eval.reencode_periods:
            name = period_name(k)
            mean_curve = np.mean([r["curves"][name] for r in koop], axis=0)
            steps = np.arange(len(mean_curve))[1::CURVE_STRIDE]
            curves.append(series(f"koopman k={name}", steps * sys_info.dt, mean_curve[1::CURVE_STRIDE]))
        if mlp:
            mean_curve = np.mean([r["curves"]["none"] for r in mlp], axis=0)
            curves.append(series("mlp latent", steps * sys_info.dt, mean_curve[1::CURVE_STRIDE], "--"))
        figures.append(line_figure(f"mse_vs_horizon_{system}", f"{system}: test MSE vs horizon (mean of seeds)",
                                   "time", "MSE (standardised)", curves, logy=True))
        best_k = min((k for k in rcfg.train.eval.reencode_periods if k > 1),
                     key=lambda k: table[(system, f"koopman k={k}", metric)])
        first = min(koop, key=lambda r: r["summary"]["seed"])["portraits"]
        dims = (0, 2) if sys_info.state_dim == 3 else (0, 1)
        truth = first["truth"][:, dims]
        portrait = [series("ground truth", truth[:, 0], truth[:, 1], "k-")]
        for k in (0, 1, best_k):
            traj = np.clip(first[period_name(k)][:, dims], -1e3, 1e3)
            portrait.append(series(f"k={period_name(k)}", traj[:, 0], traj[:, 1]))
        low, high = truth.min(0), truth.max(0)
        margin = 0.25 * (high - low) + 1e-6  # the frame is the truth's; a diverging rollout leaves it
        figures.append(line_figure(
            f"phase_{system}", f"{system}: phase portrait, first test start (seed {min(rcfg.seeds)})",
            f"x{dims[0] + 1}", f"x{dims[1] + 1}", portrait,
            xlim=(float(low[0] - margin[0]), float(high[0] + margin[0])),
            ylim=(float(low[1] - margin[1]), float(high[1] + margin[1]))))
    return figures


def reproduce(preset: str = "quick", out: str | pathlib.Path | None = None, root: str | pathlib.Path = "runs",
              workers: int | None = None, resume: bool = False, tracker: Tracker | None = None,
              backend: str = "process", device: str | None = None) -> Claim:
    """Run the claim's experiment for a preset; returns the claim (also written to the folders)."""
    rcfg, reproduction, results = run_reproduction(
        "koopman", preset, REPRODUCE_PRESETS[preset], make_jobs, run_job, describe_job, root,
        workers, resume, tracker, backend, device)
    rows = build_table(rcfg, results)
    holds, evidence = judge(rcfg, rows)
    claim = Claim(method="koopman", claim=CLAIM, command=f"anthology reproduce koopman --preset {preset}",
                  preset=preset, seeds=list(rcfg.seeds), table=rows, holds=holds, evidence=evidence)
    save_reproduction(reproduction, claim, make_figures(rcfg, results, rows), out)
    return claim
