"""The claim's experiments: exact soft value iteration on the escape grid and on distractor chains, soft
Q-learning on the chains, and SAC on stacked Pendulum (action dimension d) and on rescaled actions.

Claim (Mohammadpour, Frejinger, Bacon, ICLR 2024): a fixed entropy temperature over-regularises as the
action space grows or varies by state; dividing by the regulariser's range (decoupling) keeps the
regularisation consistent. `holds` is computed from the numbers below, part by part.
"""

from __future__ import annotations

import dataclasses
import itertools
import pathlib
from typing import Any

import numpy as np
import torch

from anthology.core.claims import Claim, ClaimRow, holds_on_every_seed, summarize, wins_on_every_seed
from anthology.core.config import override
from anthology.core.reproduction import job_dir, line_figure, run_reproduction, save_reproduction, series
from anthology.core.run_dir import RunDir
from anthology.envs.distractor_chain import DistractorChain
from anthology.envs.escape_grid import EscapeGrid
from anthology.rl.soft_q import normalised_entropy, soft_policy, soft_value_iteration
from anthology.rl.temperature import static_discrete_temperature
from anthology.tracking import Tracker

from .config import REPRODUCE_PRESETS, Config, ReproduceConfig
from .train import train

CLAIM = ("A fixed entropy temperature over-regularises as the action space grows or varies by state; dividing "
         "the temperature by the regulariser's range (decoupled regularisation) keeps regularisation consistent.")
NEAR_SHORTEST = 0.05  # escape grid: decoupled episodes within 5% of the shortest path
CHAIN_LENGTH = 6
SCHEME_NAMES = {"fixed": "fixed", "static": "static decoupled", "auto": "auto (-d)", "dynamic": "dynamic decoupled"}


def chain_actions(k: int, length: int = CHAIN_LENGTH) -> tuple[int, ...]:
    """A chain whose states alternate 1 and k distractors: |A(s)| = 2, k + 1, 2, k + 1, ..."""
    return tuple(2 if i % 2 == 0 else k + 1 for i in range(length))


def exact_soft_policy(task: EscapeGrid | DistractorChain, tau: float, decoupled: bool,
                      gamma: float = 1.0) -> torch.Tensor:
    reward, next_state, mask, terminal = task.tables()
    temperature = static_discrete_temperature(tau, mask.sum(-1)) if decoupled else tau
    _, q = soft_value_iteration(reward, next_state, mask, terminal, temperature, gamma)
    return soft_policy(q, mask, temperature)


def escape_grid_rows(rcfg: ReproduceConfig) -> list[ClaimRow]:
    """Expected episode length and start-state normalised entropy, n = 2..6, fixed vs tau / log 2n."""
    rows = []
    for n in rcfg.escape_dims:
        grid = EscapeGrid(n)
        setting = f"escape grid n={n}"
        rows.append(summarize(setting, "shortest path", "episode_length", [grid.shortest_path]))
        for decoupled, name in ((False, "fixed"), (True, "static decoupled")):
            policy = exact_soft_policy(grid, rcfg.escape_tau, decoupled)
            rows.append(summarize(setting, name, "episode_length", [grid.expected_length(policy)]))
            start_entropy = normalised_entropy(policy[grid.start], grid.tables()[2][grid.start])
            rows.append(summarize(setting, name, "start_normalised_entropy", [float(start_entropy)]))
    return rows


def chain_exact_rows(rcfg: ReproduceConfig) -> list[ClaimRow]:
    """Exact expected length and per-state normalised entropy on chains with 1 and k distractors."""
    rows = []
    for k in rcfg.chain_distractors:
        chain = DistractorChain(chain_actions(k))
        setting = f"chain k={k} exact"
        rows.append(summarize(setting, "shortest path", "episode_length", [chain.length]))
        for decoupled, name in ((False, "fixed"), (True, "static decoupled")):
            try:
                policy = exact_soft_policy(chain, rcfg.chain_tau, decoupled)
            except ArithmeticError:  # the entropy bonus outweighs the step cost: episodes never end (no row)
                continue
            entropy = chain.normalised_entropy(policy)
            rows.append(summarize(setting, name, "episode_length", [chain.expected_length(policy)]))
            rows.append(summarize(setting, name, "normalised_entropy_k_states", [float(entropy[1::2].mean())]))
            rows.append(summarize(setting, name, "normalised_entropy_1_states", [float(entropy[0::2].mean())]))
    return rows


