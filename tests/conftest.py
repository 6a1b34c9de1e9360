"""Test set-up: one thread, CPU, deterministic algorithms, a private dataset cache; `unit` by default."""

from __future__ import annotations

import os
import pathlib

import pytest
import torch

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["ANTHOLOGY_CACHE"] = str(tmp_path_factory.mktemp("anthology-cache"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(m) for m in ("learning", "slow")):
            item.add_marker(pytest.mark.unit)


# Chemistry data: $ANTHOLOGY_DATA, which defaults here to ../shared/data beside the checkout (as in CI).
SHARED_DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data(monkeypatch):
    if not (SHARED_DATA / "seh").is_dir() and not os.environ.get("ANTHOLOGY_DATA"):
        pytest.skip("no ../shared/data beside the checkout and no ANTHOLOGY_DATA")
    if not os.environ.get("ANTHOLOGY_DATA"):
        monkeypatch.setenv("ANTHOLOGY_DATA", str(SHARED_DATA.resolve()))
    return pathlib.Path(os.environ["ANTHOLOGY_DATA"])
