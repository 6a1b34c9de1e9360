"""Image classification data without downloads behind the user's back.

- `digits`: scikit-learn's bundled 8x8 digits (1,797 images; always available with the `vision` extra),
  split 80/20 by a fixed permutation.
- `fashion_mnist`: the four IDX files (gzipped or not), looked up, in order, in an explicit directory,
  `$ANTHOLOGY_DATA/fashion-mnist`, the user cache `$ANTHOLOGY_CACHE/data/fashion-mnist`, and Debian's
  `dataset-fashion-mnist` package (`/usr/share/datasets/fashion-mnist`). `fetch_fashion_mnist()` downloads
  them into the cache. Every file's decompressed content is checked against its SHA-256, whatever its source.
- `cifar10`: the binary version (`cifar-10-batches-bin`: data_batch_1..5.bin, test_batch.bin; records of one
  label byte and 3,072 pixel bytes), for users who have it; it is parsed, never unpickled.
When no place has a file, the error names the file and the ways to provide it.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import pathlib
import shutil
import tempfile
import urllib.request

import numpy as np
import torch

from anthology.core.errors import AnthologyError, UnknownNameError, require
from anthology.core.run_dir import cache_root

DATA_ENV = "ANTHOLOGY_DATA"
DEBIAN_FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"
FASHION_FILES = {  # name -> SHA-256 of the decompressed IDX content
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_TEST = "test_batch.bin"
DATASETS = ("digits", "fashion_mnist", "cifar10")


@dataclasses.dataclass(frozen=True)
class ImageData:
    """Images [N, C, H, W] float32 scaled to [0, 1] then standardised by the training set's per-channel
    mean and std; labels [N] int64."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])  # type: ignore[return-value]


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (gzipped or not): magic 0x00 0x00 <type 0x08 = uint8> <dims>, big-endian sizes, data."""
    raw = _read_bytes(pathlib.Path(path))
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise AnthologyError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * dims)
    if data.size != int(np.prod(shape)):
        raise AnthologyError(f"{path} is truncated: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape)


def _read_bytes(path: pathlib.Path) -> bytes:
    with path.open("rb") as fh:
        head = fh.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as fh:
        return fh.read()


def fashion_dirs(explicit: str | os.PathLike | None = None) -> list[pathlib.Path]:
    dirs = [pathlib.Path(explicit)] if explicit else []
    if os.environ.get(DATA_ENV):
        dirs.append(pathlib.Path(os.environ[DATA_ENV]) / "fashion-mnist")
    return [*dirs, cache_root() / "data" / "fashion-mnist", DEBIAN_FASHION]


def find_fashion_file(name: str, explicit: str | os.PathLike | None = None, verify: bool = True) -> pathlib.Path:
    for folder in fashion_dirs(explicit):
        for candidate in (folder / f"{name}.gz", folder / name):
            if candidate.is_file():
                if verify:
                    digest = hashlib.sha256(_read_bytes(candidate)).hexdigest()
                    if digest != FASHION_FILES[name]:
                        raise AnthologyError(f"{candidate} is not the Fashion-MNIST file (SHA-256 of its content "
                                             f"{digest[:12]}..., expected {FASHION_FILES[name][:12]}...); remove it")
                return candidate
    raise AnthologyError(
        f"Fashion-MNIST file '{name}' not found in {', '.join(map(str, fashion_dirs(explicit)))}; install Debian's "
        f"package (apt-get install dataset-fashion-mnist), put the IDX files in a folder given as data_dir or "
        f"${DATA_ENV}/fashion-mnist, or download them once: anthology data fetch fashion_mnist")


def fetch_fashion_mnist(dest: str | os.PathLike | None = None) -> list[pathlib.Path]:
    """Download the four files into the cache (or dest), checking each decompressed content's SHA-256."""
    folder = pathlib.Path(dest) if dest else cache_root() / "data" / "fashion-mnist"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, digest in FASHION_FILES.items():
        target = folder / f"{name}.gz"
        if not (target.is_file() and hashlib.sha256(_read_bytes(target)).hexdigest() == digest):
            with tempfile.NamedTemporaryFile(dir=folder, delete=False) as tmp:
                try:
                    with urllib.request.urlopen(f"{FASHION_URL}/{name}.gz", timeout=60) as response:
                        shutil.copyfileobj(response, tmp)
                except OSError as err:
                    os.unlink(tmp.name)
                    raise AnthologyError(f"could not download {name}.gz ({err}); install Debian's "
                                         f"dataset-fashion-mnist or copy the files into {folder}") from err
            got = hashlib.sha256(_read_bytes(pathlib.Path(tmp.name))).hexdigest()
            if got != digest:
                os.unlink(tmp.name)
                raise AnthologyError(f"{name}.gz downloaded with the wrong content (SHA-256 {got[:12]}...)")
            os.replace(tmp.name, target)
        written.append(target)
    return written


