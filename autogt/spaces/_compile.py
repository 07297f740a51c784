"""Pure functions from a :class:`~autogt.spaces.Space` to Optuna distributions, NNI's format and ArchSpecs.

Everything goes through one walker, :func:`_walk`, that visits the dimensions in a fixed order
(``depth``, model dimensions, shared layer dimensions, then ``layer1.*``, ``layer2.*``...), skips the
inactive ones, and asks a *source* for each active value. The sources are an Optuna trial
(:func:`sample`), a parameter dict (:func:`to_spec`), a random generator (:func:`random_params`) and a
corner of the space (:func:`corner_params`). So sampling and conversion can never disagree on which
parameters exist.

Parameter names: ``depth``; a model dimension's key (``hidden``); ``layers.<key>`` for shared layer
dimensions; ``layer<i>.<key>`` (1-based) for per-layer dimensions.

Example:
    >>> import optuna
    >>> from autogt.spaces import load_space
    >>> space = load_space("gps")
    >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    >>> spec, params = space.sample(study.ask())
    >>> space.to_spec(params) == spec
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from autogt.models.spec import ArchSpec, SpecError
from autogt.spaces._schema import Dim, Space, SpaceError

__all__ = [
    "sample",
    "to_spec",
    "active_params",
    "distributions",
    "fixed_distributions",
    "to_nni",
    "from_nni",
    "random_params",
    "corner_params",
]

Source = Callable[[str, Dim], Any]
_MISSING = object()


# ----------------------------------------------------------------------------- the walker
def _active(dim: Dim, lookup: Callable[[str], Any]) -> bool:
    if not dim.when:
        return True
    for group in dim.when:
        ok = True
        for cond in group:
            value = lookup(cond.key)
            if value is _MISSING or not cond.holds(value):
                ok = False
                break
        if ok:
            return True
    return False


def _chain(*scopes: Mapping[str, Any]) -> Callable[[str], Any]:
    def lookup(key: str) -> Any:
        for scope in scopes:
            if key in scope:
                return scope[key]
        return _MISSING

    return lookup


def _inputs(value: Any, index: int) -> tuple[int, ...]:
    """Normalise an ``inputs`` value for 1-based layer ``index``."""
    if value == "previous":
        return (-1,)
    if value == "input":
        return (0,)
    if value == "dense":
        return tuple(range(index))
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    return (int(value),)


def _walk(space: Space, get: Source) -> tuple[ArchSpec, dict[str, Any]]:
    params: dict[str, Any] = {}
    model_scope: dict[str, Any] = {}
    model_fields: dict[str, Any] = {}
    layer_assign: list[tuple[str, Any]] = []  # ("layers.x" | "layer3.x", value) from model presets

    block = space.layers
    if block.depth_searched:
        depth_dim = Dim("depth", "int", low=block.depth_min, high=block.depth_max)
        depth = int(get("depth", depth_dim))
        params["depth"] = depth
    else:
        depth = block.depth_min
    model_scope["depth"] = depth

    for dim in space.model:
        if dim.kind == "fixed":
            model_scope[dim.key] = model_fields[dim.key] = dim.value
            continue
        if not _active(dim, _chain(model_scope)):
            continue
        value = get(dim.key, dim)
        params[dim.key] = model_scope[dim.key] = value
        if dim.sets_field:
            model_fields[dim.key] = value
        for key, assigned in dim.preset(value):
            if key.startswith("layer"):
                layer_assign.append((key, assigned))
            else:
                model_fields[key] = assigned

    shared_scope: dict[str, Any] = {}
    shared_fields: dict[str, Any] = {}
    for dim in block.shared:
        if dim.kind == "fixed":
            shared_scope[dim.key] = shared_fields[dim.key] = dim.value
            continue
        if not _active(dim, _chain(shared_scope, model_scope)):
            continue
        value = get(f"layers.{dim.key}", dim)
        params[f"layers.{dim.key}"] = shared_scope[dim.key] = value
        if dim.sets_field:
            shared_fields[dim.key] = value
        shared_fields.update(dim.preset(value))

    layers = []
    for i in range(1, depth + 1):
        scope: dict[str, Any] = {}
        fields = dict(shared_fields)
        for dim in block.each:
            if dim.kind == "fixed":
                scope[dim.key] = fields[dim.key] = dim.value
                continue
            if not _active(dim, _chain(scope, shared_scope, model_scope)):
                continue
            value = get(f"layer{i}.{dim.key}", dim)
            params[f"layer{i}.{dim.key}"] = scope[dim.key] = value
            if dim.sets_field:
                fields[dim.key] = value
            fields.update(dim.preset(value))
        for key, assigned in layer_assign:
            target, sub = key.split(".", 1)
            if target == "layers" or target == f"layer{i}":
                fields[sub] = assigned
        if "inputs" in fields:
            fields["inputs"] = _inputs(fields["inputs"], i)
        layers.append(fields)

    data = dict(model_fields)
    data["layers"] = layers
    try:
        spec = ArchSpec.from_dict(data)
    except SpecError as exc:
        raise SpaceError(f"space {space.name!r}: the parameters give an invalid spec: {exc}") from None
    return spec, params


# ----------------------------------------------------------------------------- sources
def _check_param(name: str, dim: Dim, value: Any) -> Any:
    if dim.kind == "choice":
        for choice in dim.choices:  # exact match, keeping True distinct from 1
            if choice == value and type(choice) is type(value):
                return choice
        for choice in dim.choices:
            if choice == value and not isinstance(value, bool) and not isinstance(choice, bool):
                return choice
        raise SpaceError(f"{name}: {value!r} is not allowed; choose one of {', '.join(map(str, dim.choices))}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpaceError(f"{name}: expected a number in [{dim.low}, {dim.high}], got {value!r}")
    tol = 1e-9 * max(1.0, abs(dim.high or 0.0))
    if not dim.low - tol <= value <= dim.high + tol:
        raise SpaceError(f"{name}: {value!r} is outside [{dim.low}, {dim.high}]")
    if dim.kind == "int":
        if float(value) != int(value):
            raise SpaceError(f"{name}: expected an integer, got {value!r}")
        value = int(value)
        if dim.step and (value - dim.low) % dim.step:
            raise SpaceError(f"{name}: {value} is not on the grid {dim.low}..{dim.high} step {dim.step}")
        return value
    return float(value)


def to_spec(space: Space, params: Mapping[str, Any]) -> ArchSpec:
    """The ArchSpec for ``params``; inactive or unknown keys are ignored, missing active ones raise."""

    def get(name: str, dim: Dim) -> Any:
        if name not in params:
            raise SpaceError(f"space {space.name!r}: missing parameter {name!r}")
        return _check_param(name, dim, params[name])

    return _walk(space, get)[0]


def active_params(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of ``params`` that the space reads (inactive and unknown keys dropped)."""

    def get(name: str, dim: Dim) -> Any:
        if name not in params:
            raise SpaceError(f"space {space.name!r}: missing parameter {name!r}")
        return _check_param(name, dim, params[name])

    return _walk(space, get)[1]


