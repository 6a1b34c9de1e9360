"""An ensemble of identically shaped MLPs evaluated in one batched matrix product per layer.

Twin critics (SAC, TD3) and proxy ensembles are E independent networks of the same shape. Holding
their weights as one [E, in, out] tensor per layer turns E small matmuls into one `baddbmm`, which is
what makes a CPU update fast when the networks are small. Each member is initialised exactly like
`nn.Linear` (Kaiming-uniform weights, uniform biases), independently.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

from anthology.nets.mlp import ACTIVATIONS


class EnsembleLinear(nn.Module):
    def __init__(self, members: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(members, 1, out_dim))
        bound = 1.0 / math.sqrt(in_dim)  # nn.Linear's default initialisation, member by member
        with torch.no_grad():
            for e in range(members):
                nn.init.kaiming_uniform_(self.weight[e].T, a=math.sqrt(5))
            self.bias.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [E, B, in] (or [B, in], shared by every member) -> [E, B, out]."""
        if x.dim() == 2:
            x = x.expand(self.weight.shape[0], *x.shape)
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Module):
    """E MLPs `in_dim -> *hidden -> out_dim`; input [B, in] or [E, B, in], output [E, B, out_dim]."""

    def __init__(self, members: int, in_dim: int, hidden: Sequence[int], out_dim: int,
                 activation: str = "relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation '{activation}'; choose one of {sorted(ACTIVATIONS)}")
        widths = [in_dim, *hidden, out_dim]
        self.members = members
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in itertools.pairwise(widths))
        self.activation = ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)

    def member(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Member `index` alone on x [B, in] -> [B, out] (the same numbers as its slice of `forward`)."""
        for i, layer in enumerate(self.layers):
            x = torch.addmm(layer.bias[index], x, layer.weight[index])
            if i < len(self.layers) - 1:
                x = self.activation(x)
        return x
