"""The claim's experiment: accuracy against neuron sparsity for DemP and the structured-pruning baselines,
and DemP's training time against dense training, per model, on `seeds`.

Claim (Dufort-Labbé et al.): DemP reaches a better accuracy-sparsity trade-off than structured pruning
baselines, and trains faster because the network shrinks while it trains. `judge` is written before the runs.
"""

from __future__ import annotations

import functools
import itertools
import pathlib
from typing import Any

from anthology.core.claims import Claim, ClaimRow, per_seed, summarize
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

from .config import REPRODUCE_PRESETS, ModelSetting, ReproduceConfig
from .train import train

CLAIM = ("DemP reaches a better accuracy-sparsity trade-off than structured pruning baselines (one-shot magnitude "
         "pruning with fine-tuning, network slimming), and trains faster than dense training because the network "
         "shrinks while it trains.")
EQUAL_ACCURACY = 0.01  # "at equal final accuracy": DemP's reference run at most 1 point below dense
STRUCTURED = ("magnitude", "slimming")


def variant_name(method: str, value: float | None = None) -> str:
    if method in ("demp", "constant"):
        return f"{method} λ={value:g}"
    if method in STRUCTURED:
        return f"{method} s={value:g}"
    return method


def load_evaluations(run: RunDir) -> list[dict[str, Any]]:
    return run.read_curve()


run_job = functools.partial(run_curve_job, train=train, load_curve=load_evaluations)  # picklable for workers


def describe_job(result: dict[str, Any]) -> str:
    s = result["summary"]
    return f"{s['model']}/{result['variant']}/s{s['seed']}"


def setting_jobs(setting: ModelSetting) -> list[tuple[str, dict[str, Any]]]:
    """(variant, config changes) of one model's grid; the timing pair (dense, DemP at the reference λ) first."""
    jobs = [("dense", {"method": "dense"}),
            (variant_name("demp", setting.reference), {"method": "demp", "reg_lambda": setting.reference})]
    jobs += [(variant_name("demp", lam), {"method": "demp", "reg_lambda": lam}) for lam in setting.lambdas
             if lam != setting.reference]
    jobs += [(variant_name("constant", lam), {"method": "constant", "reg_lambda": lam, "noise_eta": 0.0})
             for lam in setting.constant]
    jobs += [(variant_name("magnitude", s), {"method": "magnitude", "target_sparsity": s}) for s in setting.magnitude]
    jobs += [(variant_name("slimming", s), {"method": "slimming", "target_sparsity": s}) for s in setting.slimming]
    return jobs


def make_jobs(rcfg: ReproduceConfig, reproduction: RunDir) -> list[CurveJob]:
    jobs = []
    for seed in rcfg.seeds:  # pairs run side by side on the two workers: the timing comparison
        for setting in rcfg.models:
            base = override(rcfg.train, **dict(setting.overrides))
            for variant, changes in setting_jobs(setting):
                cfg = override(base, seed=seed, **changes)
                run = job_dir(reproduction, f"{setting.name}-{variant.replace(' ', '_').replace('λ', 'l')}-s{seed}")
                run.write_config(cfg, "demp", reproduction.path.parent.name)
                jobs.append(CurveJob(cfg, f"{setting.name}|{variant}", str(run.path)))
    return jobs


def train_seconds(curve: list[dict[str, Any]]) -> float:
    return sum(e["time/epoch_seconds"] for e in curve)


def build_table(rcfg: ReproduceConfig, results: list[dict[str, Any]]) -> list[ClaimRow]:
    rows = []
    for setting in rcfg.models:
        for variant, _ in setting_jobs(setting):
            runs = sorted((r for r in results if r["variant"] == f"{setting.name}|{variant}"),
                          key=lambda r: rcfg.seeds.index(r["summary"]["seed"]))
            for metric, key in (("accuracy", "eval/accuracy"), ("neuron_sparsity", "eval/neuron_sparsity"),
                                ("params_remaining", "eval/params_remaining")):
                rows.append(summarize(setting.name, variant, metric, [r["summary"][key] for r in runs]))
            rows.append(summarize(setting.name, variant, "train_seconds", [train_seconds(r["curve"]) for r in runs]))
    return rows


def interpolate(points: list[tuple[float, float]], x: float) -> float | None:
    """Linear interpolation of (x, y) points at x; None outside their range."""
    points = sorted(points)
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[0][1] if len(points) == 1 and points[0][0] == x else None