def _standardise(name: str, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 classes: int) -> ImageData:
    train = torch.from_numpy(train_x.astype(np.float32))
    test = torch.from_numpy(test_x.astype(np.float32))
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True).clamp(min=1e-6)
    return ImageData(name, (train - mean) / std, torch.from_numpy(train_y.astype(np.int64)), (test - mean) / std,
                     torch.from_numpy(test_y.astype(np.int64)), classes)


def load_digits() -> ImageData:
    datasets = require("sklearn.datasets", "vision")
    bunch = datasets.load_digits()
    images, labels = bunch.images / 16.0, bunch.target
    order = np.random.default_rng(0).permutation(len(labels))  # a fixed split, the same on every machine
    cut = int(0.8 * len(labels))
    train, test = order[:cut], order[cut:]
    return _standardise("digits", images[train, None], labels[train], images[test, None], labels[test], 10)


def load_fashion_mnist(data_dir: str | os.PathLike | None = None) -> ImageData:
    arrays = {name: read_idx(find_fashion_file(name, data_dir)) for name in FASHION_FILES}
    return _standardise("fashion_mnist", arrays["train-images-idx3-ubyte"][:, None] / 255.0,
                        arrays["train-labels-idx1-ubyte"], arrays["t10k-images-idx3-ubyte"][:, None] / 255.0,
                        arrays["t10k-labels-idx1-ubyte"], 10)


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 binary batch: records of 1 label byte and 3 x 32 x 32 pixel bytes (R, G, B planes)."""
    raw = np.fromfile(path, np.uint8)
    if raw.size == 0 or raw.size % 3073:
        raise AnthologyError(f"{path} is not a CIFAR-10 binary batch ({raw.size} bytes, not a multiple of 3073)")
    records = raw.reshape(-1, 3073)
    labels = records[:, 0]
    if labels.max() > 9:
        raise AnthologyError(f"{path} has labels above 9: not a CIFAR-10 binary batch")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def load_cifar10(data_dir: str | os.PathLike | None = None) -> ImageData:
    candidates = [pathlib.Path(data_dir)] if data_dir else []
    if os.environ.get(DATA_ENV):
        candidates.append(pathlib.Path(os.environ[DATA_ENV]) / "cifar-10-batches-bin")
    candidates.append(cache_root() / "data" / "cifar-10-batches-bin")
    folder = next((c for c in candidates if (c / CIFAR_TEST).is_file()), None)
    if folder is None:
        raise AnthologyError(f"CIFAR-10 ('{CIFAR_TEST}' and data_batch_1..5.bin, the binary version) not found in "
                             f"{', '.join(map(str, candidates))}; give its folder as data_dir or put it in one of these")
    parts = [read_cifar_batch(folder / n) for n in CIFAR_TRAIN if (folder / n).is_file()]
    if not parts:
        raise AnthologyError(f"{folder} has {CIFAR_TEST} but no data_batch_*.bin")
    test_x, test_y = read_cifar_batch(folder / CIFAR_TEST)
    return _standardise("cifar10", np.concatenate([p[0] for p in parts]) / 255.0,
                        np.concatenate([p[1] for p in parts]), test_x / 255.0, test_y, 10)


def load_image_data(name: str, data_dir: str | os.PathLike | None = None) -> ImageData:
    """One of DATASETS; a one-line error for an unknown name or a missing file."""
    if name == "digits":
        return load_digits()
    if name == "fashion_mnist":
        return load_fashion_mnist(data_dir)
    if name == "cifar10":
        return load_cifar10(data_dir)
    raise UnknownNameError("dataset", name, DATASETS)
