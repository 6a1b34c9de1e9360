"""The claim's experiment on the 4-D, height-8 hypergrid: TB with four backward policies, and soft
Q-learning with the corrected and the naive reward, every sampler evaluated exactly.

Claim (Mohammadpour et al. 2024): the maximum-entropy backward policy gives the sampler the highest
trajectory entropy at equal accuracy, and the log P_B reward makes soft Q-learning an exact GFlowNet
while the naive reward converges to the biased target n(x)R(x). `holds` is computed from the seed means.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import numpy as np
import torch

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
from anthology.gfn.exact import (
    backward_log_probs,
    build_graph,
    soft_value_iteration,
    step_reward_from_backward,
    target_distribution,
    terminal_distribution,
    trajectory_entropy,
)
from anthology.tracking import Tracker

from .config import REPRODUCE_PRESETS, VARIANTS, Config, ReproduceConfig
from .train import load_curve, make_env, train

CLAIM = ("With the maximum-entropy backward policy P_B(s|s') = n(s)/n(s') a GFlowNet reaches the highest "
         "trajectory entropy at equal accuracy, and soft Q-learning with intermediate reward log P_B is an "
         "exact GFlowNet while the naive reward converges to the biased target n(x)R(x).")
EQUAL_ACCURACY = 0.1  # "equal accuracy": final exact L1 within this of the other backward policies'
EXACT_SOFT_Q = 0.25  # the corrected soft Q-learner must reach an exact L1 below this


run_job = functools.partial(run_curve_job, train=train, load_curve=load_curve)


def exact_references(cfg: Config) -> dict[str, float]:
    """Optimal entropies for the max-ent and uniform P_B, and the naive soft-Q target's L1 to R/Z."""
    env = make_env(cfg.env)
    graph = build_graph(env)
    out = {}
    for kind in ("maxent", "uniform"):
        _, log_pi = soft_value_iteration(graph, step_reward_from_backward(graph, backward_log_probs(env, graph, kind)))
        out[f"optimal_entropy_{kind}"] = trajectory_entropy(graph, log_pi)
    _, naive = soft_value_iteration(graph, torch.zeros(graph.children.shape, dtype=torch.float64))
    out["naive_target_l1"] = float((terminal_distribution(graph, naive) - target_distribution(graph)).abs().sum())
    return out


def make_jobs(rcfg: ReproduceConfig, reproduction: RunDir) -> list[CurveJob]:
    by_name = {v.name: v for v in VARIANTS}
    jobs = []
    for name in rcfg.variants:
        v = by_name[name]
        for seed in rcfg.seeds:
            cfg = override(rcfg.train, algorithm=v.algorithm, backward=v.backward, soft_q_reward=v.soft_q_reward,
                           seed=seed)
            run = job_dir(reproduction, f"{name.split(' (')[0].replace(' ', '_')}-s{seed}")
            run.write_config(cfg, "maxent_gfn", reproduction.path.parent.name)
            jobs.append(CurveJob(cfg, name, str(run.path)))
    return jobs


METRICS = ("l1", "entropy", "log_z_error", "modes_found", "l1_to_naive_target")


def build_table(rcfg: ReproduceConfig, results: list[dict[str, Any]], refs: dict[str, float]) -> list[ClaimRow]:
    setting = f"hypergrid {rcfg.train.env.ndim}d h{rcfg.train.env.height}"
    rows = []
    for name in rcfg.variants:
        runs = [r["summary"] for r in results if r["variant"] == name]
        for metric in METRICS:
            rows.append(summarize(setting, name, metric, [s[f"eval/{metric}"] for s in runs]))
        if "eval/log_n_error_max" in runs[0]:
            for metric in ("log_n_error_max", "log_n_error_mean"):
                rows.append(summarize(setting, name, metric, [s[f"eval/{metric}"] for s in runs]))
    rows.append(summarize(setting, "exact optimum, maxent P_B", "entropy", [refs["optimal_entropy_maxent"]]))
    rows.append(summarize(setting, "exact optimum, uniform P_B", "entropy", [refs["optimal_entropy_uniform"]]))
    rows.append(summarize(setting, "exact naive soft-Q target n R", "l1", [refs["naive_target_l1"]]))
    return rows


