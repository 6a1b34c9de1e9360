"""Training loss of the Koopman autoencoder (Fathi et al. 2024, Sec. 3): alignment + reconstruction + prediction.

All errors are measured in standardised state units (the model's normaliser), averaged over the batch,
the window and the dimensions. Training never re-encodes: the latent is unrolled from E(x_t) alone.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .networks import LatentModel


class Window(NamedTuple):
    states: torch.Tensor  # [B, T+1, d]
    controls: torch.Tensor | None  # [B, T, m]


def koopman_loss(model: LatentModel, window: Window, align: float = 1.0, reconstruction: float = 1.0,
                 prediction: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L = align * ||z_hat_{t+s} - E(x_{t+s})||^2 + reconstruction * ||x - D(E(x))||^2
    + prediction * ||x_{t+s} - D(z_hat_{t+s})||^2, with z_hat_{t+s} = K^s E(x_t) (+ controls), s = 1..T."""
    target = model.normalizer(window.states)  # [B, T+1, d]
    encoded = model.encoder(target)  # [B, T+1, n]
    steps = window.states.shape[1] - 1
    z_hat = model.rollout_latent(encoded[:, 0], steps, window.controls)  # [B, T, n]
    align_loss = (z_hat - encoded[:, 1:]).pow(2).mean()
    reconstruction_loss = (model.decoder(encoded) - target).pow(2).mean()
    prediction_loss = (model.decoder(z_hat) - target[:, 1:]).pow(2).mean()
    loss = align * align_loss + reconstruction * reconstruction_loss + prediction * prediction_loss
    info = {"train/loss_align": align_loss.detach(), "train/loss_reconstruction": reconstruction_loss.detach(),
            "train/loss_prediction": prediction_loss.detach()}
    return loss, info
