"""The claim's experiment, measured as the paper states it: oracle calls needed to reach a score.

Claim (LambdaZero, Korablyov et al. 2024): RL on a proxy's upper confidence bound, refit by active
learning, reaches scores with far fewer oracle calls than screening a drug-like library. For each
threshold T, a run's calls are those after which its running top-10 mean (constraint-satisfying
molecules) first reaches T (`speedup.calls_to_reach`, censored at the budget). Screening needs no runs:
with a cheap oracle one pool of MOSES molecules that meet the same constraints is scored once and its
expected calls come from random orders of the pool (`speedup.screening_calls`); with docking, the
`screen moses` arm is run. Every arm applies the same constraints before any oracle call. `judge` is
written before the runs.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import json
import math
import pathlib
from typing import Any

import numpy as np

from anthology.chem.data import moses_smiles
from anthology.chem.scoring import canonical_smiles
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

from .config import REPRODUCE_PRESETS, VARIANTS, ReproduceConfig
from .search import make_oracle, meets_constraints
from .speedup import bootstrap_lower, calls_to_reach, running_top_k_mean, screening_calls
from .train import LABELS_FILE, load_curve, train

CLAIM = ("RL on a proxy's upper confidence bound, refit by active learning (LambdaZero), reaches a given top-10 "
         "score of constraint-satisfying molecules with at least ten times fewer oracle calls than screening a "
         "drug-like library, an advantage that grows with the score, and beats random molecules with the "
         "same active learning at equal calls.")
LAMBDAZERO = "lambdazero (ppo + al, kappa 1)"
RANDOM_AL = "random policy + al"
SCREEN_ARM = "screen moses"
SCREEN_POOL = "screen moses pool (expected)"
METRICS = ("top1", "top10", "top50", "top50_diversity", "top50_scaffolds", "proxy_r2_mean",
           "sigma_error_spearman_mean", "satisfying", "failed_calls")
SPEEDUP = 10.0  # screening must need at least this many times LambdaZero's calls at LambdaZero's median top-10
OFFSETS = (1.5, 1.0, 0.5, 0.0)  # thresholds T = T* - offset, T* = LambdaZero's median top-10 at the budget
TOP_K = 10


def run_job(job: CurveJob) -> dict[str, Any]:
    """Train (or reuse) one run; its labels, in call order, come back with it."""
    result = run_curve_job(job, train, load_curve)
    result["labels"] = json.loads((pathlib.Path(job.run_path) / LABELS_FILE).read_text())
    return result


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


def pool_smiles(rcfg: ReproduceConfig) -> list[str]:
    """The screening pool: the admissible molecules (canonical, distinct) among `rcfg.screen_pool` MOSES
    training molecules drawn in a fixed order."""
    pool = moses_smiles("train")
    drawn = [pool[i] for i in np.random.default_rng(0).permutation(len(pool))[: rcfg.screen_pool]]
    smiles = list(dict.fromkeys(canonical_smiles(s) or s for s in drawn))
    return [s for s, ok in zip(smiles, meets_constraints(rcfg.train, smiles), strict=True) if ok]


def screen_pool(rcfg: ReproduceConfig, root: pathlib.Path) -> np.ndarray | None:
    """The oracle's scores of the admissible molecules among `rcfg.screen_pool` MOSES molecules (a seeded
    draw, the same for every run), scored once and kept in <runs>/lambdazero/; None for a docking oracle
    (its screen is the `screen moses` arm)."""
    cfg = rcfg.train
    if cfg.oracle.kind != "proxy" or not rcfg.screen_pool:
        return None
    key = json.dumps({"n": rcfg.screen_pool, "qed": cfg.qed_ramp, "sa": cfg.sa_ramp, "mw": cfg.mw_window,
                      "alerts": cfg.max_alerts, "oracle": cfg.oracle.kind, "v": 1}, sort_keys=True)
    path = root / f"screen_pool-{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"
    if path.is_file():
        with np.load(path) as z:
            return z["scores"]
    smiles = pool_smiles(rcfg)
    oracle = make_oracle(dataclasses.replace(cfg.oracle, cache=cfg.oracle.cache or str(root / "oracle_cache.sqlite")))
    scores = np.array([r.value for r in oracle.score(smiles) if r.status == "ok"], dtype=float)
    oracle.cache.close()
    root.mkdir(parents=True, exist_ok=True)
    np.savez(path, scores=scores)
    return scores


def value(summary: dict[str, Any], metric: str) -> float:
    key = metric if metric in ("satisfying", "failed_calls") else f"eval/{metric}"
    v = summary.get(key)
    return math.nan if v is None else float(v)


def thresholds(rows_or_values: Any) -> list[float]:
    """T* (LambdaZero's median top-10 at the budget, rounded down to 2 decimals so that the median seed
    reaches it) and the thresholds below it, ascending."""
    top10 = rows_or_values.values if isinstance(rows_or_values, ClaimRow) else rows_or_values
    star = math.floor(float(np.median(top10)) * 100) / 100
    return [round(star - o, 2) for o in OFFSETS]


def run_curve(labels: list[dict[str, Any]]) -> np.ndarray:
    return running_top_k_mean([r["score"] for r in labels], [r["satisfied"] for r in labels], TOP_K)


def build_table(rcfg: ReproduceConfig, results: list[dict[str, Any]], pool: np.ndarray | None) -> list[ClaimRow]:
    """Per variant: the top-k scores and diagnostics at the budget, and the calls to reach each threshold
    (censored at the budget: a run that never reaches T counts as the whole budget, `reached_T` 0); the
    pool's expected calls (a T above the pool's own top-10 counts as the pool's size + 1)."""
    setting = f"sEH {rcfg.train.oracle.kind}, budget {rcfg.train.budget}"
    by_variant = {name: sorted((r for r in results if r["variant"] == name),
                               key=lambda r: rcfg.seeds.index(r["summary"]["seed"])) for name in rcfg.variants}
    rows = []
    grid = thresholds([value(r["summary"], "top10") for r in by_variant[LAMBDAZERO]])
    for name, runs in by_variant.items():
        for metric in METRICS:
            values = [value(r["summary"], metric) for r in runs]
            if not all(math.isnan(v) for v in values):
                rows.append(summarize(setting, name, metric, values))
        calls = np.array([calls_to_reach(run_curve(r["labels"]), grid) for r in runs])  # [seeds, T]
        for j, t in enumerate(grid):
            rows.append(summarize(setting, name, f"calls_to_{t:.2f}", np.minimum(calls[:, j], rcfg.train.budget)))
            rows.append(summarize(setting, name, f"reached_{t:.2f}", np.isfinite(calls[:, j]).astype(float)))
    if pool is not None:
        expected = screening_calls(pool, grid, TOP_K, seed=0)
        for t, c in zip(grid, expected, strict=True):
            rows.append(summarize(setting, SCREEN_POOL, f"calls_to_{t:.2f}", [c if np.isfinite(c) else len(pool) + 1]))
        rows.append(summarize(setting, SCREEN_POOL, "pool_size", [len(pool)]))
        rows.append(summarize(setting, SCREEN_POOL, "top10", [float(np.sort(pool)[-TOP_K:].mean())]))
        rows.append(summarize(setting, SCREEN_POOL, "top1", [float(pool.max())]))
    return rows


