from __future__ import annotations

import os

import pytest
import torch

# Keep tests on 2 CPU cores deterministic and isolated from the user's home.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _autogt_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.getbasetemp() / "autogt_home"
    monkeypatch.setenv("AUTOGT_HOME", str(home))
    yield
