"""Why anthology samples without gradients and then scores every visited state in one batched pass.

The alternative (torchgfn's design) keeps the autograd graph while sampling: each step's forward pass
records gradients, and P_B of a move is read at the next step. Both variants below train TB with a
learned P_B on the 4-D hypergrid with the same network; only the structure of the passes differs.

    python benchmarks/gfn_sampling_design.py      # writes results/maxent_gfn/sampling_design.md
"""

from __future__ import annotations

import pathlib
import time

import torch

from anthology.envs.hypergrid import HyperGrid
from anthology.gfn.policy import GFlowNetPolicy, masked_log_softmax
from anthology.gfn.sampler import sample_trajectories, score_trajectories
from anthology.gfn.trajectory_balance import trajectory_balance_loss

OUT = pathlib.Path(__file__).parents[1] / "results" / "maxent_gfn" / "sampling_design.md"


def make(seed: int = 0):
    torch.manual_seed(seed)
    env = HyperGrid(4, 8)
    policy = GFlowNetPolicy(env.input_dim, env.n_actions, env.n_backward_actions, 256, 2)
    log_z = torch.nn.Parameter(torch.zeros(()))
    opt = torch.optim.Adam([{"params": policy.parameters(), "lr": 1e-3}, {"params": [log_z], "lr": 0.1}])
    return env, policy, log_z, opt, torch.Generator().manual_seed(seed)


def two_pass_iteration(env, policy, log_z, opt, gen, batch: int) -> None:
    """anthology: sample under no_grad, then one batched forward over every visited state."""
    trajs = sample_trajectories(env, policy, batch, gen)
    scores = score_trajectories(env, policy, trajs, "free")
    loss, _ = trajectory_balance_loss(log_z, scores.log_pf, scores.log_pb, trajs.log_reward.float())
    opt.zero_grad()
    loss.backward()
    opt.step()


def one_pass_iteration(env, policy, log_z, opt, gen, batch: int) -> None:
    """The alternative: every step's forward pass records gradients; P_B is read one step later."""
    states = env.s0.expand(batch, -1).clone()
    done = torch.zeros(batch, dtype=torch.bool)
    sum_pf, sum_pb, previous = torch.zeros(batch), torch.zeros(batch), None
    for _ in range(env.max_length):
        out = policy(env.to_input(states))
        if previous is not None:
            moved = (previous >= 0) & (previous < env.exit_action)
            back = previous.clamp(0, env.n_backward_actions - 1)[:, None]
            log_pb = masked_log_softmax(out.backward_logits, env.backward_mask(states)).gather(1, back)[:, 0]
            sum_pb = sum_pb + torch.where(moved, log_pb, torch.zeros_like(log_pb))
        log_pf_all = masked_log_softmax(out.forward_logits, env.forward_mask(states))
        actions = torch.multinomial(log_pf_all.detach().exp(), 1, generator=gen).squeeze(1)
        log_pf = log_pf_all.gather(1, actions[:, None])[:, 0]
        sum_pf = sum_pf + torch.where(done, torch.zeros_like(log_pf), log_pf)
        states = torch.where(done[:, None], states, env.step(states, actions))
        previous = actions.masked_fill(done, -1)
        done = done | (previous == env.exit_action)
        if bool(done.all()):
            break
    loss = (log_z + sum_pf - env.log_reward(states).float() - sum_pb).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


def throughput(step, batch: int, iterations: int) -> float:
    env, policy, log_z, opt, gen = make()
    for _ in range(5):
        step(env, policy, log_z, opt, gen, batch)
    start = time.perf_counter()
    for _ in range(iterations):
        step(env, policy, log_z, opt, gen, batch)
    return iterations * batch / (time.perf_counter() - start)


def main() -> None:
    torch.set_num_threads(1)
    lines = ["# Sampling design: two passes (anthology) vs gradients recorded while sampling",
             "", "Command: `python benchmarks/gfn_sampling_design.py` (TB, learned P_B, 4-D hypergrid height 8, "
             "MLP 256x2, 1 thread; trajectories per second, two alternating repeats).", "",
             "| batch | repeat | two passes | one pass with gradients | ratio |", "|---|---|---|---|---|"]
    for batch, iterations in ((16, 150), (256, 20)):
        for repeat in (1, 2):
            two = throughput(two_pass_iteration, batch, iterations)
            one = throughput(one_pass_iteration, batch, iterations)
            lines.append(f"| {batch} | {repeat} | {two:.0f} | {one:.0f} | {two / one:.2f} |")
            print(lines[-1], flush=True)
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
