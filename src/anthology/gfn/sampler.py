"""Vectorised trajectory sampling and scoring.

Sampling runs without gradients (one small forward pass per step for the whole batch); scoring then
evaluates every visited state in ONE batched forward pass that yields P_F, P_B, log F and log n
together. Trajectories are time-major tensors, padded after the exit.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from anthology.gfn.env import DagEnv
from anthology.gfn.policy import GFlowNetPolicy, PolicyOutput, masked_log_softmax, masked_logits

BACKWARD_POLICIES = ("uniform", "free", "maxent", "maxent_learned")


class Trajectories(NamedTuple):
    states: torch.Tensor  # [T+1, B, d]: s_0..s_T, padded with the terminal state after the exit
    actions: torch.Tensor  # [T, B]: forward actions, the exit included; -1 after it
    valid: torch.Tensor  # [T, B]: transition t exists
    lengths: torch.Tensor  # [B]: transitions, the exit included
    terminal: torch.Tensor  # [B, d]
    log_reward: torch.Tensor  # [B]

    @property
    def is_exit(self) -> torch.Tensor:  # [T, B]
        steps = torch.arange(self.actions.shape[0])[:, None]
        return steps == (self.lengths - 1)[None, :]


@torch.no_grad()
def sample_trajectories(env: DagEnv, policy: GFlowNetPolicy, batch_size: int, generator: torch.Generator,
                        epsilon: float = 0.0) -> Trajectories:
    """Roll out the forward policy (softmax of the forward logits) from s0; with probability `epsilon`
    an action is drawn uniformly among the valid ones instead."""
    states = env.s0.expand(batch_size, -1).clone()
    done = torch.zeros(batch_size, dtype=torch.bool)
    all_states, all_actions = [states], []
    for _ in range(env.max_length):
        # Finished rows stay in the batch: at these sizes gathering the unfinished ones costs more than it saves.
        mask = env.forward_mask(states)
        probs = torch.softmax(masked_logits(policy(env.to_input(states)).forward_logits, mask), dim=-1)
        if epsilon > 0:
            explore = torch.rand(batch_size, 1, generator=generator) < epsilon
            probs = torch.where(explore, mask / mask.sum(-1, keepdim=True), probs)
        actions = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        states = torch.where(done[:, None], states, env.step(states, actions))  # the exit keeps the state
        actions = actions.masked_fill(done, -1)
        done = done | (actions == env.exit_action)
        all_actions.append(actions)
        all_states.append(states)
        if bool(done.all()):
            break
    actions = torch.stack(all_actions)
    valid = actions >= 0
    return Trajectories(torch.stack(all_states), actions, valid, valid.sum(0), states, env.log_reward(states))


class Scores(NamedTuple):
    log_pf: torch.Tensor  # [T, B] log P_F(s_{t+1}|s_t) (exit included), 0 after the exit
    log_pb: torch.Tensor  # [T, B] log P_B(s_t|s_{t+1}) of the chosen backward policy, 0 on exit/padding
    log_pb_learned: torch.Tensor  # [T, B] the learned backward head's value (for the n-losses)
    log_flow: torch.Tensor  # [T+1, B]
    log_n: torch.Tensor  # [T+1, B] learned log n, pinned to 0 at s0
    output: PolicyOutput  # raw outputs on every state, [T+1, B, ...]


def _scatter_rows(values: torch.Tensor, rows: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    full = values.new_zeros((rows.shape[0], *values.shape[1:]))
    full[rows] = values
    return full.reshape(*shape, *values.shape[1:])


def score_trajectories(env: DagEnv, policy: GFlowNetPolicy, trajs: Trajectories,
                       backward: str = "uniform") -> Scores:
    """Every quantity the losses need, from one forward pass over all T+1 states of every trajectory."""
    if backward not in BACKWARD_POLICIES:
        raise ValueError(f"unknown backward policy '{backward}'; choose one of {BACKWARD_POLICIES}")
    steps, batch = trajs.actions.shape
    flat = trajs.states.reshape((steps + 1) * batch, -1)
    # One pass over the distinct visited states s_0..s_n of each trajectory (padding skipped), scattered back.
    visited = (torch.arange(steps + 1)[:, None] <= trajs.lengths[None, :]).reshape(-1)
    raw = policy(env.to_input(flat[visited]))
    out = PolicyOutput(*(_scatter_rows(t, visited, (steps + 1, batch)) for t in raw))
    move = trajs.valid & ~trajs.is_exit  # [T, B]
    actions = trajs.actions.clamp(min=0)

    fmask = env.forward_mask(flat).reshape(steps + 1, batch, -1)
    log_pf = masked_log_softmax(out.forward_logits[:-1], fmask[:-1]).gather(-1, actions[..., None])[..., 0]
    log_pf = torch.where(trajs.valid, log_pf, torch.zeros_like(log_pf))

    bmask = env.backward_mask(flat).reshape(steps + 1, batch, -1)[1:]
    parents = trajs.states[:-1].reshape(steps * batch, -1)
    back = env.backward_action(parents, torch.where(move, actions, torch.zeros_like(actions)).reshape(-1))
    back = back.reshape(steps, batch)[..., None]
    learned = masked_log_softmax(out.backward_logits[1:], bmask).gather(-1, back)[..., 0]
    zero = torch.zeros_like(log_pf)
    log_pb_learned = torch.where(move, learned, zero)
    if backward == "uniform":
        log_pb = -torch.log(bmask.sum(-1).clamp(min=1).to(log_pf.dtype))
    elif backward == "maxent":
        log_n_true = env.log_n(flat).reshape(steps + 1, batch).to(log_pf.dtype)
        log_pb = log_n_true[:-1] - log_n_true[1:]
    else:
        log_pb = learned
    log_pb = torch.where(move, log_pb, zero)

    at_s0 = (flat == env.s0).all(-1).reshape(steps + 1, batch)
    log_n = torch.where(at_s0, torch.zeros_like(out.log_n), out.log_n)
    return Scores(log_pf, log_pb, log_pb_learned, out.log_flow, log_n, out)
