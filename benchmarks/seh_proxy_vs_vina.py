"""Which reading of the 2021 sEH proxy's NNConv root matrix is right? Score MOSES molecules with Vina
(exhaustiveness 1, the sEH 4JNC box) and with both readings of the proxy, and report the Spearman
correlation of each reading with Vina's -E. Writes results/lambdazero/proxy_vs_vina.{json,md}.

    ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/seh_proxy_vs_vina.py [N] [WORKERS]
"""

from __future__ import annotations

import json
import pathlib
import random
import sys
import time

from scipy.stats import spearmanr

from anthology.chem.data import data_file, moses_smiles
from anthology.chem.oracles import ProxyOracle, VinaOracle

OUT = pathlib.Path(__file__).parents[1] / "results" / "lambdazero"


def main(n: int = 40, workers: int = 2, seed: int = 0) -> None:
    pool = moses_smiles("test", limit=20_000)
    smiles = random.Random(seed).sample(pool, n)
    tick = time.perf_counter()
    vina = list(VinaOracle(str(data_file("seh/4jnc.nohet.aligned.pdbqt")), exhaustiveness=1, seed=seed,
                           workers=workers).score(smiles))
    dock_seconds = time.perf_counter() - tick
    weights = str(data_file("seh/seh_proxy_2021_params.npz"))
    readings = {"as_stored": ProxyOracle(weights, True).score(smiles),
                "transposed": ProxyOracle(weights, False).score(smiles)}
    ok = [i for i, r in enumerate(vina) if r.status == "ok"]
    result = {"command": f"python benchmarks/seh_proxy_vs_vina.py {n} {workers}", "molecules": n,
              "docked": len(ok), "dock_seconds": dock_seconds, "workers": workers, "exhaustiveness": 1,
              "spearman": {}, "rows": []}
    for name, scores in readings.items():
        rho = spearmanr([vina[i].value for i in ok], [scores[i].value for i in ok]).statistic
        result["spearman"][name] = float(rho)
    for i in ok:
        result["rows"].append({"smiles": smiles[i], "vina": vina[i].value,
                               **{name: scores[i].value for name, scores in readings.items()}})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "proxy_vs_vina.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# The 2021 sEH proxy against Vina (which reading of the NNConv root matrix?)", "",
             f"Command: `ANTHOLOGY_DATA=../shared/data {result['command']}`: {n} random MOSES test molecules, "
             f"Vina at exhaustiveness 1 on sEH 4JNC ({len(ok)} docked in {dock_seconds:.0f} s with {workers} "
             "workers), the proxy with the root matrix applied as stored (x @ W, torch-geometric 1.6) and "
             "transposed (x @ W^T, the recursionpharma port).", "",
             "| reading | Spearman with Vina -E |", "|---|---|"]
    lines += [f"| {name} | {rho:.3f} |" for name, rho in result["spearman"].items()]
    (OUT / "proxy_vs_vina.md").write_text("\n".join(lines) + "\n")
    print(result["spearman"], f"{len(ok)}/{n} docked in {dock_seconds:.0f} s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
