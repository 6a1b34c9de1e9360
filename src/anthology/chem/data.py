"""Where the molecular data files come from: never downloaded behind the user's back.

A file is looked up, in order, in an explicit directory (a function argument or `--data-dir`), in
`$ANTHOLOGY_DATA` (tests and CI point it at `../shared/data`), and in the user cache
`$ANTHOLOGY_CACHE/data` (default `~/.cache/anthology/data`). The cache is filled only by an explicit
`fetch_data_files()` (`anthology data fetch`), which downloads each file from its public source and checks
its SHA-256. When no place has a file, the error names the file and both ways to provide it.

The 2021 sEH proxy's weights are published as a gzipped pickle of 22 numpy arrays. `fetch` converts it
to npz with an unpickler that only accepts numpy's array reconstruction (no other code can run), then
checks the arrays' digest.

MOSES SMILES come from the `molsets` wheel (installed without its dependencies, which do not build on
Python 3.11), located through the installed package.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib.util
import io
import os
import pathlib
import pickle
import shutil
import tempfile
import urllib.request
from typing import ClassVar

import numpy as np

from anthology.core.errors import AnthologyError, MissingExtraError
from anthology.core.run_dir import cache_root

DATA_ENV = "ANTHOLOGY_DATA"
_GFLOWNET = "https://raw.githubusercontent.com/GFNOrg/gflownet/master/mols/data"


@dataclasses.dataclass(frozen=True)
class DataFile:
    name: str  # path under the data directory
    url: str
    sha256: str  # of the file as stored (for the proxy: of its arrays, see `array_digest`)
    what: str


DATA_FILES: dict[str, DataFile] = {f.name: f for f in (
    DataFile("seh/4jnc.nohet.aligned.pdbqt", f"{_GFLOWNET}/seh/4jnc/4jnc.nohet.aligned.pdbqt",
             "8cb486ad58eb4f2554adbf27d6f06fc9fc676e325ace4b240f4e1d0b5f068d71", "sEH receptor prepared for Vina"),
    DataFile("seh/4jnc.pdb", f"{_GFLOWNET}/seh/4jnc/4jnc.pdb",
             "220ef07db2a4acdaa9401f71e38391efa5bee11812fcbc89f5af175bb59b7b54", "sEH crystal structure 4JNC"),
    DataFile("seh/lig.pdb", f"{_GFLOWNET}/seh/4jnc/lig.pdb",
             "f5d575db3a5f400df9dc78baefd29761cb048e7195a347983c34d756ce84eede", "co-crystallised ligand"),
    DataFile("seh/seh_chembl_ic50.csv", f"{_GFLOWNET}/seh/seh_chembl.csv",
             "f25b2365bdcbfafcf6acaf39c260689e65d2108055207a67b64a58412661000b", "measured sEH activities (ChEMBL)"),
    DataFile("seh/seh_proxy_2021_params.npz", f"{_GFLOWNET}/pretrained_proxy/best_params.pkl.gz",
             "c760f1ba2b3282d3c4f1b60f64f002ffadfae74fcc3a1ecee2f89211f3c4f8b4", "2021 sEH proxy weights"),
    DataFile("fragments/blocks_PDB_105.json", f"{_GFLOWNET}/blocks_PDB_105.json",
             "0fcc09130c2e03046ecf3ccc6cb5f903abdb912a541b3f9f2d4578ab01453b88", "105-block fragment library"),
)}
ARRAY_DIGEST_FILES = {"seh/seh_proxy_2021_params.npz"}


def cache_dir() -> pathlib.Path:
    return cache_root() / "data"


def search_dirs(explicit: str | os.PathLike | None = None) -> list[pathlib.Path]:
    dirs = [pathlib.Path(explicit)] if explicit else []
    if os.environ.get(DATA_ENV):
        dirs.append(pathlib.Path(os.environ[DATA_ENV]))
    return [*dirs, cache_dir()]


def data_file(name: str, explicit: str | os.PathLike | None = None) -> pathlib.Path:
    """The path of a known data file, from the first directory that has it; a one-line error otherwise."""
    if name not in DATA_FILES:
        raise AnthologyError(f"unknown data file '{name}'; known: {', '.join(DATA_FILES)}")
    if explicit and not (pathlib.Path(explicit) / name).is_file():  # never silently take another copy
        raise AnthologyError(f"data file '{name}' is not in the data folder given ({explicit}); put it there, "
                             f"or leave the folder out to use ${DATA_ENV} or the cache (`anthology data list`)")
    for folder in search_dirs(explicit):
        if (folder / name).is_file():
            return folder / name
    raise AnthologyError(f"data file '{name}' ({DATA_FILES[name].what}) not found in "
                         f"{', '.join(str(d) for d in search_dirs(explicit))}; set {DATA_ENV}=<folder holding it> "
                         f"or run `anthology data fetch` once while online")


def file_digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def array_digest(arrays: dict[str, np.ndarray]) -> str:
    """A digest of named arrays that does not depend on how they were serialised."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(key.encode())
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def verify(name: str, path: pathlib.Path) -> bool:
    if name in ARRAY_DIGEST_FILES:
        with np.load(path) as z:
            return array_digest({k: z[k] for k in z.files}) == DATA_FILES[name].sha256
    return file_digest(path) == DATA_FILES[name].sha256


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and containers of them; refuses every other global (so no code runs)."""

    ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset({("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar")})

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")
        return super().find_class(module, name)


def proxy_pickle_to_arrays(raw: bytes) -> dict[str, np.ndarray]:
    """The 22 arrays of the published proxy pickle (gzipped), as p00..p21 in their stored order."""
    loaded = _ArrayOnlyUnpickler(io.BytesIO(gzip.decompress(raw))).load()
    arrays = list(loaded.values()) if isinstance(loaded, dict) else list(loaded)
    return {f"p{i:02d}": np.asarray(a, dtype=np.float32) for i, a in enumerate(arrays)}


def fetch_data_files(names: list[str] | None = None, dest: pathlib.Path | None = None,
                     opener=urllib.request.urlopen) -> list[pathlib.Path]:
    """Download the named files (default: all) into `dest` (default: the cache), verifying each; returns
    their paths. Without `dest`, a file already found by `data_file` (e.g. in $ANTHOLOGY_DATA) that
    verifies is not downloaded again."""
    written = []
    for name in names or list(DATA_FILES):
        spec = DATA_FILES[name]
        if dest is None:
            found = next((d / name for d in search_dirs() if (d / name).is_file()), None)
            if found is not None and verify(name, found):
                written.append(found)
                continue
        target = (dest or cache_dir()) / name
        if target.is_file() and verify(name, target):
            written.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with opener(spec.url) as response:
                raw = response.read()
        except OSError as err:
            raise AnthologyError(f"could not download {spec.url} ({err}); copy '{name}' into "
                                 f"{dest or cache_dir()} or set {DATA_ENV}") from err
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            staged = pathlib.Path(tmp) / pathlib.Path(name).name
            if name in ARRAY_DIGEST_FILES:
                np.savez(staged, **proxy_pickle_to_arrays(raw))
            else:
                staged.write_bytes(raw)
            if not verify(name, staged):
                raise AnthologyError(f"'{name}' downloaded from {spec.url} does not match its checksum; "
                                     "the source changed: report it, or supply the file yourself")
            shutil.move(staged, target)
        written.append(target)
    return written


def moses_smiles(split: str = "train", limit: int | None = None) -> list[str]:
    """MOSES SMILES (train: 1,584,663; test: 176,074; test_scaffolds: 176,225) from the molsets wheel."""
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("MOSES data come from the molsets wheel: pip install --no-deps molsets")
    path = pathlib.Path(next(iter(spec.submodule_search_locations))) / "dataset" / "data" / f"{split}.csv.gz"
    if not path.is_file():
        raise AnthologyError(f"no MOSES split '{split}' in {path.parent}; use train, test or test_scaffolds")
    out: list[str] = []
    with gzip.open(path, "rt") as handle:
        header = handle.readline().strip().split(",")
        column = header.index("SMILES")
        for line in handle:
            out.append(line.rstrip("\n").split(",")[column])
            if limit is not None and len(out) >= limit:
                break
    return out
