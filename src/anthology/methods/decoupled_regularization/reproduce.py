"""The claim's experiments: exact soft value iteration on the escape grid and on distractor chains, soft
Q-learning on the chains, and SAC over action scales (the paper's static and learned-temperature
experiments); our extension, SAC on stacked Pendulum (action dimension d), is reported but not judged.

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
from anthology.rl.temperature import static_box_temperature, static_discrete_temperature
from anthology.tracking import Tracker

from .config import PENDULUM_DMC_SCALE, REPRODUCE_PRESETS, Config, ReproduceConfig
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


def per_copy_temperature_rows(rcfg: ReproduceConfig) -> list[ClaimRow]:
    """Exact: with the reward a mean over d copies and the entropy of the product policy a sum over them,
    r_bar + t H = (1/d) sum_i (r_i + d t H_i), so each copy is regularised at d t. Fixed: d tau; static:
    d tau / (H_max - H_min) = tau / (log 2s - log 1e-3), the same for every d."""
    rows = []
    for d in rcfg.copies:
        low, high = -torch.ones(d), torch.ones(d)
        setting = f"pendulum d={d} (extension)"
        rows.append(summarize(setting, "fixed", "per_copy_temperature", [d * rcfg.tau]))
        rows.append(summarize(setting, "static decoupled", "per_copy_temperature",
                              [d * static_box_temperature(rcfg.tau, low, high)]))
    return rows


@dataclasses.dataclass(frozen=True)
class Job:
    cfg: Config
    variant: str
    places: tuple[tuple[str, float], ...]
    """(part, x) pairs this run stands for: part chain (x = k), static or auto (x = s), copies (x = d).
    One run can stand for two (d = 1 of the extension is s = 1 of the static experiment)."""
    run_path: str


def run_job(job: Job) -> dict[str, Any]:
    run = RunDir(pathlib.Path(job.run_path))
    summary = run.read_summary()
    if summary is None:
        result = train(job.cfg, run_dir=run)
        summary = result.summary
    return {"places": [list(p) for p in job.places], "variant": job.variant, "summary": summary}


def continuous_config(rcfg: ReproduceConfig, scheme: str, seed: int, env: str, copies: int, scale: float,
                      steps: int) -> Config:
    """A SAC job: fixed and static share the numerator tau; Pendulum's reward on the control suite's scale."""
    return override(rcfg.train, temperature=scheme, tau=rcfg.tau, seed=seed, total_steps=steps,
                    **{"env.name": env, "env.copies": copies, "env.action_scale": scale,
                       "env.reward_scale": PENDULUM_DMC_SCALE if env == "pendulum" else 1.0})


def make_jobs(rcfg: ReproduceConfig, reproduction: RunDir) -> list[Job]:
    wanted: dict[str, tuple[Config, str, list[tuple[str, float]]]] = {}

    def add(cfg: Config, part: str, variant: str, x: float, name: str) -> None:
        wanted.setdefault(name, (cfg, variant, []))[2].append((part, x))

    for seed in rcfg.seeds:
        for k in rcfg.chain_learned:
            for scheme in ("fixed", "static"):
                cfg = override(rcfg.chain_train, temperature=scheme, tau=rcfg.chain_tau, seed=seed,
                               **{"env.chain": chain_actions(k)})
                add(cfg, "chain", SCHEME_NAMES[scheme], k, f"chain-k{k}-{scheme}-s{seed}")
        for part, scales, schemes in (("static", rcfg.static_scales, ("fixed", "static")),
                                      ("auto", rcfg.auto_scales, ("auto", "dynamic"))):
            for s in scales:
                for scheme in schemes:
                    cfg = continuous_config(rcfg, scheme, seed, rcfg.scale_env, 1, s, rcfg.train.total_steps)
                    add(cfg, part, SCHEME_NAMES[scheme], s, f"{rcfg.scale_env}-d1-x{s:g}-{scheme}-s{seed}")
        for d in rcfg.copies:
            steps = rcfg.train.total_steps * (d if rcfg.steps_per_copy else 1)
            for scheme in ("fixed", "static"):
                cfg = continuous_config(rcfg, scheme, seed, "pendulum", d, 1.0, steps)
                add(cfg, "copies", SCHEME_NAMES[scheme], d, f"pendulum-d{d}-x1-{scheme}-s{seed}")
    jobs = []
    for name, (cfg, variant, places) in wanted.items():
        run = job_dir(reproduction, name)
        run.write_config(cfg, "decoupled_regularization", reproduction.path.parent.name)
        jobs.append(Job(cfg, variant, tuple(places), str(run.path)))
    return jobs


def setting_of(rcfg: ReproduceConfig, part: str, x: float) -> str:
    return {"chain": f"chain k={x:g} soft-Q learned", "static": f"{rcfg.scale_env} s={x:g} (static)",
            "auto": f"{rcfg.scale_env} s={x:g} (learned t)", "copies": f"pendulum d={x:g} (extension)"}[part]


def learned_rows(rcfg: ReproduceConfig, results: list[dict[str, Any]]) -> list[ClaimRow]:
    rows = []
    sac_metrics = ("return", "train/recent_episode_return", "temperature")
    placed = [(tuple(place), r) for r in results for place in r["places"]]
    for part, metrics in (("chain", ("expected_length", "policy_tv_mean", "normalised_entropy_mean")),
                          ("static", sac_metrics), ("auto", sac_metrics), ("copies", sac_metrics)):
        keys = sorted({(place[1], r["variant"]) for place, r in placed if place[0] == part})
        for x, variant in keys:
            runs = [r["summary"] for place, r in placed if place == (part, x) and r["variant"] == variant]
            runs.sort(key=lambda summary: rcfg.seeds.index(summary["seed"]))
            for metric in metrics:
                key = metric if "/" in metric else f"eval/{metric}"  # eval/ is the deterministic policy's
                name = {"train/recent_episode_return": "stochastic_return",  # the last 5 training episodes
                        "expected_length": "episode_length"}.get(metric, metric)
                rows.append(summarize(setting_of(rcfg, part, x), variant, name, [s[key] for s in runs]))
            if part == "chain":
                rows.append(summarize(setting_of(rcfg, part, x), variant, "exact_episode_length",
                                      [runs[0]["optimal_expected_length"]]))
    return rows


def judge(rcfg: ReproduceConfig, claim_rows: list[ClaimRow]) -> tuple[bool, str]:
    """The paper's experiments, each of which must hold: the escape grid and the distractor chain solved
    exactly (no seed), soft Q-learning on the chain, the static experiment (fixed tau against tau / range
    over action scales) and the learned-temperature experiment (auto against dynamic over action scales),
    the learned ones on every seed, paired by seed. The stacked-d extension is reported, not judged."""
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
    if rcfg.chain_learned:
        kl = max(rcfg.chain_learned)
        learned = [rows_of[(setting_of(rcfg, "chain", kl), v, "episode_length")] for v in ("fixed", "static decoupled")]
        verdict(wins_on_every_seed(*learned), f"soft Q-learning on the k={kl} chain: fixed {learned[0].mean:.2f}, "
                f"decoupled {learned[1].mean:.2f} steps")

    ss = rcfg.static_scales
    if ss:
        pairs = [(rows_of[(setting_of(rcfg, "static", s), "static decoupled", "return")],
                  rows_of[(setting_of(rcfg, "static", s), "fixed", "return")]) for s in ss]
        verdict(all(wins_on_every_seed(static, fixed) for static, fixed in pairs),
                f"{rcfg.scale_env} return, fixed t = {rcfg.tau:g} against static t = {rcfg.tau:g} / range, at action "
                f"scales {', '.join(f'{s:g}' for s in ss)}: fixed {', '.join(f'{f.mean:.1f}' for _, f in pairs)}; "
                f"static {', '.join(f'{st.mean:.1f}' for st, _ in pairs)} (static must win at every scale and seed)")
    sa = rcfg.auto_scales
    if sa:
        by_scale = [rows_of[(setting_of(rcfg, "auto", s), v, "return")] for v in ("auto (-d)", "dynamic decoupled")
                    for s in sa]

        def steadier(*returns: float) -> bool:  # dynamic varies less over the scales and its worst is better
            auto, dynamic = returns[:len(sa)], returns[len(sa):]
            return max(auto) - min(auto) > max(dynamic) - min(dynamic) and min(dynamic) > min(auto)

        verdict(holds_on_every_seed(steadier, *by_scale),
                f"{rcfg.scale_env} return over action scales {', '.join(f'{s:g}' for s in sa)}: auto "
                f"{', '.join(f'{r.mean:.1f}' for r in by_scale[:len(sa)])}; dynamic decoupled "
                f"{', '.join(f'{r.mean:.1f}' for r in by_scale[len(sa):])}")
    ds = rcfg.copies
    if ds:
        rf = [table[(setting_of(rcfg, "copies", d), "fixed", "return")] for d in ds]
        rs = [table[(setting_of(rcfg, "copies", d), "static decoupled", "return")] for d in ds]
        evidence.append(f"our extension, not judged: stacked Pendulum d={ds[0]}..{ds[-1]}, tau {rcfg.tau:g} for both: "
                        f"fixed {', '.join(f'{v:.1f}' for v in rf)}; static {', '.join(f'{v:.1f}' for v in rs)}")
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
    for part, xs, schemes, title, label in (
            ("static", rcfg.static_scales, ("fixed", "static"), "static_return_vs_action_scale",
             f"{rcfg.scale_env}: fixed t = {rcfg.tau:g} vs t = {rcfg.tau:g} / range"),
            ("auto", rcfg.auto_scales, ("auto", "dynamic"), "learned_temperature_return_vs_action_scale",
             f"{rcfg.scale_env}: learned temperature, target -d vs decoupled"),
            ("copies", rcfg.copies, ("fixed", "static"), "extension_pendulum_return_vs_d",
             f"Our extension: stacked Pendulum, tau {rcfg.tau:g} for both")):
        if len(xs) > 1:
            lines = [series(SCHEME_NAMES[s], xs, [table[(setting_of(rcfg, part, x), SCHEME_NAMES[s], "return")]
                                                  for x in xs], "-o") for s in schemes]
            figures.append(line_figure(title, label, "d (stacked pendulums, reward = mean)" if part == "copies"
                                       else "action scale s (actions in [-s, s])", "return (deterministic policy)",
                                       lines))
    return figures


def reproduce(preset: str = "quick", out: str | pathlib.Path | None = None, root: str | pathlib.Path = "runs",
              workers: int | None = None, resume: bool = False, tracker: Tracker | None = None,
              backend: str = "process", device: str | None = None) -> Claim:
    rcfg, reproduction, results = run_reproduction(
        "decoupled_regularization", preset, REPRODUCE_PRESETS[preset], make_jobs, run_job,
        lambda r: f"{r['places']} {r['variant']} s{r['summary']['seed']}", root, workers, resume,
        tracker, backend, device)
    rows = (escape_grid_rows(rcfg) + chain_exact_rows(rcfg) + per_copy_temperature_rows(rcfg)
            + learned_rows(rcfg, results))
    holds, evidence = judge(rcfg, rows)
    claim = Claim(method="decoupled_regularization", claim=CLAIM,
                  command=f"anthology reproduce decoupled_regularization --preset {preset}", preset=preset,
                  seeds=list(rcfg.seeds), table=rows, holds=holds, evidence=evidence)
    save_reproduction(reproduction, claim, make_figures(rcfg, rows), out)
    return claim
