"""The DemP loop: one-cycle regularisation and live-unit noise make units die; dead units are removed from
the network while it trains, so later epochs run on a smaller network."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from anthology.core.checkpoint import load_checkpoint, load_training_state, save_training_state
from anthology.core.device import resolve_device
from anthology.core.result import TrainResult
from anthology.core.run_dir import RunDir
from anthology.core.seeding import seed_everything
from anthology.tracking import Tracker, make_tracker
from anthology.vision.datasets import ImageData, load_image_data
from anthology.vision.models import MLP, ResNet18, SmallCNN, count_parameters, count_units, unit_layers
from anthology.vision.pruning import dead_units, remove_units, unit_activity

from .config import Config
from .losses import add_live_noise, one_cycle, regulariser, regulariser_grad


def make_model(cfg: Config, shape: tuple[int, ...], classes: int) -> nn.Module:
    if cfg.model == "mlp":
        return MLP(shape, cfg.hidden, classes, cfg.batch_norm)
    if cfg.model == "cnn":
        return SmallCNN(shape, cfg.channels, cfg.hidden[0], classes, cfg.batch_norm)
    return ResNet18(shape, classes, cfg.width)


def make_optimizer(cfg: Config, params: Any) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":  # decoupled weight decay, as the official adamw
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def regularised_parameters(model: nn.Module, which: str) -> list[torch.Tensor]:
    """all parameters, the weight matrices and kernels only, or the BatchNorm scales only."""
    if which == "all":
        return list(model.parameters())
    if which == "weights":
        return [p for p in model.parameters() if p.dim() >= 2]
    return [m.weight for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine]


def load_data(cfg: Config) -> ImageData:
    data = load_image_data(cfg.dataset, cfg.data_dir)
    if cfg.max_train:
        data = ImageData(data.name, data.train_x[:cfg.max_train], data.train_y[:cfg.max_train], data.test_x,
                         data.test_y, data.classes)
    return data


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, device: torch.device) -> float:
    was_training = model.training
    model.eval()
    correct = sum(int((model(x[i:i + batch].to(device)).argmax(-1).cpu() == y[i:i + batch]).sum())
                  for i in range(0, len(y), batch))
    model.train(was_training)
    return correct / len(y)


def sweep_batches(data: ImageData, fraction: float, batch: int, generator: torch.Generator, device: torch.device):
    """A random `fraction` of the training set in batches (the official sweep: train_size / 25)."""
    count = max(1, int(fraction * len(data.train_y)))
    index = torch.randperm(len(data.train_y), generator=generator)[:count]
    return [data.train_x[index[i:i + batch]].to(device) for i in range(0, count, batch)]


def smallest_units(model: nn.Module, fraction: float, by: str) -> list[torch.Tensor]:
    """The units a one-shot baseline removes. magnitude: per layer, the `fraction` with the smallest L1 norm of
    their incoming weights and bias (the official layer-wise filter magnitude); slimming: across all layers,
    the `fraction` with the smallest |BatchNorm scale| (network slimming's global threshold)."""
    layers = unit_layers(model)
    if by == "magnitude":
        out = []
        for layer in layers:
            w = layer.producer.weight.detach()
            score = w.abs().flatten(1).sum(1)
            if layer.producer.bias is not None:
                score = score + layer.producer.bias.detach().abs()
            out.append(torch.argsort(score)[: int(fraction * len(score))])
        return out
    scales = [layer.norm.weight.detach().abs() for layer in layers]
    flat = torch.cat(scales)
    threshold = torch.kthvalue(flat, max(1, int(fraction * len(flat)))).values if fraction > 0 else -1.0
    return [torch.nonzero(s <= threshold).flatten() for s in scales]


def update(cfg: Config, model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
           step: int, schedule_steps: int, generator: torch.Generator) -> float:
    """One step: the cross-entropy gradient, the live-entry mask taken from it (non-zero gradient), λ_t ∇R
    added to the gradient, the optimiser's step, then (demp) noise of std σ_t on the live entries."""
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=False)
    loss.backward()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    live = [p.grad != 0 for p in params] if cfg.method == "demp" and cfg.noise_eta > 0 else None
    lam = {"demp": one_cycle(step, schedule_steps, cfg.reg_lambda), "constant": cfg.reg_lambda,
           "slimming": cfg.slimming_lambda}.get(cfg.method, 0.0)
    if lam > 0:
        kind, which = ("lasso", "bn_scale") if cfg.method == "slimming" else (cfg.regulariser, cfg.regularised)
        with torch.no_grad():
            for p in regularised_parameters(model, which):
                p.grad.add_(regulariser_grad(kind, p), alpha=lam)
    optimizer.step()
    if live is not None:
        add_live_noise(params, live, one_cycle(step, schedule_steps, cfg.noise_eta), generator)
    return float(loss.detach())


