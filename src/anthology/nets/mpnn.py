"""An edge-conditioned message-passing network on torch-geometric layers: the trunk shared by the 2021 sEH
proxy (`anthology.chem.seh_proxy`) and LambdaZero's fragment policy (`methods.lambdazero.networks`).

h^0_v = LeakyReLU(W_0 x_v); then `steps` rounds of
    m_v = LeakyReLU(mean_{u -> v} h_u W(e_uv) + h_v Theta + b)      (NNConv with mean aggregation)
    h_v = GRU(m_v, h_v)
with W(e) an MLP of the edge features reshaped to [hidden, hidden], and a Set2Set readout of the node
states per graph (gives 2 * hidden). torch-geometric's `NNConv` evaluates W(e) for every edge and
multiplies every message by its own matrix, in every round. Here the edge features are bond-type
one-hots, so W(e) takes a handful of values: W is evaluated once per distinct edge feature vector, each
node state is multiplied by each of those matrices once a round, and a message is a row of that
product. The sum is NNConv's (tested against `NNConv` itself in `tests/unit/chem/test_seh_proxy.py`),
the mean aggregation and the readout are torch-geometric's `MeanAggregation` and `Set2Set`, and it runs
an order of magnitude faster than NNConv on the proxy's and the policy's batches
(`results/benchmarks/mpnn.md`, from `benchmarks/mpnn.py`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from anthology.core.errors import require


def distinct_rows(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(the distinct rows [K, d], the index of each row among them [n]): `torch.unique(dim=0)` without its
    per-element loop, by one 1-D unique per column and one on the mixed-radix code of the column ranks."""
    code, radix = torch.zeros(features.shape[0], dtype=torch.long), 1
    for column in features.T:
        values, rank = torch.unique(column, return_inverse=True)
        radix *= len(values)
        if radix >= 2**62:  # the code would overflow: many distinct continuous features
            return torch.unique(features, dim=0, return_inverse=True)
        code = code * len(values) + rank
    _, inverse = torch.unique(code, return_inverse=True)
    first = torch.zeros(int(inverse.max()) + 1 if len(inverse) else 0, dtype=torch.long)
    first.scatter_(0, inverse, torch.arange(len(inverse)))
    return features[first], inverse


class MPNN(nn.Module):
    """Node states [nodes, hidden] and graph embeddings [graphs, 2 hidden] of a disjoint union of graphs."""

    def __init__(self, in_features: int, hidden: int, edge_features: int, edge_hidden: int, steps: int,
                 readout_steps: int = 3) -> None:
        super().__init__()
        aggr = require("torch_geometric.nn.aggr", "chem")
        self.hidden, self.steps = hidden, steps
        self.embed = nn.Linear(in_features, hidden)
        self.edge_net = nn.Sequential(nn.Linear(edge_features, edge_hidden), nn.LeakyReLU(),
                                      nn.Linear(edge_hidden, hidden * hidden))
        self.root = nn.Linear(hidden, hidden)  # Theta and b
        self.aggregate = aggr.MeanAggregation()
        self.gru = nn.GRU(hidden, hidden)
        self.readout = aggr.Set2Set(hidden, processing_steps=readout_steps)

    def edge_plan(self, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """What every round reuses: the distinct W(e) side by side [h, K h], each edge's row in the
        [nodes * K, h] product of node states and W's, and each edge's target."""
        kinds, kind = distinct_rows(edge_attr)
        weights = self.edge_net(kinds).view(-1, self.hidden, self.hidden).permute(1, 0, 2).flatten(1)
        source, target = edge_index
        return weights, source * len(kinds) + kind, target

    def convolve(self, h: torch.Tensor, plan: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """NNConv's output, mean_{u -> v} h_u W(e_uv) + h_v Theta + b, before the nonlinearity."""
        weights, row, target = plan
        messages = (h @ weights).view(-1, self.hidden).index_select(0, row)  # [edges, h]: h_u W(e_uv)
        return self.aggregate(messages, target, dim_size=h.shape[0]) + self.root(h)

    def nodes(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        plan = self.edge_plan(edge_index, edge_attr)
        out = F.leaky_relu(self.embed(x))
        h = out[None]
        for _ in range(self.steps):
            out, h = self.gru(F.leaky_relu(self.convolve(out, plan))[None], h)
            out = out[0]
        return out

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor, batch: torch.Tensor,
                n_graphs: int) -> tuple[torch.Tensor, torch.Tensor]:
        nodes = self.nodes(x, edge_index, edge_attr)
        return nodes, self.readout(nodes, batch, dim_size=n_graphs)
