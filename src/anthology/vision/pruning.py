"""Structured pruning of unit layers (`models.UnitLayer`): find dead units, remove units physically with
Torch-Pruning's dependency graph (which also slices BatchNorm, the next layer's inputs, flattens and residual
couplings), and carry the optimiser's state (Adam's moments, SGD's momentum) through the removal.

Torch-Pruning slices each parameter (and its .grad) but not an optimiser's state; every slice it makes goes
through one function, `BasePruningFunc._prune_parameter_and_grad(weight, keep_idxs, dim)`, so
`remove_units` records those slices while it prunes and applies them to the state of the same parameter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence

import torch
from torch import nn

from anthology.core.errors import require

from .models import UnitLayer, unit_layers


@torch.no_grad()
def unit_activity(model: nn.Module, batches: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """Per unit layer, the sum over the given inputs (and positions) of each unit's post-ReLU activation
    [units]; the model runs in eval mode (BatchNorm's running statistics), as the official detection."""
    layers = unit_layers(model)
    totals = [torch.zeros(layer.producer.weight.shape[0]) for layer in layers]

    def hook(index: int):
        def record(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            dims = [d for d in range(output.dim()) if d != 1]  # all but the unit (feature / channel) dimension
            totals[index] += output.sum(dim=dims).float().cpu()
        return record

    handles = [layer.act.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    was_training = model.training
    model.eval()
    try:
        for x in batches:
            model(x)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return totals


def dead_units(activity: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """A unit is dead when its activation is exactly zero on every input swept (ReLU outputs are >= 0)."""
    return [torch.nonzero(a <= 0).flatten() for a in activity]


def _pruning_fn(tp, producer: nn.Module):
    return tp.prune_linear_out_channels if isinstance(producer, nn.Linear) else tp.prune_conv_out_channels


@contextlib.contextmanager
def _recording_slices(tp) -> Iterator[list[tuple[torch.Tensor, torch.Tensor, list[int], int]]]:
    base = tp.pruner.function.BasePruningFunc
    original = base._prune_parameter_and_grad
    slices: list[tuple[torch.Tensor, torch.Tensor, list[int], int]] = []

    def prune_and_record(self, weight, keep_idxs, pruning_dim):
        pruned = original(self, weight, keep_idxs, pruning_dim)
        slices.append((weight, pruned, list(keep_idxs), pruning_dim))
        return pruned

    base._prune_parameter_and_grad = prune_and_record
    try:
        yield slices
    finally:
        base._prune_parameter_and_grad = original


def _move_optimizer_state(optimizer: torch.optim.Optimizer, old: torch.Tensor, new: torch.Tensor, keep: list[int],
                          dim: int) -> None:
    for group in optimizer.param_groups:
        group["params"] = [new if p is old else p for p in group["params"]]
    state = optimizer.state.pop(old, None)
    if state is not None:
        index = torch.as_tensor(keep, device=old.device)
        optimizer.state[new] = {k: (v.index_select(dim, index) if torch.is_tensor(v) and v.shape == old.shape else v)
                                for k, v in state.items()}


def remove_units(model: nn.Module, dead: Sequence[torch.Tensor], example: torch.Tensor,
                 optimizer: torch.optim.Optimizer | None = None) -> list[list[int]]:
    """Remove the given units of each unit layer (a layer keeps at least one unit), with everything that depends
    on them; slice the optimiser's state along. Returns the units removed from each layer."""
    tp = require("torch_pruning", "vision")
    layers: list[UnitLayer] = unit_layers(model)
    if len(dead) != len(layers):
        raise ValueError(f"{len(dead)} dead-unit lists for {len(layers)} unit layers")
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example)
    removed: list[list[int]] = []
    with _recording_slices(tp) as slices:
        for layer, idxs in zip(layers, dead, strict=True):
            width = layer.producer.weight.shape[0]
            idxs = sorted(set(idxs.tolist()))[: width - 1]  # never the whole layer
            removed.append(idxs)
            if idxs:
                graph.get_pruning_group(layer.producer, _pruning_fn(tp, layer.producer), idxs=idxs).prune()
    if optimizer is not None:
        for old, new, keep, dim in slices:  # in order: a parameter pruned twice is moved twice
            _move_optimizer_state(optimizer, old, new, keep, dim)
    return removed
