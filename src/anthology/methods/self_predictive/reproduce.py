"""The claim's experiments: the linear theorem (the paper's Fig. 2), distractor robustness (Sec. 5.2) and
the POMDP part (Sec. 5.3: recurrent Q-learning on MiniGrid with ZP on the LSTM's states).

Claim (Ni et al. 2024): with a stop-gradient target (detached or EMA) the self-predictive loss keeps a
linear encoder's columns orthogonal (ΦᵀΦ is preserved) while the online target lets them drift towards
collapse; in RL with distracting observation dimensions the self-predictive (ZP) representation stays
robust while observation prediction (OP) degrades; in POMDPs, ZP on a recurrent agent's history state
matches or beats the recurrent model-free agent. `judge` is written before the runs.
"""

from __future__ import annotations

import functools
import pathlib
import statistics
from typing import Any

from anthology.core.claims import Claim, ClaimRow, holds_on_every_seed, summarize, wins_on_every_seed
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

from . import linear
from .config import REPRODUCE_PRESETS, ReproduceConfig
from .train import train

CLAIM = ("A stop-gradient target (detached or EMA) keeps a linear self-predictive encoder's columns orthogonal while "
         "the online target lets them collapse; with distracting observation dimensions, the self-predictive (ZP) "
         "representation stays robust where observation prediction (OP) degrades; in POMDPs, ZP on a recurrent agent's "
         "history state matches or beats the recurrent model-free agent.")
STOPPED = ("detached", "ema")
STOPPED_GRAM_BOUND = 1e-3  # ‖ΦᵀΦ − Φ₀ᵀΦ₀‖_F a stopped target may reach in 500 SGD steps (the flow keeps it at 0)
COLLAPSE_RATIO = 10.0  # online |cos| must exceed every stopped target's by this factor, seed by seed
LATE_EVALS = 3  # the POMDP score: mean success over the last 3 evaluations (30 episodes at 10 each)
MATCH_MARGIN = 0.1  # "matches": ZP's late success at most this far below the model-free agent's, seed by seed


def run_linear(rcfg: ReproduceConfig) -> tuple[list[ClaimRow], dict[str, dict[str, Any]]]:
    """Every (task, target) of the linear theorem on rcfg.linear_seeds, all seeds in one batch."""
    rows, curves = [], {}
    seeds = list(rcfg.linear_seeds)
    for task in rcfg.linear_tasks:
        cfg = override(rcfg.linear, task=task)
        data, counts = linear.stack_datasets([linear.make_dataset(cfg, s) for s in seeds])
        for target in linear.TARGETS:
            record = linear.train_linear_encoder(cfg, data, counts, target, seeds)
            rows.append(summarize(f"linear {task}", target, "abs_cosine", record["cosine"][-1]))
            rows.append(summarize(f"linear {task}", target, "gram_drift", record["gram_drift"][-1]))
            curves[f"{task}/{target}"] = {"step": record["step"],
                                          "median": [statistics.median(c) for c in record["cosine"]]}
    return rows, curves


def load_evaluations(run: RunDir) -> list[dict[str, Any]]:
    return run.read_curve()


run_job = functools.partial(run_curve_job, train=train, load_curve=load_evaluations)  # picklable for workers


def describe_job(result: dict[str, Any]) -> str:
    s = result["summary"]
    where = f"{s['env']}/d={s['distractors']}" if "distractors" in s else s["env"]
    return f"{where}/{result['variant']}/s{s['seed']}"


def is_pomdp(result: dict[str, Any]) -> bool:
    return "distractors" not in result["summary"]


def rl_setting(env: str, distractors: int) -> str:
    return f"{env} d={distractors}"


def make_jobs(rcfg: ReproduceConfig, reproduction: RunDir) -> list[CurveJob]:
    jobs = []
    for distractors in rcfg.distractors:
        for name, aux in rcfg.arms:
            for seed in rcfg.seeds:
                cfg = override(rcfg.train, distractors=distractors, aux=aux, seed=seed)
                run = job_dir(reproduction, f"{rcfg.train.env}-d{distractors}-{name}-s{seed}")
                run.write_config(cfg, "self_predictive", reproduction.path.parent.name)
                jobs.append(CurveJob(cfg, name, str(run.path)))
    for task in rcfg.pomdp_tasks if rcfg.pomdp is not None else ():
        for name, aux in rcfg.pomdp_arms:
            for seed in rcfg.seeds:
                cfg = override(rcfg.pomdp, env=task, aux=aux, seed=seed, device=rcfg.train.device)
                run = job_dir(reproduction, f"{task}-{name}-s{seed}")
                run.write_config(cfg, "self_predictive", reproduction.path.parent.name)
                jobs.append(CurveJob(cfg, name, str(run.path)))
    return jobs


