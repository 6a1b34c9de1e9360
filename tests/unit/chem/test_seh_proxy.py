import json
import pathlib

import pytest
import torch

from anthology.chem.data import data_file
from anthology.chem.scoring import to_mol
from anthology.chem.seh_proxy import SEHProxy

FIXTURE = json.loads((pathlib.Path(__file__).parent / "fixtures" / "seh_proxy_scores.json").read_text())


@pytest.fixture
def proxy(shared_data):
    return SEHProxy.from_npz(data_file("seh/seh_proxy_2021_params.npz"))


def test_scores_match_the_stored_fixture(proxy):
    scores = proxy.score_mols([to_mol(s) for s in FIXTURE["smiles"]])
    torch.testing.assert_close(scores, torch.tensor(FIXTURE["scores"]), rtol=1e-5, atol=1e-5)


def test_batching_and_atom_order_do_not_change_a_score(proxy):
    from rdkit import Chem

    mols = [to_mol(s) for s in FIXTURE["smiles"][:4]]
    together = proxy.score_mols(mols, batch_size=3)
    alone = torch.cat([proxy.score_mols([m]) for m in mols])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)
    m = mols[2]
    shuffled = Chem.RenumberAtoms(m, list(range(m.GetNumAtoms()))[::-1])
    torch.testing.assert_close(proxy.score_mols([shuffled]), proxy.score_mols([m]), rtol=1e-5, atol=1e-5)


def test_the_two_readings_of_the_root_matrix_differ(proxy):
    port = SEHProxy.from_npz(data_file("seh/seh_proxy_2021_params.npz"), root_as_stored=False)
    mols = [to_mol(s) for s in FIXTURE["smiles"][:3]]
    assert not torch.allclose(port.score_mols(mols), proxy.score_mols(mols))
