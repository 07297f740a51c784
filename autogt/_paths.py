"""Where autogt finds its bundled resources and writes its caches.

Bundled resources (``data/``, ``search_spaces/``, ``bank/``, ``profiles/``) live at the top of the
source tree, next to the ``autogt`` package; autogt is installed editable (``pip install -e .``).
``AUTOGT_HOME`` (default ``~/.autogt``) holds caches and the default bank.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ROOT", "resource", "home", "cache_dir"]

ROOT = Path(__file__).resolve().parent.parent


def resource(*parts: str) -> Path:
    """Path of a bundled resource, e.g. ``resource("data", "moleculenet", "BBBP.csv")``."""
    return ROOT.joinpath(*parts)


def home() -> Path:
    """``$AUTOGT_HOME`` or ``~/.autogt`` (created on first use)."""
    path = Path(os.environ.get("AUTOGT_HOME", Path.home() / ".autogt")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(*parts: str) -> Path:
    """A cache folder under ``home()/cache`` (created on first use)."""
    path = home().joinpath("cache", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