def judge(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> tuple[bool, str]:
    """Every seed (paired): TB with the max-ent backward policy has a higher trajectory entropy than with
    the uniform and the free backward policy at an L1 no worse than theirs + EQUAL_ACCURACY; corrected
    soft-Q learning reaches L1 < EXACT_SOFT_Q to R/Z, and naive soft-Q lands nearer n R than R/Z."""
    rows_of = {(r.variant, r.metric): r for r in rows}
    table = {key: r.mean for key, r in rows_of.items()}
    h = {v: table[(v, "entropy")] for v in ("tb maxent", "tb maxent learned", "tb uniform", "tb free")}
    l1 = {v: table[(v, "l1")] for v in h}
    others = ("tb uniform", "tb free")
    entropy_ok = all(holds_on_every_seed(lambda hm, ho, lm, lo: hm > ho and lm <= lo + EQUAL_ACCURACY,
                                         rows_of[("tb maxent", "entropy")], rows_of[(o, "entropy")],
                                         rows_of[("tb maxent", "l1")], rows_of[(o, "l1")]) for o in others)
    corrected, naive = "soft-q corrected (gsql)", "soft-q naive"
    soft_q_ok = (holds_on_every_seed(lambda v: v < EXACT_SOFT_Q, rows_of[(corrected, "l1")])
                 and wins_on_every_seed(rows_of[(naive, "l1_to_naive_target")], rows_of[(naive, "l1")],
                                        higher_is_better=False))
    evidence = (f"H(tau): maxent {h['tb maxent']:.2f} (learned n {h['tb maxent learned']:.2f}) vs uniform "
                f"{h['tb uniform']:.2f}, free {h['tb free']:.2f}, at exact L1 {l1['tb maxent']:.3f} vs "
                f"{l1['tb uniform']:.3f} / {l1['tb free']:.3f}; soft-Q L1 to R/Z: corrected "
                f"{table[(corrected, 'l1')]:.3f}, naive {table[(naive, 'l1')]:.3f} (its L1 to n R: "
                f"{table[(naive, 'l1_to_naive_target')]:.3f}).")
    return entropy_ok and soft_q_ok, evidence


def make_figures(rcfg: ReproduceConfig, results: list[dict[str, Any]], refs: dict[str, float]) -> list[dict]:
    figures = []
    entropy_frame = (0.85 * refs["optimal_entropy_uniform"], 1.1 * refs["optimal_entropy_maxent"])
    for metric, label, logy in (("l1", "exact L1 to R/Z", True), ("entropy", "exact H(tau), nats", False)):
        lines = []
        for name in rcfg.variants:
            curves = [r["curve"] for r in results if r["variant"] == name]
            x = [c["train/trajectories"] for c in curves[0]]
            y = np.mean([[c[f"eval/{metric}"] for c in curve] for curve in curves], axis=0)
            lines.append(series(name, x, y))
        if metric == "entropy":
            xs = [lines[0]["x"][0], lines[0]["x"][-1]]
            lines.append(series("optimum, maxent P_B", xs, [refs["optimal_entropy_maxent"]] * 2, "k--"))
            lines.append(series("optimum, uniform P_B", xs, [refs["optimal_entropy_uniform"]] * 2, "k:"))
        else:
            xs = [lines[0]["x"][0], lines[0]["x"][-1]]
            lines.append(series("naive soft-Q target (exact)", xs, [refs["naive_target_l1"]] * 2, "k:"))
        figures.append(line_figure(f"{metric}_vs_trajectories", f"{label} vs trajectories (mean of seeds)",
                                   "trajectories sampled", label, lines, logy=logy,
                                   ylim=entropy_frame if metric == "entropy" else None))
    return figures


def reproduce(preset: str = "quick", out: str | pathlib.Path | None = None, root: str | pathlib.Path = "runs",
              workers: int | None = None, resume: bool = False, tracker: Tracker | None = None,
              backend: str = "process", device: str | None = None) -> Claim:
    rcfg, reproduction, results = run_reproduction(
        "maxent_gfn", preset, REPRODUCE_PRESETS[preset], make_jobs, run_job,
        lambda result: f"{result['variant']}/s{result['summary']['seed']}", root,
        workers, resume, tracker, backend, device)
    refs = exact_references(rcfg.train)
    rows = build_table(rcfg, results, refs)
    holds, evidence = judge(rcfg, rows)
    claim = Claim(method="maxent_gfn", claim=CLAIM, command=f"anthology reproduce maxent_gfn --preset {preset}",
                  preset=preset, seeds=list(rcfg.seeds), table=rows, holds=holds, evidence=evidence)
    save_reproduction(reproduction, claim, make_figures(rcfg, results, refs), out)
    return claim
