"""RDKit molecule scores and sample-set metrics (the `chem` extra).

Per molecule: QED, synthetic accessibility (SA, Ertl & Schuffenhauer 2009, RDKit's Contrib scorer),
Crippen logP, TPSA, molecular weight, ring count and structural-alert count (RDKit's PAINS and Brenk
filter catalogues). Per set: validity, uniqueness, novelty against a reference set, internal diversity
(mean pairwise Tanimoto distance of Morgan fingerprints) and Bemis-Murcko scaffold count.

An invalid SMILES never raises here: its scores are NaN and `valid` is False. `score_smiles` splits a
large batch over worker processes (`workers`), each of which imports RDKit once.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from anthology.core.errors import require

PROPERTIES = ("qed", "sa", "logp", "tpsa", "mw", "rings", "alerts")
PARALLEL_MIN_BATCH = 2000  # below this a process pool costs more than it saves
MORGAN_RADIUS, MORGAN_BITS = 2, 2048


def _rdkit() -> Any:
    return require("rdkit.Chem", "chem")


@functools.cache
def _sascorer() -> Any:
    """RDKit's Contrib SA scorer (shipped inside the rdkit wheel, not importable as a package)."""
    rdconfig = require("rdkit.RDConfig", "chem")
    path = os.path.join(rdconfig.RDContribDir, "SA_Score", "sascorer.py")
    spec = importlib.util.spec_from_file_location("anthology_sascorer", path)
    if spec is None or spec.loader is None or not os.path.exists(path):
        raise FileNotFoundError(f"RDKit's SA scorer is missing ({path}); reinstall rdkit")
    module = importlib.util.module_from_spec(spec)
    sys.modules["anthology_sascorer"] = module
    spec.loader.exec_module(module)
    return module


@functools.cache
def _alert_catalog() -> Any:
    filter_catalog = require("rdkit.Chem.FilterCatalog", "chem")
    params = filter_catalog.FilterCatalogParams()
    for catalog in (params.FilterCatalogs.PAINS, params.FilterCatalogs.BRENK):
        params.AddCatalog(catalog)
    return filter_catalog.FilterCatalog(params)


MAX_SMILES_LENGTH = 1000  # far above drug-like molecules; RDKit's parser can crash the process on huge inputs


def smiles_problem(smiles: Any) -> str | None:
    """Why a string must not reach RDKit, or None: RDKit stops parsing at a non-ASCII character (so the
    string would be scored, and cached, as another molecule), and an extremely long SMILES can crash the
    process with a segmentation fault."""
    if not isinstance(smiles, str) or not smiles:
        return "empty or not a string"
    if not smiles.isascii():
        return "contains a non-ASCII character"
    if len(smiles) > MAX_SMILES_LENGTH:
        return f"longer than {MAX_SMILES_LENGTH} characters"
    return None


def to_mol(smiles: str) -> Any | None:
    """The RDKit molecule, or None for an empty, unparsable or refused SMILES (`smiles_problem`; RDKit's own
    warnings silenced)."""
    chem = _rdkit()
    if smiles_problem(smiles) is not None:
        return None
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    try:
        return chem.MolFromSmiles(smiles)
    finally:
        RDLogger.EnableLog("rdApp.*")


def canonical_smiles(smiles: str) -> str | None:
    """RDKit's canonical SMILES, or None when the SMILES does not parse."""
    mol = to_mol(smiles)
    return None if mol is None else _rdkit().MolToSmiles(mol)


def score_mol(mol: Any) -> dict[str, float]:
    from rdkit.Chem import QED, Crippen, Descriptors, rdMolDescriptors

    return {"qed": float(QED.qed(mol)), "sa": float(_sascorer().calculateScore(mol)),
            "logp": float(Crippen.MolLogP(mol)), "tpsa": float(rdMolDescriptors.CalcTPSA(mol)),
            "mw": float(Descriptors.MolWt(mol)), "rings": float(rdMolDescriptors.CalcNumRings(mol)),
            "alerts": float(len(_alert_catalog().GetMatches(mol)))}


def molecular_weights(smiles: Sequence[str]) -> np.ndarray:
    """RDKit's average molecular weight of each SMILES (NaN when it does not parse): a cheap first gate
    before `score_smiles`, whose QED, SA and alert matching cost milliseconds per molecule."""
    from rdkit.Chem import Descriptors

    mols = [to_mol(s) for s in smiles]
    return np.array([math.nan if m is None else Descriptors.MolWt(m) for m in mols], dtype=float)


@functools.lru_cache(maxsize=200_000)
def _score_one(smiles: str) -> tuple[tuple[str, float], ...]:
    """One SMILES's properties, remembered: searches re-score the molecules they revisit every round."""
    mol = to_mol(smiles)
    scores = score_mol(mol) if mol is not None else dict.fromkeys(PROPERTIES, math.nan)
    return (("valid", mol is not None), *scores.items())


def _score_chunk(smiles: Sequence[str]) -> list[dict[str, float]]:
    return [dict(_score_one(s)) for s in smiles]


def score_smiles(smiles: Sequence[str], workers: int = 1) -> list[dict[str, float]]:
    """Every property of every SMILES, in order; invalid ones get `valid: False` and NaN scores."""
    smiles = list(smiles)
    if workers <= 1 or len(smiles) < PARALLEL_MIN_BATCH:
        return _score_chunk(smiles)
    chunks = [smiles[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_score_chunk, chunks))
    out: list[dict[str, float]] = [{}] * len(smiles)
    for i, part in enumerate(parts):
        out[i::workers] = part
    return out


def morgan_fingerprints(mols: Iterable[Any]) -> list[Any]:
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=MORGAN_RADIUS, fpSize=MORGAN_BITS)
    return [generator.GetFingerprint(m) for m in mols]


def internal_diversity(mols: Sequence[Any]) -> float:
    """Mean pairwise Tanimoto distance (1 - similarity) over distinct pairs; NaN for fewer than 2."""
    if len(mols) < 2:
        return math.nan
    from rdkit import DataStructs

    fps = morgan_fingerprints(mols)
    total = 0.0
    for i in range(1, len(fps)):
        total += float(np.sum(DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i])))
    pairs = len(fps) * (len(fps) - 1) / 2
    return 1.0 - total / pairs


def scaffold(mol: Any) -> str:
    from rdkit.Chem.Scaffolds import MurckoScaffold

    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol)


def sample_metrics(smiles: Sequence[str], reference: Iterable[str] = (),
                   known: set[str] | None = None) -> dict[str, float]:
    """validity, uniqueness (among valid), novelty (unique valid not in `reference`, canonicalised, or
    not in `known`, a set of canonical SMILES computed once), internal diversity and scaffold count of
    the unique valid molecules."""
    chem = _rdkit()
    mols = [to_mol(s) for s in smiles]
    valid = [m for m in mols if m is not None]
    unique: dict[str, Any] = {}
    for m in valid:
        unique.setdefault(chem.MolToSmiles(m), m)
    if known is None:
        known = {c for c in (canonical_smiles(s) for s in reference) if c is not None}
    n = max(len(smiles), 1)
    return {"validity": len(valid) / n, "uniqueness": len(unique) / max(len(valid), 1),
            "novelty": (sum(s not in known for s in unique) / len(unique)) if unique else math.nan,
            "internal_diversity": internal_diversity(list(unique.values())),
            "scaffolds": float(len({scaffold(m) for m in unique.values()}))}
