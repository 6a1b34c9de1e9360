"""Molecular objectives in [0, 1] for multi-objective generation (Mol-MoE).

- `qed`: RDKit's quantitative estimate of drug-likeness.
- `sa`: synthetic accessibility, (10 - SA) / 9 with Ertl's SA score in [1, 10] (1 = easy).
- `tpsa`: a window on topological polar surface area: 1 for TPSA in [90, 140] A^2, falling linearly to
  0 at 70 and 160. It asks for polar molecules, which conflicts with QED, SA and sEH on MOSES.
- `seh`: the 2021 sEH binding proxy of LambdaZero / recursionpharma/gflownet divided by 8 and clipped
  to [0, 1], as that repository normalises it. It stands in for the paper's JNK3/DRD2/GSK3B oracles,
  which PyTDC downloads at run time.

An unparsable SMILES scores 0 on every objective (as the Mol-MoE reward does).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from anthology.core.errors import UnknownNameError

OBJECTIVES = ("qed", "sa", "tpsa", "seh")
TPSA_WINDOW = (70.0, 90.0, 140.0, 160.0)  # zero below / full from / full to / zero above, A^2
SEH_SCALE = 8.0


def window(value: float, ramp_low: float, low: float, high: float, ramp_high: float) -> float:
    """1 inside [low, high], linear to 0 at ramp_low and ramp_high, 0 outside."""
    if low <= value <= high:
        return 1.0
    if value < low:
        return max(0.0, (value - ramp_low) / (low - ramp_low))
    return max(0.0, (ramp_high - value) / (ramp_high - high))


class ObjectiveScorer:
    """Scores of SMILES on named objectives, [N, K] in [0, 1]; computes only what is asked for."""

    def __init__(self, names: Sequence[str] = OBJECTIVES, data_dir: str | os.PathLike | None = None) -> None:
        for name in names:
            if name not in OBJECTIVES:
                raise UnknownNameError("objective", name, OBJECTIVES)
        self.names = tuple(names)
        self.data_dir = data_dir
        self._proxy = None

    def proxy(self):
        if self._proxy is None:
            from anthology.chem.data import data_file
            from anthology.chem.seh_proxy import SEHProxy

            self._proxy = SEHProxy.from_npz(data_file("seh/seh_proxy_2021_params.npz", self.data_dir))
        return self._proxy

    def __call__(self, smiles: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(scores [N, K], valid [N]) with zeros for molecules that do not parse."""
        from anthology.chem.scoring import to_mol

        mols = [to_mol(s) for s in smiles]
        valid = np.array([m is not None for m in mols], dtype=bool)
        scores = np.zeros((len(smiles), len(self.names)))
        parsed = [m for m in mols if m is not None]
        if not parsed:
            return scores, valid
        columns = []
        for name in self.names:
            columns.append(self._score(name, parsed))
        scores[valid] = np.stack(columns, axis=1)
        return scores, valid

    def _score(self, name: str, mols: list) -> np.ndarray:
        if name == "qed":
            from rdkit.Chem import QED

            return np.array([QED.qed(m) for m in mols])
        if name == "sa":
            from anthology.chem.scoring import _sascorer

            scorer = _sascorer()
            return np.array([(10.0 - scorer.calculateScore(m)) / 9.0 for m in mols])
        if name == "tpsa":
            from rdkit.Chem import rdMolDescriptors

            return np.array([window(rdMolDescriptors.CalcTPSA(m), *TPSA_WINDOW) for m in mols])
        return np.clip(self.proxy().score_mols(mols).numpy() / SEH_SCALE, 0.0, 1.0)