@dataclasses.dataclass(frozen=True)
class Job:
    cfg: Config
    part: str  # "chain", "copies" or "scale"
    variant: str
    x: float  # k, d or s
    run_path: str


def run_job(job: Job) -> dict[str, Any]:
    run = RunDir(pathlib.Path(job.run_path))
    summary = run.read_summary()
    if summary is None:
        result = train(job.cfg, run_dir=run)
        summary = result.summary
    return {"part": job.part, "variant": job.variant, "x": job.x, "summary": summary}


def scheme_config(rcfg: ReproduceConfig, base: Config, scheme: str, seed: int, **changes: Any) -> Config:
    tau = {"fixed": rcfg.fixed_tau, "static": rcfg.static_tau}.get(scheme, base.tau)
    return override(base, temperature=scheme, tau=tau, seed=seed, **changes)


def make_jobs(rcfg: ReproduceConfig, reproduction: RunDir) -> list[Job]:
    jobs: list[Job] = []

    def add(cfg: Config, part: str, variant: str, x: float, name: str) -> None:
        run = job_dir(reproduction, name)
        run.write_config(cfg, "decoupled_regularization", reproduction.path.parent.name)
        jobs.append(Job(cfg, part, variant, x, str(run.path)))

    for seed in rcfg.seeds:
        for k in rcfg.chain_learned:
            for scheme in ("fixed", "static"):
                cfg = override(rcfg.chain_train, temperature=scheme, tau=rcfg.chain_tau, seed=seed,
                               **{"env.chain": chain_actions(k)})
                add(cfg, "chain", SCHEME_NAMES[scheme], k, f"chain-k{k}-{scheme}-s{seed}")
        for d in rcfg.copies:
            steps = rcfg.train.total_steps * (d if rcfg.steps_per_copy else 1)
            for scheme in rcfg.copies_schemes:
                cfg = scheme_config(rcfg, rcfg.train, scheme, seed, total_steps=steps,
                                    **{"env.name": "pendulum", "env.copies": d, "env.action_scale": 1.0})
                add(cfg, "copies", SCHEME_NAMES[scheme], d, f"pendulum-d{d}-{scheme}-s{seed}")
        for s in rcfg.scales:
            for scheme in rcfg.scale_schemes:
                cfg = scheme_config(rcfg, rcfg.train, scheme, seed,
                                    **{"env.name": rcfg.scale_env, "env.copies": 1, "env.action_scale": s})
                add(cfg, "scale", SCHEME_NAMES[scheme], s, f"{rcfg.scale_env}-s{s:g}-{scheme}-s{seed}")
    return jobs


def learned_rows(rcfg: ReproduceConfig, results: list[dict[str, Any]]) -> list[ClaimRow]:
    rows = []
    sac_metrics = ("return", "train/recent_episode_return", "temperature")
    for part, metrics in (("chain", ("expected_length", "policy_tv_mean", "normalised_entropy_mean")),
                          ("copies", sac_metrics), ("scale", sac_metrics)):
        keys = sorted({(r["x"], r["variant"]) for r in results if r["part"] == part})
        for x, variant in keys:
            runs = [r["summary"] for r in results if r["part"] == part and r["x"] == x and r["variant"] == variant]
            setting = {"chain": f"chain k={x:g} soft-Q learned", "copies": f"pendulum d={x:g}",
                       "scale": f"{rcfg.scale_env} s={x:g}"}[part]
            for metric in metrics:
                key = metric if "/" in metric else f"eval/{metric}"  # eval/ is the deterministic policy's
                name = {"train/recent_episode_return": "stochastic_return",  # the last 5 training episodes
                        "expected_length": "episode_length"}.get(metric, metric)
                rows.append(summarize(setting, variant, name, [s[key] for s in runs]))
            if part == "chain":
                rows.append(summarize(setting, variant, "exact_episode_length",
                                      [runs[0]["optimal_expected_length"]]))
    return rows


