from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def write_csv(tmp_path):
    """Write rows (list of lists; the first is the header) to a CSV file and return its path."""

    def _write(rows: list[list[object]], name: str = "mols.csv") -> Path:
        path = tmp_path / name
        path.write_text("\n".join(",".join("" if v is None else str(v) for v in row) for row in rows) + "\n")
        return path

    return _write
