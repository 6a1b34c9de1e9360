"""Inference with periodic reencoding (the paper's contribution) and the rollout metrics.

Every k steps the latent is replaced by the encoding of its own decoding, z <- E(D(z)), which pulls
it back onto the encoder's manifold. k = 0 (never) is the pure latent rollout; k = 1 is a nonlinear
one-step model x_{t+1} = D(K E(x_t)).
"""

from __future__ import annotations

import numpy as np
import torch

from .networks import LatentModel

DIVERGED = 100.0  # standardised units; a prediction beyond this (or NaN) counts as this far off


def period_name(k: int) -> str:
    return "none" if k == 0 else str(k)


@torch.no_grad()
def rollout(model: LatentModel, x0: torch.Tensor, steps: int, reencode_every: int = 0,
            controls: torch.Tensor | None = None) -> torch.Tensor:
    """Predicted states x_hat_0..x_hat_steps from x0 [B, d], re-encoding every `reencode_every` steps:
    [B, steps+1, d]. x_hat_0 = x0."""
    step = model.stepper()
    z = model.encode(x0)
    out = [x0]
    for t in range(1, steps + 1):
        z = step(z, None if controls is None else controls[:, t - 1])
        x = model.decode(z)
        out.append(x)
        if reencode_every and t % reencode_every == 0:
            z = model.encode(x)
    return torch.stack(out, dim=1)


def standardized_error(pred: torch.Tensor, truth: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Per-dimension error in units of the training data's std; diverged predictions are capped."""
    err = (pred - truth) / std
    return torch.nan_to_num(err, nan=DIVERGED, posinf=DIVERGED, neginf=-DIVERGED).clamp(-DIVERGED, DIVERGED)


def mse_curve(pred: torch.Tensor, truth: torch.Tensor, std: torch.Tensor) -> np.ndarray:
    """Mean squared standardised error at each step (mean over trajectories and dimensions): [steps+1]."""
    return standardized_error(pred, truth, std).pow(2).mean(dim=(0, 2)).cpu().numpy()


def mse_at(curve: np.ndarray, horizon: int) -> float:
    """MSE@h: the mean of the per-step MSE over steps 1..h."""
    return float(np.mean(curve[1:horizon + 1]))


def valid_prediction_time(pred: torch.Tensor, truth: torch.Tensor, std: torch.Tensor, threshold: float,
                          dt: float, lyapunov_exponent: float | None) -> float:
    """Mean over trajectories of the first time the RMS standardised error exceeds `threshold`
    (in Lyapunov times when the exponent is known, else in time units)."""
    rms = standardized_error(pred, truth, std).pow(2).mean(dim=2).sqrt()  # [B, steps+1]
    over = rms > threshold
    steps = over.shape[1] - 1
    first = torch.where(over.any(dim=1), over.float().argmax(dim=1), torch.full_like(over[:, 0], steps,
                                                                                        dtype=torch.long))
    scale = dt * (lyapunov_exponent if lyapunov_exponent else 1.0)
    return float(first.float().mean()) * scale


def evaluate(model: LatentModel, states: torch.Tensor, periods: tuple[int, ...], horizons: tuple[int, ...],
             vpt_threshold: float, dt: float, lyapunov_exponent: float | None,
             controls: torch.Tensor | None = None, prefix: str = "eval/") -> tuple[dict[str, float], dict[str, np.ndarray],
                                                                                dict[str, np.ndarray]]:
    """Roll out from every test initial condition at every period k.

    Returns (metrics `<prefix>k=<k>/mse@<h>` and `<prefix>k=<k>/vpt`, per-step MSE curves per k, and the
    first trajectory's prediction per k for phase portraits)."""
    std = model.normalizer.std
    steps = states.shape[1] - 1
    metrics: dict[str, float] = {}
    curves: dict[str, np.ndarray] = {}
    portraits: dict[str, np.ndarray] = {"truth": states[0].cpu().numpy()}
    for k in periods:
        name = period_name(k)
        pred = rollout(model, states[:, 0], steps, k, controls)
        curve = mse_curve(pred, states, std)
        curves[name] = curve
        portraits[name] = pred[0].cpu().numpy()
        for h in horizons:
            metrics[f"{prefix}k={name}/mse@{min(h, steps)}"] = mse_at(curve, min(h, steps))
        metrics[f"{prefix}k={name}/vpt"] = valid_prediction_time(pred, states, std, vpt_threshold, dt,
                                                              lyapunov_exponent)
    return metrics, curves, portraits
