"""``prune()``: checkpoint (or module) + task + target -> a smaller standard autogt model and a report.

Pipeline: resolve the model (autogt checkpoint, ``AutoGTModel``, or a plain PyTorch module through
:func:`~autogt.compress.from_module`) -> score it -> prune it (``l0``: mask training with the Lagrangian and
distillation, exact target fitting, physical removal; ``magnitude`` / ``taylor``: Torch-Pruning) ->
fine-tune for ``finetune_epochs`` -> score it again -> write ``model.safetensors``, ``report.json`` and
``report.md`` to ``out`` -> record the result in the bank (when :mod:`autogt.bank` is importable).

Example:
    >>> from autogt.compress import prune                                          # doctest: +SKIP
    >>> r = prune("runs/gps-bbbp/model.safetensors", "bbbp", "flops=0.5", out="runs/gps-bbbp-pruned")  # doctest: +SKIP
    >>> r.after["flops"] / r.before["flops"] <= 0.5                                # doctest: +SKIP
    True
"""

from __future__ import annotations

import copy
import dataclasses
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from autogt.compress._config import PruneConfig, PruneResult, Target, parse_targets
from autogt.compress._cost import CostModel
from autogt.compress._edges import EdgeFilter, FilteredModel
from autogt.compress._layout import make_layout
from autogt.compress._remove import derive_spec, layer_summary, remove
from autogt.compress._report import write_report
from autogt.compress._train import (
    MaskTrainConfig,
    final_mask,
    finetune,
    recalibrate_norms,
    score,
    train_masks,
)

__all__ = ["prune", "load_pruned", "resolve_model"]


# ----------------------------------------------------------------------------- inputs
def _load_task(task: Any) -> Any:
    if hasattr(task, "graphs"):
        return task
    from autogt.data import load_task

    return load_task(task)


def _check_dims(model_task: Any, task: Any) -> None:
    from autogt.models.plan import TaskInfo

    a, b = TaskInfo.of(model_task), TaskInfo.of(task)
    for key in ("level", "num_outputs", "node_dim", "edge_dim", "atom_vocab", "bond_vocab"):
        if getattr(a, key) != getattr(b, key) and not (key == "edge_dim" and not a.edge_dim):
            raise ValueError(f"the model was built for {key}={getattr(a, key)!r} but the task has "
                             f"{key}={getattr(b, key)!r}; prune it on the data it was trained for")


def resolve_model(obj: Any, task: Any, cfg: PruneConfig | None = None) -> tuple[nn.Module, Any, Any]:
    """``(AutoGTModel copy, spec, target_scaler)`` from a checkpoint path, an ``AutoGTModel`` or a module.

    Plain-PyTorch checkpoints need ``cfg.entry_point`` (``module:function`` returning the module; the file
    then holds a weights-only state dict) or ``cfg.trust_pickle`` (``torch.load(weights_only=False)`` of a
    whole pickled module, which runs code from the file: only for files you trust).
    """
    from autogt.models.model import AutoGTModel

    cfg = cfg or PruneConfig()
    if isinstance(obj, (str, Path)):
        from autogt.train.checkpoint import CheckpointError, load_model

        try:
            model, ckpt = load_model(obj)
        except CheckpointError as exc:
            if cfg.entry_point is None and not cfg.trust_pickle:
                raise ValueError(
                    f"{obj}: not an autogt checkpoint ({exc}). For a plain PyTorch model pass an entry point "
                    "(--module pkg.mod:build, a function returning the module; the file is then read as a "
                    "weights-only state dict) or, for a torch.save'd whole module you trust, --trust-pickle"
                ) from exc
            module = _load_plain(Path(obj), cfg)
            from autogt.compress._convert import from_module

            spec, state, _info = from_module(module, task)
            from autogt.models import build_model

            model = build_model(spec, task)
            model.load_state_dict(state)
            return model.eval(), spec, None
        _check_dims(ckpt.task_info, task)
        return model.eval(), ckpt.spec, ckpt.target_scaler
    if isinstance(obj, AutoGTModel):
        return copy.deepcopy(obj).eval(), obj.spec, None
    if isinstance(obj, nn.Module):
        from autogt.compress._convert import from_module
        from autogt.models import build_model

        spec, state, _info = from_module(obj, task)
        model = build_model(spec, task)
        model.load_state_dict(state)
        return model.eval(), spec, None
    raise TypeError(f"expected a checkpoint path, an AutoGTModel or an nn.Module, got {type(obj).__name__}")