def judge(rcfg: ReproduceConfig, claim_rows: list[ClaimRow]) -> tuple[bool, str]:
    """Five parts, all of which must hold. The exact parts (escape grid, chain solved by soft value
    iteration) have no seed; the learned parts must hold on every seed, paired by seed."""
    rows_of = {(r.setting, r.variant, r.metric): r for r in claim_rows}
    table = {key: r.mean for key, r in rows_of.items()}
    verdicts, evidence = [], []

    def verdict(ok: bool, text: str) -> None:
        verdicts.append(ok)
        evidence.append(f"{text} ({'holds' if ok else 'does not hold'})")

    ns = rcfg.escape_dims
    fixed = [table[(f"escape grid n={n}", "fixed", "episode_length")] for n in ns]
    decoupled = [table[(f"escape grid n={n}", "static decoupled", "episode_length")] for n in ns]
    shortest = [table[(f"escape grid n={n}", "shortest path", "episode_length")] for n in ns]
    verdict(all(d <= (1 + NEAR_SHORTEST) * s for d, s in zip(decoupled, shortest))
            and all(b > a for a, b in itertools.pairwise(fixed)),
            f"escape grid (exact, tau {rcfg.escape_tau}) n={ns[0]}..{ns[-1]}: fixed length {fixed[0]:.1f} -> "
            f"{fixed[-1]:.1f}, decoupled {decoupled[0]:.1f} -> {decoupled[-1]:.1f}, shortest {shortest[0]:g} -> "
            f"{shortest[-1]:g}")

    ks = rcfg.chain_distractors
    infinite = float("inf")  # a missing row: soft value iteration diverged, the episodes never end
    cf = [table.get((f"chain k={k} exact", "fixed", "episode_length"), infinite) for k in ks]
    cd = [table.get((f"chain k={k} exact", "static decoupled", "episode_length"), infinite) for k in ks]
    verdict(all(b > a for a, b in itertools.pairwise(cf)) and cd[-1] <= cd[0],  # fixed grows with k, decoupled not
            f"distractor chain (exact, tau {rcfg.chain_tau}) k={ks[0]}..{ks[-1]}: fixed length {cf[0]:.2f} -> "
            f"{cf[-1]:.2f}, decoupled {cd[0]:.2f} -> {cd[-1]:.2f}")
    kl = max(rcfg.chain_learned)
    learned = [rows_of[(f"chain k={kl:g} soft-Q learned", v, "episode_length")] for v in ("fixed", "static decoupled")]
    learned_fixed, learned_static = (r.mean for r in learned)
    verdict(wins_on_every_seed(*learned), f"soft Q-learning on the k={kl} chain: fixed {learned_fixed:.2f}, "
            f"decoupled {learned_static:.2f} steps")

    ds = rcfg.copies
    if {"fixed", "static"} <= set(rcfg.copies_schemes):
        first_last = [rows_of[(f"pendulum d={d}", v, "return")] for v in ("fixed", "static decoupled")
                      for d in (ds[0], ds[-1])]
        rf = [table[(f"pendulum d={d}", "fixed", "return")] for d in ds]
        rs = [table[(f"pendulum d={d}", "static decoupled", "return")] for d in ds]
        # fixed loses more return from d_min to d_max than static decoupled, and ends lower
        verdict(holds_on_every_seed(lambda f0, f1, s0, s1: f0 - f1 > s0 - s1 and s1 > f1, *first_last),
                f"stacked Pendulum return d={ds[0]}..{ds[-1]}: fixed {rf[0]:.0f} -> {rf[-1]:.0f}, static "
                f"decoupled {rs[0]:.0f} -> {rs[-1]:.0f}")
    ss = rcfg.scales
    if {"auto", "dynamic"} <= set(rcfg.scale_schemes):
        ra = [table[(f"{rcfg.scale_env} s={s:g}", "auto (-d)", "return")] for s in ss]
        rd = [table[(f"{rcfg.scale_env} s={s:g}", "dynamic decoupled", "return")] for s in ss]
        by_scale = [rows_of[(f"{rcfg.scale_env} s={s:g}", v, "return")] for v in ("auto (-d)", "dynamic decoupled")
                    for s in ss]

        def steadier(*returns: float) -> bool:  # dynamic varies less over the scales and its worst is better
            auto, dynamic = returns[:len(ss)], returns[len(ss):]
            return max(auto) - min(auto) > max(dynamic) - min(dynamic) and min(dynamic) > min(auto)

        verdict(holds_on_every_seed(steadier, *by_scale),
                f"{rcfg.scale_env} return over action scales {', '.join(f'{s:g}' for s in ss)}: auto "
                f"{', '.join(f'{v:.0f}' for v in ra)}; dynamic decoupled {', '.join(f'{v:.0f}' for v in rd)}")
    return all(verdicts), "; ".join(evidence) + "."