def judge(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> tuple[bool, str]:
    """Written before the runs. Per model:
    1. Trade-off: on every seed, at every DemP point (its neuron sparsity, its accuracy) that lies inside a
       structured baseline's sparsity range, DemP's accuracy is at least the baseline's, interpolated linearly
       in sparsity between its two neighbouring grid points; every seed must have at least one such comparison
       with each baseline.
    2. Speed: on every seed, DemP at the reference λ trains in less wall time than dense (the two run side by
       side), with a final accuracy at most 1 point below dense's.
    Holds when both parts hold for every model."""
    table = {(r.setting, r.variant, r.metric): r for r in rows}
    parts, ok = [], True
    for setting in rcfg.models:
        m = setting.name
        demp = [variant_name("demp", lam) for lam in setting.lambdas]
        trade, compared, worst = True, 0, None
        for baseline, grid in (("magnitude", setting.magnitude), ("slimming", setting.slimming)):
            if not grid:
                continue
            names = [variant_name(baseline, s) for s in grid]
            for seed in range(len(rcfg.seeds)):
                points = [(table[(m, n, "neuron_sparsity")].values[seed], table[(m, n, "accuracy")].values[seed])
                          for n in names]
                seen = 0
                for d in demp:
                    s, a = table[(m, d, "neuron_sparsity")].values[seed], table[(m, d, "accuracy")].values[seed]
                    reference = interpolate(points, s)
                    if reference is None:
                        continue
                    seen += 1
                    gap = a - reference
                    worst = gap if worst is None else min(worst, gap)
                    trade &= gap >= 0
                trade &= seen > 0
                compared += seen
        ok &= trade
        parts.append(f"{m}: DemP {'at or above' if trade else 'not at or above'} the structured baselines at matched "
                     f"sparsity on every seed ({compared} comparisons, smallest margin "
                     f"{'n/a' if worst is None else f'{100 * worst:+.1f} points'})")
        ref = variant_name("demp", setting.reference)
        fast = all(d > t for t, d in per_seed(table[(m, ref, "train_seconds")], table[(m, "dense", "train_seconds")]))
        equal = all(a >= b - EQUAL_ACCURACY for a, b in per_seed(table[(m, ref, "accuracy")],
                                                                  table[(m, "dense", "accuracy")]))
        speedups = [d / t for t, d in per_seed(table[(m, ref, "train_seconds")], table[(m, "dense", "train_seconds")])]
        ok &= fast and equal
        parts.append(f"{m}: {ref} trains {', '.join(f'{s:.2f}x' for s in speedups)} as fast as dense "
                     f"({'faster on every seed' if fast else 'not faster on every seed'}), accuracy "
                     f"{table[(m, ref, 'accuracy')].mean:.3f} vs {table[(m, 'dense', 'accuracy')].mean:.3f} "
                     f"({'within 1 point on every seed' if equal else 'more than 1 point below on some seed'})")
    return ok, "; ".join(parts) + "."


def make_figures(rcfg: ReproduceConfig, rows: list[ClaimRow], results: list[dict[str, Any]]) -> list[dict]:
    table = {(r.setting, r.variant, r.metric): r for r in rows}
    figures = []
    for setting in rcfg.models:
        m = setting.name
        families = {"demp": [variant_name("demp", lam) for lam in sorted(setting.lambdas)],
                    "constant": [variant_name("constant", lam) for lam in sorted(setting.constant)],
                    "magnitude": [variant_name("magnitude", s) for s in sorted(setting.magnitude)],
                    "slimming": [variant_name("slimming", s) for s in sorted(setting.slimming)], "dense": ["dense"]}
        for axis, label in (("neuron_sparsity", "neuron sparsity"), ("params_remaining", "parameters remaining")):
            figures.append(line_figure(
                f"accuracy_vs_{axis}_{m}", f"{m}: test accuracy against {label} (mean of {len(rcfg.seeds)} seeds)",
                label, "test accuracy",
                [series(name, [table[(m, v, axis)].mean for v in variants], [table[(m, v, "accuracy")].mean
                                                                             for v in variants], style="o-")
                 for name, variants in families.items() if variants]))
        first = {r["variant"].split("|", 1)[1]: r["curve"] for r in results
                 if r["variant"].startswith(f"{m}|") and r["summary"]["seed"] == min(rcfg.seeds)}
        pair = ("dense", variant_name("demp", setting.reference))
        figures.append(line_figure(
            f"epoch_seconds_{m}", f"{m}: wall time per epoch, side by side (seed {min(rcfg.seeds)})", "epoch",
            "seconds", [series(v, range(1, len(first[v]) + 1), [e["time/epoch_seconds"] for e in first[v]])
                        for v in pair]))
    return figures


def reproduce(preset: str = "quick", out: str | pathlib.Path | None = None, root: str | pathlib.Path = "runs",
              workers: int | None = None, resume: bool = False, tracker: Tracker | None = None,
              backend: str = "process", device: str | None = None) -> Claim:
    """Run the claim's experiment for a preset; returns the claim (also written to the folders)."""
    rcfg, reproduction, results = run_reproduction("demp", preset, REPRODUCE_PRESETS[preset], make_jobs, run_job,
                                                   describe_job, root, workers, resume, tracker, backend, device)
    rows = build_table(rcfg, results)
    holds, evidence = judge(rcfg, rows)
    claim = Claim(method="demp", claim=CLAIM, command=f"anthology reproduce demp --preset {preset}", preset=preset,
                  seeds=list(rcfg.seeds), table=rows, holds=holds, evidence=evidence)
    save_reproduction(reproduction, claim, make_figures(rcfg, rows, results), out)
    return claim
