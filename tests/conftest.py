"""Test set-up: one thread, CPU, deterministic algorithms, a private dataset cache; `unit` by default.

With `ANTHOLOGY_NO_SKIPS=1` (set by `make test`, hence CI) a skipped test fails the session: a missing
extra or data file must not turn a method's tests into silent skips. The count of skipped tests is
printed at the end either way.
"""

from __future__ import annotations

import os
import pathlib

import pytest
import torch

from anthology.chem.data import cache_dir

NO_SKIPS = os.environ.get("ANTHOLOGY_NO_SKIPS") == "1"
USER_DATA = cache_dir()  # where `anthology data fetch` put the files, read before the private cache below

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


def _data_dir() -> pathlib.Path | None:
    """$ANTHOLOGY_DATA, else ../shared/data, else the user cache that `anthology data fetch` fills."""
    if os.environ.get("ANTHOLOGY_DATA"):
        return pathlib.Path(os.environ["ANTHOLOGY_DATA"])
    for folder in (SHARED_DATA, USER_DATA):
        if (folder / "seh").is_dir():
            return folder.resolve()
    return None


@pytest.fixture
def shared_data(monkeypatch):
    folder = _data_dir()
    if folder is None:
        pytest.skip("no molecular data files: run `anthology data fetch` (make test does)")
    monkeypatch.setenv("ANTHOLOGY_DATA", str(folder))
    return folder


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    skipped = len(terminalreporter.stats.get("skipped", []))
    terminalreporter.write_line(f"skipped tests: {skipped}" + (" (ANTHOLOGY_NO_SKIPS=1: each one fails the run)"
                                                                if NO_SKIPS and skipped else ""))


def pytest_sessionfinish(session, exitstatus) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if NO_SKIPS and reporter is not None and reporter.stats.get("skipped") and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
