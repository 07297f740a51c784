"""The search-space schema: YAML/dict -> frozen dataclasses, with validation.

A space file has four top-level keys (only ``layers`` is required)::

    name: gps                      # defaults to the file stem
    description: free text
    model:                         # ArchSpec fields (or preset names), drawn once per architecture
      hidden: {choices: [64, 128, 256]}
      pe: {choices: [none, rw, lap]}
      pe_dim: {int: [4, 16], step: 4, when: {pe: [rw, lap]}}
      lr: {float: [1.0e-4, 1.0e-2], log: true}
      pooling: mean                # a plain value is fixed
    layers:
      depth: [2, 6]                # an int (fixed) or [min, max] (searched as parameter ``depth``)
      each:                        # LayerSpec fields, drawn per layer: ``layer1.attn``, ``layer2.attn``...
        attn: {choices: [none, full, performer]}
        heads: {choices: [2, 4, 8], when: {attn: {not: [none]}}}
      shared:                      # LayerSpec fields, drawn once and applied to every layer: ``layers.norm``
        norm: {choices: [batch, layer]}
    constraints: {max_params: 2000000, max_flops: 1.0e9, max_latency_ms: 20}

A dimension is ``{choices: [...]}``, ``{int: [lo, hi]}`` or ``{float: [lo, hi]}`` (both ends inclusive;
optional ``step`` and ``log``), or a plain value (fixed). ``when`` makes a dimension conditional: a
mapping ``{key: allowed}`` is an AND of its entries (``allowed`` is a value, a list of values, or
``{not: [...]}``); a list of such mappings is an OR. A conditional parameter is only suggested while it is
active (define-by-run); an inactive field keeps its ``ArchSpec`` default. ``when`` may name any dimension
of the same layer, a shared layer dimension, a model dimension, or ``depth``.

*Presets*: ``choices`` may be a mapping ``label -> assignments``. Choosing a label applies the
assignments. At model level the assignment keys are ArchSpec fields, ``layers.<field>`` (every layer) or
``layer<N>.<field>`` (layer N, 1-based; ignored when the drawn depth is smaller); inside ``each`` or
``shared`` they are LayerSpec fields of the same layer(s). When the dimension's own name is a spec field,
the label is also that field's value (``local: {choices: {cheb: {local_out: 2}, gcn: {}}}``), unless the
preset assigns the field itself (``gin: {local: gin1}``: the label ``gin`` builds ``local=gin1``); otherwise
the dimension is a pure label (``link: {choices: {chain: {layers.inputs: previous}}}``).

``inputs`` values may be an int, a list of ints, or ``previous`` (-1), ``input`` (0) or ``dense`` (every
earlier layer and the input, summed).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from autogt.models.spec import ACTS, COMBINES, NORMS, OPTIMIZERS, PES, POOLINGS, ArchSpec, LayerSpec, SpecError

__all__ = [
    "SpaceError",
    "Condition",
    "Dim",
    "LayerBlock",
    "Constraints",
    "Space",
    "parse_space",
    "load_space",
    "space_names",
    "LOCAL_OPS",
    "GLOBAL_OPS",
]

# The op names of the models contract; registered names are accepted as well (see _allowed_ops).
LOCAL_OPS = ("gcn", "gin", "gine", "gat", "gatv2", "sage", "cheb", "arma", "graph", "fc", "skip", "none")
GLOBAL_OPS = ("none", "full", "performer")
INPUT_WORDS = ("previous", "input", "dense")
CONSTRAINT_KEYS = ("max_params", "max_flops", "max_latency_ms")
DIM_KEYS = ("choices", "int", "float", "step", "log", "when")
TOP_KEYS = ("name", "description", "model", "layers", "constraints")
LAYER_BLOCK_KEYS = ("depth", "each", "shared")
_LAYER_KEY = re.compile(r"^layer(\d+)\.(\w+)$")


class SpaceError(SpecError):
    """An invalid search space or sample; the message names the offending key and the allowed values."""


# ----------------------------------------------------------------------------- field tables
def _field_kinds(cls: type) -> dict[str, str]:
    kinds = {}
    for f in fields(cls):
        t = str(f.type)
        if f.name in ("layers", "inputs", "elastic"):
            kinds[f.name] = f.name
        elif t.startswith("bool"):
            kinds[f.name] = "bool"
        elif t.startswith("int"):
            kinds[f.name] = "int"
        elif t.startswith("float"):
            kinds[f.name] = "float"
        else:
            kinds[f.name] = "str"
    return kinds


MODEL_FIELDS = {k: v for k, v in _field_kinds(ArchSpec).items() if k != "layers"}
LAYER_FIELDS = _field_kinds(LayerSpec)
_NULLABLE = {"head_dim", "ffn", "dim"}


def _allowed_ops(kind: str, fallback: tuple[str, ...]) -> tuple[str, ...]:
    from autogt.registry import names

    return tuple(sorted(set(fallback) | set(names(kind))))


def _allowed_strings(key: str) -> tuple[str, ...] | None:
    table: dict[str, tuple[str, ...]] = {
        "pe": PES,
        "pooling": POOLINGS,
        "combine": COMBINES,
        "optimizer": OPTIMIZERS,
        "node_encoder": ("auto", "atom", "linear", "none"),
        "edge_encoder": ("auto", "bond", "linear", "none"),
        "norm": NORMS,
        "act": ACTS,
    }
    if key == "local":
        return _allowed_ops("local", LOCAL_OPS)
    if key == "attn":
        return _allowed_ops("global", GLOBAL_OPS)
    return table.get(key)


# ----------------------------------------------------------------------------- dataclasses
@dataclass(frozen=True)
class Condition:
    """``key`` must (``negate=False``) or must not (``negate=True``) take one of ``values``."""

    key: str
    values: tuple[Any, ...]
    negate: bool = False

    def holds(self, value: Any) -> bool:
        return (value in self.values) != self.negate


@dataclass(frozen=True)
class Dim:
    """One dimension of a space.

    Attributes:
        key: the spec field (or preset label name) it sets, e.g. ``attn``.
        kind: ``choice``, ``int``, ``float`` or ``fixed``.
        choices: categorical values (preset labels for preset dimensions).
        low, high, step, log: numeric range (both ends inclusive).
        value: the value of a ``fixed`` dimension.
        when: OR of AND-groups of :class:`Condition`; empty means always active.
        presets: ``label -> ((key, value), ...)`` assignments applied when ``label`` is chosen.
        sets_field: whether the chosen label is also the value of the field ``key``.
    """

    key: str
    kind: str
    choices: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    value: Any = None
    when: tuple[tuple[Condition, ...], ...] = ()
    presets: tuple[tuple[Any, tuple[tuple[str, Any], ...]], ...] = ()
    sets_field: bool = True

    @property
    def searched(self) -> bool:
        return self.kind != "fixed"

    def preset(self, label: Any) -> tuple[tuple[str, Any], ...]:
        for name, assignments in self.presets:
            if name == label:
                return assignments
        return ()

    def distribution(self) -> Any:
        """The Optuna distribution of this dimension."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(self.choices)
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        if self.kind == "float":
            return FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)
        raise SpaceError(f"{self.key}: a fixed dimension has no distribution")