def late_success(curve: list[dict[str, Any]]) -> float:
    return statistics.mean(e["eval/success"] for e in curve[-LATE_EVALS:])


def build_pomdp_table(rcfg: ReproduceConfig, results: list[dict[str, Any]]) -> list[ClaimRow]:
    rows = []
    for task in rcfg.pomdp_tasks if rcfg.pomdp is not None else ():
        for name, _ in rcfg.pomdp_arms:
            runs = sorted((r for r in results if is_pomdp(r) and r["variant"] == name and r["summary"]["env"] == task),
                          key=lambda r: rcfg.seeds.index(r["summary"]["seed"]))
            rows.append(summarize(task, name, "late_success", [late_success(r["curve"]) for r in runs]))
            rows.append(summarize(task, name, "final_return", [r["summary"]["eval/return"] for r in runs]))
            if "train/rank_0.01" in runs[0]["summary"]:
                rows.append(summarize(task, name, "latent_rank_1e-2", [r["summary"]["train/rank_0.01"] for r in runs]))
    return rows


def build_rl_table(rcfg: ReproduceConfig, results: list[dict[str, Any]]) -> list[ClaimRow]:
    rows = []
    for distractors in rcfg.distractors:
        for name, _ in rcfg.arms:
            runs = sorted((r["summary"] for r in results if not is_pomdp(r) and r["variant"] == name
                           and r["summary"]["distractors"] == distractors), key=lambda s: rcfg.seeds.index(s["seed"]))
            where = rl_setting(rcfg.train.env, distractors)
            rows.append(summarize(where, name, "return", [s["eval/return"] for s in runs]))
            if "train/rank_0.01" in runs[0]:
                rows.append(summarize(where, name, "latent_rank_1e-2", [s["train/rank_0.01"] for s in runs]))
    return rows


