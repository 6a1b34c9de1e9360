"""Oracles behind one interface, every call stored in an embedded SQLite cache.

An oracle maps canonical SMILES to a score (higher is better) or to a recorded failure; it never raises
for a bad molecule. Three kinds:

- `VinaOracle`: AutoDock Vina against the sEH receptor 4JNC (box and receptor of the original work),
  ligands embedded by RDKit (ETKDG + MMFF, seeded) and prepared by meeko; the score is -E (kcal/mol).
  Docks run in worker processes, each with its own Vina grid maps; a dock that exceeds `timeout` is
  recorded as a timeout and its worker is replaced.
- `ProxyOracle`: the 2021 sEH proxy (`chem.seh_proxy`), batched in-process.
- `RDKitOracle`: any property of `chem.scoring` (QED, -SA, ...).

`CachedOracle` puts any of them behind the cache, keyed by canonical SMILES, oracle name and settings:
a repeated molecule is never scored twice, and each result is committed as soon as it arrives (docks
come back in completion order, not behind a slow one), so a killed run loses no finished dock.
Transient failures (a timeout, a worker that died) are recorded but not served from the cache: the next
call retries them. A SMILES that is not ASCII or is longer than `MAX_SMILES_LENGTH` is refused before
RDKit sees it (`chem.scoring.to_mol`), and a malformed answer of an oracle is a recorded failure.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
import os
import pathlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from anthology.chem.scoring import canonical_smiles, score_smiles, smiles_problem, to_mol
from anthology.core.errors import AnthologyError, require
from anthology.core.parallel import imap_with_timeout

SEH_BOX_CENTER = (-13.4, 26.3, -13.3)  # Angstrom, the co-crystal ligand's site (LambdaZero / GFlowNet)
SEH_BOX_SIZE = (20.0, 16.3, 18.5)


@dataclasses.dataclass(frozen=True)
class OracleResult:
    smiles: str
    value: float | None  # None when status is not "ok"
    status: str  # ok | invalid | failed | timeout | crashed
    message: str = ""
    seconds: float = 0.0
    cached: bool = False


class Oracle(Protocol):
    name: str

    def settings(self) -> dict[str, Any]: ...

    def score(self, smiles: Sequence[str]) -> Iterable[OracleResult]:
        """One result per SMILES, each carrying its SMILES, in any order; may be a generator yielding
        results as they complete (the cache stores each as it comes)."""


TRANSIENT = frozenset({"timeout", "crashed"})  # may succeed when tried again


# ---- the cache ------------------------------------------------------------------------------------
class OracleCache:
    """SQLite table of oracle results keyed by (canonical SMILES, oracle, settings)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, smiles TEXT, oracle TEXT, "
                        "settings TEXT, value REAL, status TEXT, message TEXT, seconds REAL, created REAL)")
        self.db.commit()

    @staticmethod
    def key(smiles: str, oracle: str, settings: dict[str, Any]) -> str:
        text = json.dumps([smiles, oracle, settings], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, smiles: str, oracle: str, settings: dict[str, Any]) -> OracleResult | None:
        """The stored result, or None when there is none or it was a transient failure (retried)."""
        row = self.db.execute("SELECT value, status, message, seconds FROM results WHERE key = ?",
                              (self.key(smiles, oracle, settings),)).fetchone()
        if row is None or row[1] in TRANSIENT:
            return None
        return OracleResult(smiles, row[0], row[1], row[2], row[3], cached=True)

    def put(self, result: OracleResult, oracle: str, settings: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (self.key(result.smiles, oracle, settings), result.smiles, oracle,
                         json.dumps(settings, sort_keys=True), result.value, result.status, result.message,
                         result.seconds, time.time()))
        self.db.commit()

    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        self.db.close()


