"""The claim's experiment on the 4-D, height-8 hypergrid: TB with four backward policies, and soft
Q-learning with the per-step log P_B reward, GSQL and the naive reward, every sampler evaluated exactly;
and exploration curves (modes found) of TB with three backward policies on a harder 2-D grid.

Claim (Mohammadpour et al. 2024): the maximum-entropy backward policy gives the sampler the highest
trajectory entropy at equal accuracy, and the log P_B reward makes soft Q-learning an exact GFlowNet
while the naive reward converges to the biased target n(x)R(x). `holds` follows `judge`, per seed.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import numpy as np
import torch

from anthology.core.claims import Claim, ClaimRow, holds_on_every_seed, summarize
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

from .config import (
    EXPLORATION_GRID,
    EXPLORATION_VARIANTS,
    REPRODUCE_PRESETS,
    VARIANTS,
    Config,
    EnvConfig,
    ReproduceConfig,
)
from .train import load_curve, make_env, train

CLAIM = ("With the maximum-entropy backward policy P_B(s|s') = n(s)/n(s') a GFlowNet reaches the highest "
         "trajectory entropy at equal accuracy, n can be learned, and soft Q-learning with the rewards of a "
         "backward policy is an exact GFlowNet while the naive reward converges to the biased target n(x)R(x).")
RELATIVE_ACCURACY = 0.25  # "equal accuracy": final exact L1 at most 25% above the other backward policy's
ENTROPY_TOLERANCE = 0.15  # nats: a TB sampler with a fixed P_B must be this close to its own exact optimum H(tau)
EXACT_SOFT_Q = 0.25  # a soft Q-learner must reach an exact L1 below this to its target (R/Z, or n R if naive)
LEARNED_LOG_N = 0.5  # the learned log n must be within this of the true log n at every state


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


def setting_of(env: EnvConfig) -> str:
    if env.kind == "fragments":
        return f"sEH fragment trees, {len(env.blocks)} blocks, at most {env.max_blocks}, beta {env.beta:g}"
    return f"hypergrid {env.ndim}d h{env.height}" + (f" r0 {env.r0:g}" if env.r0 != EnvConfig().r0 else "")


def make_jobs(rcfg: ReproduceConfig, reproduction: RunDir) -> list[CurveJob]:
    by_name = {v.name: v for v in (*VARIANTS, *EXPLORATION_VARIANTS)}
    jobs = []
    for name in (*rcfg.variants, *rcfg.exploration):
        v = by_name[name]
        for seed in rcfg.seeds:
            cfg = override(rcfg.train, algorithm=v.algorithm, backward=v.backward, soft_q_reward=v.soft_q_reward,
                           seed=seed, **({"env": v.env} if v.env is not None else {}))
            slug = name.replace(" (2-D h64, r0 1e-3)", " explore").replace(" ", "_").replace("-", "_")
            run = job_dir(reproduction, f"{slug}-s{seed}")
            run.write_config(cfg, "maxent_gfn", reproduction.path.parent.name)
            jobs.append(CurveJob(cfg, name, str(run.path)))
    return jobs


METRICS = ("l1", "entropy", "log_z_error", "modes_found", "l1_to_naive_target")


def build_table(rcfg: ReproduceConfig, results: list[dict[str, Any]], refs: dict[str, float]) -> list[ClaimRow]:
    rows = []
    for name in (*rcfg.variants, *rcfg.exploration):
        runs = sorted((r["summary"] for r in results if r["variant"] == name), key=lambda s: rcfg.seeds.index(s["seed"]))
        setting = setting_of(rcfg.train.env if name in rcfg.variants else EXPLORATION_GRID)
        metrics = METRICS if name in rcfg.variants else ("l1", "entropy", "modes_found")
        if name in rcfg.variants and "eval/log_n_error_max" in runs[0]:
            metrics = (*metrics, "log_n_error_max", "log_n_error_mean")
        if "eval/distinct_modes" in runs[0]:
            metrics = (*metrics, "distinct_modes", "distinct_modes_mean")
        for metric in metrics:
            rows.append(summarize(setting, name, metric, [s[f"eval/{metric}"] for s in runs]))
    setting = setting_of(rcfg.train.env)
    rows.append(summarize(setting, "exact optimum, maxent P_B", "entropy", [refs["optimal_entropy_maxent"]]))
    rows.append(summarize(setting, "exact optimum, uniform P_B", "entropy", [refs["optimal_entropy_uniform"]]))
    rows.append(summarize(setting, "exact naive soft-Q target n R", "l1", [refs["naive_target_l1"]]))
    return rows


def judge(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> tuple[bool, str]:
    return (judge_fragments if rcfg.train.env.kind == "fragments" else judge_hypergrid)(rcfg, rows)


class Verdicts:
    """A judge's parts as they are decided, with the parts both judges share."""

    def __init__(self, rcfg: ReproduceConfig, rows: list[ClaimRow]) -> None:
        setting = setting_of(rcfg.train.env)
        self.rows = {(r.variant, r.metric): r for r in rows if r.setting == setting}
        self.table = {key: r.mean for key, r in self.rows.items()}
        self.oks: list[bool] = []
        self.evidence: list[str] = []

    def add(self, ok: bool, text: str) -> None:
        self.oks.append(ok)
        self.evidence.append(f"{text} ({'holds' if ok else 'does not hold'})")

    def own_optimum(self) -> None:
        """TB with a fixed P_B (max-ent, learned max-ent, uniform) within ENTROPY_TOLERANCE nats of the exact
        optimum H(tau) of its own P_B, on every seed."""
        t = self.table
        optimum = {"tb maxent": t[("exact optimum, maxent P_B", "entropy")],
                   "tb maxent learned": t[("exact optimum, maxent P_B", "entropy")],
                   "tb uniform": t[("exact optimum, uniform P_B", "entropy")]}
        self.add(all(holds_on_every_seed(lambda v, o=o: abs(v - o) <= ENTROPY_TOLERANCE, self.rows[(name, "entropy")])
                     for name, o in optimum.items()),
                 "H(tau) against its own P_B's exact optimum: " + ", ".join(
                     f"{name} {t[(name, 'entropy')]:.2f} / {o:.2f}" for name, o in optimum.items()))

    def learned_n(self) -> None:
        """The learned log n within LEARNED_LOG_N of the true log n at every state, on every seed."""
        name = "tb maxent learned"
        self.add(holds_on_every_seed(lambda v: v < LEARNED_LOG_N, self.rows[(name, "log_n_error_max")]),
                 f"learned log n: largest error {self.table[(name, 'log_n_error_max')]:.2f} (mean "
                 f"{self.table[(name, 'log_n_error_mean')]:.3f})")

    def entropy_at_equal_accuracy(self, others: tuple[str, ...]) -> None:
        """TB with the max-ent P_B has a higher H(tau) than each of `others` at an exact L1 at most
        RELATIVE_ACCURACY above theirs, on every seed."""
        m, r, t = "tb maxent", self.rows, self.table
        self.add(all(holds_on_every_seed(lambda hm, ho, lm, lo: hm > ho and lm <= (1 + RELATIVE_ACCURACY) * lo,
                                         r[(m, "entropy")], r[(o, "entropy")], r[(m, "l1")], r[(o, "l1")])
                     for o in others),
                 f"H(tau): maxent {t[(m, 'entropy')]:.2f} vs " + ", ".join(
                     f"{o.removeprefix('tb ')} {t[(o, 'entropy')]:.2f}" for o in others)
                 + f"{',' if len(others) > 1 else ''} at exact L1 {t[(m, 'l1')]:.3f} vs " + " / ".join(f"{t[(o, 'l1')]:.3f}" for o in others))

    def result(self) -> tuple[bool, str]:
        return all(self.oks), "; ".join(self.evidence) + "."