def make_figures(rcfg: ReproduceConfig, claim_rows: list[ClaimRow]) -> list[dict]:
    table = {(r.setting, r.variant, r.metric): r.mean for r in claim_rows}
    ns, ks = rcfg.escape_dims, rcfg.chain_distractors
    escape = [series(name, ns, [table[(f"escape grid n={n}", name, "episode_length")] for n in ns], style)
              for name, style in (("fixed", "-o"), ("static decoupled", "-s"), ("shortest path", "k--"))]
    chain = [series(name, ks, [table.get((f"chain k={k} exact", name, "episode_length"), np.inf) for k in ks], style)
             for name, style in (("fixed", "-o"), ("static decoupled", "-s"), ("shortest path", "k--"))]
    chain = [c for c in chain if all(np.isfinite(c["y"]))]
    figures = [
        line_figure("escape_grid_length", f"Escape grid: expected episode length (exact, tau {rcfg.escape_tau})",
                    "grid dimension n (2n actions)", "expected steps to the goal", escape, logy=True),
        line_figure("chain_length", f"Distractor chain: expected episode length (exact, tau {rcfg.chain_tau})",
                    "distractors k at every other state", "expected steps to the goal", chain),
    ]
    ds, ss = rcfg.copies, rcfg.scales
    copies = [series(SCHEME_NAMES[s], ds, [table[(f"pendulum d={d}", SCHEME_NAMES[s], "return")] for d in ds], "-o")
              for s in rcfg.copies_schemes]
    scales = [series(SCHEME_NAMES[s], ss, [table[(f"{rcfg.scale_env} s={x:g}", SCHEME_NAMES[s], "return")]
                                           for x in ss], "-o") for s in rcfg.scale_schemes]
    figures.append(line_figure("pendulum_return_vs_d", "Stacked Pendulum: final return vs action dimension",
                               "d (stacked pendulums, reward = mean)", "return (deterministic policy)", copies))
    figures.append(line_figure("return_vs_action_scale", f"{rcfg.scale_env}: final return vs action scale",
                               "action scale s (actions in [-s, s])", "return (deterministic policy)", scales))
    return figures


def reproduce(preset: str = "quick", out: str | pathlib.Path | None = None, root: str | pathlib.Path = "runs",
              workers: int | None = None, resume: bool = False, tracker: Tracker | None = None,
              backend: str = "process", device: str | None = None) -> Claim:
    rcfg, reproduction, results = run_reproduction(
        "decoupled_regularization", preset, REPRODUCE_PRESETS[preset], make_jobs, run_job,
        lambda r: f"{r['part']} {r['variant']} x={r['x']:g} s{r['summary']['seed']}", root, workers, resume,
        tracker, backend, device)
    rows = escape_grid_rows(rcfg) + chain_exact_rows(rcfg) + learned_rows(rcfg, results)
    holds, evidence = judge(rcfg, rows)
    claim = Claim(method="decoupled_regularization", claim=CLAIM,
                  command=f"anthology reproduce decoupled_regularization --preset {preset}", preset=preset,
                  seeds=list(rcfg.seeds), table=rows, holds=holds, evidence=evidence)
    save_reproduction(reproduction, claim, make_figures(rcfg, rows), out)
    return claim