@dataclass(frozen=True)
class LayerBlock:
    """The per-layer part of a space: depth range, per-layer (``each``) and shared dimensions."""

    depth_min: int
    depth_max: int
    each: tuple[Dim, ...] = ()
    shared: tuple[Dim, ...] = ()

    @property
    def depth_searched(self) -> bool:
        return self.depth_max > self.depth_min


@dataclass(frozen=True)
class Constraints:
    """Upper bounds on cost; ``None`` means unconstrained. Violations are ``value - bound`` (> 0 = infeasible)."""

    max_params: float | None = None
    max_flops: float | None = None
    max_latency_ms: float | None = None

    @property
    def active(self) -> tuple[str, ...]:
        return tuple(k for k in CONSTRAINT_KEYS if getattr(self, k) is not None)

    def violations(self, *, params: float | None = None, flops: float | None = None,
                   latency_ms: float | None = None) -> tuple[float, ...]:
        """One number per active constraint: ``measured - bound`` (<= 0 feasible); unknown values count as 0."""
        measured = {"max_params": params, "max_flops": flops, "max_latency_ms": latency_ms}
        out = []
        for key in self.active:
            value = measured[key]
            out.append(0.0 if value is None else float(value) - float(getattr(self, key)))
        return tuple(out)


@dataclass(frozen=True)
class Space:
    """A search space: model-level dimensions, a layer block and constraints (see the module docstring).

    Sampling and conversion live in :mod:`autogt.spaces._compile`; the methods below delegate there.

    Example:
        >>> from autogt.spaces import load_space
        >>> space = load_space("gps")
        >>> params = space.random_params(seed=0)
        >>> spec = space.to_spec(params)
        >>> 2 <= len(spec.layers) <= 6
        True
    """

    name: str
    layers: LayerBlock
    model: tuple[Dim, ...] = ()
    constraints: Constraints = field(default_factory=Constraints)
    description: str = ""
    source: str = ""
    definition: str = "{}"

    # delegates (defined in _compile to keep this module about the schema)
    def sample(self, trial: Any) -> tuple[ArchSpec, dict[str, Any]]:
        """Suggest every active parameter on an Optuna trial (define-by-run); returns ``(spec, params)``."""
        from autogt.spaces._compile import sample

        return sample(self, trial)

    def to_spec(self, params: Mapping[str, Any]) -> ArchSpec:
        """The ArchSpec of a parameter dict (extra or inactive keys are ignored; missing active ones raise)."""
        from autogt.spaces._compile import to_spec

        return to_spec(self, params)

    def active_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The subset of ``params`` that is active (what :meth:`sample` would have suggested)."""
        from autogt.spaces._compile import active_params

        return active_params(self, params)

    def distributions(self) -> dict[str, Any]:
        """Every parameter that can ever be active (all layers up to the maximum depth) -> distribution."""
        from autogt.spaces._compile import distributions

        return distributions(self)

    def fixed_distributions(self) -> dict[str, Any]:
        """Distributions for ``study.ask(fixed_distributions=...)``; only for spaces without conditionals."""
        from autogt.spaces._compile import fixed_distributions

        return fixed_distributions(self)

    def to_nni(self) -> dict[str, Any]:
        """NNI's search-space format (flattened: conditional parameters are always listed)."""
        from autogt.spaces._compile import to_nni

        return to_nni(self)

    def from_nni(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Turn an NNI tuner's parameter dict into this space's active parameters."""
        from autogt.spaces._compile import from_nni

        return from_nni(self, params)

    def random_params(self, seed: int = 0) -> dict[str, Any]:
        """A uniformly random active parameter dict (no Optuna study needed)."""
        from autogt.spaces._compile import random_params

        return random_params(self, seed)

    @property
    def conditional(self) -> bool:
        """Whether some parameter is not always active (``when`` conditions or a searched depth)."""
        dims = (*self.model, *self.layers.shared, *self.layers.each)
        return self.layers.depth_searched or any(d.when for d in dims if d.searched)

    def fix(self, **values: Any) -> Space:
        """A copy with some dimensions pinned: model keys, ``layers.<field>`` (every layer) or ``depth``.

        Example:
            >>> from autogt.spaces import load_space
            >>> space = load_space("gps").fix(hidden=128, depth=3)
            >>> spec = space.to_spec(space.random_params(1))
            >>> spec.hidden, len(spec.layers)
            (128, 3)
        """
        raw = json.loads(self.definition)
        for key, value in values.items():
            if key == "depth":
                raw.setdefault("layers", {})["depth"] = value
            elif key.startswith("layers."):
                sub = key.split(".", 1)[1]
                block = raw.setdefault("layers", {})
                for part in ("each", "shared"):
                    (block.get(part) or {}).pop(sub, None)
                block.setdefault("each", {})[sub] = value
            else:
                raw.setdefault("model", {})[key] = value
        return parse_space(raw, name=self.name, source=self.source)


# ----------------------------------------------------------------------------- parsing
def _num(key: str, x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise SpaceError(f"{key}: expected a number, got {x!r}")
    return x


def _parse_condition_group(where: str, raw: Any) -> tuple[Condition, ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise SpaceError(f"{where}.when: expected a mapping {{key: values}} or a list of them, got {raw!r}")
    conds = []
    for key, allowed in raw.items():
        negate = False
        if isinstance(allowed, Mapping):
            if set(allowed) != {"not"}:
                raise SpaceError(f"{where}.when.{key}: expected values, a list or {{not: [...]}}, got {allowed!r}")
            allowed, negate = allowed["not"], True
        values = tuple(allowed) if isinstance(allowed, (list, tuple)) else (allowed,)
        conds.append(Condition(str(key), values, negate))
    return tuple(conds)


def _parse_when(where: str, raw: Any) -> tuple[tuple[Condition, ...], ...]:
    if raw is None:
        return ()
    groups = raw if isinstance(raw, list) else [raw]
    return tuple(_parse_condition_group(where, g) for g in groups)


def _check_value(where: str, key: str, value: Any, kinds: Mapping[str, str]) -> Any:
    """Validate one value of field ``key``; returns it normalised (lists -> tuples)."""
    kind = kinds[key]
    if value is None and key in _NULLABLE:
        return None
    if kind == "str":
        allowed = _allowed_strings(key)
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            shown = ", ".join(allowed) if allowed else "a string"
            raise SpaceError(f"{where}: {value!r} is not allowed for {key}; choose one of {shown}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise SpaceError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpaceError(f"{where}: {key} must be an integer, got {value!r}")
        return value
    if kind == "float":
        return _num(f"{where}: {key}", value)
    if kind == "inputs":
        if value in INPUT_WORDS:
            return value
        items = value if isinstance(value, (list, tuple)) else [value]
        if not items or any(isinstance(i, bool) or not isinstance(i, int) for i in items):
            raise SpaceError(f"{where}: inputs must be an int, a list of ints, or one of {', '.join(INPUT_WORDS)}; "
                             f"got {value!r}")
        return tuple(items) if isinstance(value, (list, tuple)) else value
    if kind == "elastic":
        if not isinstance(value, (list, tuple)):
            raise SpaceError(f"{where}: elastic must be a list of fractions, got {value!r}")
        return tuple(value)
    return value  # pragma: no cover


def _parse_assignments(where: str, raw: Any, scope: str, depth_max: int | None) -> tuple[tuple[str, Any], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise SpaceError(f"{where}: a preset must be a mapping of assignments, got {raw!r}")
    out = []
    for key, value in raw.items():
        key = str(key)
        if scope == "layer":
            if key not in LAYER_FIELDS:
                raise SpaceError(f"{where}: unknown layer key {key!r}; allowed keys: {', '.join(sorted(LAYER_FIELDS))}")
            out.append((key, _check_value(f"{where}.{key}", key, value, LAYER_FIELDS)))
            continue
        m = _LAYER_KEY.match(key)
        if key.startswith("layers."):
            sub = key.split(".", 1)[1]
        elif m:
            sub = m.group(2)
            if int(m.group(1)) < 1 or (depth_max is not None and int(m.group(1)) > depth_max):
                raise SpaceError(f"{where}: {key} names layer {m.group(1)}; allowed: layer1..layer{depth_max}")
        else:
            if key not in MODEL_FIELDS:
                raise SpaceError(f"{where}: unknown key {key!r}; allowed keys: {', '.join(sorted(MODEL_FIELDS))}, "
                                 "layers.<field>, layer<N>.<field>")
            out.append((key, _check_value(f"{where}.{key}", key, value, MODEL_FIELDS)))
            continue
        if sub not in LAYER_FIELDS:
            raise SpaceError(f"{where}: unknown layer key {sub!r} in {key}; "
                             f"allowed keys: {', '.join(sorted(LAYER_FIELDS))}")
        out.append((key, _check_value(f"{where}.{key}", sub, value, LAYER_FIELDS)))
    return tuple(out)


def _parse_dim(where: str, key: str, raw: Any, kinds: Mapping[str, str], scope: str,
               depth_max: int | None) -> Dim:
    is_field = key in kinds
    if not isinstance(raw, Mapping):
        if not is_field:
            raise SpaceError(f"{where}: unknown key {key!r}; allowed keys: {', '.join(sorted(kinds))}")
        if isinstance(raw, list) and kinds[key] not in ("inputs", "elastic"):
            raise SpaceError(f"{where}: a list is not a dimension; write {{choices: {raw}}}")
        return Dim(key, "fixed", value=_check_value(where, key, raw, kinds))
    unknown = sorted(set(raw) - set(DIM_KEYS))
    if unknown:
        raise SpaceError(f"{where}: unknown dimension key(s) {', '.join(unknown)}; allowed: {', '.join(DIM_KEYS)}")
    kinds_given = [k for k in ("choices", "int", "float") if k in raw]
    if len(kinds_given) != 1:
        raise SpaceError(f"{where}: give exactly one of choices, int, float (got {', '.join(kinds_given) or 'none'})")
    kind = kinds_given[0]
    when = _parse_when(where, raw.get("when"))
    if kind == "choices":
        if "step" in raw or "log" in raw:
            raise SpaceError(f"{where}: step/log only apply to int and float dimensions")
        choices = raw["choices"]
        if isinstance(choices, Mapping):
            if not choices:
                raise SpaceError(f"{where}.choices: at least one choice is required")
            labels, presets = [], []
            for label, assignments in choices.items():
                if is_field:
                    label = _check_value(f"{where}.choices", key, label, kinds)
                elif not isinstance(label, (str, int, float, bool)):
                    raise SpaceError(f"{where}.choices: preset labels must be scalars, got {label!r}")
                labels.append(label)
                presets.append((label, _parse_assignments(f"{where}.choices.{label}", assignments, scope, depth_max)))
            return Dim(key, "choice", choices=tuple(labels), when=when, presets=tuple(presets), sets_field=is_field)
        if not is_field:
            raise SpaceError(f"{where}: unknown key {key!r}; allowed keys: {', '.join(sorted(kinds))} "
                             "(a non-field dimension must be a preset: choices: {{label: {{assignments}}}})")
        if not isinstance(choices, (list, tuple)) or not choices:
            raise SpaceError(f"{where}.choices: expected a non-empty list, got {choices!r}")
        values = []
        for c in choices:
            v = _check_value(f"{where}.choices", key, c, kinds)
            if isinstance(v, tuple):
                raise SpaceError(f"{where}.choices: list values are not categorical; use a preset "
                                 "(choices: {label: {assignments}})")
            values.append(v)
        if len(set(map(repr, values))) != len(values):
            raise SpaceError(f"{where}.choices: duplicate values in {values}")
        return Dim(key, "choice", choices=tuple(values), when=when)
    if not is_field:
        raise SpaceError(f"{where}: unknown key {key!r}; allowed keys: {', '.join(sorted(kinds))}")
    bounds = raw[kind]
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
        raise SpaceError(f"{where}.{kind}: expected [low, high], got {bounds!r}")
    low, high = (_num(f"{where}.{kind}", b) for b in bounds)
    if low > high:
        raise SpaceError(f"{where}.{kind}: low {low} > high {high}")
    field_kind = kinds[key]
    if kind == "int" and field_kind != "int":
        raise SpaceError(f"{where}: {key} is a {field_kind} field; an int range does not fit (use float or choices)")
    if kind == "float" and field_kind != "float":
        raise SpaceError(f"{where}: {key} is a {field_kind} field; a float range does not fit (use int or choices)")
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise SpaceError(f"{where}.int: bounds must be integers, got {bounds!r}")
    log = bool(raw.get("log", False))
    step = raw.get("step")
    if step is not None:
        step = _num(f"{where}.step", step)
        if step <= 0:
            raise SpaceError(f"{where}.step: must be > 0, got {step}")
        if log:
            raise SpaceError(f"{where}: step and log cannot be combined")
        if kind == "int" and not float(step).is_integer():
            raise SpaceError(f"{where}.step: must be an integer for an int dimension, got {step}")
    if log and low <= 0:
        raise SpaceError(f"{where}: a log range needs low > 0, got {low}")
    if kind == "float" and step is not None:
        n = (high - low) / step
        if not math.isclose(n, round(n), abs_tol=1e-9):
            raise SpaceError(f"{where}: (high - low) must be a multiple of step")
    return Dim(key, kind, low=low, high=high, step=step, log=log, when=when)


def _parse_block(where: str, raw: Any, kinds: Mapping[str, str], scope: str, depth_max: int | None) -> tuple[Dim, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise SpaceError(f"{where}: expected a mapping of dimensions, got {type(raw).__name__}")
    return tuple(_parse_dim(f"{where}.{k}", str(k), v, kinds, scope, depth_max) for k, v in raw.items())


def _parse_depth(raw: Any) -> tuple[int, int]:
    if isinstance(raw, bool):
        raise SpaceError(f"layers.depth: expected an int or [min, max], got {raw!r}")
    if isinstance(raw, int):
        lo = hi = raw
    elif isinstance(raw, (list, tuple)) and len(raw) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                                    for x in raw):
        lo, hi = raw
    else:
        raise SpaceError(f"layers.depth: expected an int or [min, max], got {raw!r}")
    if lo < 1 or hi < lo:
        raise SpaceError(f"layers.depth: need 1 <= min <= max, got {raw!r}")
    return int(lo), int(hi)


def _order(where: str, dims: tuple[Dim, ...], known: set[str]) -> tuple[Dim, ...]:
    """Topologically order dims so each condition's key is decided first; check condition keys exist."""
    names = {d.key for d in dims}
    for d in dims:
        for group in d.when:
            for c in group:
                if c.key not in names and c.key not in known:
                    raise SpaceError(f"{where}.{d.key}.when: unknown key {c.key!r}; "
                                     f"allowed: {', '.join(sorted(names | known))}")
                if c.key == d.key:
                    raise SpaceError(f"{where}.{d.key}.when: a dimension cannot depend on itself")
    ordered: list[Dim] = []
    placed: set[str] = set()
    pending = list(dims)
    while pending:
        progress = False
        for d in list(pending):
            deps = {c.key for g in d.when for c in g if c.key in names}
            if deps <= placed:
                ordered.append(d)
                placed.add(d.key)
                pending.remove(d)
                progress = True
        if not progress:
            raise SpaceError(f"{where}: circular when-conditions among {', '.join(d.key for d in pending)}")
    return tuple(ordered)


def _check_condition_values(where: str, dims: tuple[Dim, ...], lookup: Mapping[str, Dim]) -> None:
    for d in dims:
        for group in d.when:
            for c in group:
                target = lookup.get(c.key)
                if target is None or target.kind != "choice":
                    continue
                bad = [v for v in c.values if v not in target.choices]
                if bad:
                    raise SpaceError(f"{where}.{d.key}.when.{c.key}: {bad[0]!r} is not a choice of {c.key}; "
                                     f"choose from {', '.join(map(str, target.choices))}")


def _check_conflicts(model: tuple[Dim, ...], each: tuple[Dim, ...], shared: tuple[Dim, ...]) -> None:
    model_keys = {d.key for d in model if d.sets_field}
    layer_keys = {d.key for d in each if d.sets_field} | {d.key for d in shared if d.sets_field}
    both = {d.key for d in each if d.sets_field} & {d.key for d in shared if d.sets_field}
    if both:
        raise SpaceError(f"layers: {', '.join(sorted(both))} appear in both each and shared; keep one")
    for d in model:
        for label, assignments in d.presets:
            for key, _ in assignments:
                m = _LAYER_KEY.match(key)
                sub = key.split(".", 1)[1] if key.startswith("layers.") else (m.group(2) if m else None)
                if sub is None and key in model_keys:
                    raise SpaceError(f"model.{d.key}.choices.{label}: sets {key}, which is also a model dimension")
                if sub is not None and sub in layer_keys:
                    raise SpaceError(f"model.{d.key}.choices.{label}: sets {key}, which is also a layer dimension")
    for block in (each, shared):
        for d in block:
            for label, assignments in d.presets:
                for key, _ in assignments:
                    if key in layer_keys and key != d.key:  # a label may stand for another value of its own field
                        raise SpaceError(f"layers.{d.key}.choices.{label}: sets {key}, which is also a layer dimension")


def parse_space(raw: Mapping[str, Any], *, name: str | None = None, source: str = "") -> Space:
    """Build a :class:`Space` from a parsed YAML mapping, validating everything (see module docstring).

    Example:
        >>> space = parse_space({"layers": {"depth": 2, "each": {"local": {"choices": ["gcn", "gin"]}}}})
        >>> sorted(space.distributions())
        ['layer1.local', 'layer2.local']
    """
    if not isinstance(raw, Mapping):
        raise SpaceError(f"space: expected a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(TOP_KEYS))
    if unknown:
        raise SpaceError(f"space: unknown key(s) {', '.join(unknown)}; allowed keys: {', '.join(TOP_KEYS)}")
    if "layers" not in raw or not isinstance(raw["layers"], Mapping):
        raise SpaceError("layers: required; a mapping with depth, each and shared")
    block = raw["layers"]
    unknown = sorted(set(block) - set(LAYER_BLOCK_KEYS))
    if unknown:
        raise SpaceError(f"layers: unknown key(s) {', '.join(unknown)}; allowed keys: {', '.join(LAYER_BLOCK_KEYS)}")
    depth_min, depth_max = _parse_depth(block.get("depth", 1))
    fixed_depth = depth_max if depth_min == depth_max else None
    model = _parse_block("model", raw.get("model"), MODEL_FIELDS, "model", depth_max)
    shared = _parse_block("layers.shared", block.get("shared"), LAYER_FIELDS, "layer", fixed_depth)
    each = _parse_block("layers.each", block.get("each"), LAYER_FIELDS, "layer", fixed_depth)
    _check_conflicts(model, each, shared)
    model = _order("model", model, {"depth"} if depth_max > depth_min else set())
    model_names = {d.key for d in model}
    shared = _order("layers.shared", shared, model_names | {"depth"})
    each = _order("layers.each", each, model_names | {d.key for d in shared} | {"depth"})
    lookup: dict[str, Dim] = {d.key: d for d in model}
    lookup.update({d.key: d for d in shared})
    _check_condition_values("model", model, lookup)
    _check_condition_values("layers.shared", shared, lookup)
    lookup.update({d.key: d for d in each})
    _check_condition_values("layers.each", each, lookup)
    cons_raw = raw.get("constraints") or {}
    if not isinstance(cons_raw, Mapping):
        raise SpaceError(f"constraints: expected a mapping, got {type(cons_raw).__name__}")
    bad = sorted(set(cons_raw) - set(CONSTRAINT_KEYS))
    if bad:
        raise SpaceError(f"constraints: unknown key(s) {', '.join(bad)}; allowed keys: {', '.join(CONSTRAINT_KEYS)}")
    cons = Constraints(**{k: float(_num(f"constraints.{k}", v)) for k, v in cons_raw.items() if v is not None})
    description = raw.get("description") or ""
    space = Space(
        name=str(raw.get("name") or name or "space"),
        layers=LayerBlock(depth_min, depth_max, each=each, shared=shared),
        model=model,
        constraints=cons,
        description=str(description).strip(),
        source=source,
        definition=json.dumps(_plain(raw)),  # key order kept: it is the choice order
    )
    _smoke(space)
    return space


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _smoke(space: Space) -> None:
    """Turn the space's smallest and largest corner into specs so cross-field errors surface at load time."""
    from autogt.spaces._compile import corner_params

    for which in ("low", "high"):
        try:
            space.to_spec(corner_params(space, which))
        except SpaceError as exc:
            raise SpaceError(f"{space.name}: the {which} corner of the space is not a valid spec: {exc}") from None


# ----------------------------------------------------------------------------- loading
def _spaces_dir() -> Path:
    from autogt._paths import resource

    return resource("search_spaces")


def space_names() -> list[str]:
    """Names of the bundled spaces (files in ``search_spaces/``)."""
    return sorted(p.stem for p in _spaces_dir().glob("*.yaml"))


def load_space(source: str | Path | Mapping[str, Any] | Space) -> Space:
    """Load a space by bundled name (``gps``), YAML path, mapping, or return a :class:`Space` unchanged.

    Example:
        >>> from autogt.spaces import load_space
        >>> load_space("nasbench_graph").layers.depth_max
        4
    """
    if isinstance(source, Space):
        return source
    if isinstance(source, Mapping):
        return parse_space(source)
    import yaml

    text = str(source)
    path = Path(text)
    if path.suffix.lower() not in (".yaml", ".yml") and not path.exists():
        path = _spaces_dir() / f"{text}.yaml"
        if not path.exists():
            raise SpaceError(f"space {text!r}: not a file and not a bundled space; bundled: {', '.join(space_names())}")
    elif not path.exists():
        raise SpaceError(f"space file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpaceError(f"{path}: invalid YAML: {exc}") from exc
    return parse_space(raw, name=path.stem, source=str(path.resolve()))

