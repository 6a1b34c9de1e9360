"""The chemistry tests need RDKit (the chem extra, installed by make test) and read data from
$ANTHOLOGY_DATA, which defaults here to ../shared/data beside the checkout (as in CI)."""

import os
import pathlib

import pytest

pytest.importorskip("rdkit", reason="the chem extra (RDKit) is installed by make test")

SHARED_DATA = pathlib.Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture
def shared_data(monkeypatch):
    if not (SHARED_DATA / "seh").is_dir() and not os.environ.get("ANTHOLOGY_DATA"):
        pytest.skip("no ../shared/data beside the checkout and no ANTHOLOGY_DATA")
    if not os.environ.get("ANTHOLOGY_DATA"):
        monkeypatch.setenv("ANTHOLOGY_DATA", str(SHARED_DATA.resolve()))
    return pathlib.Path(os.environ["ANTHOLOGY_DATA"])