def judge_fragments(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> tuple[bool, str]:
    """The sEH fragment-tree task (written 2026-12-01, before its first run), four parts, each on every
    seed (paired):
    1. exploration: TB with the max-ent P_B finds more Tanimoto-distinct modes than with the uniform P_B,
       averaged over the evaluation points (the area under the curve of distinct modes found);
    2. TB with the max-ent P_B has a higher H(tau) than with the uniform P_B, at an exact L1 at most
       RELATIVE_ACCURACY above it;
    3. each TB sampler (max-ent, learned max-ent, uniform) is within ENTROPY_TOLERANCE nats of the exact
       optimum H(tau) of its own P_B;
    4. the learned log n is within LEARNED_LOG_N of the true log n at every state."""
    v = Verdicts(rcfg, rows)
    m, u, t = "tb maxent", "tb uniform", v.table
    v.add(holds_on_every_seed(lambda a, b: a > b, v.rows[(m, "distinct_modes_mean")], v.rows[(u, "distinct_modes_mean")]),
          f"distinct modes found, mean over the run: maxent {t[(m, 'distinct_modes_mean')]:.1f} vs uniform "
          f"{t[(u, 'distinct_modes_mean')]:.1f} (at the end {t[(m, 'distinct_modes')]:.1f} vs "
          f"{t[(u, 'distinct_modes')]:.1f})")
    v.entropy_at_equal_accuracy((u,))
    v.own_optimum()
    v.learned_n()
    return v.result()


def judge_hypergrid(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> tuple[bool, str]:
    """Five parts, each on every seed (paired), written before the runs:
    1. TB with the max-ent P_B has a higher H(tau) than with the uniform and the free P_B, at an exact L1
       at most RELATIVE_ACCURACY above theirs;
    2. TB with a fixed P_B (max-ent, learned max-ent, uniform) is within ENTROPY_TOLERANCE nats of the
       exact optimum H(tau) of its own P_B;
    3. the learned log n is within LEARNED_LOG_N of the true log n at every state;
    4. soft Q-learning with the per-step reward log P_B, and GSQL (the same total on the exit), each reach
       L1 < EXACT_SOFT_Q to R/Z;
    5. naive soft Q-learning reaches L1 < EXACT_SOFT_Q to n R (its biased target).
    The exploration runs on the harder grid are reported, not judged."""
    v = Verdicts(rcfg, rows)
    v.entropy_at_equal_accuracy(("tb uniform", "tb free"))
    v.own_optimum()
    v.learned_n()
    for name in ("soft-q per-step log P_B", "soft-q gsql"):
        v.add(holds_on_every_seed(lambda x: x < EXACT_SOFT_Q, v.rows[(name, "l1")]),
              f"{name}: L1 to R/Z {v.table[(name, 'l1')]:.3f}")
    naive = "soft-q naive"
    v.add(holds_on_every_seed(lambda x: x < EXACT_SOFT_Q, v.rows[(naive, "l1_to_naive_target")]),
          f"{naive}: L1 to n R {v.table[(naive, 'l1_to_naive_target')]:.3f} (to R/Z {v.table[(naive, 'l1')]:.3f})")
    return v.result()


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
    if "eval/distinct_modes" in results[0]["curve"][0]:
        lines = []
        for name in rcfg.variants:
            curves = [r["curve"] for r in results if r["variant"] == name]
            x = [c["train/trajectories"] for c in curves[0]]
            lines.append(series(name, x, np.mean([[c["eval/distinct_modes"] for c in curve] for curve in curves], axis=0)))
        figures.append(line_figure("distinct_modes_vs_trajectories", "Tanimoto-distinct modes found (mean of seeds)",
                                   "trajectories sampled", "distinct modes found", lines))
    if rcfg.exploration:
        lines = []
        for name in rcfg.exploration:
            curves = [r["curve"] for r in results if r["variant"] == name]
            x = [c["train/trajectories"] for c in curves[0]]
            lines.append(series(name, x, np.mean([[c["eval/modes_found"] for c in curve] for curve in curves], axis=0)))
        figures.append(line_figure("modes_found_vs_trajectories", f"Modes found on the {setting_of(EXPLORATION_GRID)} "
                                   "grid (mean of seeds)", "trajectories sampled", "distinct modes found", lines))
    return figures


def reproduce(preset: str = "quick", out: str | pathlib.Path | None = None, root: str | pathlib.Path = "runs",
              workers: int | None = None, resume: bool = False, tracker: Tracker | None = None,
              backend: str = "process", device: str | None = None) -> Claim:
    if REPRODUCE_PRESETS[preset].train.env.kind == "fragments":
        make_env(REPRODUCE_PRESETS[preset].train.env)  # list the trees once, before the workers need them
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