def _load_plain(path: Path, cfg: PruneConfig) -> nn.Module:
    if cfg.entry_point is not None:
        import importlib

        mod_name, sep, fn_name = cfg.entry_point.partition(":")
        if not sep or not mod_name or not fn_name:
            raise ValueError(f"entry point: expected 'package.module:function', got {cfg.entry_point!r}")
        fn = getattr(importlib.import_module(mod_name), fn_name)
        module = fn()
        if not isinstance(module, nn.Module):
            raise ValueError(f"entry point {cfg.entry_point} returned {type(module).__name__}, not an nn.Module")
        try:
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        except Exception:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
            if isinstance(state, dict) and set(state) == {"state_dict"}:
                state = state["state_dict"]
        module.load_state_dict(state)
        return module.eval()
    obj = torch.load(str(path), map_location="cpu", weights_only=False)  # opt-in: cfg.trust_pickle
    if not isinstance(obj, nn.Module):
        raise ValueError(f"{path}: --trust-pickle expects a torch.save'd nn.Module, got {type(obj).__name__}")
    return obj.eval()


# ----------------------------------------------------------------------------- measurements
def _latency_batch(task: Any, n: int) -> Any:
    from torch_geometric.data import Batch

    order = [int(i) for key in ("test", "valid", "train") for i in task.split[key]]
    return Batch.from_data_list([task.graphs[i] for i in order[:n]])


def measure(model: nn.Module, spec: Any, task: Any, cost: CostModel, *, scaler: Any, cfg: PruneConfig,
            edge_keep: float = 1.0, device_profile: Any = None) -> dict[str, Any]:
    """``metric val test params flops latency_ms`` (and ``latency_pred_ms`` with a device profile)."""
    from autogt.hardware.flops import count_flops
    from autogt.train.loop import measure_latency

    out: dict[str, Any] = {"metric": task.metric}
    out.update(score(model, spec, task, scaler=scaler, device=cfg.torch_device))
    out["params"] = int(sum(p.numel() for p in model.parameters()))
    flops = float(count_flops(spec, {**cost.stats, "edges_mean": cost.stats["edges_mean"] * edge_keep},
                              task=cost.info))
    if isinstance(model, FilteredModel) and model.edge_filter is not None:
        flops += model.edge_filter.flops(cost.stats["nodes_mean"], cost.stats["edges_mean"])
    out["flops"] = flops
    if task.level == "graph":
        b = _latency_batch(task, cfg.latency_batch or spec.batch_size).to(cfg.torch_device)
        out["latency_ms"] = measure_latency(model, b, cfg.latency_repeats)
    else:
        from torch_geometric.data import Batch

        out["latency_ms"] = measure_latency(model, Batch.from_data_list([task.graphs[0]]), cfg.latency_repeats)
    if device_profile is not None:
        from autogt.hardware import predict_latency

        stats = {**cost.stats, "edges_mean": cost.stats["edges_mean"] * edge_keep}
        out["latency_pred_ms"] = float(predict_latency(spec, device_profile, batch=cfg.latency_batch,
                                                       stats=stats, task=cost.info))
    return out


def _to_bank(task: Any, spec: Any, after: dict[str, Any], cfg: PruneConfig, target: str) -> None:
    if not cfg.bank:
        return
    try:
        from autogt.bank import Bank
    except ImportError:
        return
    try:
        bank = Bank()
        bank.add_result(task, spec, {"status": "ok", "metric": after["metric"], "val": after["val"],
                                     "test": after["test"], "params": after["params"], "flops": after["flops"],
                                     "latency_ms": after["latency_ms"], "target": str(target)},
                        seed=cfg.seed, fidelity=f"prune-{cfg.method}-{cfg.epochs}+{cfg.finetune_epochs}",
                        source=f"prune:{cfg.method}", device="cpu")
        bank.close()
    except Exception as exc:  # the bank is a side record; a failure there must not lose the pruned model
        warnings.warn(f"could not record the prune result in the bank: {exc}", stacklevel=2)