class CachedOracle:
    """An oracle behind the cache; `score` canonicalises, answers repeats from the cache and stores every
    new result the moment the wrapped oracle returns it."""

    def __init__(self, oracle: Any, cache: OracleCache) -> None:
        self.oracle, self.cache = oracle, cache
        self.name = oracle.name

    def settings(self) -> dict[str, Any]:
        return self.oracle.settings()

    def score(self, smiles: Sequence[str]) -> list[OracleResult]:
        """One result per input, in input order."""
        settings = self.oracle.settings()
        out: list[OracleResult | None] = []
        todo: dict[str, list[int]] = {}
        for i, s in enumerate(smiles):
            problem = smiles_problem(s)
            canonical = None if problem else canonical_smiles(s)
            if canonical is None:
                out.append(OracleResult(s, None, "invalid", problem or "RDKit cannot parse this SMILES"))
                continue
            hit = self.cache.get(canonical, self.name, settings)
            out.append(hit)
            if hit is None:
                todo.setdefault(canonical, []).append(i)
        if todo:
            for answer in self.oracle.score(list(todo)):
                result = self.checked(answer, todo, out)
                if result is None:
                    continue
                self.cache.put(result, self.name, settings)
                for i in todo[result.smiles]:
                    out[i] = result
            for canonical, indices in todo.items():  # asked for, never answered
                if out[indices[0]] is None:
                    missing = OracleResult(canonical, None, "crashed", f"{self.name} returned no result for it")
                    self.cache.put(missing, self.name, settings)
                    for i in indices:
                        out[i] = missing
        return [r for r in out if r is not None]

    def checked(self, answer: Any, todo: dict[str, list[int]], out: list[OracleResult | None]) -> OracleResult | None:
        """The oracle's answer if it is well formed; otherwise a recorded failure for the molecule it names,
        or None when it names no molecule that was asked for (it is then reported as missing)."""
        smiles = answer.get("smiles") if isinstance(answer, dict) else getattr(answer, "smiles", None)
        if not isinstance(smiles, str) or smiles not in todo or out[todo[smiles][0]] is not None:
            return None
        value = getattr(answer, "value", None)  # a dict is malformed whatever it holds
        well_formed = isinstance(answer, OracleResult) and (
            answer.status != "ok" or (isinstance(value, int | float) and math.isfinite(value)))
        if well_formed:
            return answer
        return OracleResult(smiles, None, "failed", f"{self.name} returned a malformed result: {answer!r}"[:300])


# ---- RDKit and proxy oracles ------------------------------------------------------------------------
@dataclasses.dataclass
class RDKitOracle:
    prop: str = "qed"
    sign: float = 1.0  # -1 to minimise (e.g. SA)

    @property
    def name(self) -> str:
        return f"rdkit-{self.prop}"

    def settings(self) -> dict[str, Any]:
        return {"prop": self.prop, "sign": self.sign}

    def score(self, smiles: Sequence[str]) -> list[OracleResult]:
        return [OracleResult(s, self.sign * r[self.prop], "ok") if r["valid"]
                else OracleResult(s, None, "invalid", "RDKit cannot parse this SMILES")
                for s, r in zip(smiles, score_smiles(smiles))]


@dataclasses.dataclass
class ProxyOracle:
    weights: str  # path of seh_proxy_2021_params.npz
    root_as_stored: bool = True
    name: str = "seh-proxy-2021"

    def __post_init__(self) -> None:
        import numpy as np

        from anthology.chem.data import array_digest
        from anthology.chem.seh_proxy import FEATURIZER_VERSION, SEHProxy

        self.model = SEHProxy.from_npz(self.weights, self.root_as_stored)
        with np.load(self.weights) as z:
            digest = array_digest({k: z[k] for k in z.files})
        # everything a score depends on, so that the cache never serves a score made with other weights
        # or another featuriser
        self._settings = {"root_as_stored": self.root_as_stored, "weights_sha256": digest,
                          "featurizer": FEATURIZER_VERSION}

    def settings(self) -> dict[str, Any]:
        return dict(self._settings)

    def score(self, smiles: Sequence[str]) -> list[OracleResult]:
        mols = [to_mol(s) for s in smiles]
        good = [i for i, m in enumerate(mols) if m is not None]
        tick = time.perf_counter()
        values = self.model.score_mols([mols[i] for i in good]).tolist() if good else []
        each = (time.perf_counter() - tick) / max(len(good), 1)
        by_index = dict(zip(good, values))
        return [OracleResult(s, by_index[i], "ok", seconds=each) if i in by_index
                else OracleResult(s, None, "invalid", "RDKit cannot parse this SMILES") for i, s in enumerate(smiles)]


