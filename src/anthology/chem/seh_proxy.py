"""The 2021 sEH proxy (Bengio et al., "Flow network based generative models...", NeurIPS 2021), in plain
torch, loaded from the published weights (`seh/seh_proxy_2021_params.npz`, arrays p00..p21).

Architecture (as published): per-atom features (71: element type one-hot for H, C, N, O, F or other,
acceptor/donor flags (left at 0, as in the published featuriser), aromatic, sp/sp2/sp3, hydrogen count,
atomic-number one-hot 1..56, and a stem flag left at 0); a linear layer to 64 and LeakyReLU; 12 rounds of
edge-conditioned convolution (NNConv: the message x_j W(e_ij), W(e) a 4 -> 128 -> 64x64 MLP of the bond
type one-hot, mean aggregation, plus a root term and bias) followed by LeakyReLU and a GRU; a Set2Set
readout (3 steps); a linear head. Its output is the predicted (negated) docking score; the GFlowNet task
divides it by 8.

Array map: p00/p01 lin0; p02 NNConv root (64x64), p03 its bias; p04-p07 the edge MLP; p08-p11 GRU;
p12-p15 an unused per-stem head; p16-p19 Set2Set's LSTM; p20/p21 the output head. The root matrix is
applied as stored, x @ p02 (torch-geometric 1.6's `root` parameter, in x out), unlike the
recursionpharma port, which loads it as a Linear weight (x @ p02^T); `root_as_stored=False` gives the
port's reading. Which one is right is checked against Vina (`anthology.chem` tests and the LambdaZero
validation results). The network itself is `anthology.nets.mpnn.MPNN` on torch-geometric layers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from anthology.core.errors import require
from anthology.nets.mpnn import MPNN

N_ATOMIC_NUMBERS = 56
N_FEATURES = 14 + N_ATOMIC_NUMBERS + 1
DIM, CONV_STEPS, SET2SET_STEPS = 64, 12, 3
ATOM_TYPES = {"H": 0, "C": 1, "N": 2, "O": 3, "F": 4}
REWARD_SCALE = 8.0  # the GFlowNet sEH task's reward is proxy / 8
FEATURIZER_VERSION = 2  # 2: a molecule without bonds gets a self-loop on every atom (1: on atom 0 only)


def featurize(mol: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x [atoms, 71], edge_index [2, 2 * bonds], edge_attr [2 * bonds, 4]) of an RDKit molecule."""
    chem = require("rdkit.Chem", "chem")
    hybrid = chem.rdchem.HybridizationType
    x = np.zeros((mol.GetNumAtoms(), N_FEATURES), dtype=np.float32)
    for i, atom in enumerate(mol.GetAtoms()):
        x[i, ATOM_TYPES.get(atom.GetSymbol(), 5)] = 1.0
        x[i, 9] = float(atom.GetIsAromatic())
        h = atom.GetHybridization()
        x[i, 10], x[i, 11], x[i, 12] = h == hybrid.SP, h == hybrid.SP2, h == hybrid.SP3
        x[i, 13] = atom.GetTotalNumHs(includeNeighbors=True)
        if 1 <= atom.GetAtomicNum() <= N_ATOMIC_NUMBERS:
            x[i, 14 + atom.GetAtomicNum() - 1] = 1.0
    bond_types = {chem.BondType.SINGLE: 0, chem.BondType.DOUBLE: 1, chem.BondType.TRIPLE: 2,
                  chem.BondType.AROMATIC: 3}
    pairs, kinds = [], []
    for bond in mol.GetBonds():
        a, b, kind = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx(), bond_types.get(bond.GetBondType(), 0)
        pairs += [(a, b), (b, a)]
        kinds += [kind, kind]
    if pairs:
        edge_index = torch.tensor(pairs, dtype=torch.long).T
        edge_attr = F.one_hot(torch.tensor(kinds), 4).float()
    else:  # no bond: a zero-feature self-loop on every atom (the published featuriser puts one on atom 0,
        # which is the same for a single atom but makes a disconnected molecule's score depend on atom order)
        atoms = torch.arange(mol.GetNumAtoms())
        edge_index, edge_attr = torch.stack([atoms, atoms]), torch.zeros(mol.GetNumAtoms(), 4)
    return torch.from_numpy(x), edge_index, edge_attr


class SEHProxy(nn.Module):
    """The published network: `nets.mpnn.MPNN` (71 -> 64, edge MLP 4 -> 128 -> 64x64, 12 rounds, Set2Set
    over 3 steps) and a linear head on the 128-wide readout."""

    def __init__(self) -> None:
        super().__init__()
        self.mpnn = MPNN(N_FEATURES, DIM, 4, 128, CONV_STEPS, SET2SET_STEPS)
        self.head = nn.Linear(2 * DIM, 1)

    @classmethod
    def from_npz(cls, path: str | os.PathLike, root_as_stored: bool = True) -> SEHProxy:
        model = cls()
        with np.load(path) as z:
            p = {k: torch.from_numpy(np.array(z[k])) for k in z.files}
        targets = {"embed.weight": "p00", "embed.bias": "p01", "root.bias": "p03",
                   "edge_net.0.weight": "p04", "edge_net.0.bias": "p05", "edge_net.2.weight": "p06",
                   "edge_net.2.bias": "p07", "gru.weight_ih_l0": "p08", "gru.weight_hh_l0": "p09",
                   "gru.bias_ih_l0": "p10", "gru.bias_hh_l0": "p11", "readout.lstm.weight_ih_l0": "p16",
                   "readout.lstm.weight_hh_l0": "p17", "readout.lstm.bias_ih_l0": "p18",
                   "readout.lstm.bias_hh_l0": "p19"}
        state = {f"mpnn.{name}": p[key] for name, key in targets.items()}
        # the root term is a Linear, x @ weight^T: the stored reading x @ p02 needs weight = p02^T
        state["mpnn.root.weight"] = p["p02"].T if root_as_stored else p["p02"]
        state["head.weight"], state["head.bias"] = p["p20"], p["p21"]
        model.load_state_dict(state)
        return model.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor,
                batch: torch.Tensor, n_graphs: int) -> torch.Tensor:
        """Predicted score per graph [n_graphs] for a disjoint union of graphs (`batch` = graph of each atom)."""
        return self.head(self.mpnn(x, edge_index, edge_attr, batch, n_graphs)[1])[:, 0]

    @torch.no_grad()
    def score_mols(self, mols: Sequence[Any], batch_size: int = 256) -> torch.Tensor:
        """Proxy scores of RDKit molecules, batched [len(mols)]."""
        scores = []
        for start in range(0, len(mols), batch_size):
            graphs = [featurize(m) for m in mols[start:start + batch_size]]
            xs, edges, attrs, batch, offset = [], [], [], [], 0
            for g, (x, edge_index, edge_attr) in enumerate(graphs):
                xs.append(x)
                edges.append(edge_index + offset)
                attrs.append(edge_attr)
                batch.append(torch.full((x.shape[0],), g, dtype=torch.long))
                offset += x.shape[0]
            scores.append(self(torch.cat(xs), torch.cat(edges, 1), torch.cat(attrs), torch.cat(batch), len(graphs)))
        return torch.cat(scores) if scores else torch.zeros(0)
