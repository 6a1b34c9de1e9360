"""LambdaZero's actor-critic over fragment molecules: an MPNN on the atom graph (NNConv + GRU, Set2Set
readout) with one head per action kind, after `LambdaZero/models/torch_graph_models.py`."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from anthology.chem.fragment_graph import GraphBatch
from anthology.chem.fragments import FragmentMDP
from anthology.chem.seh_proxy import N_FEATURES
from anthology.core.errors import require
from anthology.nets.mlp import make_mlp
from anthology.rl.ppo import NEG_INF


class FragmentActorCritic(nn.Module):
    """Logits over the MDP's actions and a state value.

    Atom embeddings h_v come from `mp_steps` rounds of edge-conditioned convolution (NNConv: the mean
    of the messages x_u W(e_uv), W an MLP of the bond type, plus a root term) each followed by a GRU; the graph embedding g is a Set2Set
    readout. The logits of attaching block b at stem s are MLP([h_stem(s), g])_b; of deleting junction
    (u, v), MLP([h_u + h_v, g]); of stopping, MLP(g); the value is MLP(g). The empty state (no molecule
    yet) has learned start logits over blocks and a learned value."""

    def __init__(self, mdp: FragmentMDP, hidden: int = 64, mp_steps: int = 4) -> None:
        super().__init__()
        geometric = require("torch_geometric.nn", "chem")
        self.n_actions, self.n_blocks = mdp.n_actions, mdp.n_blocks
        self.attach_offset, self.delete_offset = mdp.attach_offset, mdp.delete_offset
        self.mp_steps = mp_steps
        self.embed = nn.Linear(N_FEATURES, hidden)
        self.hidden = hidden
        self.edge_net = nn.Sequential(nn.Linear(4, 32), nn.LeakyReLU(), nn.Linear(32, hidden * hidden))
        self.root = nn.Linear(hidden, hidden)
        self.gru = nn.GRU(hidden, hidden)
        self.readout = geometric.aggr.Set2Set(hidden, processing_steps=3)
        self.stem_head = make_mlp(3 * hidden, (hidden,), mdp.n_blocks, "leaky_relu")
        delete_head = make_mlp(3 * hidden, (hidden,), 1, "leaky_relu")  # built either way: same init stream
        self.delete_head = delete_head if mdp.allow_delete else None  # no dead parameters without deletions
        self.stop_head = make_mlp(2 * hidden, (hidden,), 1, "leaky_relu")
        self.value_head = make_mlp(2 * hidden, (hidden,), 1, "leaky_relu")
        self.start_logits = nn.Parameter(torch.zeros(mdp.n_blocks))
        self.start_value = nn.Parameter(torch.zeros(()))

    def forward(self, graphs: GraphBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits [n_states, n_actions], unmasked, NEG_INF where an action has no head; values [n_states])."""
        n = graphs.n_states
        logits = torch.full((n, self.n_actions), NEG_INF)
        values = self.start_value.expand(n).clone()
        empty = torch.ones(n, dtype=torch.bool)
        empty[graphs.graph_state] = False
        start = self.attach_offset + torch.arange(self.n_blocks)  # stem slot 0 = start with block b
        logits[empty.nonzero()[:, 0][:, None], start[None]] = self.start_logits
        if graphs.n_graphs == 0:
            return logits, values
        out = F.leaky_relu(self.embed(graphs.x))
        h = out[None]
        # NNConv's W(e) depends on the bond type only: evaluate the edge network once per type (four bond
        # one-hots and the zero feature of a lone atom's self-loop), not once per edge and round
        kinds = torch.cat([torch.eye(4), torch.zeros(1, 4)])
        weights = self.edge_net(kinds).view(5, self.hidden, self.hidden)
        edge_kind = torch.where(graphs.edge_attr.sum(1) > 0, graphs.edge_attr.argmax(1), 4)
        source, target = graphs.edge_index
        degree = torch.zeros(out.shape[0]).index_add_(0, target, torch.ones(target.shape[0])).clamp_min(1)
        groups = [(k, (edge_kind == k).nonzero()[:, 0]) for k in range(5)]
        groups = [(k, idx) for k, idx in groups if idx.numel()]
        for _ in range(self.mp_steps):
            aggregated = torch.zeros_like(out)
            for k, idx in groups:  # mean over neighbours of x_u W(e_uv)
                aggregated = aggregated.index_add(0, target[idx], out[source[idx]] @ weights[k])
            m = F.leaky_relu(aggregated / degree[:, None] + self.root(out))
            out, h = self.gru(m[None], h)
            out = out[0]
        g = self.readout(out, graphs.batch, dim_size=graphs.n_graphs)  # [graphs, 2 hidden]
        rows = graphs.graph_state
        values = values.index_put((rows,), self.value_head(g)[:, 0])
        logits[rows, 0] = self.stop_head(g)[:, 0]
        if graphs.stem_atom.numel():
            stem = self.stem_head(torch.cat([out[graphs.stem_atom], g[graphs.stem_graph]], -1))  # [stems, blocks]
            columns = self.attach_offset + graphs.stem_slot[:, None] * self.n_blocks + torch.arange(self.n_blocks)
            logits[rows[graphs.stem_graph][:, None], columns] = stem
        if self.delete_head is not None and graphs.junction_atoms.numel():
            pair = out[graphs.junction_atoms[:, 0]] + out[graphs.junction_atoms[:, 1]]
            delete = self.delete_head(torch.cat([pair, g[graphs.junction_graph]], -1))[:, 0]
            logits[rows[graphs.junction_graph], self.delete_offset + graphs.junction_slot] = delete
        return logits, values
