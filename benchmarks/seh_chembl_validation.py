"""How far can the sEH oracles be trusted? Spearman correlation of Vina's -E and of the 2021 proxy's score
with measured sEH activities (pChEMBL values from the shared ChEMBL export).

The measured set is de-duplicated by canonical SMILES (mean pChEMBL per molecule). The proxy scores every
molecule; Vina (exhaustiveness 1, sEH 4JNC box) a seeded random sample. Docks go through the SQLite cache
in runs/lambdazero/oracle_cache.sqlite, so an interrupted run resumes where it stopped. Writes
results/lambdazero/chembl_validation.{json,md}.

    ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/seh_chembl_validation.py [SAMPLE] [WORKERS]
"""

from __future__ import annotations

import csv
import json
import pathlib
import random
import sys
import time
from collections import defaultdict

import numpy as np
from scipy.stats import spearmanr

from anthology.chem.data import data_file
from anthology.chem.oracles import CachedOracle, OracleCache, ProxyOracle, VinaOracle
from anthology.chem.scoring import canonical_smiles

ROOT = pathlib.Path(__file__).parents[1]
OUT = ROOT / "results" / "lambdazero"


def measured_activities() -> dict[str, float]:
    """Canonical SMILES -> mean pChEMBL over the export's rows that have one."""
    values: dict[str, list[float]] = defaultdict(list)
    with open(data_file("seh/seh_chembl_ic50.csv"), newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            if not row.get("pChEMBL Value"):
                continue
            smiles = canonical_smiles(row["Smiles"])
            if smiles is not None:
                values[smiles].append(float(row["pChEMBL Value"]))
    return {s: float(np.mean(v)) for s, v in values.items()}


def main(sample: int = 200, workers: int = 2, seed: int = 0) -> None:
    activity = measured_activities()
    smiles = sorted(activity)
    cache = OracleCache(ROOT / "runs" / "lambdazero" / "oracle_cache.sqlite")
    proxy = CachedOracle(ProxyOracle(str(data_file("seh/seh_proxy_2021_params.npz"))), cache).score(smiles)
    chosen = random.Random(seed).sample(smiles, min(sample, len(smiles)))
    tick = time.perf_counter()
    vina = CachedOracle(VinaOracle(str(data_file("seh/4jnc.nohet.aligned.pdbqt")), exhaustiveness=1, seed=seed,
                                   workers=workers), cache).score(chosen)
    seconds = time.perf_counter() - tick
    proxy_by = {r.smiles: r.value for r in proxy if r.status == "ok"}
    docked = [r for r in vina if r.status == "ok"]
    rho = {
        "proxy_all": spearmanr([proxy_by[s] for s in smiles if s in proxy_by],
                               [activity[s] for s in smiles if s in proxy_by]).statistic,
        "proxy_sample": spearmanr([proxy_by[r.smiles] for r in docked], [activity[r.smiles] for r in docked]).statistic,
        "vina_sample": spearmanr([r.value for r in docked], [activity[r.smiles] for r in docked]).statistic,
        "vina_vs_proxy_sample": spearmanr([r.value for r in docked], [proxy_by[r.smiles] for r in docked]).statistic,
    }
    result = {"command": f"ANTHOLOGY_DATA=../shared/data python benchmarks/seh_chembl_validation.py {sample} {workers}",
              "measured_molecules": len(smiles), "proxy_scored": len(proxy_by), "vina_sample": len(chosen),
              "vina_docked": len(docked), "vina_failed": len(chosen) - len(docked), "dock_seconds": seconds,
              "spearman": {k: float(v) for k, v in rho.items()}}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "chembl_validation.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# sEH oracles against measured activities (ChEMBL pChEMBL values)", "",
             f"Command: `{result['command']}`. {len(smiles)} distinct molecules with a pChEMBL value; the proxy "
             f"scores all of them, Vina (exhaustiveness 1, sEH 4JNC) a random sample of {len(chosen)} "
             f"({len(docked)} docked, {result['vina_failed']} failed; {seconds:.0f} s with {workers} workers, "
             "cached docks not re-run).", "",
             "| oracle | molecules | Spearman with pChEMBL |", "|---|---|---|",
             f"| 2021 sEH proxy | {len(proxy_by)} | {rho['proxy_all']:.3f} |",
             f"| 2021 sEH proxy | {len(docked)} (the docked sample) | {rho['proxy_sample']:.3f} |",
             f"| Vina -E, exhaustiveness 1 | {len(docked)} | {rho['vina_sample']:.3f} |", "",
             f"Vina against the proxy on the same sample: Spearman {rho['vina_vs_proxy_sample']:.3f}."]
    (OUT / "chembl_validation.md").write_text("\n".join(lines) + "\n")
    print(result["spearman"], f"{len(docked)}/{len(chosen)} docked in {seconds:.0f} s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
