import gzip
import io
import pickle

import numpy as np
import pytest

from anthology.chem.data import (
    DATA_FILES,
    array_digest,
    data_file,
    fetch_data_files,
    proxy_pickle_to_arrays,
    verify,
)
from anthology.core.errors import AnthologyError


def test_shared_files_resolve_and_match_their_checksums(shared_data):
    for name in DATA_FILES:
        path = data_file(name)
        assert path.is_relative_to(shared_data) and verify(name, path), name


def test_a_missing_file_names_both_ways_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHOLOGY_DATA", raising=False)
    monkeypatch.setenv("ANTHOLOGY_CACHE", str(tmp_path))
    with pytest.raises(AnthologyError, match=r"ANTHOLOGY_DATA=.*anthology data fetch"):
        data_file("seh/lig.pdb")
    with pytest.raises(AnthologyError, match="unknown data file"):
        data_file("seh/nothing.csv")


def test_fetch_downloads_verifies_and_refuses_a_changed_source(tmp_path, shared_data):
    served = {DATA_FILES["seh/lig.pdb"].url: (shared_data / "seh" / "lig.pdb").read_bytes()}

    def opener(url):
        return io.BytesIO(served[url])

    (path,) = fetch_data_files(["seh/lig.pdb"], dest=tmp_path, opener=opener)
    assert path.read_bytes() == served[DATA_FILES["seh/lig.pdb"].url]
    served[DATA_FILES["seh/lig.pdb"].url] = b"HETATM changed"
    path.unlink()
    with pytest.raises(AnthologyError, match="checksum"):
        fetch_data_files(["seh/lig.pdb"], dest=tmp_path, opener=opener)


def test_the_proxy_pickle_converts_to_the_shared_arrays_without_running_code(shared_data):
    with np.load(shared_data / "seh" / "seh_proxy_2021_params.npz") as z:
        arrays = [z[k] for k in sorted(z.files)]
    raw = gzip.compress(pickle.dumps(arrays))
    converted = proxy_pickle_to_arrays(raw)
    assert array_digest(converted) == DATA_FILES["seh/seh_proxy_2021_params.npz"].sha256

    class Evil:
        def __reduce__(self):
            return (print, ("ran code",))

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        proxy_pickle_to_arrays(gzip.compress(pickle.dumps([Evil()])))


def test_the_cli_lists_where_each_file_is_found(shared_data, capsys):
    from anthology.cli import main

    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert str(shared_data) in out and "missing" not in out
    assert main(["data", "fetsh"]) == 2  # one line, with a suggestion
    assert "Did you mean 'fetch'" in capsys.readouterr().err


def test_fetch_skips_files_already_found_in_the_data_folder(shared_data):
    def opener(url):
        raise AssertionError(f"downloaded {url} although the data folder has it")

    (path,) = fetch_data_files(["fragments/blocks_PDB_105.json"], opener=opener)
    assert path == shared_data / "fragments/blocks_PDB_105.json"


def test_a_data_folder_that_lacks_the_file_is_an_error_not_a_silent_fallback(shared_data, tmp_path):
    from anthology.chem.data import data_file
    from anthology.core.errors import AnthologyError

    assert data_file("seh/lig.pdb").is_file()  # found through $ANTHOLOGY_DATA
    with pytest.raises(AnthologyError, match="not in the data folder given"):
        data_file("seh/lig.pdb", tmp_path)
