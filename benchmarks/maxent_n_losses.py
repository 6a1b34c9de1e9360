"""Which loss learns n(s) best where it has no closed form: TB with the learned max-ent P_B on a blocked
hypergrid, one run per n-loss of the paper's official code (Transition, SubTB1, TermTB1, StartTB1, TB)
and seed. (The grid's own path-count table is what the errors are measured against; on a blocked grid no
sampler may read it, it stands for a space like QM9 where n must be learned.)

    python benchmarks/maxent_n_losses.py [ITERATIONS] [WORKERS]     # -> results/maxent_gfn/n_losses.{jsonl,md}

Each run appends one line to the JSONL as it finishes (a killed sweep resumes and reruns nothing); the
Markdown table is rewritten from all lines. Reported per run: the exact L1 of the sampler to R/Z, its
exact trajectory entropy H(tau) against the exact optimum of the max-ent P_B on this grid, and the
learned log n's largest and mean error over the reachable states.
"""

from __future__ import annotations

import json
import pathlib
import statistics
import sys

from anthology.core.config import override
from anthology.core.parallel import run_jobs
from anthology.methods.maxent_gfn.config import PRESETS, EnvConfig
from anthology.methods.maxent_gfn.reproduce import exact_references
from anthology.methods.maxent_gfn.train import train

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "maxent_gfn" / "n_losses"
GRID = EnvConfig(ndim=4, height=8, blocked=0.1, seed=0)  # 4-D height 8 as `quick`, a tenth of the cells removed
SEEDS = (0, 1, 2)
ARMS = tuple((f"maxent learned, n-loss {k}", "maxent_learned", k) for k in ("transition", "subtb", "termtb", "starttb", "tb"))


def run(job: tuple[str, str, str, int, int]) -> dict:
    name, backward, n_loss, seed, iterations = job
    cfg = override(PRESETS["quick"], env=GRID, backward=backward, n_loss=n_loss, seed=seed,
                   iterations=iterations, eval_every=iterations)
    summary = train(cfg).summary
    return {"arm": name, "seed": seed, "iterations": iterations,
            **{k.removeprefix("eval/"): summary[k] for k in ("eval/l1", "eval/entropy", "eval/log_n_error_max",
                                                               "eval/log_n_error_mean") if k in summary}}


def cell(values: list[float]) -> str:
    return " / ".join(f"{v:.3f}" for v in values) + (f" (mean {statistics.mean(values):.3f})" if len(values) > 1 else "")


def render(rows: list[dict], refs: dict[str, float], iterations: int) -> str:
    optimum = refs["optimal_entropy_maxent"]
    lines = [
        "# Learning n(s) on a blocked hypergrid: the n-losses compared",
        "",
        f"Made by `python benchmarks/maxent_n_losses.py {iterations}`: TB, batch 16, {iterations} iterations, "
        f"hypergrid {GRID.ndim}-D height {GRID.height} with {GRID.blocked:.0%} of the cells blocked (seed {GRID.seed}), "
        f"seeds {', '.join(map(str, SEEDS))}; per-seed values, seed order. Exact optimum H(tau) of the max-ent P_B "
        f"on this grid {optimum:.3f} nats, of the uniform P_B {refs['optimal_entropy_uniform']:.3f}.",
        "",
        "| P_B | exact L1 | H(tau) | optimum - H(tau) | max abs log n error | mean abs log n error |",
        "|---|---|---|---|---|---|",
    ]
    for name, _, _ in ARMS:
        mine = sorted((r for r in rows if r["arm"] == name and r["iterations"] == iterations), key=lambda r: r["seed"])
        if not mine:
            continue
        lines.append(f"| {name} | {cell([r['l1'] for r in mine])} | {cell([r['entropy'] for r in mine])} | "
                     f"{cell([optimum - r['entropy'] for r in mine])} | {cell([r['log_n_error_max'] for r in mine])} | "
                     f"{cell([r['log_n_error_mean'] for r in mine])} |")
    return "\n".join(lines) + "\n"


def main(iterations: int = 4000, workers: int = 2) -> None:
    jsonl = OUT.with_suffix(".jsonl")
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()] if jsonl.is_file() else []
    done = {(r["arm"], r["seed"], r["iterations"]) for r in rows}
    jobs = [(name, backward, n_loss, seed, iterations) for name, backward, n_loss in ARMS for seed in SEEDS
            if (name, seed, iterations) not in done]
    jsonl.parent.mkdir(parents=True, exist_ok=True)

    def keep(_: int, row: dict) -> None:
        rows.append(row)
        with jsonl.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{row['arm']} seed {row['seed']}: L1 {row['l1']:.3f}, H(tau) {row['entropy']:.3f}", flush=True)

    run_jobs(run, jobs, workers, keep)
    refs = exact_references(override(PRESETS["quick"], env=GRID))
    OUT.with_suffix(".md").write_text(render(rows, refs, iterations))
    print(OUT.with_suffix(".md").read_text())


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
