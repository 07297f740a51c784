"""Self-describing checkpoints: one safetensors file holding weights, spec, task and version.

The safetensors header metadata (all strings) holds:

- ``format``: ``autogt-checkpoint``; ``format_version``: ``1``
- ``autogt_version``: the version that wrote the file
- ``spec``: the canonical spec JSON (:meth:`ArchSpec.to_json`)
- ``task``: the task description JSON (:meth:`Task.describe`)
- ``extra``: free JSON (metrics, seed, ...); ``target_scaler``: regression target mean/std, if any

Loading never unpickles anything. The one exception is opt-in: given an explicit ``spec`` (and a
``task`` for :func:`load_model`), :func:`load_checkpoint` also accepts a plain state dict, either a
safetensors file without autogt metadata or a ``torch.save`` file read with
``torch.load(weights_only=True)`` (PyTorch's restricted unpickler: tensors and plain containers only).

Example:
    >>> import torch, tempfile, os
    >>> from autogt.models.spec import ArchSpec
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> task = {"name": "demo", "level": "graph", "kind": "regression", "metric": "rmse", "num_outputs": 1}
    >>> _ = save_checkpoint(path, torch.nn.Linear(2, 1), ArchSpec(hidden=8), task, extra={"val": 0.5})
    >>> ckpt = load_checkpoint(path)
    >>> ckpt.spec.hidden, ckpt.extra["val"], sorted(ckpt.state_dict)
    (8, 0.5, ['bias', 'weight'])
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autogt.models.spec import ArchSpec, SpecError
from autogt.train.metrics import TargetScaler

__all__ = ["Checkpoint", "CheckpointError", "save_checkpoint", "load_checkpoint", "load_model", "checkpoint_file",
           "FORMAT"]

FORMAT = "autogt-checkpoint"
FORMAT_VERSION = "1"


class CheckpointError(ValueError):
    """A file that cannot be read as an autogt checkpoint; the message says why."""


@dataclass
class Checkpoint:
    """What a checkpoint file holds.

    Attributes:
        spec: the architecture.
        task_info: the task description (``Task.describe()``); ``build_model`` accepts it as the task.
        state_dict: the weights (CPU tensors).
        extra: free metadata (metrics, seed...).
        version: autogt version that wrote the file (``""`` for a plain state dict).
        target_scaler: regression target scaling the model was trained with, or ``None``.
        path: where it was read from.
    """

    spec: ArchSpec
    task_info: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    extra: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    target_scaler: TargetScaler | None = None
    path: str = ""

    def denormalize(self, out: torch.Tensor) -> torch.Tensor:
        """Map raw model outputs to target units (identity unless trained with target scaling).

        Example:
            >>> ckpt = load_checkpoint(path)                                     # doctest: +SKIP
            >>> model, ckpt = load_model(path); y = ckpt.denormalize(model(batch))  # doctest: +SKIP
        """
        return self.target_scaler.inverse(out) if self.target_scaler is not None else out


def _task_info(task: Any) -> dict[str, Any]:
    if task is None:
        return {}
    if isinstance(task, Mapping):
        return dict(task)
    describe = getattr(task, "describe", None)
    if callable(describe):
        return dict(describe())
    raise TypeError(f"task: expected a Task or a dict, got {type(task).__name__}")


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module | Mapping[str, torch.Tensor],
    spec: ArchSpec,
    task: Any,
    extra: dict[str, Any] | None = None,
    *,
    target_scaler: TargetScaler | None = None,
) -> Path:
    """Write ``model``'s weights and their description to one safetensors file.

    Args:
        path: destination file (parent folders are created); written atomically.
        model: the module, or its state dict.
        spec: the architecture the weights belong to.
        task: the ``Task`` (or its ``describe()`` dict) the model was built for.
        extra: JSON-able metadata, e.g. metrics.
        target_scaler: regression target scaling to undo at prediction time.

    Returns:
        The path written.

    Example:
        >>> save_checkpoint("runs/x/model.safetensors", model, spec, task, {"val": 0.8})  # doctest: +SKIP
    """
    from safetensors.torch import save_file

    from autogt import __version__

    state = model.state_dict() if isinstance(model, nn.Module) else dict(model)
    # clone: safetensors refuses tensors that share storage (tied weights, views)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items() if isinstance(v, torch.Tensor)}
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "autogt_version": __version__,
        "spec": spec.to_json(),
        "task": json.dumps(_task_info(task), sort_keys=True, default=_json_default),
        "extra": json.dumps(extra or {}, sort_keys=True, default=_json_default),
    }
    if target_scaler is not None:
        metadata["target_scaler"] = json.dumps(target_scaler.to_dict())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def _json(metadata: dict[str, str], key: str, path: Path) -> Any:
    try:
        return json.loads(metadata.get(key) or "{}")
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: corrupt {key!r} metadata: {exc}") from exc


def _read_safetensors(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises SafetensorError / OSError for unreadable files
        raise CheckpointError(f"{path}: not a readable safetensors file (truncated or another format): {exc}") from exc
    return metadata, tensors


def _read_torch_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: neither a safetensors file nor a torch weights-only state dict: {exc}") from exc
    if isinstance(obj, Mapping) and set(obj) == {"state_dict"}:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: the torch file does not hold a state dict (a mapping of name -> tensor)")
    return {str(k): v for k, v in obj.items()}


def checkpoint_file(path: str | os.PathLike[str]) -> Path:
    """The checkpoint file ``path`` names: the file itself, or ``model.safetensors`` in a run folder (what
    ``autogt train --out`` and ``autogt prune --out`` write).

    Raises:
        CheckpointError: nothing there, or a folder without ``model.safetensors``.

    Example:
        >>> checkpoint_file("runs/train-bbbp-0123")  # doctest: +SKIP
        PosixPath('runs/train-bbbp-0123/model.safetensors')
    """
    path = Path(path)
    if path.is_dir():
        if (path / "model.safetensors").is_file():
            return path / "model.safetensors"
        raise CheckpointError(f"{path}: a folder without model.safetensors (pass the checkpoint file)")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    return path


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    spec: ArchSpec | None = None,
    task: Any = None,
) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the ``.safetensors`` file, or a run folder holding ``model.safetensors``.
        spec: only for plain state dicts (no autogt metadata): the architecture of the weights. Giving
            it also allows a ``torch.save`` state dict, read with ``torch.load(weights_only=True)``.
            For an autogt checkpoint it overrides the stored spec.
        task: only with ``spec``: the ``Task`` or ``describe()`` dict (needed by :func:`load_model`).

    Returns:
        A :class:`Checkpoint`.

    Raises:
        CheckpointError: missing, truncated or foreign file, or corrupt metadata.

    Example:
        >>> ckpt = load_checkpoint("runs/train-bbbp-0123/model.safetensors")  # doctest: +SKIP
        >>> ckpt.spec, ckpt.extra["test"]                                      # doctest: +SKIP
    """
    path = checkpoint_file(path)
    try:
        metadata, tensors = _read_safetensors(path)
    except CheckpointError:
        if spec is None:
            raise
        return Checkpoint(spec=spec, task_info=_task_info(task), state_dict=_read_torch_state_dict(path),
                          path=str(path))
    if metadata.get("format") != FORMAT:
        if spec is None:
            found = metadata.get("format")
            raise CheckpointError(
                f"{path}: a safetensors file but not an autogt checkpoint "
                f"(metadata format is {found!r}, expected {FORMAT!r}); pass spec= to load plain weights"
            )
        return Checkpoint(spec=spec, task_info=_task_info(task), state_dict=tensors, path=str(path))
    try:
        stored_spec = ArchSpec.from_json(metadata.get("spec", ""))
    except SpecError as exc:
        if spec is None:
            raise CheckpointError(f"{path}: invalid spec in checkpoint: {exc}") from exc
        stored_spec = spec
    scaler_data = _json(metadata, "target_scaler", path)
    try:
        scaler = TargetScaler.from_dict(scaler_data) if scaler_data else None
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: corrupt 'target_scaler' metadata: {exc}") from exc
    return Checkpoint(
        spec=spec if spec is not None else stored_spec,
        task_info=_task_info(task) if task is not None else _json(metadata, "task", path),
        state_dict=tensors,
        extra=_json(metadata, "extra", path),
        version=metadata.get("autogt_version", ""),
        target_scaler=scaler,
        path=str(path),
    )


def load_model(
    path: str | os.PathLike[str],
    *,
    spec: ArchSpec | None = None,
    task: Any = None,
    device: str | torch.device = "cpu",
) -> tuple[nn.Module, Checkpoint]:
    """Rebuild the model of a checkpoint: ``build_model(spec, task_info)`` + strict ``load_state_dict``.

    Returns the module in eval mode on ``device`` and the :class:`Checkpoint`. For regression models
    trained with target scaling, ``ckpt.denormalize(model(batch))`` gives predictions in target units.

    Raises:
        CheckpointError: unreadable file, no task description, or weights that do not fit the spec.

    Example:
        >>> model, ckpt = load_model("runs/train-bbbp-0123/model.safetensors")  # doctest: +SKIP
    """
    from autogt.models import build_model

    ckpt = load_checkpoint(path, spec=spec, task=task)
    if not ckpt.task_info:
        raise CheckpointError(f"{path}: no task description; pass task= (a Task or its describe() dict)")
    model = build_model(ckpt.spec, ckpt.task_info)
    try:
        model.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match spec {ckpt.spec.hash()}: {exc}") from exc
    return model.to(device).eval(), ckpt
