"""On-disk cache of processed data: plain tensors in one safetensors file, never pickle.

A cache entry is ``{name: tensor}`` plus ``{key: str}`` metadata. The file name carries a content key
(hash of the source bytes + featurizer version + options), so a changed source file simply misses
the cache; stale entries for the same source path are deleted when a new one is written. A file that
cannot be read (truncated, corrupt, wrong format) is treated as a miss and rebuilt.

Example:
    >>> import torch
    >>> from autogt.data._cache import save_entry, load_entry
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "demo.safetensors"
    >>> save_entry(p, {"a": torch.arange(3)}, {"note": "hi"})
    >>> load_entry(p)[1]["note"]
    'hi'
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch

from autogt.data._warn import warn

__all__ = ["file_digest", "cache_path", "save_entry", "load_entry"]


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def cache_path(folder: Path, source: Path, key: str) -> Path:
    """``folder/<stem>-<hash of the absolute source path>-<key>.safetensors``."""
    stem = source.name.split(".")[0] or "data"
    where = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:8]
    return folder / f"{stem}-{where}-{key[:20]}.safetensors"


def save_entry(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Atomically write ``tensors`` + ``metadata``; remove older entries of the same source."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; a cache entry is as readable as any other file
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only or full cache must not break loading
        warn(f"could not write data cache {path}: {exc}")
        Path(tmp).unlink(missing_ok=True)
        return
    prefix = path.name.rsplit("-", 1)[0] + "-"
    for old in path.parent.glob(prefix + "*.safetensors"):
        if old != path:
            old.unlink(missing_ok=True)


def load_entry(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]] | None:
    """Read an entry; ``None`` if missing or unreadable (the caller rebuilds it)."""
    if not path.is_file():
        return None
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open has no __iter__
    except Exception as exc:  # noqa: BLE001 - any failure to read means "rebuild"
        warn(f"ignoring unreadable data cache {path.name} ({type(exc).__name__}); rebuilding")
        return None
    return tensors, metadata