def judge(rcfg: ReproduceConfig, rows: list[ClaimRow]) -> tuple[bool, str]:
    """Written before the runs; T* = LambdaZero's median top-10 at the budget, the screen = the scored
    MOSES pool's expected calls (or the `screen moses` arm's calls, paired by seed, with docking):
    1. speed-up: screen calls / LambdaZero's calls at T*, per seed, average at least SPEEDUP with its
       seed-bootstrap 95% lower bound above 1 (a seed that never reaches T* counts its whole budget);
    2. the speed-up grows with T: its seed mean at T* exceeds that at T* - 1.5;
    3. LambdaZero's top-10 at the budget beats random policy + AL's, the seed-bootstrap 95% lower bound of
       the paired difference above 0 (when the preset runs random policy + AL).
    The re-docking of the winners with Vina is not part of a proxy-oracle preset's verdict."""
    rows_of = {(r.variant, r.metric): r for r in rows}
    grid = thresholds(rows_of[(LAMBDAZERO, "top10")])
    screen = SCREEN_POOL if (SCREEN_POOL, "pool_size") in rows_of else SCREEN_ARM
    if (screen, f"calls_to_{grid[-1]:.2f}") not in rows_of:
        return False, f"no screen to compare with: the preset runs neither the scored pool nor '{SCREEN_ARM}'."

    def ratios(t: float) -> list[float]:
        return [s / c for c, s in per_seed(rows_of[(LAMBDAZERO, f"calls_to_{t:.2f}")], rows_of[(screen, f"calls_to_{t:.2f}")])]

    star, low = grid[-1], grid[0]
    at_star, at_low = ratios(star), ratios(low)
    verdicts, parts = [], []
    ok = float(np.mean(at_star)) >= SPEEDUP and bootstrap_lower(at_star) > 1.0
    verdicts.append(ok)
    reached = rows_of[(LAMBDAZERO, f"reached_{star:.2f}")].values
    screen_calls = rows_of[(screen, f"calls_to_{star:.2f}")]
    parts.append(f"at T* = {star:.2f} (LambdaZero's median top-10 at {rcfg.train.budget} calls) the screen needs "
                 f"{screen_calls.mean:.0f} calls against LambdaZero's {', '.join(f'{v:.0f}' for v in rows_of[(LAMBDAZERO, f'calls_to_{star:.2f}')].values)} "
                 f"(reached on {sum(reached):.0f} of {len(reached)} seeds): speed-up {np.mean(at_star):.1f}x, 95% lower "
                 f"bound {bootstrap_lower(at_star):.2f} ({'holds' if ok else 'does not hold'})")
    ok = float(np.mean(at_star)) > float(np.mean(at_low))
    verdicts.append(ok)
    parts.append(f"speed-up at T* - 1.5 = {low:.2f}: {np.mean(at_low):.1f}x, so it {'grows' if ok else 'does not grow'} "
                 f"with T ({'holds' if ok else 'does not hold'})")
    if (RANDOM_AL, "top10") in rows_of:
        diffs = [a - b for a, b in per_seed(rows_of[(LAMBDAZERO, "top10")], rows_of[(RANDOM_AL, "top10")])]
        ok = bootstrap_lower(diffs) > 0.0
        verdicts.append(ok)
        parts.append(f"top-10 at {rcfg.train.budget} calls against random policy + AL: "
                     f"{rows_of[(LAMBDAZERO, 'top10')].mean:.2f} vs {rows_of[(RANDOM_AL, 'top10')].mean:.2f}, paired "
                     f"difference {np.mean(diffs):+.2f}, 95% lower bound {bootstrap_lower(diffs):+.2f} "
                     f"({'holds' if ok else 'does not hold'})")
    return all(verdicts), "; ".join(parts) + f" ({len(rcfg.seeds)} seed(s))."


