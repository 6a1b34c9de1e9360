"""anthology's GFlowNet layer against torchgfn 2.4.1, side by side in one run.

Same hypergrids (2-D and 4-D, height 8, original reward), same loss (trajectory balance), same
networks (a 3-layer MLP of width 256 whose trunk the forward and the learned backward policy share),
same optimiser (Adam, lr 1e-3, log Z lr 0.1), batch sizes 16 and 256, one torch thread. Measured:
training throughput (trajectories per second, evaluation excluded) and the trajectories needed to bring
the exact L1 to R/Z below a threshold. Writes results/maxent_gfn/vs_torchgfn.{json,md}, with the
profile of one anthology run.

    make bench      # creates .venv-bench (torch==2.13.0, torchgfn==2.4.1, anthology) and runs this
"""

from __future__ import annotations

import cProfile
import io
import json
import pathlib
import platform
import pstats
import sys
import time

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from anthology.envs.hypergrid import HyperGrid
from anthology.gfn.exact import build_graph, exact_metrics, policy_log_pf
from anthology.gfn.policy import GFlowNetPolicy
from anthology.gfn.sampler import sample_trajectories, score_trajectories
from anthology.gfn.trajectory_balance import trajectory_balance_loss
from torchgfn_hypergrid import run_torchgfn

OUT = pathlib.Path(__file__).parents[1] / "results" / "maxent_gfn"
THRESHOLD = {2: 0.1, 4: 0.3}
ITERATIONS = {16: 2000, 256: 250}
EVAL_EVERY = {16: 100, 256: 25}


def run_anthology(ndim: int, height: int, batch_size: int, iterations: int, eval_every: int, seed: int = 0,
                  hidden: int = 256, lr: float = 1e-3, lr_logz: float = 0.1,
                  l1_threshold: float | None = None) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    env = HyperGrid(ndim, height)
    graph = build_graph(env)
    policy = GFlowNetPolicy(env.input_dim, env.n_actions, env.n_backward_actions, hidden, layers=2)
    log_z = nn.Parameter(torch.zeros(()))
    opt = torch.optim.Adam([{"params": policy.parameters(), "lr": lr}, {"params": [log_z], "lr": lr_logz}])
    gen = torch.Generator().manual_seed(seed)
    curve, train_seconds, reached = [], 0.0, None
    for it in range(1, iterations + 1):
        tick = time.perf_counter()
        trajs = sample_trajectories(env, policy, batch_size, gen)
        scores = score_trajectories(env, policy, trajs, "free")
        loss, _ = trajectory_balance_loss(log_z, scores.log_pf, scores.log_pb, trajs.log_reward.float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        train_seconds += time.perf_counter() - tick
        if it % eval_every == 0 or it == iterations:
            m = exact_metrics(graph, policy_log_pf(env, graph, policy))
            curve.append({"trajectories": it * batch_size, "l1": m["l1"], "entropy": m["entropy"],
                          "log_z": float(log_z)})
            if reached is None and l1_threshold is not None and m["l1"] < l1_threshold:
                reached = it * batch_size
    return {"library": "anthology", "ndim": ndim, "height": height, "batch_size": batch_size,
            "iterations": iterations, "train_seconds": train_seconds,
            "trajectories_per_sec": iterations * batch_size / train_seconds, "curve": curve,
            "final_l1": curve[-1]["l1"], "trajectories_to_threshold": reached}


def profile_anthology(ndim: int = 4, batch_size: int = 16, iterations: int = 200) -> str:
    prof = cProfile.Profile()
    prof.enable()
    run_anthology(ndim, 8, batch_size, iterations, eval_every=iterations)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(12)
    return out.getvalue()


def main() -> None:
    rows = []
    for ndim in (2, 4):
        for batch in (16, 256):
            args = dict(ndim=ndim, height=8, batch_size=batch, iterations=ITERATIONS[batch],
                        eval_every=EVAL_EVERY[batch], l1_threshold=THRESHOLD[ndim])
            ours, ref = run_anthology(**args), run_torchgfn(**args)
            rows.append({"ndim": ndim, "height": 8, "batch_size": batch, "threshold": THRESHOLD[ndim],
                         "anthology": ours, "torchgfn": ref,
                         "throughput_ratio": ours["trajectories_per_sec"] / ref["trajectories_per_sec"]})
            print(f"{ndim}d batch {batch}: anthology {ours['trajectories_per_sec']:.0f} traj/s "
                  f"(L1 {ours['final_l1']:.3f}), torchgfn {ref['trajectories_per_sec']:.0f} traj/s "
                  f"(L1 {ref['final_l1']:.3f}), ratio {rows[-1]['throughput_ratio']:.2f}", flush=True)
    profile = profile_anthology()
    result = {"command": "make bench (python benchmarks/maxent_gfn_vs_torchgfn.py in .venv-bench)",
              "machine": platform.machine(), "threads": 1, "torch": torch.__version__,
              "torchgfn": rows[0]["torchgfn"]["version"], "rows": rows, "anthology_profile": profile}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "vs_torchgfn.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# anthology vs torchgfn {result['torchgfn']} (TB, hypergrid height 8, 1 thread)", "",
             f"Command: `{result['command']}`. Both libraries run in the same process, one after the other.", "",
             "| grid | batch | anthology traj/s | torchgfn traj/s | ratio | anthology final L1 | torchgfn final L1 "
             "| trajectories to L1 < threshold (anthology / torchgfn) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        a, t = r["anthology"], r["torchgfn"]
        lines.append(f"| {r['ndim']}-D | {r['batch_size']} | {a['trajectories_per_sec']:.0f} | "
                     f"{t['trajectories_per_sec']:.0f} | {r['throughput_ratio']:.2f} | {a['final_l1']:.3f} | "
                     f"{t['final_l1']:.3f} | {a['trajectories_to_threshold']} / {t['trajectories_to_threshold']} "
                     f"(threshold {r['threshold']}) |")
    lines += ["", "Where anthology's time goes (4-D, batch 16, 200 iterations, cProfile by own time):", "",
              "```", profile.strip(), "```"]
    (OUT / "vs_torchgfn.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
