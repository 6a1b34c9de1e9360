"""DemP's regulariser, its one-cycle schedule and the live-unit noise, as pure functions.

- Regularisers (official `ce_loss_given_model`), each a sum over the regularised parameters:
  l2 = ½Σθ², lasso = Σ|θ|, cdg_l2 = ½Σ max(θ, 0)², cdg_lasso = Σ max(θ, 0) (the positive parts push
  units towards death). Loss = mean cross-entropy + λ_t R(θ).
- One cycle (optax's `cosine_onecycle_schedule` with its defaults, as the official code calls it): from
  peak/25 a cosine rise to the peak at 0.3 T, then a cosine fall to peak/(25 · 10⁴) at T, held after T.
- Noise: θ ← θ + σ_t ε ⊙ m after the optimiser's step, ε ~ N(0, I), σ_t on the same one-cycle schedule
  (peak `noise_eta`), m = 1 where the cross-entropy gradient is non-zero (live units only: a dead unit's
  incoming weights and its outgoing weights get no gradient from the data).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

REGULARISERS = ("l2", "lasso", "cdg_l2", "cdg_lasso")


def one_cycle(step: int, total: int, peak: float, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4) -> float:
    """optax.cosine_onecycle_schedule(total, peak, pct_start, div_factor, final_div_factor) at `step`."""
    start, end = peak / div_factor, peak / (div_factor * final_div_factor)
    rise = max(int(pct_start * total), 1)
    if step <= rise:
        return start + (peak - start) * (1 - math.cos(math.pi * step / rise)) / 2
    frac = min((step - rise) / max(total - rise, 1), 1.0)
    return end + (peak - end) * (1 + math.cos(math.pi * frac)) / 2


def regulariser(kind: str, params: Iterable[torch.Tensor]) -> torch.Tensor:
    """R(θ) summed over the given parameters."""
    terms = []
    for p in params:
        if kind == "l2":
            terms.append(0.5 * p.pow(2).sum())
        elif kind == "lasso":
            terms.append(p.abs().sum())
        elif kind == "cdg_l2":
            terms.append(0.5 * p.clamp(min=0).pow(2).sum())
        elif kind == "cdg_lasso":
            terms.append(p.clamp(min=0).sum())
        else:
            raise ValueError(f"unknown regulariser '{kind}'; choose one of {REGULARISERS}")
    return torch.stack(terms).sum() if terms else torch.zeros(())


def regulariser_grad(kind: str, p: torch.Tensor) -> torch.Tensor:
    """∂R/∂θ of one parameter (the subgradient 0 at 0 for the lasso forms)."""
    if kind == "l2":
        return p
    if kind == "lasso":
        return p.sign()
    if kind == "cdg_l2":
        return p.clamp(min=0)
    if kind == "cdg_lasso":
        return (p > 0).to(p.dtype)
    raise ValueError(f"unknown regulariser '{kind}'; choose one of {REGULARISERS}")


@torch.no_grad()
def add_live_noise(params: Iterable[torch.Tensor], live: Iterable[torch.Tensor], std: float,
                   generator: torch.Generator) -> None:
    """θ += std · ε ⊙ live for each parameter (live: a boolean mask of its entries)."""
    for p, mask in zip(params, live, strict=True):
        noise = torch.randn(p.shape, generator=generator, device=generator.device, dtype=p.dtype).to(p.device)
        p.add_(std * noise * mask)