# ----------------------------------------------------------------------------- prune
def prune(checkpoint_or_model: Any, task: Any, target: str | Target | Sequence[str | Target], *,
          method: str | None = None,
          epochs: int | None = None, seed: int | None = None, out: str | Path | None = None,
          config: PruneConfig | None = None, target_scaler: Any = None, **overrides: Any) -> PruneResult:
    """Prune a model to a cost target; return the smaller standard model, its spec and a report.

    Args:
        checkpoint_or_model: an autogt checkpoint path, an ``AutoGTModel``, a supported plain module
            (see :func:`~autogt.compress.from_module`) or a plain-PyTorch checkpoint path (with
            ``entry_point`` or ``trust_pickle`` in the config).
        task: a ``Task`` or anything ``autogt.load_task`` takes (the data the model was trained on).
        target: ``flops=F`` / ``params=P`` / ``latency=R`` (fractions of the dense model) or ``latency_ms=L``
            (see :class:`~autogt.compress.Target`); several, comma-separated (``flops=0.3,latency=0.4``),
            prune to the first and keep the others as upper bounds (``l0`` only).
        method: ``l0`` (default), ``magnitude`` or ``taylor``.
        epochs: mask-training epochs (``l0``).
        seed: seed of gates, batch order and dropout.
        out: folder for ``model.safetensors``, ``report.json`` and ``report.md``.
        config: a :class:`PruneConfig`; ``method``/``epochs``/``seed`` and ``**overrides`` replace its fields.
        target_scaler: for an in-memory regression model trained on standardised targets, its
            ``TargetScaler`` (``result.extra["target_scaler"]`` of ``autogt.train``); checkpoints carry their own.

    Returns:
        A :class:`PruneResult`.

    Raises:
        ValueError: bad target, incompatible task, or a module the converter cannot represent.

    Example:
        >>> r = prune(model, task, "flops=0.5", epochs=5, out="runs/pruned")   # doctest: +SKIP
        >>> r.spec.layers[0].heads, r.after["flops"] / r.before["flops"]       # doctest: +SKIP
    """
    from autogt.train.loop import attach_pe, seed_everything

    cfg = config or PruneConfig()
    changes: dict[str, Any] = {k: v for k, v in (("method", method), ("epochs", epochs), ("seed", seed))
                               if v is not None}
    cfg = dataclasses.replace(cfg, **changes, **overrides)
    targets = parse_targets(target)
    tgt = targets[0]
    if len(targets) > 1 and cfg.method != "l0":
        raise ValueError(f"method {cfg.method!r} takes one target; only l0 prunes to several "
                         f"({', '.join(map(str, targets))})")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    task = _load_task(task)
    dense, spec, scaler = resolve_model(checkpoint_or_model, task, cfg)
    if target_scaler is not None:
        from autogt.train.metrics import TargetScaler

        scaler = target_scaler if isinstance(target_scaler, TargetScaler) else TargetScaler.from_dict(target_scaler)
    task = attach_pe(task, spec)
    seed_everything(cfg.seed)
    wants_latency = any(t.cost_metric == "latency_ms" for t in targets)
    profile = cfg.device if cfg.device is not None else ("cpu" if wants_latency else None)

    granularities = tuple(cfg.granularities) + (("edges",) if cfg.edges else ())
    layout = make_layout(spec, task, granularities if cfg.method == "l0" else ())
    filt_flops = 0.0
    if layout.edges:
        from autogt.compress._edges import EdgeScorer

        filt_flops = EdgeFilter(EdgeScorer.for_task(task)).flops(task.meta.get("nodes_mean", 0.0),
                                                                 task.meta.get("edges_mean", 0.0))
    costs = [CostModel(layout, task, metric=t.cost_metric, device=profile, batch=cfg.latency_batch,
                       edge_filter_flops=filt_flops) for t in targets]
    ratios = [t.ratio(c.dense) for t, c in zip(targets, costs, strict=True)]
    cost, ratio = costs[0], ratios[0]
    flops_cost = cost if tgt.metric == "flops" else CostModel(make_layout(spec, task, ()), task)
    before = measure(dense, spec, task, flops_cost, scaler=scaler, cfg=cfg, device_profile=profile)
    timings["setup_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    history: list[dict[str, float]] = []
    edges_info: dict[str, Any] | None = None
    edge_keep = 1.0
    if cfg.method == "l0":
        mcfg = MaskTrainConfig(epochs=cfg.epochs, max_steps=cfg.max_steps, warmup=cfg.warmup, harden=cfg.harden,
                               tolerance=cfg.tolerance, gate_lr=cfg.gate_lr,
                               lambda_lr=cfg.lambda_lr, weight_lr=cfg.weight_lr, distill_weight=cfg.distill_weight,
                               hidden_weight=cfg.hidden_weight, task_weight=cfg.task_weight,
                               temperature=cfg.temperature, init_log_alpha=cfg.init_log_alpha,
                               edge_init=cfg.edge_init, relinearize=cfg.relinearize, seed=cfg.seed,
                               progress=cfg.progress, history=history)
        student = copy.deepcopy(dense)
        masker = train_masks(student, layout, task, costs, ratios, mcfg, scaler=scaler, device=cfg.torch_device)
        student = student.cpu()
        values, achieved, edge_keep = final_mask(masker, layout, task, costs, ratios, cfg.tolerance)
        new_spec, new_model = remove(student, layout, values, task)
        layers = layer_summary(layout, values, derive_spec(layout, values))
        edge_filter = EdgeFilter.from_scorer(masker.scorer) if masker.scorer is not None else None
        if edge_filter is not None:
            edges_info = {"kept_fraction": edge_keep, "rule": edge_filter.rule(), "filter": edge_filter.to_dict()}
    else:
        from autogt.compress._tp import tp_prune

        new_spec, new_model = tp_prune(dense, spec, task, cost, ratio, importance=cfg.method, scaler=scaler,
                                       seed=cfg.seed, device=cfg.torch_device)
        achieved = cost.exact(new_spec) / cost.dense
        layers = _tp_layers(spec, new_spec)
        edge_filter = None
    timings["prune_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    pruned: nn.Module = FilteredModel(new_model, edge_filter) if edge_filter is not None else new_model
    if cfg.recalibrate:
        pruned = recalibrate_norms(pruned, new_spec, task, seed=cfg.seed, device=cfg.torch_device)
    pruned = finetune(pruned, new_spec, task, cfg.finetune_epochs, seed=cfg.seed, scaler=scaler,
                      device=cfg.torch_device, progress=cfg.progress).cpu()
    timings["finetune_s"] = time.perf_counter() - t2
    after = measure(pruned, new_spec, task, flops_cost, scaler=scaler, cfg=cfg, edge_keep=edge_keep,
                    device_profile=profile)
    constraints = [{"target": str(t), "target_ratio": r, "achieved_ratio": c.exact(new_spec, edge_keep) / c.dense}
                   for t, r, c in zip(targets, ratios, costs, strict=True)]
    result = PruneResult(spec=new_spec, model=pruned, before=before, after=after, layers=layers,
                         target=",".join(map(str, targets)), target_ratio=ratio, achieved_ratio=achieved,
                         edges=edges_info, method=cfg.method, history=history, notes=layout.notes, timings=timings,
                         constraints=constraints)
    if out is not None:
        _write(result, task, scaler, Path(out), cfg)
    _to_bank(task, new_spec, after, cfg, result.target)
    return result


def _tp_layers(spec: Any, new_spec: Any) -> list[dict[str, Any]]:
    rows = []
    for i, (a, b) in enumerate(zip(spec.layers, new_spec.layers, strict=True)):
        rows.append({"layer": i, "kept": True, "local": f"{a.local}->{b.local}", "attn": f"{a.attn}->{b.attn}",
                     "heads_before": a.heads if a.attn != "none" else 0,
                     "heads_after": b.heads if b.attn != "none" else 0,
                     "ffn_before": a.ffn_width(spec.hidden), "ffn_after": b.ffn_width(new_spec.hidden)})
    return rows


def _write(result: PruneResult, task: Any, scaler: Any, out: Path, cfg: PruneConfig) -> None:
    from autogt.train.checkpoint import save_checkpoint

    model = result.model.model if isinstance(result.model, FilteredModel) else result.model
    extra = {k: result.after.get(k) for k in ("metric", "val", "test", "params", "flops", "latency_ms")}
    extra["pruned"] = {"method": result.method, "target": result.target, "achieved_ratio": result.achieved_ratio,
                       "before": result.before, "seed": cfg.seed}
    if result.edges is not None:
        extra["edge_filter"] = result.edges["filter"]
    path = save_checkpoint(out / "model.safetensors", model, result.spec, task, extra=extra, target_scaler=scaler)
    result.checkpoint = str(path)
    report = result.summary()
    report["task"] = getattr(task, "name", "")
    report["config"] = cfg.to_dict()
    js, md = write_report(out, report)
    result.report_json, result.report_md = str(js), str(md)


def load_pruned(path: str | Path, *, device: str = "cpu") -> tuple[nn.Module, Any]:
    """Load a pruned checkpoint: the model wrapped with its edge filter when it has one, and the checkpoint.

    Example:
        >>> model, ckpt = load_pruned("runs/pruned/model.safetensors")   # doctest: +SKIP
        >>> y = ckpt.denormalize(model(batch))                           # doctest: +SKIP
    """
    from autogt.train.checkpoint import load_model

    model, ckpt = load_model(path, device=device)
    filt = ckpt.extra.get("edge_filter")
    if filt:
        return FilteredModel(model, EdgeFilter.from_dict(filt)).eval(), ckpt
    return model, ckpt
