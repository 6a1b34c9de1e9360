"""Oracle throughput on this machine: Vina docks per minute with 1 and 2 worker processes, the cache-hit
path, the sEH proxy, and RDKit scoring per core. Writes results/lambdazero/throughput.{json,md}.

    ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/docking_throughput.py [N_DOCK]
    ANTHOLOGY_DATA=../shared/data .venv/bin/python benchmarks/docking_throughput.py N_DOCK ray

The second form (extra `ray`) measures only the Ray path on a private local cluster and replaces the Ray
rows of the committed table, leaving the others as they were measured.
"""

from __future__ import annotations

import json
import pathlib
import random
import sys
import tempfile
import time

from anthology.chem.data import data_file, moses_smiles
from anthology.chem.oracles import CachedOracle, OracleCache, ProxyOracle, VinaOracle
from anthology.chem.scoring import score_smiles

OUT = pathlib.Path(__file__).parents[1] / "results" / "lambdazero"


def timed(fn):
    tick = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - tick


def ray_rows(dock_set: list[str], receptor: str, workers: int = 2) -> list[dict]:
    import ray

    _, start_seconds = timed(lambda: ray.init(num_cpus=workers, log_to_driver=False, include_dashboard=False))
    rows = [{"what": "Ray: start a local cluster (once per process)", "items": 0, "ok": 0, "seconds": start_seconds,
             "per_minute": 0.0}]
    with tempfile.TemporaryDirectory() as tmp:
        oracle = CachedOracle(VinaOracle(receptor, exhaustiveness=1, workers=workers, ray_address="local"),
                              OracleCache(pathlib.Path(tmp) / "cache-ray.sqlite"))
        results, seconds = timed(lambda: oracle.score(dock_set))
    ray.shutdown()
    rows.append({"what": f"Vina, exhaustiveness 1, Ray, {workers} workers (worker start included)",
                 "items": len(dock_set), "ok": sum(r.status == "ok" for r in results), "seconds": seconds,
                 "per_minute": 60 * len(dock_set) / seconds})
    return rows


def write(result: dict) -> None:
    rows = result["rows"]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Oracle throughput (2-core machine, no GPU)", "", f"Command: `{result['command']}`; the Ray rows: "
             f"`{result.get('ray_command', 'not measured')}`. Molecules from the MOSES test split. Docks include "
             "ligand preparation (RDKit ETKDG + MMFF, meeko) and each worker's one-off Vina grid maps.", "",
             "| what | molecules | ok | seconds | per minute |", "|---|---|---|---|---|"]
    lines += [f"| {r['what']} | {r['items']} | {r['ok']} | {r['seconds']:.2f} | {r['per_minute']:.0f} |" for r in rows]
    (OUT / "throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(n_dock: int = 16, only_ray: bool = False) -> None:
    pool = moses_smiles("test", limit=20_000)
    dock_set = random.Random(1).sample(pool, n_dock)
    receptor = str(data_file("seh/4jnc.nohet.aligned.pdbqt"))
    if only_ray:
        result = json.loads((OUT / "throughput.json").read_text())
        result["rows"] = [r for r in result["rows"] if not r["what"].startswith("Ray") and "Ray," not in r["what"]]
        result["rows"] += ray_rows(dock_set, receptor)
        result["ray_command"] = f"ANTHOLOGY_DATA=../shared/data python benchmarks/docking_throughput.py {n_dock} ray"
        write(result)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            cache = OracleCache(pathlib.Path(tmp) / f"cache-{workers}.sqlite")
            oracle = CachedOracle(VinaOracle(receptor, exhaustiveness=1, workers=workers), cache)
            results, seconds = timed(lambda oracle=oracle: oracle.score(dock_set))
            ok = sum(r.status == "ok" for r in results)
            rows.append({"what": f"Vina, exhaustiveness 1, {workers} worker(s)", "items": n_dock, "ok": ok,
                         "seconds": seconds, "per_minute": 60 * n_dock / seconds})
            if workers == 2:
                _, hit_seconds = timed(lambda oracle=oracle: oracle.score(dock_set))
                rows.append({"what": "cache hits (same molecules again)", "items": n_dock, "ok": n_dock,
                             "seconds": hit_seconds, "per_minute": 60 * n_dock / hit_seconds})
    proxy = ProxyOracle(str(data_file("seh/seh_proxy_2021_params.npz")))
    scored = pool[:2000]
    _, seconds = timed(lambda: proxy.score(scored))
    rows.append({"what": "sEH proxy, batched, 1 thread", "items": len(scored), "ok": len(scored),
                 "seconds": seconds, "per_minute": 60 * len(scored) / seconds})
    big = pool[:5000]
    for workers in (1, 2):
        _, seconds = timed(lambda workers=workers: score_smiles(big, workers=workers))
        rows.append({"what": f"RDKit QED+SA+logP+TPSA+MW+rings+alerts, {workers} process(es)", "items": len(big),
                     "ok": len(big), "seconds": seconds, "per_minute": 60 * len(big) / seconds})
    result = {"command": f"ANTHOLOGY_DATA=../shared/data python benchmarks/docking_throughput.py {n_dock}",
              "rows": rows}
    write(result)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 16, "ray" in sys.argv[2:])
