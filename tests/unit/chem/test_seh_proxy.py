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


class GeometricProxy(torch.nn.Module):
    """The published architecture from torch-geometric's own layers (NNConv with mean aggregation,
    Set2Set), loaded from the same arrays: an independent check of the plain-torch proxy."""

    def __init__(self, arrays: dict, root_as_stored: bool) -> None:
        from torch_geometric.nn import NNConv, Set2Set

        super().__init__()
        t = {k: torch.as_tensor(v) for k, v in arrays.items()}
        self.lin0 = torch.nn.Linear(71, 64)
        edge_net = torch.nn.Sequential(torch.nn.Linear(4, 128), torch.nn.LeakyReLU(), torch.nn.Linear(128, 64 * 64))
        self.conv = NNConv(64, 64, edge_net, aggr="mean")
        self.gru = torch.nn.GRU(64, 64)
        self.set2set = Set2Set(64, processing_steps=3)
        self.head = torch.nn.Linear(128, 1)
        with torch.no_grad():
            self.lin0.weight.copy_(t["p00"]), self.lin0.bias.copy_(t["p01"])
            # NNConv's root term is lin(x) = x @ lin.weight^T: x @ p02 (as stored) needs lin.weight = p02^T
            self.conv.lin.weight.copy_(t["p02"].T if root_as_stored else t["p02"])
            self.conv.bias.copy_(t["p03"])
            for layer, (w, b) in zip((edge_net[0], edge_net[2]), (("p04", "p05"), ("p06", "p07")), strict=True):
                layer.weight.copy_(t[w]), layer.bias.copy_(t[b])
            for name, key in (("weight_ih_l0", "p08"), ("weight_hh_l0", "p09"), ("bias_ih_l0", "p10"),
                              ("bias_hh_l0", "p11")):
                getattr(self.gru, name).copy_(t[key])
            for name, key in (("weight_ih_l0", "p16"), ("weight_hh_l0", "p17"), ("bias_ih_l0", "p18"),
                              ("bias_hh_l0", "p19")):
                getattr(self.set2set.lstm, name).copy_(t[key])
            self.head.weight.copy_(t["p20"]), self.head.bias.copy_(t["p21"])

    @torch.no_grad()
    def score(self, mol) -> float:
        from anthology.chem.seh_proxy import featurize

        x, edge_index, edge_attr = featurize(mol)
        out = torch.nn.functional.leaky_relu(self.lin0(x))
        h = out[None]
        for _ in range(12):
            m = torch.nn.functional.leaky_relu(self.conv(out, edge_index, edge_attr))
            out, h = self.gru(m[None], h)
            out = out[0]
        return float(self.head(self.set2set(out, torch.zeros(len(out), dtype=torch.long)))[0, 0])


@pytest.mark.parametrize("root_as_stored", [True, False])
def test_plain_torch_proxy_equals_torch_geometric_layers(shared_data, root_as_stored):
    import numpy as np

    path = data_file("seh/seh_proxy_2021_params.npz")
    with np.load(path) as z:
        reference = GeometricProxy({k: np.array(z[k]) for k in z.files}, root_as_stored)
    ours = SEHProxy.from_npz(path, root_as_stored=root_as_stored)
    mols = [to_mol(s) for s in FIXTURE["smiles"]]
    expected = torch.tensor([reference.score(m) for m in mols])
    torch.testing.assert_close(ours.score_mols(mols), expected, rtol=1e-4, atol=1e-4)


def test_a_molecule_without_bonds_scores_the_same_in_any_atom_order(proxy):
    # with no bond at all, every atom gets a zero-feature self-loop (before: only atom 0, so the score
    # depended on which atom came first)
    a, b = proxy.score_mols([to_mol("O.C"), to_mol("C.O")])
    assert float(a) == pytest.approx(float(b), abs=1e-5)
    torch.testing.assert_close(proxy.score_mols([to_mol("C")]), torch.tensor([FIXTURE["scores"][9]]))
