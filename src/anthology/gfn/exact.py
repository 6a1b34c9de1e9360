"""Exact evaluation on enumerable DAGs: terminal distribution, L1 to R/Z, log Z, trajectory entropy,
and tabular soft value iteration (which also gives the exact GFlowNet for any fixed backward policy).

Tables are indexed by `env.index(state)` over `env.all_states()`; every computation is a dynamic
program over the topological levels, in float64.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from anthology.gfn.env import EnumerableDagEnv
from anthology.gfn.policy import GFlowNetPolicy, masked_log_softmax

NEG = -math.inf


class Graph(NamedTuple):
    states: torch.Tensor  # [N, d]
    valid: torch.Tensor  # [N] reachable, unblocked states (the terminal set)
    forward_mask: torch.Tensor  # [N, A]
    children: torch.Tensor  # [N, A-1] child index per move (0 where masked)
    back_index: torch.Tensor  # [N, A-1] the backward action at the child that undoes each move
    levels: list[torch.Tensor]  # state indices per topological level, s0 first
    log_reward: torch.Tensor  # [N] (-inf outside the terminal set)


def build_graph(env: EnumerableDagEnv) -> Graph:
    states = env.all_states()
    valid = env.valid_states()
    fmask = env.forward_mask(states) & valid[:, None]
    moves = fmask.shape[1] - 1
    children = torch.stack([env.index(env.step(states, torch.full((len(states),), a))) for a in range(moves)], 1)
    children = torch.where(fmask[:, :moves], children, torch.zeros_like(children))
    back = env.backward_action(states.repeat_interleave(moves, 0), torch.arange(moves).repeat(len(states)))
    back = torch.where(fmask[:, :moves], back.reshape(len(states), moves), torch.zeros((), dtype=torch.long))
    level = env.level(states)
    levels = [torch.nonzero((level == lev) & valid).squeeze(1) for lev in range(int(level.max()) + 1)]
    log_reward = torch.where(valid, env.log_reward(states).double(), torch.tensor(NEG, dtype=torch.float64))
    return Graph(states, valid, fmask, children, back, levels, log_reward)


def log_partition(graph: Graph) -> float:
    return float(torch.logsumexp(graph.log_reward[graph.valid], 0))


def target_distribution(graph: Graph) -> torch.Tensor:
    return torch.softmax(torch.where(graph.valid, graph.log_reward, torch.tensor(NEG, dtype=torch.float64)), 0)


@torch.no_grad()
def policy_log_pf(env: EnumerableDagEnv, graph: Graph, policy: GFlowNetPolicy) -> torch.Tensor:
    """The policy's log P_F over every state and action: [N, A] (one batched forward pass)."""
    return log_pf_from_logits(graph, policy(env.to_input(graph.states)).forward_logits)


def log_pf_from_logits(graph: Graph, logits: torch.Tensor) -> torch.Tensor:
    """Forward logits over every state [N, A] -> masked log P_F in float64."""
    return masked_log_softmax(logits.double(), graph.forward_mask)


def reach_probabilities(graph: Graph, log_pf: torch.Tensor) -> torch.Tensor:
    """P(the forward policy visits s), by the DP reach(s0) = 1, reach(child) += reach(s) P_F(child|s)."""
    n, moves = graph.children.shape
    reach = torch.zeros(n, dtype=torch.float64)
    reach[graph.levels[0]] = 1.0
    pf = log_pf.exp() * graph.forward_mask
    for idx in graph.levels:
        flow = reach[idx, None] * pf[idx, :moves]  # [n_level, moves]
        reach.index_add_(0, graph.children[idx].reshape(-1), flow.reshape(-1))
    return reach


def terminal_distribution(graph: Graph, log_pf: torch.Tensor, reach: torch.Tensor | None = None) -> torch.Tensor:
    """P_T(s) = reach(s) P_F(exit|s); pass `reach` when it is already computed."""
    reach = reach_probabilities(graph, log_pf) if reach is None else reach
    return reach * log_pf[:, -1].exp()