# ---- Vina ---------------------------------------------------------------------------------------------
_VINA: dict[tuple, Any] = {}  # per worker process: grid maps are computed once per receptor and box


def _vina_for(receptor: str, center: tuple, size: tuple, seed: int) -> Any:
    key = (receptor, center, size, seed)
    if key not in _VINA:
        vina = require("vina", "chem")
        v = vina.Vina(sf_name="vina", cpu=1, seed=seed, verbosity=0)
        v.set_receptor(receptor)
        v.compute_vina_maps(center=list(center), box_size=list(size))
        _VINA[key] = v
    return _VINA[key]


def prepare_ligand(smiles: str, seed: int) -> str:
    """PDBQT text of one RDKit conformer (ETKDG, then MMFF) prepared by meeko; raises ValueError."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = to_mol(smiles)
    if mol is None:
        raise ValueError("RDKit cannot parse this SMILES")
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise ValueError("RDKit could not embed a 3-D conformer")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMolecule(mol)
    meeko = require("meeko", "chem")
    setups = meeko.MoleculePreparation().prepare(mol)
    pdbqt, ok, error = meeko.PDBQTWriterLegacy.write_string(setups[0])
    if not ok:
        raise ValueError(f"meeko could not prepare the ligand: {error}")
    return pdbqt


def dock_one(smiles: str, receptor: str, center: tuple, size: tuple, exhaustiveness: int,
             seed: int) -> OracleResult:
    """Dock one ligand in this process; failures are results, not exceptions."""
    tick = time.perf_counter()
    try:
        ligand = prepare_ligand(smiles, seed)
        v = _vina_for(receptor, center, size, seed)
        v.set_ligand_from_string(ligand)
        v.dock(exhaustiveness=exhaustiveness, n_poses=1)
        energy = float(v.energies(n_poses=1)[0][0])
        if not math.isfinite(energy):
            raise ValueError("Vina returned a non-finite energy")
        return OracleResult(smiles, -energy, "ok", seconds=time.perf_counter() - tick)
    except Exception as err:
        return OracleResult(smiles, None, "failed", f"{type(err).__name__}: {err}"[:300],
                            time.perf_counter() - tick)


def run_with_timeout(fn: Callable[..., OracleResult], items: Sequence[str], args: tuple, workers: int,
                     timeout: float) -> Iterator[OracleResult]:
    """Yield fn(item, *args) for every item as it completes, computed in `workers` spawned processes; an
    item over `timeout` seconds becomes a timeout result, one whose worker dies a crash result, at once
    (`core.parallel.imap_with_timeout`)."""
    results = imap_with_timeout(fn, items, args, workers, timeout,
                                lambda item: OracleResult(item, None, "timeout", f"over {timeout:g} s"),
                                lambda item, why: OracleResult(item, None, "crashed", why))
    return (result for _, result in results)


def check_receptor(path: str) -> None:
    """Parse the receptor once in this process, so a broken file is one clear error, not a failed dock each call."""
    vina = require("vina", "chem")
    try:
        vina.Vina(sf_name="vina", cpu=1, verbosity=0).set_receptor(str(path))
    except (TypeError, RuntimeError, ValueError) as err:
        reason = next((line.strip() for line in str(err).splitlines() if "error" in line.lower()), str(err).strip())
        raise AnthologyError(f"receptor file {path} does not parse as PDBQT ({reason}); prepare it for Vina "
                             "(e.g. with meeko's mk_prepare_receptor) or use `anthology data fetch`") from err


RAY_START_TIMEOUT = 600.0


def run_on_ray(fn: Callable[..., OracleResult], items: Sequence[str], args: tuple, workers: int, timeout: float,
               address: str) -> Iterator[OracleResult]:
    """`run_with_timeout` on a Ray cluster (extra `ray`): at most `workers` tasks in flight, results in
    completion order, a task over `timeout` seconds cancelled and recorded as a timeout. `address` is passed to
    `ray.init` ("auto", "ray://head:10001"; "local" starts a private local cluster)."""
    ray = require("ray", "ray")
    if not ray.is_initialized():
        local = address == "local"
        ray.init(address=None if local else address, num_cpus=workers if local else None, log_to_driver=False,
                 include_dashboard=False)
    remote = ray.remote(num_cpus=1, max_retries=0)(fn)
    # start the workers and import fn's module before any call's clock starts (a cold worker takes
    # seconds to a minute to import torch and RDKit on a busy machine)
    warm = ray.remote(num_cpus=1)(importlib.import_module)
    ready, _ = ray.wait([warm.remote(fn.__module__) for _ in range(workers)], num_returns=workers,
                        timeout=RAY_START_TIMEOUT)
    if len(ready) < workers:
        raise AnthologyError(f"Ray started {len(ready)} of {workers} workers in {RAY_START_TIMEOUT:g} s; check "
                             f"the cluster at {address} (`ray status`) or use fewer workers")
    started: dict[Any, tuple[int, float]] = {}
    queue = list(range(len(items)))
    while queue or started:
        while queue and len(started) < workers:
            i = queue.pop(0)
            started[remote.remote(items[i], *args)] = (i, time.monotonic())
        ready, _ = ray.wait(list(started), num_returns=1, timeout=1.0)
        for ref in ready:
            i, _ = started.pop(ref)
            try:
                yield ray.get(ref)
            except Exception as err:  # a worker that died: a recorded crash, never a crashed loop
                yield OracleResult(items[i], None, "crashed", f"ray task failed: {type(err).__name__}: {err}"[:300])
        now = time.monotonic()
        for ref, (i, since) in list(started.items()):
            if now - since > timeout:
                ray.cancel(ref, force=True)
                started.pop(ref)
                yield OracleResult(items[i], None, "timeout", f"over {timeout:g} s")


@dataclasses.dataclass
class VinaOracle:
    receptor: str  # path of the receptor PDBQT
    center: tuple[float, float, float] = SEH_BOX_CENTER
    size: tuple[float, float, float] = SEH_BOX_SIZE
    exhaustiveness: int = 1
    seed: int = 0
    workers: int = 1
    timeout: float = 120.0
    ray_address: str | None = None
    """Dock on this Ray cluster instead of local processes (extra `ray`; "local" starts one here)."""
    name: str = "vina-seh-4jnc"

    def __post_init__(self) -> None:
        require("vina", "chem")
        require("meeko", "chem")
        if not pathlib.Path(self.receptor).is_file():
            raise AnthologyError(f"receptor file {self.receptor} not found; see `anthology data list`")
        check_receptor(self.receptor)
        # the receptor's content, not its file name, keys the cache
        self._receptor_sha256 = hashlib.sha256(pathlib.Path(self.receptor).read_bytes()).hexdigest()

    def settings(self) -> dict[str, Any]:
        return {"receptor": pathlib.Path(self.receptor).name, "receptor_sha256": self._receptor_sha256,
                "center": list(self.center), "size": list(self.size), "exhaustiveness": self.exhaustiveness,
                "seed": self.seed}

    def score(self, smiles: Sequence[str]) -> Iterator[OracleResult]:
        args = (str(self.receptor), tuple(self.center), tuple(self.size), self.exhaustiveness, self.seed)
        if self.ray_address:
            return run_on_ray(dock_one, list(smiles), args, self.workers, self.timeout, self.ray_address)
        return run_with_timeout(dock_one, list(smiles), args, self.workers, self.timeout)