def make_figures(rcfg: ReproduceConfig, results: list[dict[str, Any]], pool: np.ndarray | None) -> list[dict]:
    star = thresholds([value(r["summary"], "top10") for r in results if r["variant"] == LAMBDAZERO])[-1]
    grid = np.round(np.arange(star - 2.5, star + 0.51, 0.1), 2)
    lines = []
    for name in rcfg.variants:
        calls = np.array([calls_to_reach(run_curve(r["labels"]), grid) for r in results if r["variant"] == name])
        median = np.median(calls, axis=0)  # inf where most seeds never reach T: not drawn
        lines.append(series(name, grid, np.where(np.isfinite(median), median, np.nan)))
    if pool is not None:
        expected = screening_calls(pool, grid, TOP_K, orders=50, seed=0)
        lines.append(series(f"screen of {len(pool)} MOSES molecules (expected)", grid,
                            np.where(np.isfinite(expected), expected, np.nan), "k--"))
    figures = [line_figure("calls_to_reach_top10", f"Oracle calls until the top-10 mean reaches T (median of "
                           f"{len(rcfg.seeds)} seeds)", "T (top-10 mean score)", "oracle calls", lines, logy=True)]
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
    given = REPRODUCE_PRESETS[preset]
    with cf.ThreadPoolExecutor(1) as background:
        # the screening pool is scored while worker processes run the searches (in-process jobs: after them)
        early = background.submit(screen_pool, given, pathlib.Path(root) / "lambdazero") \
            if (workers or given.workers) > 1 and backend == "process" else None
        rcfg, reproduction, results = run_reproduction(
            "lambdazero", preset, given, make_jobs, run_job,
            lambda result: f"{result['variant']}/s{result['summary']['seed']}", root,
            workers, resume, tracker, backend, device)
        if early is not None:
            early.result()
    pool = screen_pool(rcfg, reproduction.path.parents[1])  # read back from the file `early` wrote
    rows = build_table(rcfg, results, pool)
    holds, evidence = judge(rcfg, rows)
    claim = Claim(method="lambdazero", claim=CLAIM, command=f"anthology reproduce lambdazero --preset {preset}",
                  preset=preset, seeds=list(rcfg.seeds), table=rows, holds=holds, evidence=evidence)
    save_reproduction(reproduction, claim, make_figures(rcfg, results, pool), out)
    return claim
