"""One network, one forward pass: forward logits (or soft Q-values), backward logits, log-flow and log n."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from anthology.nets import make_mlp

NEG_INF = -1e9  # logit of a masked action (finite, so masked rows never produce NaN)


class PolicyOutput(NamedTuple):
    forward_logits: torch.Tensor  # [B, n_actions]
    backward_logits: torch.Tensor  # [B, n_backward_actions]
    log_flow: torch.Tensor  # [B]  log F(s) for DB / SubTB
    log_n: torch.Tensor  # [B]  learned log n(s) for the max-ent backward policy


class GFlowNetPolicy(nn.Module):
    """A shared MLP trunk with four linear heads."""

    def __init__(self, input_dim: int, n_actions: int, n_backward_actions: int, hidden: int = 256,
                 layers: int = 2) -> None:
        super().__init__()
        self.trunk = make_mlp(input_dim, (hidden,) * (layers - 1), hidden, "relu")
        self.activation = nn.ReLU()
        self.heads = nn.Linear(hidden, n_actions + n_backward_actions + 2)
        self.n_actions, self.n_backward_actions = n_actions, n_backward_actions

    def forward(self, x: torch.Tensor) -> PolicyOutput:
        out = self.heads(self.activation(self.trunk(x)))
        fwd, bwd, rest = out.split([self.n_actions, self.n_backward_actions, 2], dim=-1)
        return PolicyOutput(fwd, bwd, rest[..., 0], rest[..., 1])


def masked_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return logits.masked_fill(~mask, NEG_INF)


def masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(masked_logits(logits, mask), dim=-1)
