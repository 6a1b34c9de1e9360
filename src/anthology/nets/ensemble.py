"""An ensemble of identically shaped MLPs evaluated in one batched matrix product per layer.

Twin critics (SAC, TD3) and proxy ensembles are E independent networks of the same shape. Holding
their weights as one [E, in, out] tensor per layer turns E small matmuls into one `baddbmm`, which is
what makes a CPU update fast when the networks are small. Each member is initialised exactly like
`nn.Linear` (Kaiming-uniform weights, uniform biases), independently. With `layer_norm`, each hidden layer is
Linear -> LayerNorm -> activation, every member with its own LayerNorm gain and shift (as E `nn.LayerNorm`s).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
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


class EnsembleLayerNorm(nn.Module):
    """LayerNorm over the last dimension with a gain and shift per member, initialised like `nn.LayerNorm`
    (ones and zeros, so it draws no random numbers)."""

    def __init__(self, members: int, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(members, 1, dim))
        self.bias = nn.Parameter(torch.zeros(members, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [E, B, dim] -> [E, B, dim]."""
        return torch.addcmul(self.bias, F.layer_norm(x, x.shape[-1:], eps=self.eps), self.weight)

    def member(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Member `index` alone on x [B, dim] -> [B, dim]."""
        return torch.addcmul(self.bias[index], F.layer_norm(x, x.shape[-1:], eps=self.eps), self.weight[index])


class EnsembleMLP(nn.Module):
    """E MLPs `in_dim -> *hidden -> out_dim`; input [B, in] or [E, B, in], output [E, B, out_dim]."""

    def __init__(self, members: int, in_dim: int, hidden: Sequence[int], out_dim: int,
                 activation: str = "relu", layer_norm: bool = False) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation '{activation}'; choose one of {sorted(ACTIVATIONS)}")
        widths = [in_dim, *hidden, out_dim]
        self.members = members
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in itertools.pairwise(widths))
        # empty without layer_norm: no parameters, no state_dict keys, the same forward as before
        self.norms = nn.ModuleList(EnsembleLayerNorm(members, h) for h in hidden) if layer_norm else nn.ModuleList()
        self.activation = ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers[:-1]):
            x = layer(x)
            if self.norms:
                x = self.norms[i](x)
            x = self.activation(x)
        return self.layers[-1](x)

    def member(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Member `index` alone on x [B, in] -> [B, out] (the same numbers as its slice of `forward`)."""
        for i, layer in enumerate(self.layers):
            x = torch.addmm(layer.bias[index], x, layer.weight[index])
            if i < len(self.layers) - 1:
                if self.norms:
                    x = self.norms[i].member(index, x)
                x = self.activation(x)
        return x
