import random

import pytest
import torch

from anthology.chem.data import data_file
from anthology.chem.fragment_graph import H_COLUMN, STEM_COLUMN, FragmentGraphs
from anthology.chem.fragments import FragmentMDP, FragmentState, load_blocks
from anthology.chem.seh_proxy import featurize

HYBRIDISATION = [11, 12]  # sp2, sp3: a conjugating junction may flip these (see the module docstring)


@pytest.fixture
def mdp(shared_data):
    return FragmentMDP(load_blocks(data_file("fragments/blocks_PDB_105.json")), max_blocks=6, allow_delete=True)


def walks(mdp, n, seed=0):
    rng, out = random.Random(seed), []
    for _ in range(n):
        state = FragmentState()
        for _ in range(rng.randint(1, 6)):
            attaches = [a for a, ok in enumerate(mdp.mask(state)) if ok and a >= mdp.attach_offset]
            if not attaches:
                break
            state = mdp.step(state, rng.choice(attaches))
        out.append(state)
    return out


def test_graphs_match_rdkit_features_of_the_assembled_molecule(mdp):
    states = walks(mdp, 150)
    graphs = FragmentGraphs(mdp)(states)
    flipped = 0
    for g, state in enumerate(states):
        x, edge_index, edge_attr = featurize(mdp.to_mol(state))
        ours = graphs.x[graphs.batch == g].clone()
        ours[:, STEM_COLUMN] = 0.0
        differs = (ours != x).any(0).nonzero()[:, 0].tolist()
        assert set(differs) <= set(HYBRIDISATION), differs
        flipped += bool(differs)
        in_graph = (graphs.batch[graphs.edge_index[0]] == g)
        assert int(in_graph.sum()) == edge_index.shape[1]
        assert torch.equal(graphs.edge_attr[in_graph].sum(0), edge_attr.sum(0))  # same bond types
    assert flipped < len(states) // 3


def test_stems_and_junctions_point_at_the_right_atoms(mdp):
    states = [s for s in walks(mdp, 40, seed=1) if s.junctions]
    graphs = FragmentGraphs(mdp)(states)
    assert graphs.stem_atom.numel() == sum(min(len(s.stems), mdp.max_stems) for s in states)
    assert bool((graphs.x[graphs.stem_atom, STEM_COLUMN] == 1).all())
    a, c = graphs.junction_atoms.T
    assert bool((graphs.x[a, H_COLUMN] >= 0).all() and (graphs.x[c, H_COLUMN] >= 0).all())
    assert torch.equal(graphs.batch[a], graphs.junction_graph)


def test_empty_states_have_no_graph(mdp):
    graphs = FragmentGraphs(mdp)([FragmentState(), *walks(mdp, 2)])
    assert graphs.n_states == 3 and graphs.graph_state.tolist() == [1, 2]
