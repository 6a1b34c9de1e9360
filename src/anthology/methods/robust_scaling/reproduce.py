"""The claim's experiment: a size ladder of GPT-NeoX classifiers trained from scratch on each task, attacked
at a fixed budget (GCG and random token), and on one task adversarially trained in rounds, on `seeds`.

Claim (Howe et al.): without a defence, larger models are hardly more robust; with adversarial training,
larger models gain robustness faster, per round and per defence FLOP. `judge` is written before the runs.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

from anthology.core.claims import Claim, ClaimRow, summarize
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
from .train import train

CLAIM = ("Without a defence, larger language-model classifiers are hardly more robust to adversarial attacks; "
         "with adversarial training, larger models gain robustness faster, per round and per defence FLOP.")
NO_DEFENCE_MARGIN = 0.25  # "hardly more robust": the largest model's GCG success rate at most 0.25 below the smallest's


def load_rounds(run: RunDir) -> list[dict[str, Any]]:
    return run.read_curve()


run_job = functools.partial(run_curve_job, train=train, load_curve=load_rounds)  # picklable for workers


def describe_job(result: dict[str, Any]) -> str:
    s = result["summary"]
    return f"{result['variant']}/s{s['seed']}"


def make_jobs(rcfg: ReproduceConfig, reproduction: RunDir) -> list[CurveJob]:
    jobs = []
    for seed in rcfg.seeds:
        for setting in rcfg.tasks:
            task = setting.name
            for size in reversed(rcfg.sizes):  # the largest first: the longest jobs start early
                rounds = rcfg.train.rounds if task == rcfg.adversarial_task else 0
                cfg = override(rcfg.train, task=task, hidden=size.hidden, layers=size.layers, heads=size.heads,
                               seed=seed, rounds=rounds, **dict(setting.overrides))
                run = job_dir(reproduction, f"{task}-{size.name}-s{seed}")
                run.write_config(cfg, "robust_scaling", reproduction.path.parent.name)
                jobs.append(CurveJob(cfg, f"{task}|{size.name}", str(run.path)))
    return jobs


def _runs(rcfg: ReproduceConfig, results: list[dict[str, Any]], task: str, size: str) -> list[dict[str, Any]]:
    return sorted((r for r in results if r["variant"] == f"{task}|{size}"),
                  key=lambda r: rcfg.seeds.index(r["summary"]["seed"]))


def build_table(rcfg: ReproduceConfig, results: list[dict[str, Any]]) -> list[ClaimRow]:
    rows = []
    for task in [t.name for t in rcfg.tasks]:
        for size in rcfg.sizes:
            runs = _runs(rcfg, results, task, size.name)
            s = [r["summary"] for r in runs]
            rows.append(summarize(task, size.name, "params", [x["params"] for x in s]))
            rows.append(summarize(task, size.name, "accuracy", [x["eval/accuracy"] for x in s]))
            for kind in ("gcg", "random_token"):
                rows.append(summarize(task, size.name, f"{kind}_asr", [x[f"eval/{kind}_asr"] for x in s]))
                # never reaching 50% counts as the budget (iterations), marked in the figure
                budget = len(s[0][f"eval/{kind}_asr_curve"]) - 1
                rows.append(summarize(task, size.name, f"{kind}_iterations_to_50",
                                      [budget if x[f"eval/{kind}_iterations_to_50"] is None
                                       else x[f"eval/{kind}_iterations_to_50"] for x in s]))
            if task == rcfg.adversarial_task and rcfg.train.rounds:
                for r in range(rcfg.train.rounds + 1):
                    for kind in rcfg.train.round_attacks:
                        rows.append(summarize(task, size.name, f"round{r}_{kind}_asr",
                                              [run["curve"][r][f"eval/{kind}_asr"] for run in runs]))
                    rows.append(summarize(task, size.name, f"round{r}_defense_fraction",
                                          [run["curve"][r]["train/defense_flops"] / run["summary"]["train/flops"]
                                           for run in runs]))
    return rows


def interpolate(xs: list[float], ys: list[float], x: float) -> float:
    """y at x, linear between the two points around it; the last y beyond the last x."""
    for (x0, y0), (x1, y1) in zip(zip(xs, ys, strict=True), zip(xs[1:], ys[1:], strict=True), strict=False):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return ys[-1] if x > xs[-1] else ys[0]


def judge(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> tuple[bool, str]:
    """Written before the runs. With `small` and `large` the ladder's ends:
    A. No defence: on every task and seed, large's GCG success rate at the fixed budget is at most 0.25
       below small's (scale alone buys little).
    B. Per round: on the adversarially trained task, on every seed, large's success rate against the
       training attack after the last round is below small's.
    C. Per defence FLOP: on every seed, at small's final defence compute as a fraction of its training
       compute, large's training-attack success rate (linear in that fraction over its rounds) is below
       small's final one.
    Transfer (the other attack after each round) is reported, not judged. Holds when A, B and C hold."""
    table = {(r.setting, r.variant, r.metric): r.values for r in rows}
    small, large = rcfg.sizes[0].name, rcfg.sizes[-1].name
    parts, ok = [], True
    for task in [t.name for t in rcfg.tasks]:
        s, big = table[(task, small, "gcg_asr")], table[(task, large, "gcg_asr")]
        a = all(b >= x - NO_DEFENCE_MARGIN for x, b in zip(s, big, strict=True))
        ok &= a
        parts.append(f"A {task}: GCG success at {rcfg.train.gcg_iterations} iterations {_mean(s):.2f} ({small}) vs "
                     f"{_mean(big):.2f} ({large}): " + (f"at most {NO_DEFENCE_MARGIN} lower on every seed" if a else
                                                          f"more than {NO_DEFENCE_MARGIN} lower on some seed"))
    if rcfg.train.rounds:
        task, last, kind = rcfg.adversarial_task, rcfg.train.rounds, rcfg.train.train_attack
        s_last, b_last = table[(task, small, f"round{last}_{kind}_asr")], table[(task, large, f"round{last}_{kind}_asr")]
        b = all(y < x for x, y in zip(s_last, b_last, strict=True))
        ok &= b
        parts.append(f"B {task}: {kind} success after round {last} {_mean(s_last):.2f} ({small}) vs "
                     f"{_mean(b_last):.2f} ({large}): " + ("lower on every seed" if b else "not lower on every seed"))
        c, gaps = True, []
        for seed in range(len(rcfg.seeds)):
            fs = [table[(task, small, f"round{r}_defense_fraction")][seed] for r in range(last + 1)]
            fb = [table[(task, large, f"round{r}_defense_fraction")][seed] for r in range(last + 1)]
            yb = [table[(task, large, f"round{r}_{kind}_asr")][seed] for r in range(last + 1)]
            at = interpolate(fb, yb, fs[-1])
            gaps.append(s_last[seed] - at)
            c &= at < s_last[seed]
        ok &= c
        parts.append(f"C {task}: at {small}'s final defence compute fraction, {large}'s success rate is "
                     f"{'below' if c else 'not below'} {small}'s on every seed (margins "
                     f"{', '.join(f'{g:+.2f}' for g in gaps)})")
    return ok, "; ".join(parts) + "."


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def make_figures(rcfg: ReproduceConfig, rows: list[ClaimRow], results: list[dict[str, Any]]) -> list[dict]:
    table = {(r.setting, r.variant, r.metric): r for r in rows}
    names = [s.name for s in rcfg.sizes]
    figures = []
    for task in [t.name for t in rcfg.tasks]:
        params = [table[(task, n, "params")].mean for n in names]
        figures.append(line_figure(
            f"asr_vs_params_{task}", f"{task}: attack success at a fixed budget against parameters "
            f"(mean of {len(rcfg.seeds)} seeds)", "parameters", "attack success rate",
            [series(f"{kind} ({it} iterations)", params, [table[(task, n, f"{kind}_asr")].mean for n in names], "o-")
             for kind, it in (("gcg", rcfg.train.gcg_iterations), ("random_token", rcfg.train.random_token_iterations))]))
        figures.append(line_figure(
            f"iterations_to_50_{task}", f"{task}: iterations to 50% success against parameters (the budget when "
            "never reached)", "parameters", "iterations",
            [series(kind, params, [table[(task, n, f"{kind}_iterations_to_50")].mean for n in names], "o-")
             for kind in ("gcg", "random_token")]))
        for kind in ("gcg", "random_token"):
            first = {r["variant"].split("|")[1]: r["summary"][f"eval/{kind}_asr_curve"] for r in results
                     if r["variant"].startswith(f"{task}|") and r["summary"]["seed"] == rcfg.seeds[0]}
            figures.append(line_figure(
                f"asr_vs_iterations_{task}_{kind}", f"{task}: {kind} success against iterations (seed "
                f"{rcfg.seeds[0]})", "iteration", "attack success rate",
                [series(n, range(len(first[n])), first[n]) for n in names]))
    if rcfg.train.rounds:
        task = rcfg.adversarial_task
        rounds = range(rcfg.train.rounds + 1)
        for kind in rcfg.train.round_attacks:
            role = "training attack" if kind == rcfg.train.train_attack else "transfer"
            figures.append(line_figure(
                f"adv_asr_vs_round_{kind}", f"{task}: {kind} success ({role}) against adversarial-training round",
                "round", "attack success rate",
                [series(n, rounds, [table[(task, n, f"round{r}_{kind}_asr")].mean for r in rounds], "o-")
                 for n in names]))
            figures.append(line_figure(
                f"adv_asr_vs_defense_flops_{kind}", f"{task}: {kind} success ({role}) against defence compute "
                "(fraction of the model's training compute)", "defence FLOPs / training FLOPs", "attack success rate",
                [series(n, [table[(task, n, f"round{r}_defense_fraction")].mean for r in rounds],
                        [table[(task, n, f"round{r}_{kind}_asr")].mean for r in rounds], "o-") for n in names]))
    return figures


def reproduce(preset: str = "quick", out: str | pathlib.Path | None = None, root: str | pathlib.Path = "runs",
              workers: int | None = None, resume: bool = False, tracker: Tracker | None = None,
              backend: str = "process", device: str | None = None) -> Claim:
    """Run the claim's experiment for a preset; returns the claim (also written to the folders)."""
    rcfg, reproduction, results = run_reproduction("robust_scaling", preset, REPRODUCE_PRESETS[preset], make_jobs,
                                                   run_job, describe_job, root, workers, resume, tracker, backend,
                                                   device)
    rows = build_table(rcfg, results)
    holds, evidence = judge(rcfg, rows)
    claim = Claim(method="robust_scaling", claim=CLAIM, command=f"anthology reproduce robust_scaling --preset {preset}",
                  preset=preset, seeds=list(rcfg.seeds), table=rows, holds=holds, evidence=evidence)
    save_reproduction(reproduction, claim, make_figures(rcfg, rows, results), out)
    return claim
