"""Exact answers: soft value iteration with the log P_B reward is an exact GFlowNet for any P_B."""

import pytest
import torch

from anthology.envs.hypergrid import HyperGrid
from anthology.gfn.exact import (
    backward_log_probs,
    build_graph,
    log_partition,
    soft_value_iteration,
    step_reward_from_backward,
    target_distribution,
    terminal_distribution,
    trajectory_entropy,
)
from anthology.gfn.policy import GFlowNetPolicy
from anthology.gfn.sampler import sample_trajectories

ENV = HyperGrid(2, 8)
GRAPH = build_graph(ENV)


@pytest.mark.parametrize("kind", ["uniform", "maxent", "random"])
def test_soft_value_iteration_with_log_pb_reward_samples_r_over_z(kind):
    log_pb = backward_log_probs(ENV, GRAPH, kind)
    value, log_pi = soft_value_iteration(GRAPH, step_reward_from_backward(GRAPH, log_pb))
    assert torch.allclose(terminal_distribution(GRAPH, log_pi), target_distribution(GRAPH), atol=1e-10, rtol=0)
    assert abs(float(value[0]) - log_partition(GRAPH)) < 1e-10


def test_naive_soft_q_learning_samples_n_times_r():
    _, log_pi = soft_value_iteration(GRAPH, torch.zeros(GRAPH.children.shape, dtype=torch.float64))
    biased = torch.softmax(ENV.log_n(GRAPH.states) + GRAPH.log_reward, 0)
    assert torch.allclose(terminal_distribution(GRAPH, log_pi), biased, atol=1e-10, rtol=0)
    assert float((biased - target_distribution(GRAPH)).abs().sum()) > 1.4  # 1.48 on 8x8


def test_maxent_optimum_entropy_is_h_x_plus_expected_log_n():
    entropies = {}
    for kind in ("maxent", "uniform"):
        _, log_pi = soft_value_iteration(GRAPH, step_reward_from_backward(GRAPH, backward_log_probs(ENV, GRAPH, kind)))
        entropies[kind] = trajectory_entropy(GRAPH, log_pi)
    target = target_distribution(GRAPH)
    bound = float(-(target * target.log()).sum() + (target * ENV.log_n(GRAPH.states)).sum())
    assert abs(entropies["maxent"] - bound) < 1e-9 and abs(bound - 6.0346) < 1e-4
    assert abs(entropies["uniform"] - 5.7066) < 1e-4 and entropies["uniform"] < entropies["maxent"]


def test_maxent_backward_policy_is_n_parent_over_n_child_and_normalised():
    log_pb = backward_log_probs(ENV, GRAPH, "maxent")
    has_parents = ENV.backward_mask(GRAPH.states).any(1)
    assert torch.allclose(log_pb[has_parents].exp().sum(1), torch.ones(int(has_parents.sum()), dtype=torch.float64))
    s = ENV.index(torch.tensor([3, 2]))
    expected = ENV.log_n(torch.tensor([[2, 2]])) - ENV.log_n(torch.tensor([[3, 2]]))  # 6 / 10
    assert torch.allclose(log_pb[s, 0], expected[0])


def test_sampler_frequencies_match_the_exact_terminal_distribution():
    torch.manual_seed(0)
    env = HyperGrid(2, 4)
    graph = build_graph(env)
    policy = GFlowNetPolicy(env.input_dim, env.n_actions, env.n_backward_actions, hidden=16)
    from anthology.gfn.exact import policy_log_pf

    exact = terminal_distribution(graph, policy_log_pf(env, graph, policy))
    trajs = sample_trajectories(env, policy, 20000, torch.Generator().manual_seed(0))
    empirical = torch.bincount(env.index(trajs.terminal), minlength=env.n_states).double() / 20000
    assert float((empirical - exact).abs().sum()) < 0.05  # 16 states, 20k samples: sampling noise ~0.02
