"""Image data: the IDX and CIFAR-10 binary readers on generated files, the lookup order, the checksums and the
one-line errors."""

import gzip
import hashlib

import numpy as np
import pytest

from anthology.core.errors import AnthologyError
from anthology.vision import datasets


def write_idx(path, array, compress=True):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(payload)
    return hashlib.sha256(payload).hexdigest()


def test_idx_reader_reads_gzipped_and_raw_files_and_refuses_others(tmp_path):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
    write_idx(tmp_path / "a.gz", images)
    write_idx(tmp_path / "b", images, compress=False)
    assert np.array_equal(datasets.read_idx(tmp_path / "a.gz"), images)
    assert np.array_equal(datasets.read_idx(tmp_path / "b"), images)
    (tmp_path / "c").write_bytes(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"abc")  # float type
    with pytest.raises(AnthologyError, match="magic"):
        datasets.read_idx(tmp_path / "c")
    (tmp_path / "d").write_bytes(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + b"ab")
    with pytest.raises(AnthologyError, match="truncated"):
        datasets.read_idx(tmp_path / "d")


def fake_fashion(folder, monkeypatch, n_train=20, n_test=10):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    digests = {}
    for name, shape in (("train-images-idx3-ubyte", (n_train, 28, 28)), ("train-labels-idx1-ubyte", (n_train,)),
                        ("t10k-images-idx3-ubyte", (n_test, 28, 28)), ("t10k-labels-idx1-ubyte", (n_test,))):
        array = rng.integers(0, 10 if "labels" in name else 256, shape)
        digests[name] = write_idx(folder / f"{name}.gz", array)
    monkeypatch.setattr(datasets, "FASHION_FILES", digests)
    monkeypatch.setattr(datasets, "DEBIAN_FASHION", folder.parent / "no-debian")


def test_fashion_mnist_found_through_the_data_variable_and_standardised(tmp_path, monkeypatch):
    fake_fashion(tmp_path / "data" / "fashion-mnist", monkeypatch)
    monkeypatch.setenv("ANTHOLOGY_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ANTHOLOGY_CACHE", str(tmp_path / "cache"))
    data = datasets.load_image_data("fashion_mnist")
    assert data.train_x.shape == (20, 1, 28, 28) and data.test_x.shape == (10, 1, 28, 28)
    assert abs(float(data.train_x.mean())) < 1e-5 and abs(float(data.train_x.std()) - 1) < 1e-2
    assert data.train_y.max() <= 9


def test_a_wrong_file_and_a_missing_file_are_one_line_errors(tmp_path, monkeypatch):
    fake_fashion(tmp_path / "fm", monkeypatch)
    monkeypatch.delenv("ANTHOLOGY_DATA", raising=False)
    monkeypatch.setenv("ANTHOLOGY_CACHE", str(tmp_path / "cache"))
    write_idx(tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz", np.zeros(10))  # other content
    with pytest.raises(AnthologyError, match="not the Fashion-MNIST file") as err:
        datasets.load_fashion_mnist(tmp_path / "fm")
    assert "\n" not in str(err.value)
    with pytest.raises(AnthologyError, match="dataset-fashion-mnist") as err:
        datasets.load_fashion_mnist(tmp_path / "elsewhere")
    assert "\n" not in str(err.value) and "anthology data fetch fashion_mnist" in str(err.value)


def test_cifar10_binary_batches_are_parsed_not_unpickled(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHOLOGY_DATA", raising=False)
    monkeypatch.setenv("ANTHOLOGY_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(1)
    for name, n in (("data_batch_1.bin", 6), ("data_batch_2.bin", 4), ("test_batch.bin", 3)):
        records = np.concatenate([rng.integers(0, 10, (n, 1)), rng.integers(0, 256, (n, 3072))], 1)
        records.astype(np.uint8).tofile(tmp_path / name)
    data = datasets.load_image_data("cifar10", tmp_path)
    assert data.train_x.shape == (10, 3, 32, 32) and data.test_y.shape == (3,)
    first = np.fromfile(tmp_path / "data_batch_1.bin", np.uint8)[:3073]
    assert int(data.train_y[0]) == first[0]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "test_batch.bin").write_bytes(b"x" * 100)
    with pytest.raises(AnthologyError, match="no data_batch"):
        datasets.load_image_data("cifar10", tmp_path / "bad")
    (tmp_path / "bad" / "data_batch_1.bin").write_bytes(b"x" * 100)
    with pytest.raises(AnthologyError, match="not a CIFAR-10 binary batch"):
        datasets.load_image_data("cifar10", tmp_path / "bad")


def test_digits_split_is_fixed_and_an_unknown_name_is_refused():
    a, b = datasets.load_image_data("digits"), datasets.load_image_data("digits")
    assert a.train_x.shape == (1437, 1, 8, 8) and a.test_x.shape == (360, 1, 8, 8)
    assert (a.train_y == b.train_y).all()
    with pytest.raises(AnthologyError, match="fashion_mnist"):
        datasets.load_image_data("fashion-mnist")