def train(cfg: Config, tracker: Tracker | None = None, run_dir: RunDir | None = None) -> TrainResult:
    """DemP, Demon Pruning (Dufort-Labbé, D'Oro, Nikishin, Pascanu, Bacon, Baratin, "Maxwell's Demon at Work:
    Efficient Pruning by Leveraging Saturation of Neurons", arXiv 2403.07688).

    A unit whose ReLU output is zero on every input is dead: it and its weights can be removed without
    changing the network's function. DemP makes units die on purpose and removes them while training: the
    loss carries a regulariser λ_t R(θ) whose λ_t follows a one-cycle schedule (rising to its peak at 30%
    of training, decaying to about zero by `schedule_end`), Gaussian noise with the same schedule is added
    after each optimiser step to the parameters of live units only (dead ones stay dead), and every
    `prune_every` steps the units found dead on a sweep of the training data are removed physically
    (Torch-Pruning), the optimiser's state sliced along, so later steps are cheaper. `method` selects the
    baselines at equal epochs: dense, constant λ without noise, one-shot magnitude pruning with fine-tuning,
    and network slimming.

    CLI: `anthology train demp --preset demo --reg-lambda 1e-3`.
    Left out: the official code's data augmentation and learning-rate schedules (constant lr here).
    Timings (`time/epoch_seconds`) are in the curve, not in the summary, which stays bit-for-bit reproducible.
    """
    tracker = tracker or make_tracker(run_dir, console=False, tensorboard=False)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    data = load_data(cfg)
    model = make_model(cfg, data.shape, data.classes).to(device)
    initial_units, initial_params = count_units(model), count_parameters(model)
    example = data.train_x[:2].to(device)
    steps_per_epoch = math.ceil(len(data.train_y) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    schedule_steps = max(1, int(cfg.schedule_end * total))
    prune_step = int(cfg.prune_at * total)
    generator = torch.Generator().manual_seed(cfg.seed)
    removals: list[list[list[int]]] = []  # every removal, per unit layer, to rebuild the network on resume
    start_epoch, curve = 0, []
    optimizer = make_optimizer(cfg, model.parameters())
    if run_dir is not None:
        run_dir.write_config(cfg, "demp", "custom")
        if run_dir.has_checkpoint():  # rebuild the pruned shape first: replay every removal, then load
            extra = load_checkpoint(run_dir.checkpoint_path)["extra"]
            for removal in extra["removals"]:
                remove_units(model, [torch.tensor(r, dtype=torch.long) for r in removal], example)
            optimizer = make_optimizer(cfg, model.parameters())
            _, extra = load_training_state(run_dir.checkpoint_path, {"model": model, "optimizer": optimizer},
                                           generator)
            start_epoch, curve, removals = extra["epoch"], extra["curve"], extra["removals"]

    def prune(dead: list[torch.Tensor]) -> None:
        removed = remove_units(model, dead, example, optimizer)
        if any(removed):
            removals.append(removed)

    tracker.start(total, start_epoch * steps_per_epoch, f"demp {cfg.method} {cfg.model} {cfg.dataset}")
    for epoch in range(start_epoch, cfg.epochs):
        order = torch.randperm(len(data.train_y), generator=generator)
        began, losses = time.perf_counter(), []
        model.train()
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            index = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            x, y = data.train_x[index].to(device), data.train_y[index].to(device)
            losses.append(update(cfg, model, optimizer, x, y, step, schedule_steps, generator))
            done = step + 1
            if cfg.method in ("demp", "constant") and done % cfg.prune_every == 0:
                prune(dead_units(unit_activity(model, sweep_batches(data, cfg.death_fraction, cfg.eval_batch,
                                                                      generator, device))))
            if cfg.method in ("magnitude", "slimming") and done == prune_step:
                prune(smallest_units(model, cfg.target_sparsity, cfg.method))
        seconds = time.perf_counter() - began
        if cfg.method in ("demp", "constant") and epoch == cfg.epochs - 1:  # one last removal after training
            prune(dead_units(unit_activity(model, sweep_batches(data, cfg.death_fraction, cfg.eval_batch, generator,
                                                                device))))
        units, params_left = count_units(model), count_parameters(model)
        record = {"step": (epoch + 1) * steps_per_epoch, "eval/accuracy": accuracy(model, data.test_x, data.test_y,
                                                                                   cfg.eval_batch, device),
                  "eval/neuron_sparsity": 1 - units / initial_units, "eval/params_remaining": params_left / initial_params,
                  "train/loss": sum(losses) / len(losses),
                  "train/regulariser": float(regulariser(cfg.regulariser, regularised_parameters(model, cfg.regularised)).detach()),
                  "time/epoch_seconds": seconds}
        curve.append(record)
        tracker.log(record["step"], {k: v for k, v in record.items() if k != "step"})
        if run_dir is not None and epoch < cfg.epochs - 1:
            save_training_state(run_dir.checkpoint_path, epoch + 1, {"model": model, "optimizer": optimizer},
                                generator, {"epoch": epoch + 1, "curve": curve, "removals": removals})

    final = curve[-1]
    summary = {"method": "demp", "variant": cfg.method, "model": cfg.model, "dataset": cfg.dataset, "seed": cfg.seed,
               "epochs": cfg.epochs, **{k: v for k, v in final.items() if k.startswith(("eval/", "train/"))},
               "eval/units": count_units(model), "eval/params": count_parameters(model),
               "train/initial_units": initial_units, "train/initial_params": initial_params}
    tracker.close()
    if run_dir is not None:
        run_dir.write_curve(curve)
        run_dir.write_summary(summary)
    return TrainResult(summary, curve, {"model": model})
