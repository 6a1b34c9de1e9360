"""The chemistry tests need RDKit (the chem extra, installed by make test); the `shared_data` fixture
is in tests/conftest.py."""

import pytest

pytest.importorskip("rdkit", reason="the chem extra (RDKit) is installed by make test")
