"""Does the LambdaZero proxy's sigma carry information? A deep ensemble (every member on all labels) against
a bootstrap ensemble, fitted on the first N of 3,000 random fragment molecules scored by the sEH proxy and
tested on the rest: sigma on training and on unseen molecules, and Spearman(sigma, |error|) on all unseen
molecules and on the 32 an acquisition would pick (top by UCB, kappa 1). Writes results/lambdazero/uncertainty.md.

    ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/lambdazero_uncertainty.py
"""

from __future__ import annotations

import pathlib
import random

import numpy as np
import torch
from scipy.stats import spearmanr

from anthology.chem.data import data_file
from anthology.chem.oracles import ProxyOracle
from anthology.chem.surrogate import SurrogateEnsemble, fingerprint_matrix
from anthology.methods.lambdazero.config import PRESETS
from anthology.methods.lambdazero.search import canonical, make_mdp, random_molecule

OUT = pathlib.Path(__file__).parents[1] / "results" / "lambdazero" / "uncertainty.md"


def main() -> None:
    torch.set_num_threads(1)
    cfg = PRESETS["quick"]
    mdp = make_mdp(cfg.mdp)
    rng = random.Random(0)
    smiles = list(dict.fromkeys(canonical(mdp, [random_molecule(mdp, rng) for _ in range(3300)])))[:3000]
    y = np.array([r.value for r in ProxyOracle(str(data_file("seh/seh_proxy_2021_params.npz"))).score(smiles)])
    x = fingerprint_matrix(smiles)
    lines = ["# Does the proxy's sigma carry information?", "",
             "`ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/lambdazero_uncertainty.py` (5 MLPs (256, 256), "
             "60 epochs, on the first N of 3,000 random fragment molecules scored by the sEH proxy; tested on the rest)", "",
             "| ensemble | N | sigma on training molecules | sigma on unseen | Spearman(sigma, abs error), unseen | same, top 32 by UCB |",
             "|---|---|---|---|---|---|"]
    for n in (200, 1000):
        for bootstrap in (True, False):
            proxy = SurrogateEnsemble(cfg.ensemble, cfg.proxy_hidden, cfg.proxy_epochs, seed=0, bootstrap=bootstrap)
            proxy.fit(x[:n], torch.tensor(y[:n], dtype=torch.float32))
            mean, sd = (t.numpy() for t in proxy.predict(x[n:]))
            error = np.abs(mean - y[n:])
            top = np.argsort(-(mean + sd))[:32]
            row = (f"| {'bootstrap' if bootstrap else 'deep'} | {n} | {proxy.predict(x[:n])[1].mean():.3f} | "
                   f"{sd.mean():.3f} | {spearmanr(sd, error)[0]:.3f} | {spearmanr(sd[top], error[top])[0]:.3f} |")
            lines.append(row)
            print(row, flush=True)
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
