"""Small image classifiers whose hidden units can die and be removed: each unit layer is a producer
(Linear or Conv2d, then BatchNorm when `batch_norm`) followed by its own `nn.ReLU` module, listed by
`unit_layers()` so that activations can be hooked and Torch-Pruning can remove units through the producer.

- `MLP`: flatten, hidden Linear(-BN)-ReLU layers, a Linear head.
- `SmallCNN`: Conv3x3(-BN)-ReLU blocks with 2x2 max-pooling after each, flatten, Linear(-BN)-ReLU, head.
- `ResNet18`: the CIFAR ResNet-18 (3x3 stem, four stages of two BasicBlocks, global pooling), torchvision's
  block layout; its unit layers are each block's first conv (the residual stream is not a unit layer).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class UnitLayer(nn.Module):
    """producer -> (BatchNorm) -> ReLU: the units are the producer's output features or channels."""

    def __init__(self, producer: nn.Linear | nn.Conv2d, batch_norm: bool) -> None:
        super().__init__()
        self.producer = producer
        width = producer.out_features if isinstance(producer, nn.Linear) else producer.out_channels
        norm: nn.Module
        if batch_norm:
            norm = nn.BatchNorm1d(width) if isinstance(producer, nn.Linear) else nn.BatchNorm2d(width)
        else:
            norm = nn.Identity()
        self.norm = norm
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.producer(x)))


class MLP(nn.Module):
    def __init__(self, in_shape: Sequence[int], hidden: Sequence[int], classes: int, batch_norm: bool = False) -> None:
        super().__init__()
        width = int(torch.tensor(in_shape).prod())
        layers: list[nn.Module] = [nn.Flatten()]
        for h in hidden:
            layers.append(UnitLayer(nn.Linear(width, h), batch_norm))
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class SmallCNN(nn.Module):
    def __init__(self, in_shape: Sequence[int], channels: Sequence[int], hidden: int, classes: int,
                 batch_norm: bool = True) -> None:
        super().__init__()
        c, h, w = in_shape
        layers: list[nn.Module] = []
        for out in channels:
            layers += [UnitLayer(nn.Conv2d(c, out, 3, padding=1, bias=not batch_norm), batch_norm), nn.MaxPool2d(2)]
            c, h, w = out, h // 2, w // 2
        layers += [nn.Flatten(), UnitLayer(nn.Linear(c * h * w, hidden), batch_norm)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: conv-BN-ReLU (a unit layer), conv-BN, + shortcut (projection when the shape
    changes), ReLU."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.unit = UnitLayer(nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False), batch_norm=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn2(self.conv2(self.unit(x))) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, in_shape: Sequence[int], classes: int, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_shape[0], width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        blocks, channels = [], width
        for stage, out in enumerate((width, 2 * width, 4 * width, 8 * width)):
            for i in range(2):
                blocks.append(BasicBlock(channels, out, 2 if stage > 0 and i == 0 else 1))
                channels = out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.blocks(self.stem(x))))


def unit_layers(model: nn.Module) -> list[UnitLayer]:
    """Every unit layer of a model, in forward order."""
    return [m for m in model.modules() if isinstance(m, UnitLayer)]


def count_units(model: nn.Module) -> int:
    return sum(layer.producer.weight.shape[0] for layer in unit_layers(model))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