def trajectory_entropy(graph: Graph, log_pf: torch.Tensor, reach: torch.Tensor | None = None) -> float:
    """H(tau) = sum_s reach(s) H(P_F(.|s)) in nats, the exit decision included."""
    reach = reach_probabilities(graph, log_pf) if reach is None else reach
    plogp = torch.where(graph.forward_mask, log_pf.exp() * log_pf, torch.zeros_like(log_pf))
    return float(-(reach * plogp.sum(-1)).sum())


def soft_value_iteration(graph: Graph, step_reward: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Tabular soft-optimal values with temperature 1, gamma 1: exit earns log R(s), move a earns
    step_reward[s, a] and leads to its child. Returns (V [N], log pi [N, A]).

    With step_reward = log P_B(s|child) this is the exact GFlowNet for that P_B: V(s) = log F(s),
    V(s0) = log Z and pi samples x in proportion to R(x)."""
    n, moves = graph.children.shape
    value = torch.full((n,), NEG, dtype=torch.float64)
    q = torch.full((n, moves + 1), NEG, dtype=torch.float64)
    for idx in reversed(graph.levels):
        child_v = value[graph.children[idx]]  # children are at the next level: already computed
        q_move = torch.where(graph.forward_mask[idx, :moves], step_reward[idx] + child_v,
                             torch.tensor(NEG, dtype=torch.float64))
        q[idx] = torch.cat([q_move, graph.log_reward[idx, None]], dim=1)
        value[idx] = torch.logsumexp(q[idx], dim=1)
    log_pi = torch.where(graph.forward_mask, q - value[:, None], torch.tensor(NEG, dtype=torch.float64))
    return value, log_pi


def backward_log_probs(env: EnumerableDagEnv, graph: Graph, kind: str, seed: int = 0) -> torch.Tensor:
    """A fixed P_B over every state's parents: [N, n_backward] for 'uniform', 'maxent' (n(s)/n(s')) or
    'random' (softmax of Gaussian logits)."""
    bmask = env.backward_mask(graph.states)
    if kind == "uniform":
        logits = torch.zeros(bmask.shape, dtype=torch.float64)
    elif kind == "random":
        logits = torch.randn(bmask.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    elif kind == "maxent":  # each incoming edge (s -> s') weighted by n(s): logits log n(s) at s'
        moves = graph.children.shape[1]
        parent, action = torch.nonzero(graph.forward_mask[:, :moves], as_tuple=True)
        logits = torch.full(bmask.shape, NEG, dtype=torch.float64)
        logits[graph.children[parent, action], graph.back_index[parent, action]] = \
            env.log_n(graph.states).double()[parent]
    else:
        raise ValueError(f"unknown backward policy '{kind}'; choose uniform, maxent or random")
    return masked_log_softmax(logits, bmask).masked_fill(~bmask, NEG)


def step_reward_from_backward(graph: Graph, log_pb: torch.Tensor) -> torch.Tensor:
    """r(s, a) = log P_B(s | child_a(s)) for every move: [N, A-1]."""
    return log_pb[graph.children, graph.back_index]


def sampled_l1(env: EnumerableDagEnv, graph: Graph, terminal: torch.Tensor) -> float:
    """L1 between the empirical distribution of sampled terminal states [M, d] and R/Z (a secondary,
    noisy metric: with M samples over N states its floor is about sqrt(2N / (pi M)))."""
    counts = torch.bincount(env.index(terminal), minlength=len(graph.states)).double()
    return float((counts / counts.sum() - target_distribution(graph)).abs().sum())


def exact_metrics(graph: Graph, log_pf: torch.Tensor, reach: torch.Tensor | None = None) -> dict[str, float]:
    """L1 of the terminal distribution to R/Z and the trajectory entropy (one reach DP for both)."""
    reach = reach_probabilities(graph, log_pf) if reach is None else reach
    p_t = terminal_distribution(graph, log_pf, reach)
    return {"l1": float((p_t - target_distribution(graph)).abs().sum()),
            "entropy": trajectory_entropy(graph, log_pf, reach)}
