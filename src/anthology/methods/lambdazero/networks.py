"""LambdaZero's actor-critic over fragment molecules: an MPNN on the atom graph (`nets.mpnn.MPNN`: NNConv +
GRU, Set2Set readout) with one head per action kind, after `LambdaZero/models/torch_graph_models.py`."""

from __future__ import annotations

import torch
from torch import nn

from anthology.chem.fragment_graph import GraphBatch
from anthology.chem.fragments import FragmentMDP
from anthology.chem.seh_proxy import N_FEATURES
from anthology.nets.mlp import make_mlp
from anthology.nets.mpnn import MPNN
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
        self.n_actions, self.n_blocks = mdp.n_actions, mdp.n_blocks
        self.attach_offset, self.delete_offset = mdp.attach_offset, mdp.delete_offset
        self.mpnn = MPNN(N_FEATURES, hidden, 4, 32, mp_steps)
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
        out, g = self.mpnn(graphs.x, graphs.edge_index, graphs.edge_attr, graphs.batch, graphs.n_graphs)
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
