import random

import pytest

from anthology.chem.data import data_file
from anthology.chem.fragments import FragmentMDP, FragmentState, load_blocks
from anthology.chem.scoring import canonical_smiles
from anthology.core.errors import AnthologyError


@pytest.fixture
def mdp(shared_data):
    return FragmentMDP(load_blocks(data_file("fragments/blocks_PDB_105.json")), max_blocks=6, allow_delete=True)


def random_walk(mdp, rng, steps):
    state = FragmentState()
    for _ in range(steps):
        attaches = [a for a, ok in enumerate(mdp.mask(state)) if ok and mdp.decode(a)[0] == "attach"]
        if not attaches:
            break
        state = mdp.step(state, rng.choice(attaches))
    return state


def test_the_105_block_library_loads(mdp):
    assert mdp.n_blocks == 105 and mdp.blocks[0].smiles == "c1ccccc1" and mdp.blocks[0].attach == (0, 1, 2, 3, 4, 5)


def test_every_allowed_attach_keeps_the_molecule_valid(mdp):
    rng = random.Random(0)
    for _ in range(200):
        state = random_walk(mdp, rng, rng.randint(1, 6))
        smiles = mdp.smiles(state)  # sanitisation would raise on a broken valence
        assert canonical_smiles(smiles) == smiles
        assert len(state.blocks) <= 6 and len(state.junctions) == len(state.blocks) - 1


def test_masks_forbid_what_would_break_valences(mdp):
    rng = random.Random(1)
    for _ in range(100):
        state = random_walk(mdp, rng, rng.randint(1, 5))
        free = mdp.free_hydrogens(state)
        for action, ok in enumerate(mdp.mask(state)):
            kind, stem, block = mdp.decode(action)
            if kind == "attach" and stem < len(state.stems):
                has_h = free[state.stems[stem]] >= 1 and mdp.block_hydrogens[block][mdp.blocks[block].attach[0]] >= 1
                assert ok == (has_h and mdp.n_atoms(state) + mdp.block_atoms[block] <= mdp.max_atoms)
        with pytest.raises(ValueError):
            mdp.step(state, next(a for a, ok in enumerate(mdp.mask(state)) if not ok))


def test_deleting_the_bond_an_attach_made_gives_back_the_molecule(mdp):
    rng = random.Random(2)
    checked = 0
    for _ in range(100):
        state = random_walk(mdp, rng, rng.randint(2, 4))
        attaches = [a for a, ok in enumerate(mdp.mask(state)) if ok and mdp.decode(a)[0] == "attach"]
        if not attaches:
            continue
        grown = mdp.step(state, rng.choice(attaches))
        if mdp.n_atoms(state) <= mdp.block_atoms[grown.blocks[-1]]:
            continue  # deletion keeps the larger part, which must be the old molecule here
        back = mdp.delete_junction(grown, len(grown.junctions) - 1)
        assert mdp.smiles(back) == mdp.smiles(state) and sorted(back.stems) == sorted(state.stems)
        checked += 1
    assert checked > 50


def test_a_broken_library_is_a_user_error(tmp_path):
    bad = tmp_path / "blocks.json"
    bad.write_text('{"block_smi": {"0": "C1CC"}, "block_name": {"0": "x"}, "block_r": {"0": [0]}}')
    with pytest.raises(AnthologyError, match="not a valid fragment"):
        load_blocks(bad)
    bad.write_text("[]")
    with pytest.raises(AnthologyError, match="not a block library"):
        load_blocks(bad)


def test_a_library_derived_from_moses_builds_valid_molecules():
    from anthology.chem.data import moses_smiles
    from anthology.chem.fragments import decompose, derive_library

    smiles = moses_smiles("train", limit=400)
    assert len(smiles) == 400 and all(canonical_smiles(s) for s in smiles[:20])
    library = derive_library(smiles, size=40)
    assert 10 <= len(library) <= 40
    mdp = FragmentMDP(library, max_blocks=5)
    rng = random.Random(3)
    for _ in range(100):
        state = random_walk(mdp, rng, rng.randint(1, 5))
        assert canonical_smiles(mdp.smiles(state)) == mdp.smiles(state)
    # a pyrrole nitrogen cut from its substituent keeps valid aromaticity ([nH] is restored)
    pieces = decompose("O=C(c1ccccc1)n1cccc1")
    assert pieces is not None and all(canonical_smiles(b.smiles) for b in pieces)
    assert decompose("not a smiles") is None


def test_decomposition_under_a_time_limit_matches_in_process_and_never_hangs():
    from anthology.chem.data import moses_smiles
    from anthology.chem.fragments import decompose_all

    smiles = [*moses_smiles("train", limit=30), "not a smiles"]
    in_process = decompose_all(smiles, timeout=None)
    assert decompose_all(smiles, timeout=30.0, workers=2, chunk_size=8) == in_process
    assert in_process[-1] is None and all(p is not None for p in in_process[:-1])
    # a limit nothing can meet: every molecule comes back as None (skipped), none hangs the caller
    assert decompose_all(smiles[:3], timeout=1e-4, chunk_size=2) == [None, None, None]