def judge(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> tuple[bool, str]:
    """Written before the runs.
    1. Linear theorem, per task, seed by seed: under each stopped target ‖ΦᵀΦ − Φ₀ᵀΦ₀‖ stays below 1e-3,
       and the online target's final |cos| exceeds 10x each stopped target's.
    2. Distractors: at the largest d, ZP's final return beats OP's on every seed, and (when a run with
       fewer distractors exists) OP's drop from the smallest d to the largest exceeds ZP's on every seed.
    3. POMDPs (when run), per MiniGrid task: ZP matches or beats the recurrent model-free agent, seed by
       seed: its success over the last 3 evaluations is at least the model-free agent's minus 0.1.
    Holds when every part holds."""
    table = {(r.setting, r.variant, r.metric): r for r in rows}
    parts, ok = [], True
    for task in rcfg.linear_tasks:
        where = f"linear {task}"
        online = table[(where, "online", "abs_cosine")]
        kept = all(max(table[(where, t, "gram_drift")].values) < STOPPED_GRAM_BOUND for t in STOPPED)
        apart = all(holds_on_every_seed(lambda o, s: o > COLLAPSE_RATIO * s, online, table[(where, t, "abs_cosine")])
                    for t in STOPPED)
        ok &= kept and apart
        medians = ", ".join(f"{t} {statistics.median(table[(where, t, 'abs_cosine')].values):.1e}"
                            for t in linear.TARGETS)
        parts.append(f"{where} ({len(online.values)} seeds): median |cos| {medians}; stopped targets keep ΦᵀΦ "
                     f"({'holds' if kept else 'does not hold'}); online above {COLLAPSE_RATIO:g}x on every seed "
                     f"({'holds' if apart else 'does not hold'})")
    if rcfg.distractors:
        low_d, high_d = min(rcfg.distractors), max(rcfg.distractors)
        clean, noisy = rl_setting(rcfg.train.env, low_d), rl_setting(rcfg.train.env, high_d)
        zp, op = table[(noisy, "zp", "return")], table[(noisy, "op", "return")]
        beats = wins_on_every_seed(zp, op)
        ok &= beats
        parts.append(f"{noisy}: zp {zp.mean:.1f} vs op {op.mean:.1f} ({'wins on every seed' if beats else 'not on every seed'})")
        if low_d != high_d:  # the drop needs a run without (or with fewer) distractors
            drops = holds_on_every_seed(lambda zc, zn, oc, on: (oc - on) > (zc - zn), table[(clean, "zp", "return")],
                                        zp, table[(clean, "op", "return")], op)
            ok &= drops
            parts[-1] += f"; op drops more than zp from d={low_d} on every seed ({'holds' if drops else 'does not hold'})"
    model_free, ours = rcfg.pomdp_arms[0][0], "zp"
    for task in rcfg.pomdp_tasks if rcfg.pomdp is not None else ():
        zp, base = table[(task, ours, "late_success")], table[(task, model_free, "late_success")]
        matches = holds_on_every_seed(lambda a, b: a >= b - MATCH_MARGIN, zp, base)
        ok &= matches
        parts.append(f"{task}: late success zp {zp.mean:.2f} vs {model_free} {base.mean:.2f} (zp "
                     f"{'matches or beats it on every seed' if matches else 'falls more than 0.1 behind on some seed'})")
    if rcfg.pomdp is None:
        parts.append("the POMDP part (MiniGrid) is not in this preset")
    return ok, "; ".join(parts) + "."


def make_figures(rcfg: ReproduceConfig, results: list[dict[str, Any]], curves: dict[str, Any]) -> list[dict]:
    figures = []
    for task in rcfg.linear_tasks:
        figures.append(line_figure(
            f"linear_cosine_{task}", f"{task}: |cos| between Φ's columns (median of {len(rcfg.linear_seeds)} seeds)",
            "SGD step", "|cos|", [series(t, curves[f"{task}/{t}"]["step"], curves[f"{task}/{t}"]["median"])
                                  for t in linear.TARGETS], logy=True))
    for task in rcfg.pomdp_tasks if rcfg.pomdp is not None else ():
        first = [r for r in results if is_pomdp(r) and r["summary"]["env"] == task
                 and r["summary"]["seed"] == min(rcfg.seeds)]
        figures.append(line_figure(
            f"success_{task}", f"{task}: greedy success rate (seed {min(rcfg.seeds)})", "environment step",
            "success", [series(r["variant"], [e["step"] for e in r["curve"]], [e["eval/success"] for e in r["curve"]])
                        for r in first]))
    for distractors in rcfg.distractors:
        first = [r for r in results if not is_pomdp(r) and r["summary"]["distractors"] == distractors and r["summary"]["seed"] == min(rcfg.seeds)]
        figures.append(line_figure(
            f"return_d{distractors}", f"{rcfg.train.env} with {distractors} distractors: evaluation return (seed "
            f"{min(rcfg.seeds)})", "environment step", "return",
            [series(r["variant"], [e["step"] for e in r["curve"]], [e["eval/return"] for e in r["curve"]])
             for r in first]))
    return figures


def reproduce(preset: str = "quick", out: str | pathlib.Path | None = None, root: str | pathlib.Path = "runs",
              workers: int | None = None, resume: bool = False, tracker: Tracker | None = None,
              backend: str = "process", device: str | None = None) -> Claim:
    """Run the claim's experiments for a preset; returns the claim (also written to the folders)."""
    rcfg, reproduction, results = run_reproduction(
        "self_predictive", preset, REPRODUCE_PRESETS[preset], make_jobs, run_job, describe_job, root,
        workers, resume, tracker, backend, device)
    linear_rows, curves = run_linear(rcfg)
    rows = linear_rows + build_rl_table(rcfg, results) + build_pomdp_table(rcfg, results)
    holds, evidence = judge(rcfg, rows)
    claim = Claim(method="self_predictive", claim=CLAIM, command=f"anthology reproduce self_predictive --preset {preset}",
                  preset=preset, seeds=list(rcfg.seeds), table=rows, holds=holds, evidence=evidence)
    save_reproduction(reproduction, claim, make_figures(rcfg, results, curves), out)
    return claim
