"""The claim's experiment: MaestroMotif against one Motif reward, flat PPO, the LLM-only policy and a random
policy on the composite task "collect the gold, kill the monster, descend", on `seeds`.

Claim (Klissarov et al., Table 2's composite tasks): composing skills trained from AI feedback, with a policy
over skills written zero-shot as code, solves composite tasks on which a single Motif reward, an LLM-only
policy and flat RL fail. `judge` is written before the runs.
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
from .skills import SKILLS, TASK
from .train import train

CLAIM = ("Skills trained from AI feedback and composed zero-shot by a code-written policy over skills solve a "
         "composite task (collect gold, kill the monster, descend) where a single AI-feedback reward, an LLM-only "
         "policy and flat PPO on the task reward fail.")
SOLVES = 0.25  # MaestroMotif's success rate on every seed at least this
MARGIN = 0.15  # and every baseline's at least this much lower, on every seed


def load_curve(run: RunDir) -> list[dict[str, Any]]:
    return run.read_curve()


run_job = functools.partial(run_curve_job, train=train, load_curve=load_curve)


def describe_job(result: dict[str, Any]) -> str:
    s = result["summary"]
    return f"{result['variant']}/s{s['seed']}: success {s['eval/success']:.2f}"


def make_jobs(rcfg: ReproduceConfig, reproduction: RunDir) -> list[CurveJob]:
    order = sorted(rcfg.methods, key=lambda m: m in ("llm_policy", "random"))  # trained runs first: longest
    jobs = []
    for method in order:
        for seed in rcfg.seeds:
            cfg = override(rcfg.train, method=method, seed=seed)
            run = job_dir(reproduction, f"{method}-s{seed}")
            run.write_config(cfg, "maestro_motif", reproduction.path.parent.name)
            jobs.append(CurveJob(cfg, method, str(run.path)))
    return jobs


def build_table(rcfg: ReproduceConfig, results: list[dict[str, Any]]) -> list[ClaimRow]:
    rows = []
    for method in rcfg.methods:
        runs = sorted((r["summary"] for r in results if r["variant"] == method),
                      key=lambda s: rcfg.seeds.index(s["seed"]))
        for metric in ("success", "gold", "kill", "descend"):
            rows.append(summarize("composite", method, metric, [s[f"eval/{metric}"] for s in runs]))
        for name in (*SKILLS, TASK):
            key = f"eval/pair_accuracy_{name}"
            if runs and all(s.get(key) is not None for s in runs):
                rows.append(summarize("reward_models", method, f"pair_accuracy_{name}", [s[key] for s in runs]))
    return rows


def judge(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> tuple[bool, str]:
    """Written before the runs. On every seed, MaestroMotif's composite-task success rate is at least
    SOLVES (0.25), and every baseline's (motif, flat_ppo, llm_policy, random: those run) is at least MARGIN
    (0.15) below it. Pair accuracies are reported, not judged."""
    table = {(r.setting, r.variant, r.metric): r.values for r in rows}
    ours = table[("composite", "maestromotif", "success")]
    solves = all(v >= SOLVES for v in ours)
    parts = [f"MaestroMotif success {', '.join(f'{v:.2f}' for v in ours)} per seed: "
             + (f"at least {SOLVES} on every seed" if solves else f"below {SOLVES} on some seed")]
    ok = solves
    for method in rcfg.methods:
        if method == "maestromotif":
            continue
        theirs = table[("composite", method, "success")]
        beaten = all(b <= a - MARGIN for a, b in zip(ours, theirs, strict=True))
        ok &= beaten
        parts.append(f"{method} {', '.join(f'{v:.2f}' for v in theirs)}: "
                     + (f"at least {MARGIN} lower on every seed" if beaten else f"not {MARGIN} lower on every seed"))
    return ok, "; ".join(parts) + "."


def make_figures(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> list[dict[str, Any]]:
    table = {(r.setting, r.variant, r.metric): r for r in rows}
    figures = [points("composite_success", f"Composite task success (mean of {len(rcfg.seeds)} seeds)",
                      "success rate", [(m, table[("composite", m, "success")].mean) for m in rcfg.methods])]
    accuracy = [(n, table[("reward_models", "maestromotif", f"pair_accuracy_{n}")].mean) for n in SKILLS
                if ("reward_models", "maestromotif", f"pair_accuracy_{n}") in table]
    if ("reward_models", "motif", f"pair_accuracy_{TASK}") in table:
        accuracy.append((f"{TASK} (motif)", table[("reward_models", "motif", f"pair_accuracy_{TASK}")].mean))
    figures.append(points("pair_accuracy", "Reward models: held-out pair accuracy", "accuracy", accuracy))
    return figures


def points(name: str, title: str, ylabel: str, values: list[tuple[str, float]]) -> dict[str, Any]:
    """One marker per named value, side by side."""
    return line_figure(name, title, "", ylabel, [series(label, [i], [v], "o") for i, (label, v) in enumerate(values)])


def reproduce(preset: str = "quick", out: str | pathlib.Path | None = None, root: str | pathlib.Path = "runs",
              workers: int | None = None, resume: bool = False, tracker: Tracker | None = None,
              backend: str = "process", device: str | None = None) -> Claim:
    """Run the claim's experiment for a preset; returns the claim (also written to the folders)."""
    rcfg, reproduction, results = run_reproduction("maestro_motif", preset, REPRODUCE_PRESETS[preset], make_jobs,
                                                   run_job, describe_job, root, workers, resume, tracker, backend,
                                                   device)
    rows = build_table(rcfg, results)
    holds, evidence = judge(rcfg, rows)
    claim = Claim(method="maestro_motif", claim=CLAIM, command=f"anthology reproduce maestro_motif --preset {preset}",
                  preset=preset, seeds=list(rcfg.seeds), table=rows, holds=holds, evidence=evidence)
    save_reproduction(reproduction, claim, make_figures(rcfg, rows), out)
    return claim
