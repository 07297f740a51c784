"""Mask training (L0 gates + Lagrangian + distillation), target fitting, fine-tuning and scoring.

Mask training optimises, per mini-batch,

    L = w_pred * D(student, teacher) + w_hid * H(student, teacher) + w_task * task_loss
        + lambda1 * (s - t) + lambda2 * (s - t)^2

where ``s = E[cost] / dense cost`` is the differentiable expected cost
(:class:`~autogt.compress._cost.CostModel`), rescaled to the prunable range (``(s - s0) / (1 - s0)`` with
``s0`` the ratio with every gate closed; ``t`` likewise), ``t`` ramps linearly from the initial expected ratio
(a little below 1: gates start mostly open) to the target over the
first ``warmup`` fraction of the steps, the model weights and ``log_alpha`` descend and the two
multipliers ascend (``Adam(maximize=True)``). ``D`` distils the dense model's outputs (MSE for
regression, BCE on its probabilities for binary/multilabel, KL for multiclass) and ``H`` its layer
outputs: each dense layer is matched to the closest student layer of the same width through a learned
linear map (CoFi's layer matching), normalised by the dense layer's variance.

Further targets (bounds: ``flops=0.3,latency=0.4``) add one inequality term each,
``lambda1 * (s_k - t_k) + lambda2 * relu(s_k - t_k)^2`` with ``lambda1 >= 0``, from the end of the
warm-up on (the target has reached its value; the gates then trade one kind of cost for another): it pulls
only while the bound is exceeded, and its multiplier decays back to 0 once it holds.

Afterwards :func:`meet_target` turns the deterministic gates into the final mask and corrects it with
the *exact* cost of the pruned spec (``count_flops`` / ``count_params`` / ``predict_latency``): it
closes the lowest-``log_alpha`` units while the cost is above the target and reopens the highest ones
while it is more than ``tolerance`` below.

Example:
    >>> lag = Lagrangian()
    >>> float(lag(torch.tensor(0.6), 0.5).detach()) == 0.0   # multipliers start at 0
    True
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autogt.compress._cost import CostModel
from autogt.compress._hooks import capture_layer_outputs
from autogt.compress._layout import GateLayout, GateValues
from autogt.compress._masker import HardConcreteMasker, MaskedModel
from autogt.compress._remove import derive_spec, finalize

__all__ = ["Lagrangian", "MaskTrainConfig", "train_masks", "final_mask", "meet_target", "finetune", "score",
           "edge_keep_fraction", "recalibrate_norms"]


class Lagrangian(nn.Module):
    """``lambda1 (s - t) + lambda2 (s - t)^2`` with multipliers trained by gradient *ascent*.

    With ``bound=True`` the constraint is ``s <= t``: the quadratic term sees ``relu(s - t)`` and
    :meth:`project` keeps ``lambda1 >= 0`` (call it after each ascent step).

    Shapes:
        ``s`` scalar tensor, ``t`` float -> scalar.
    """

    def __init__(self, bound: bool = False) -> None:
        super().__init__()
        self.bound = bound
        self.lambda1 = nn.Parameter(torch.zeros(()))
        self.lambda2 = nn.Parameter(torch.zeros(()))

    def forward(self, s: Tensor, t: float) -> Tensor:
        gap = s - t
        sq = torch.relu(gap) if self.bound else gap
        return self.lambda1 * gap + self.lambda2 * sq * sq

    @torch.no_grad()
    def project(self) -> None:
        if self.bound:
            self.lambda1.clamp_(min=0.0)


def ramp(step: int, total_warmup: int, target: float, start: float = 1.0) -> float:
    """Target ratio at ``step``: linear from ``start`` to ``target`` over ``total_warmup`` steps."""
    if total_warmup <= 0:
        return target
    return start - (start - target) * min(1.0, step / total_warmup)


@dataclass
class MaskTrainConfig:
    """Knobs of :func:`train_masks` (see :class:`autogt.compress.PruneConfig` for their meaning)."""

    epochs: int = 10
    max_steps: int | None = None
    warmup: float = 0.5
    harden: float = 0.25
    tolerance: float = 0.02
    gate_lr: float = 0.1
    lambda_lr: float = 0.05
    weight_lr: float | None = None
    distill_weight: float = 1.0
    hidden_weight: float = 0.1
    task_weight: float = 0.5
    temperature: float = 2.0
    init_log_alpha: float = 3.0
    edge_init: float = 1.0
    relinearize: int = 8
    seed: int = 0
    progress: bool = False
    history: list[dict[str, float]] = field(default_factory=list)


def _distill(kind: str, s: Tensor, t: Tensor, temperature: float) -> Tensor:
    if kind == "regression":
        return F.mse_loss(s, t)
    if kind == "multiclass":
        tt = temperature
        return F.kl_div(F.log_softmax(s / tt, -1), F.softmax(t / tt, -1), reduction="batchmean") * tt * tt
    return F.binary_cross_entropy_with_logits(s / temperature, torch.sigmoid(t / temperature)) * temperature ** 2


class _LayerMatch(nn.Module):
    """Learned maps student width -> dense width for hidden-state distillation (identity-initialised)."""

    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        self.maps = nn.ModuleDict()
        for w in sorted(set(widths)):
            lin = nn.Linear(w, w)
            nn.init.eye_(lin.weight)
            nn.init.zeros_(lin.bias)
            self.maps[str(w)] = lin

    def forward(self, student: list[Tensor], teacher: list[Tensor]) -> Tensor:
        total = student[0].new_zeros(())
        count = 0
        for t in teacher:
            t = t.detach()
            var = t.var().clamp_min(1e-6)
            best = None
            for s in student:
                if s.shape != t.shape:
                    continue
                d = F.mse_loss(self.maps[str(s.size(-1))](s), t) / var
                best = d if best is None else torch.minimum(best, d)
            if best is not None:
                total = total + best
                count += 1
        return total / max(count, 1)


def _batches(feeder: Any, epochs: int) -> Iterator[tuple[int, Any]]:
    for epoch in range(1, epochs + 1):
        for batch, _ in feeder.train(epoch):
            yield epoch, batch


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def train_masks(model: nn.Module, layout: GateLayout, task: Any, cost: CostModel | Sequence[CostModel],
                target: float | Sequence[float], cfg: MaskTrainConfig, *, scaler: Any = None, device: str = "cpu",
                on_step: Callable[[dict[str, float]], None] | None = None) -> HardConcreteMasker:
    """Train hard-concrete gates (and the weights) of ``model`` towards ``target`` (a ratio of dense cost).

    ``cost`` and ``target`` may be sequences: the first pair is the target, the others upper bounds.
    ``model`` is updated in place (its weights adapt while the gates close); the dense teacher is a copy
    taken at the start. Returns the trained masker; ``cfg.history`` gets one row per step (``expected``,
    ``target``, ``lambda1``, ``lambda2`` of the first constraint, ``expected.K`` / ``target.K`` of bound K).
    """
    from tqdm.auto import tqdm

    from autogt.train.loop import make_feeder, make_optimizer, resolve_device, seed_everything
    from autogt.train.metrics import loss_fn

    dev = resolve_device(device)
    seed_everything(cfg.seed)
    spec = layout.spec
    teacher = copy.deepcopy(model).to(dev).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    model = model.to(dev)
    masker = HardConcreteMasker(layout, task, init=cfg.init_log_alpha, edge_init=cfg.edge_init).to(dev)
    masked = MaskedModel(model, masker)
    s_out, s_handles = capture_layer_outputs(model)
    t_out, t_handles = capture_layer_outputs(teacher)
    costs, targets = _as_list(cost), [float(t) for t in _as_list(target)]
    if len(costs) != len(targets) or not costs:
        raise ValueError(f"train_masks: {len(costs)} cost models for {len(targets)} targets")
    matcher = _LayerMatch([int(lp.out_dim) for lp in costs[0].plan.layers]).to(dev)
    lags = nn.ModuleList([Lagrangian(bound=k > 0) for k in range(len(costs))]).to(dev)
    lag = lags[0]
    opt_w = make_optimizer(spec, list(model.parameters()) + list(matcher.parameters()))
    if cfg.weight_lr is not None:
        for gr in opt_w.param_groups:
            gr["lr"] = cfg.weight_lr
    groups: list[dict[str, Any]] = [{"params": list(masker.gates.parameters()), "lr": cfg.gate_lr}]
    if masker.scorer is not None:
        # an edge's score sums one term per feature column and endpoint; Adam moves each term by ~lr, so the
        # scorer's lr is divided by their count to move a score about as fast as one gate's log_alpha
        sc = masker.scorer
        terms = 1 + 2 * (len(sc.node_vocab) or sc.node_dim) + (len(sc.edge_vocab) or sc.edge_dim)
        groups.append({"params": list(sc.parameters()), "lr": cfg.gate_lr / terms})
    opt_g = torch.optim.Adam(groups, lr=cfg.gate_lr)
    opt_l = torch.optim.Adam(lags.parameters(), lr=cfg.lambda_lr, maximize=True)
    feeder = make_feeder(task, spec, cfg.seed, dev)
    steps_per_epoch = sum(1 for _ in feeder.train(1))
    total = steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    freeze_at = total - int(round(cfg.harden * total)) if total > 1 else total  # hardening: the last steps
    warm = int(round(cfg.warmup * freeze_at))
    latency_costs = [c for c in costs if c.metric == "latency_ms"]  # the only ones with a surrogate to re-fit
    relin = max(1, freeze_at // (cfg.relinearize + 1)) if cfg.relinearize > 0 and latency_costs else 0
    task_loss = loss_fn(task.kind)
    bar = tqdm(total=total, disable=not cfg.progress, file=sys.stderr, leave=False, desc="mask training",
               unit="step", dynamic_ncols=True)
    # the Lagrangian sees the cost ratio rescaled to the prunable range [floor, 1], so that a target that only
    # touches a small share of the cost (e.g. edges alone) gets as strong a pull as one that touches all of it
    closed = GateValues.ones(layout).map(torch.zeros_like)
    closed.edges = torch.zeros(()) if layout.edges else None
    floors = [min(float(c.ratio(closed).detach()), 1.0 - 1e-3) for c in costs]
    spans = [1.0 - f for f in floors]
    starts: list[float] | None = None  # each ramp starts at the initial expected ratio (gates start below 1):
    # starting at 1 would make lambda1 negative and push every gate open, into saturation, where
    # P(z != 0) no longer responds to log_alpha
    masked.train()
    t0 = time.perf_counter()
    try:
        for step, (_epoch, batch) in enumerate(_batches(feeder, cfg.epochs)):
            if step >= total:
                break
            if step == freeze_at and masked.frozen is None:  # gates final: the weights adapt to the 0/1 mask
                final, achieved, _keep = final_mask(masker, layout, task, costs, targets, cfg.tolerance)
                masked.freeze(final)
            s_out.clear()
            t_out.clear()
            with torch.no_grad():
                t_pred = teacher(batch)
            pred = masked(batch)
            loss = cfg.distill_weight * _distill(task.kind, pred, t_pred, cfg.temperature)
            if cfg.hidden_weight > 0:
                loss = loss + cfg.hidden_weight * matcher(list(s_out), list(t_out))
            if cfg.task_weight > 0:
                y = batch.y if scaler is None else scaler.transform(batch.y)
                loss = loss + cfg.task_weight * task_loss(pred, y)
            opt_w.zero_grad(set_to_none=True)
            opt_g.zero_grad(set_to_none=True)
            opt_l.zero_grad(set_to_none=True)
            extra: dict[str, float] = {}
            if masked.frozen is None:
                if relin and step % relin == 0 and step > 0:  # latency surrogates: re-fit around the current mask
                    current = masker.raw_deterministic()
                    for c in latency_costs:
                        c.relinearize(current)
                probs = masker.open_probs(batch if layout.edges else None)
                ss = [c.ratio(probs) for c in costs]
                if starts is None:
                    starts = [max(float(x.detach()), tk) for x, tk in zip(ss, targets, strict=True)]
                ts = [ramp(step, warm, tk, st) for tk, st in zip(targets, starts, strict=True)]
                # bounds join once the target has ramped down: during the ramp the gates lag behind it, so a
                # bound would be "exceeded" too and its multiplier would add to the pull, overshooting the target
                active = len(costs) if step >= warm else 1
                lag_loss = sum(lg((x - f) / sp, (tk - f) / sp)
                               for lg, x, tk, f, sp in list(zip(lags, ss, ts, floors, spans, strict=True))[:active])
                (loss + lag_loss).backward()
                opt_w.step()
                opt_g.step()  # not while hardening: Adam's momentum would still move the frozen gates
                opt_l.step()
                for lg in lags:
                    lg.project()
                t, expected = ts[0], float(ss[0].detach())
                for k in range(1, len(costs)):
                    extra[f"expected.{k}"], extra[f"target.{k}"] = float(ss[k].detach()), ts[k]
            else:
                loss.backward()
                opt_w.step()
                t, expected = targets[0], achieved
            loss_v = float(loss.detach())
            if not math.isfinite(loss_v):
                raise FloatingPointError(f"non-finite mask-training loss at step {step}")
            row = {"step": float(step), "loss": loss_v, "expected": expected, "target": t,
                   "lambda1": float(lag.lambda1.detach()), "lambda2": float(lag.lambda2.detach()),
                   "frozen": float(masked.frozen is not None), **extra}
            cfg.history.append(row)
            if on_step is not None:
                on_step(row)
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.3g}", s=f"{row['expected']:.3f}", t=f"{t:.3f}")
    finally:
        bar.close()
        for h in s_handles + t_handles:
            h.remove()
        masked.detach()
    model.eval()
    masker.eval()
    masker.train_time_s = time.perf_counter() - t0  # type: ignore[assignment]
    return masker


def final_mask(masker: HardConcreteMasker, layout: GateLayout, task: Any, cost: CostModel | Sequence[CostModel],
               target: float | Sequence[float], tolerance: float) -> tuple[GateValues, float, float]:
    """The 0/1 mask that is removed: ``(values, exact cost ratio, fraction of edges kept)``. Used when
    hardening starts and by :func:`autogt.compress.prune` after training (the gates no longer move in
    between, so both get the same mask)."""
    keep = edge_keep_fraction(masker, task.graphs)  # 1.0 without edge gates
    was = masker.training
    masker.eval()
    try:
        values, achieved = meet_target(layout, masker.raw_deterministic(), masker.log_alphas().detach(), cost,
                                       target, tolerance=tolerance, edge_keep=keep)
    finally:
        masker.train(was)
    return values, achieved, keep


# ----------------------------------------------------------------------------- exact target
def edge_keep_fraction(masker: Any, graphs: list[Any], batch_size: int = 256) -> float:
    """Fraction of edges the deterministic edge gates keep over ``graphs`` (1.0 without edge gates)."""
    from torch_geometric.data import Batch

    if getattr(masker, "scorer", None) is None:
        return 1.0
    kept = total = 0
    with torch.no_grad():
        for start in range(0, len(graphs), batch_size):
            b = Batch.from_data_list(graphs[start:start + batch_size])
            w = masker.edge_weights(b, deterministic=True)
            kept += int(w.sum())
            total += int(w.numel())
    return kept / total if total else 1.0


def _units(layout: GateLayout, raw: GateValues, scores: GateValues) -> list[tuple[float, str, int, int]]:
    """Every gate as ``(score, kind, layer, index)``; kind in heads/neurons/local/attn/ffn/layer/hidden."""
    out = []
    for i, sc in enumerate(scores.layers):
        for kind in ("heads", "neurons"):
            t = getattr(sc, kind)
            if t is not None:
                out += [(float(v), kind, i, j) for j, v in enumerate(t.tolist())]
        for kind in ("local", "attn", "ffn", "layer"):
            t = getattr(sc, kind)
            if t is not None:
                out.append((float(t), kind, i, 0))
    if scores.hidden is not None:
        out += [(float(v), "hidden", -1, j) for j, v in enumerate(scores.hidden.tolist())]
    return out


def _get(values: GateValues, kind: str, i: int, j: int) -> float:
    if kind == "hidden":
        assert values.hidden is not None
        return float(values.hidden[j])
    t = getattr(values.layers[i], kind)
    return float(t[j]) if kind in ("heads", "neurons") else float(t)


def _set(values: GateValues, kind: str, i: int, j: int, v: float) -> None:
    if kind == "hidden":
        assert values.hidden is not None
        values.hidden[j] = v
        return
    g = values.layers[i]
    if kind in ("heads", "neurons"):
        getattr(g, kind)[j] = v
    else:
        setattr(g, kind, torch.tensor(v))


def meet_target(layout: GateLayout, raw: GateValues, scores: GateValues, cost: CostModel | Sequence[CostModel],
                target: float | Sequence[float], *, tolerance: float = 0.01,
                edge_keep: float = 1.0) -> tuple[GateValues, float]:
    """Final mask whose *exact* cost ratio is ``<= target`` and, when possible, ``>= target - tolerance``.

    Args:
        layout: the gates.
        raw: deterministic gate values (before :func:`finalize`).
        scores: per-gate scores (``log_alpha``): low scores close first, high scores reopen first.
        cost: the cost model (its ``exact`` gives the real cost of a spec); a sequence with ``target``
            a sequence too: every ratio must end ``<=`` its target, the tolerance applies to the first.
        target: cost ratio to reach.
        tolerance: how far below the target the result may stay.
        edge_keep: fraction of edges the edge filter keeps.

    Returns:
        ``(finalized values, exact cost ratio of the first cost)``.
    """
    costs, targets = _as_list(cost), [float(t) for t in _as_list(target)]
    raw = raw.detach()
    units = _units(layout, raw, scores)

    def ratio(values: GateValues) -> tuple[GateValues, list[float]]:
        fin = finalize(layout, values, scores)
        spec = derive_spec(layout, fin).spec
        return fin, [c.exact(spec, edge_keep) / c.dense for c in costs]

    def fits(rs: list[float]) -> bool:
        return all(r <= t for r, t in zip(rs, targets, strict=True))

    fin, rs = ratio(raw)
    closing = sorted(u for u in units if _get(raw, u[1], u[2], u[3]) > 0)
    while closing and not fits(rs):
        if rs[0] > targets[0]:  # the target itself: close the lowest-scored unit
            unit = closing.pop(0)
        else:  # only bounds are exceeded: the cheapest way down, see _bound_step
            unit = _bound_step(closing, raw, rs, targets, ratio)
            closing.remove(unit)
        _set(raw, unit[1], unit[2], unit[3], 0.0)
        fin, rs = ratio(raw)
    if rs[0] < targets[0] - tolerance:  # overshot (gates that closed for good during training): reopen
        for unit in sorted((u for u in units if _get(raw, u[1], u[2], u[3]) <= 0), reverse=True):
            saved = [(u, _get(raw, u[1], u[2], u[3])) for u in _with_parents(unit, raw)]
            for u, _v in saved:
                _set(raw, u[1], u[2], u[3], 1.0)
            fin2, rs2 = ratio(raw)
            if not fits(rs2):
                for u, v in saved:
                    _set(raw, u[1], u[2], u[3], v)
                continue
            fin, rs = fin2, rs2
            if rs[0] >= targets[0] - tolerance:
                break
    return fin, rs[0]


def _with_parents(unit: tuple[float, str, int, int], raw: GateValues) -> list[tuple[float, str, int, int]]:
    """``unit`` and the closed gates above it (a head's attention block, a neuron's FFN, a block's layer), all of
    which must open for the unit to count again: a reopened neuron of a closed FFN changes nothing."""
    _score, kind, i, j = unit
    if kind == "hidden":
        return [unit]
    parent = {"heads": ("attn",), "neurons": ("ffn",)}.get(kind, ())
    out = [unit]
    for p in (*parent, "layer"):
        if p != kind and getattr(raw.layers[i], p) is not None and _get(raw, p, i, 0) <= 0:
            out.append((_score, p, i, 0))
    return out


def _bound_step(closing: list[tuple[float, str, int, int]], raw: GateValues, rs: list[float],
                targets: list[float], ratio: Callable[[GateValues], tuple[GateValues, list[float]]]
                ) -> tuple[float, str, int, int]:
    """The unit to close when the target is met but bounds are not: among the lowest-scored open unit of
    each (kind, layer) group, the one that cuts the exceeded bounds most per unit of target cost lost
    (on a CPU: attention heads before FFN neurons, because they cost more time per FLOP)."""
    firsts: dict[tuple[str, int], tuple[float, str, int, int]] = {}
    for u in closing:  # sorted by score: the first of each group is its lowest-scored
        firsts.setdefault((u[1], u[2]), u)
    best, best_gain = closing[0], -math.inf
    for u in firsts.values():
        value = _get(raw, u[1], u[2], u[3])
        _set(raw, u[1], u[2], u[3], 0.0)
        _fin, r2 = ratio(raw)
        _set(raw, u[1], u[2], u[3], value)
        over = sum(max(r - t, 0.0) - max(r_new - t, 0.0)
                   for r, r_new, t in zip(rs[1:], r2[1:], targets[1:], strict=True))
        gain = over / max(rs[0] - r2[0], 1e-6) if over > 0 else -math.inf
        if gain > best_gain:
            best, best_gain = u, gain
    return best


# ----------------------------------------------------------------------------- fine-tune and scoring
@torch.no_grad()
def recalibrate_norms(model: nn.Module, spec: Any, task: Any, *, seed: int = 0, device: str = "cpu",
                      max_batches: int | None = None) -> nn.Module:
    """Re-estimate BatchNorm running statistics of a pruned model on the training split.

    During mask training the statistics were accumulated under stochastic, interpolating gates; the pruned
    model sees different activations. Only the norms run in training mode (dropout stays off); the
    statistics become the plain average over the training batches.
    """
    from autogt.train.loop import make_feeder, resolve_device

    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms or task.level != "graph":
        return model
    dev = resolve_device(device)
    model = model.to(dev).eval()
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
        m.train()
    try:
        for k, (batch, _index) in enumerate(make_feeder(task, spec, seed, dev).train(1)):
            if max_batches is not None and k >= max_batches:
                break
            model(batch)
    finally:
        for m, mom in zip(norms, saved, strict=True):
            m.momentum = mom
        model.eval()
    return model



def finetune(model: nn.Module, spec: Any, task: Any, epochs: int, *, seed: int = 0, scaler: Any = None,
             device: str = "cpu", lr: float | None = None, progress: bool = False) -> nn.Module:
    """Train ``model`` on the task loss for ``epochs`` and keep the best-validation weights."""
    from tqdm.auto import tqdm

    from autogt.train.loop import make_feeder, make_optimizer, predict, resolve_device, seed_everything, train_epoch
    from autogt.train.metrics import compute_metric, loss_fn

    if epochs <= 0:
        return model.eval()
    dev = resolve_device(device)
    seed_everything(seed)
    model = model.to(dev)
    feeder = make_feeder(task, spec, seed, dev)
    opt = make_optimizer(spec, [p for p in model.parameters() if p.requires_grad])
    if lr is not None:
        for g in opt.param_groups:
            g["lr"] = lr
    loss = loss_fn(task.kind)
    maximize = bool(task.maximize)
    y, p = predict(model, feeder.eval("valid"), scaler=scaler)
    best_val = compute_metric(task.metric, y, p)
    best = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for epoch in tqdm(range(1, epochs + 1), disable=not progress, file=sys.stderr, leave=False, desc="fine-tune"):
        train_epoch(model, feeder.train(epoch), opt, loss, scaler=scaler)
        y, p = predict(model, feeder.eval("valid"), scaler=scaler)
        val = compute_metric(task.metric, y, p)
        if math.isfinite(val) and (not math.isfinite(best_val) or (val > best_val if maximize else val < best_val)):
            best_val, best = val, {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best)
    return model.eval()


def score(model: nn.Module, spec: Any, task: Any, *, scaler: Any = None, device: str = "cpu",
          transform: Callable[[Any], Any] | None = None) -> dict[str, float]:
    """Validation and test metric of ``model`` (``transform`` is applied to each batch first)."""
    from autogt.train.loop import make_feeder, predict, resolve_device
    from autogt.train.metrics import compute_metric

    dev = resolve_device(device)
    feeder = make_feeder(task, spec, 0, dev)
    out = {}
    for split in ("valid", "test"):
        steps = feeder.eval(split)
        if transform is not None:
            steps = ((transform(b), i) for b, i in steps)
        y, p = predict(model, steps, scaler=scaler)
        out["val" if split == "valid" else "test"] = compute_metric(task.metric, y, p)
    return out
