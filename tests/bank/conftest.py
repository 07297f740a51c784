from __future__ import annotations

import pytest

from autogt.bank import Bank


@pytest.fixture
def bank(tmp_path):
    """An empty SQLite-file bank without shipped records."""
    b = Bank(tmp_path / "bank.db", shipped=False)
    yield b
    b.close()
