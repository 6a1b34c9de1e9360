"""The fragment-tree DAG: states up to isomorphism, exact path counts, and the GFlowNet theory on it."""

from __future__ import annotations

import collections
import os
import pathlib

import numpy as np
import pytest
import torch

from anthology.chem.data import data_file
from anthology.chem.fragment_tree import FragmentTreeEnv, distinct_modes, tree_key
from anthology.chem.fragments import FragmentMDP, FragmentState, load_blocks
from anthology.core.errors import AnthologyError
from anthology.gfn.env import EnumerableDagEnv
from anthology.gfn.exact import (
    backward_log_probs,
    build_graph,
    soft_value_iteration,
    step_reward_from_backward,
    target_distribution,
    terminal_distribution,
    trajectory_entropy,
)


@pytest.fixture(scope="module")
def small():
    shared = pathlib.Path(__file__).resolve().parents[3].parent / "shared" / "data"  # as tests/conftest.py
    folder = os.environ.get("ANTHOLOGY_DATA") or (str(shared) if shared.is_dir() else None)
    try:
        blocks = load_blocks(data_file("fragments/blocks_PDB_105.json", folder))
    except AnthologyError:
        pytest.skip("no fragment library: run `anthology data fetch` (make test does)")
    mdp = FragmentMDP([blocks[i] for i in (4, 5, 12, 25)], max_blocks=3)  # piperidines (2, 3 stems), amide, F
    env = FragmentTreeEnv(mdp, lambda smiles: np.array([float(len(s)) for s in smiles]), beta=1.0, norm=10.0)
    return mdp, env


def test_states_are_trees_up_to_isomorphism_and_n_counts_every_move_sequence(small):
    mdp, env = small
    assert isinstance(env, EnumerableDagEnv)
    # brute force: every sequence of attach moves from the empty molecule, grouped by the tree it builds
    count: collections.Counter = collections.Counter()

    def walk(state: FragmentState) -> None:
        count[tree_key(mdp, state)] += 1
        mask = mdp.mask(state)
        for action in range(mdp.attach_offset, mdp.n_actions):
            if mask[action]:
                walk(mdp.step(state, action))

    walk(FragmentState())
    assert set(count) == set(env.keys) and env.n_states == len(count)
    brute = torch.tensor([float(count[k]) for k in env.keys], dtype=torch.float64).log()
    torch.testing.assert_close(env.log_n(env.all_states()), brute)
    assert float(brute.max()) > float(np.log(2))  # some trees have several build orders
    # one tree, two build orders: piperidine first with the amide on its stem at atom attach[0], or the
    # amide first with the piperidine (through its attach[0]) on the amide's attach[0]: the same bond
    pip_first = mdp.step(mdp.step(FragmentState(), mdp.attach_action(0, 0)), mdp.attach_action(0, 2))
    amide_first = mdp.step(mdp.step(FragmentState(), mdp.attach_action(0, 2)), mdp.attach_action(0, 0))
    assert pip_first.blocks != amide_first.blocks
    assert tree_key(mdp, pip_first) == tree_key(mdp, amide_first)
    assert float(env.log_n(torch.tensor([[env.keys.index(tree_key(mdp, pip_first))]]))) == pytest.approx(np.log(2))


def test_moves_and_backward_actions_are_consistent(small):
    _, env = small
    states = env.all_states()
    fmask, bmask = env.forward_mask(states), env.backward_mask(states)
    assert not fmask[0, env.exit_action] and fmask[1:, env.exit_action].all()  # only s0 cannot exit
    assert not bmask[0].any() and bmask[1:].any(-1).all()  # every other state has a parent
    parent, move = torch.nonzero(fmask[:, :-1], as_tuple=True)
    child = env.step(states[parent], move)[:, 0]
    back = env.backward_action(states[parent], move)
    pairs = set(zip(child.tolist(), back.tolist()))
    assert len(pairs) == len(parent)  # every incoming edge has its own backward action
    assert pairs == {(c, k) for c in range(env.n_states) for k in range(int(env.in_degree[c]))}
    assert (env.level(states[child]) == env.level(states[parent]) + 1).all()


def test_gflownet_theory_holds_on_fragment_trees(small):
    """Soft value iteration with the per-step reward log P_B samples R/Z for the max-ent and the uniform
    P_B; the max-ent one has the higher trajectory entropy, H(X) + E log n(x)."""
    _, env = small
    graph = build_graph(env)
    target = target_distribution(graph)
    entropy = {}
    for kind in ("maxent", "uniform"):
        log_pb = backward_log_probs(env, graph, kind)
        torch.testing.assert_close(log_pb[1:].exp().sum(-1), torch.ones(env.n_states - 1, dtype=torch.float64))
        _, log_pi = soft_value_iteration(graph, step_reward_from_backward(graph, log_pb))
        torch.testing.assert_close(terminal_distribution(graph, log_pi), target, atol=1e-10, rtol=0)
        entropy[kind] = trajectory_entropy(graph, log_pi)
    p = target[1:]
    expected = float(-(p * p.log()).sum() + (p * env.log_n(env.all_states())[1:]).sum())
    assert entropy["maxent"] == pytest.approx(expected, abs=1e-9)
    assert entropy["maxent"] > entropy["uniform"] + 1e-3


def test_distinct_modes_merges_near_duplicates(shared_data):
    assert distinct_modes(["c1ccccc1CCO", "c1ccccc1CCO", "CC(=O)Nc1ccc(O)cc1", "not a smiles"]) == 2