def sample(space: Space, trial: Any) -> tuple[ArchSpec, dict[str, Any]]:
    """Suggest each active parameter on ``trial`` (``trial.suggest_*``) and build the spec."""

    def get(name: str, dim: Dim) -> Any:
        if dim.kind == "choice":
            return trial.suggest_categorical(name, dim.choices)
        if dim.kind == "int":
            return trial.suggest_int(name, int(dim.low), int(dim.high), step=int(dim.step or 1), log=dim.log)
        return trial.suggest_float(name, float(dim.low), float(dim.high), step=dim.step, log=dim.log)

    return _walk(space, get)


def random_params(space: Space, seed: int = 0) -> dict[str, Any]:
    """Uniformly random active parameters (log-uniform for log ranges)."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def get(name: str, dim: Dim) -> Any:
        if dim.kind == "choice":
            return dim.choices[int(rng.integers(len(dim.choices)))]
        low, high = float(dim.low), float(dim.high)
        if dim.kind == "int":
            if dim.log:
                v = math.floor(math.exp(rng.uniform(math.log(low), math.log(high + 1))))
                return int(min(high, max(low, v)))
            step = int(dim.step or 1)
            return int(low) + step * int(rng.integers((int(high) - int(low)) // step + 1))
        if dim.log:
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))
        if dim.step:
            n = int(round((high - low) / dim.step))
            return float(low + dim.step * int(rng.integers(n + 1)))
        return float(rng.uniform(low, high))

    return _walk(space, get)[1]


def corner_params(space: Space, which: str = "low") -> dict[str, Any]:
    """Every dimension at its first/low (``which="low"``) or last/high (``"high"``) value."""
    first = which == "low"

    def get(name: str, dim: Dim) -> Any:
        if dim.kind == "choice":
            return dim.choices[0] if first else dim.choices[-1]
        value = dim.low if first else dim.high
        if dim.kind == "int":
            if dim.step and not first:
                value = dim.low + dim.step * ((dim.high - dim.low) // dim.step)
            return int(value)
        return float(value)

    return _walk(space, get)[1]


# ----------------------------------------------------------------------------- flat forms
def _all_dims(space: Space) -> list[tuple[str, Dim]]:
    block = space.layers
    out: list[tuple[str, Dim]] = []
    if block.depth_searched:
        out.append(("depth", Dim("depth", "int", low=block.depth_min, high=block.depth_max)))
    out += [(d.key, d) for d in space.model if d.searched]
    out += [(f"layers.{d.key}", d) for d in block.shared if d.searched]
    for i in range(1, block.depth_max + 1):
        out += [(f"layer{i}.{d.key}", d) for d in block.each if d.searched]
    return out


def distributions(space: Space) -> dict[str, Any]:
    """Every parameter that can be active, with its Optuna distribution (stable names)."""
    return {name: dim.distribution() for name, dim in _all_dims(space)}


def fixed_distributions(space: Space) -> dict[str, Any]:
    """Distributions for ``study.ask(fixed_distributions=...)``; raises for conditional spaces.

    Example:
        >>> import optuna
        >>> from autogt.spaces import load_space
        >>> space = load_space("nasbench_graph")
        >>> trial = optuna.create_study().ask(space.fixed_distributions())
        >>> len(space.to_spec(trial.params).layers)
        4
    """
    if space.conditional:
        cond = [n for n, d in _all_dims(space) if d.when] + (["depth"] if space.layers.depth_searched else [])
        raise SpaceError(f"space {space.name!r} has conditional parameters ({', '.join(cond[:5])}"
                         f"{'...' if len(cond) > 5 else ''}); sample it define-by-run with space.sample(trial)")
    return distributions(space)


def to_nni(space: Space) -> dict[str, Any]:
    """NNI's search-space format. Conditional parameters are flattened (always listed; the walker ignores
    inactive ones), because NNI's nested form only nests under a single parent choice.

    Example:
        >>> from autogt.spaces import load_space
        >>> load_space("nasbench_graph").to_nni()["layer1.local"]["_type"]
        'choice'
    """
    out: dict[str, Any] = {}
    for name, dim in _all_dims(space):
        if dim.kind == "choice":
            out[name] = {"_type": "choice", "_value": list(dim.choices)}
        elif dim.kind == "int":
            step = int(dim.step or 1)
            count = (int(dim.high) - int(dim.low)) // step + 1
            if dim.log:
                out[name] = {"_type": "qloguniform", "_value": [dim.low, dim.high, 1]}
            elif count <= 256:
                out[name] = {"_type": "choice", "_value": list(range(int(dim.low), int(dim.high) + 1, step))}
            else:
                out[name] = {"_type": "quniform", "_value": [dim.low, dim.high, step]}
        elif dim.log:
            out[name] = {"_type": "loguniform", "_value": [dim.low, dim.high]}
        elif dim.step:
            out[name] = {"_type": "quniform", "_value": [dim.low, dim.high, dim.step]}
        else:
            out[name] = {"_type": "uniform", "_value": [dim.low, dim.high]}
    return out


def from_nni(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    """Snap an NNI parameter dict onto this space's grid and keep only the active parameters."""
    dims = dict(_all_dims(space))
    snapped: dict[str, Any] = {}
    for name, value in params.items():
        dim = dims.get(name)
        if dim is None or dim.kind == "choice":
            snapped[name] = value
            continue
        low, high = float(dim.low), float(dim.high)
        v = min(high, max(low, float(value)))
        if dim.kind == "int":
            step = int(dim.step or 1)
            v = int(low) + step * int(round((v - low) / step))
            snapped[name] = int(min(v, int(high)))
        elif dim.step:
            snapped[name] = min(high, low + dim.step * round((v - low) / dim.step))
        else:
            snapped[name] = v
    return active_params(space, snapped)
