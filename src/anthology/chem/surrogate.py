"""A learned stand-in for an expensive oracle, with uncertainty, for active learning (LambdaZero's proxy).

`SurrogateEnsemble` is an ensemble of small MLPs on Morgan fingerprints, each trained from its own
initialisation on all labels (a deep ensemble) or on a bootstrap resample; its mean and standard deviation give the upper
confidence bound UCB(x) = mu(x) + kappa * sigma(x) that LambdaZero's policy is rewarded with.
`acquire` picks the top-k unlabelled candidates by UCB times a discount (LambdaZero's QED and
synthesisability ramps), never a molecule already labelled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from anthology.chem.scoring import MORGAN_BITS, morgan_fingerprints, to_mol
from anthology.nets.ensemble import EnsembleMLP


def fingerprint_matrix(smiles: Sequence[str]) -> torch.Tensor:
    """Morgan fingerprints (radius 2, 2048 bits) as a float tensor [N, 2048]; invalid SMILES give zeros."""
    from rdkit import DataStructs

    rows = np.zeros((len(smiles), MORGAN_BITS), dtype=np.float32)
    mols = [to_mol(s) for s in smiles]
    valid = [i for i, m in enumerate(mols) if m is not None]
    for i, fp in zip(valid, morgan_fingerprints([mols[i] for i in valid])):
        DataStructs.ConvertToNumpyArray(fp, rows[i])
    return torch.from_numpy(rows)


class SurrogateEnsemble:
    def __init__(self, members: int = 5, hidden: tuple[int, ...] = (256, 256), epochs: int = 60,
                 batch_size: int = 64, lr: float = 1e-3, seed: int = 0, bootstrap: bool = True) -> None:
        self.members, self.hidden, self.epochs, self.bootstrap = members, hidden, epochs, bootstrap
        self.batch_size, self.lr, self.seed = batch_size, lr, seed
        self.net: EnsembleMLP | None = None
        self.mean, self.std = 0.0, 1.0

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> SurrogateEnsemble:
        """Refit from scratch on all labels (x [N, F], y [N]); with `bootstrap` member e sees its own
        bootstrap resample, else every member sees all labels in its own order (a deep ensemble)."""
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        self.mean, self.std = float(y.mean()), float(y.std().clamp_min(1e-6)) if len(y) > 1 else 1.0
        target = (y - self.mean) / self.std
        self.net = EnsembleMLP(self.members, x.shape[1], self.hidden, 1)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=self.lr, fused=True)  # 2x faster on CPU
        n = x.shape[0]
        boot = torch.randint(n, (self.members, n), generator=generator) if self.bootstrap else None  # [E, N]
        for _ in range(self.epochs):
            if boot is not None:
                order = boot[:, torch.randperm(n, generator=generator)]
            else:  # every member sees every label, each in its own order
                order = torch.argsort(torch.rand(self.members, n, generator=generator), dim=1)
            for start in range(0, n, self.batch_size):
                idx = order[:, start:start + self.batch_size]  # [E, B]
                prediction = self.net(x[idx])[..., 0]  # [E, B]
                loss = (prediction - target[idx]).pow(2).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        return self

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean [N], standard deviation [N]) over the members, in the labels' units."""
        if self.net is None:
            raise RuntimeError("fit the surrogate before predicting")
        out = self.net(x)[..., 0] * self.std + self.mean  # [E, N]
        return out.mean(0), out.std(0)

    def ucb(self, x: torch.Tensor, kappa: float) -> torch.Tensor:
        mean, std = self.predict(x)
        return mean + kappa * std


def acquire(scores: torch.Tensor, k: int, labelled: torch.Tensor,
            discount: torch.Tensor | None = None) -> torch.Tensor:
    """Indices of the k best candidates by score x discount among those not yet labelled (bool [N])."""
    value = scores * (discount if discount is not None else 1.0)
    value = value.masked_fill(labelled, -torch.inf)
    k = min(k, int((~labelled).sum()))
    return torch.topk(value, k).indices
