"""``ArchSpec``: a whole architecture as a frozen, hashable, JSON/YAML round-tripping value.

A model is always ``build_model(spec, task)`` plus a state dict. Everything that changes an
architecture (a search proposal, a pruning result, an elastic slice) produces a new ``ArchSpec``.

Layers form a DAG: layer ``i`` (1-based) reads the sum of the outputs named in ``inputs``, where
``0`` is the encoded input and ``j`` is the output of layer ``j``; the default ``(-1,)`` means
"the previous layer". Outputs that no later layer reads are *leaves* and are combined by
``ArchSpec.combine`` (``last`` keeps only the last layer, as in a plain stack).

Example:
    >>> from autogt.models.spec import ArchSpec, LayerSpec
    >>> spec = ArchSpec(hidden=64, layers=(LayerSpec(local="gine", attn="full", heads=4),) * 2, pe="rw", pe_dim=16)
    >>> ArchSpec.from_json(spec.to_json()) == spec
    True
    >>> len(spec.hash())
    16
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["LayerSpec", "ArchSpec", "SpecError", "load_spec"]

NORMS = ("batch", "layer", "none")
PES = ("none", "lap", "rw")
POOLINGS = ("mean", "sum", "max", "attention")
COMBINES = ("last", "concat", "sum", "mean")
ACTS = ("relu", "gelu", "elu", "prelu", "tanh", "sigmoid", "identity")
OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine", "plateau")
OUTPUTS = ("head", "layer")


class SpecError(ValueError):
    """An invalid architecture spec; the message names the offending key and the allowed values."""


def _check_choice(key: str, value: Any, allowed: tuple[str, ...] | list[str]) -> None:
    if value not in allowed:
        raise SpecError(f"{key}: {value!r} is not allowed; choose one of {', '.join(map(str, allowed))}")


@dataclass(frozen=True)
class LayerSpec:
    """One layer: an optional local message-passing op, optional global mixing, and an FFN.

    Attributes:
        local: registered local op (``gcn``, ``gin``, ``gine``, ``gat``, ...), or ``none``.
        attn: registered global op (``full``, ``performer``), or ``none``.
        heads: number of attention heads (also used by multi-head local ops such as ``gat``).
        head_dim: width of one attention head; ``None`` means ``dim // heads``. Pruning keeps
            ``head_dim`` and lowers ``heads``.
        ffn: FFN hidden width; ``None`` means ``2 * dim``; ``0`` means no FFN.
        dim: this layer's width; ``None`` means ``ArchSpec.hidden``. A projection is inserted
            where consecutive widths differ.
        norm: ``batch``, ``layer`` or ``none``.
        act: activation inside the FFN and after local ops.
        dropout: dropout on block outputs; ``attn_dropout`` on attention weights.
        residual: add the layer input to each block's output.
        inputs: earlier layers this layer reads (``0`` = encoded input, ``-1`` = previous layer).
        local_out: extra per-op int argument where one exists (``cheb`` K, ``arma`` stacks); 0 = op default.
        prenorm: pre-activation order (ResNet-v2 / NAS-Bench-Graph style): ``norm -> act -> dropout`` on the
            layer *input* (skipped when the input is the raw, unencoded node features), and no norm,
            activation or dropout after the branches. The default (``False``) is post-norm, GraphGPS style.
    """

    local: str = "gine"
    attn: str = "none"
    heads: int = 4
    head_dim: int | None = None
    ffn: int | None = None
    dim: int | None = None
    norm: str = "batch"
    act: str = "relu"
    dropout: float = 0.0
    attn_dropout: float = 0.0
    residual: bool = True
    inputs: tuple[int, ...] = (-1,)
    local_out: int = 0
    prenorm: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(int(i) for i in self.inputs))
        if self.heads < 1:
            raise SpecError(f"heads: must be >= 1, got {self.heads}")
        if self.head_dim is not None and self.head_dim < 1:
            raise SpecError(f"head_dim: must be >= 1 or null, got {self.head_dim}")
        if self.ffn is not None and self.ffn < 0:
            raise SpecError(f"ffn: must be >= 0 or null, got {self.ffn}")
        if self.dim is not None and self.dim < 1:
            raise SpecError(f"dim: must be >= 1 or null, got {self.dim}")
        _check_choice("norm", self.norm, NORMS)
        _check_choice("act", self.act, ACTS)
        if not 0.0 <= self.dropout < 1.0:
            raise SpecError(f"dropout: must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.attn_dropout < 1.0:
            raise SpecError(f"attn_dropout: must be in [0, 1), got {self.attn_dropout}")
        if not self.inputs:
            raise SpecError("inputs: at least one input is required")

    def width(self, hidden: int) -> int:
        """This layer's width given the model's default ``hidden``."""
        return self.dim if self.dim is not None else hidden

    def ffn_width(self, hidden: int) -> int:
        """FFN hidden width given the model's default ``hidden`` (0 = no FFN)."""
        return self.ffn if self.ffn is not None else 2 * self.width(hidden)

    def attn_head_dim(self, hidden: int) -> int:
        """Width of one attention head."""
        if self.head_dim is not None:
            return self.head_dim
        return max(1, self.width(hidden) // self.heads)


@dataclass(frozen=True)
class ArchSpec:
    """A whole graph transformer / GNN architecture (see module docstring for the DAG rules).

    Attributes:
        hidden: default width of every layer.
        layers: the layers, in order.
        pe: positional/structural encoding: ``none``, ``lap`` (Laplacian eigenvectors) or ``rw``
            (random-walk return probabilities, RWSE).
        pe_dim: ``k`` eigenvectors or random-walk steps.
        pe_hidden: width of the PE embedding concatenated to the node embedding (0 = added to it).
        virtual_node: add a virtual node that reads from and writes to every node between layers.
        pooling: graph readout (``mean``, ``sum``, ``max``, ``attention``); ignored for node tasks.
        combine: how leaf outputs of the layer DAG are merged.
        pre_layers: linear+act layers after the input encoder.
        post_layers: layers of the prediction head MLP (>= 1; the last one is the output layer).
        node_encoder: ``auto`` (``atom`` for integer atom features, else ``linear``), ``atom``, ``linear``
            or ``none`` (raw features go straight into the first layer, whose op maps them to its width,
            as in the original GCN).
        edge_encoder: ``auto`` (``bond`` when the task has edge features), ``bond``, ``linear`` or ``none``.
        in_dropout: dropout on the encoded input; ``head_dropout`` before each head layer.
        lr, weight_decay, optimizer, batch_size: training hyper-parameters (part of the design).
        momentum: SGD momentum (``optimizer="sgd"`` only).
        lr_schedule: ``constant``; ``cosine`` (annealed to ``lr / 100`` over the epoch budget); ``plateau``
            (halved when the validation metric has not improved for a third of the early-stopping
            patience, 10 epochs without one; floor ``lr / 100``).
        elastic: nested FFN granularities as fractions of each layer's FFN width (MatFormer), empty if dense.
        output: ``head`` (the ``post_layers`` head MLP makes the prediction) or ``layer`` (the last layer
            itself is ``num_outputs`` wide and is the prediction, as in Kipf & Welling's GCN; needs
            ``combine="last"`` and ``post_layers=1``, and adds no head parameters).
        readout_act: activation on the combined node representation before pooling / the head
            (``identity`` = none; NAS-Bench-Graph applies ``relu`` to its concatenated leaves).
        head_act: activation between head layers; ``auto`` = ``layers[0].act``.
    """

    hidden: int = 64
    layers: tuple[LayerSpec, ...] = field(default_factory=lambda: (LayerSpec(),))
    pe: str = "none"
    pe_dim: int = 0
    pe_hidden: int = 0
    virtual_node: bool = False
    pooling: str = "mean"
    combine: str = "last"
    pre_layers: int = 0
    post_layers: int = 1
    node_encoder: str = "auto"
    edge_encoder: str = "auto"
    in_dropout: float = 0.0
    head_dropout: float = 0.0
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    batch_size: int = 64
    momentum: float = 0.9
    lr_schedule: str = "constant"
    elastic: tuple[float, ...] = ()
    output: str = "head"
    readout_act: str = "identity"
    head_act: str = "auto"

    def __post_init__(self) -> None:
        layers = tuple(layer if isinstance(layer, LayerSpec) else LayerSpec(**layer) for layer in self.layers)
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "elastic", tuple(float(e) for e in self.elastic))
        if self.hidden < 1:
            raise SpecError(f"hidden: must be >= 1, got {self.hidden}")
        if not layers:
            raise SpecError("layers: at least one layer is required")
        _check_choice("pe", self.pe, PES)
        if self.pe != "none" and self.pe_dim < 1:
            raise SpecError(f"pe_dim: must be >= 1 when pe is {self.pe!r}, got {self.pe_dim}")
        if self.pe_hidden < 0:
            raise SpecError(f"pe_hidden: must be >= 0, got {self.pe_hidden}")
        _check_choice("pooling", self.pooling, POOLINGS)
        _check_choice("combine", self.combine, COMBINES)
        _check_choice("node_encoder", self.node_encoder, ("auto", "atom", "linear", "none"))
        _check_choice("edge_encoder", self.edge_encoder, ("auto", "bond", "linear", "none"))
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.post_layers < 1:
            raise SpecError(f"post_layers: must be >= 1, got {self.post_layers}")
        _check_choice("output", self.output, OUTPUTS)
        _check_choice("readout_act", self.readout_act, ACTS)
        _check_choice("head_act", self.head_act, ("auto",) + ACTS)
        if self.output == "layer" and (self.combine != "last" or self.post_layers != 1):
            raise SpecError("output: 'layer' needs combine='last' and post_layers=1 (the last layer is the output)")
        if self.pre_layers < 0:
            raise SpecError(f"pre_layers: must be >= 0, got {self.pre_layers}")
        if self.lr <= 0:
            raise SpecError(f"lr: must be > 0, got {self.lr}")
        if not 0.0 <= self.momentum < 1.0:
            raise SpecError(f"momentum: must be in [0, 1), got {self.momentum}")
        if self.batch_size < 1:
            raise SpecError(f"batch_size: must be >= 1, got {self.batch_size}")
        for e in self.elastic:
            if not 0.0 < e <= 1.0:
                raise SpecError(f"elastic: granularities must be in (0, 1], got {e}")
        for i, layer in enumerate(layers, start=1):
            for j in layer.inputs:
                if j != -1 and not 0 <= j < i:
                    raise SpecError(
                        f"layers[{i - 1}].inputs: {j} is not an earlier layer; allowed: -1 (previous), 0..{i - 1}"
                    )

    # ----------------------------------------------------------------- graph structure
    def resolved_inputs(self) -> list[tuple[int, ...]]:
        """Inputs of each layer with ``-1`` replaced by the previous layer's index."""
        return [tuple(i if j == -1 else j for j in layer.inputs) for i, layer in enumerate(self.layers)]

    def leaves(self) -> list[int]:
        """1-based indices of layers whose output no later layer reads (always includes the last)."""
        if self.combine == "last":
            return [len(self.layers)]
        used = {j for ins in self.resolved_inputs() for j in ins}
        return [i for i in range(1, len(self.layers) + 1) if i not in used]

    def layer_in_width(self, index: int) -> int:
        """Input width of 0-based layer ``index`` (width of its first input)."""
        src = self.resolved_inputs()[index][0]
        return self.hidden if src == 0 else self.layers[src - 1].width(self.hidden)

    def out_width(self) -> int:
        """Width of the combined node representation fed to pooling / head."""
        widths = [self.layers[i - 1].width(self.hidden) for i in self.leaves()]
        return sum(widths) if self.combine == "concat" else max(widths)

    @property
    def uses_edges_attr(self) -> bool:
        return any(layer.local in ("gine",) for layer in self.layers)

    # ----------------------------------------------------------------- (de)serialisation
    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        """Plain dict; with ``full=False`` fields equal to their default are omitted (canonical form)."""
        return _to_dict(self, full)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArchSpec:
        """Build from a dict, rejecting unknown keys with the list of allowed ones."""
        if not isinstance(data, dict):
            raise SpecError(f"spec: expected a mapping, got {type(data).__name__}")
        data = dict(data)
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise SpecError(f"spec: unknown key(s) {', '.join(unknown)}; allowed keys: {', '.join(sorted(allowed))}")
        layers = data.get("layers", None)
        if layers is not None:
            if isinstance(layers, dict):  # {"repeat": n, "layer": {...}} shorthand
                n = layers.get("repeat", 1)
                layers = [layers.get("layer", {})] * int(n)
            if not isinstance(layers, (list, tuple)):
                raise SpecError(f"layers: expected a list, got {type(layers).__name__}")
            data["layers"] = tuple(_layer_from(x, i) for i, x in enumerate(layers))
        if "elastic" in data:
            data["elastic"] = tuple(data["elastic"] or ())
        try:
            return cls(**data)
        except TypeError as exc:  # wrong value types
            raise SpecError(f"spec: {exc}") from exc

    def to_json(self, *, full: bool = False) -> str:
        """Canonical JSON (sorted keys, defaults omitted unless ``full``)."""
        return json.dumps(self.to_dict(full=full), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ArchSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"spec: invalid JSON: {exc}") from exc
        return cls.from_dict(data)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=True)

    @classmethod
    def from_yaml(cls, text: str) -> ArchSpec:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(f"spec: invalid YAML: {exc}") from exc
        if isinstance(data, dict) and "spec" in data and isinstance(data["spec"], dict):
            data = data["spec"]
        return cls.from_dict(data)

    def hash(self) -> str:
        """Stable 16-hex content hash of the canonical JSON."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> ArchSpec:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def replace_layer(self, index: int, **changes: Any) -> ArchSpec:
        """A copy with layer ``index`` changed."""
        layers = list(self.layers)
        layers[index] = dataclasses.replace(layers[index], **changes)
        return dataclasses.replace(self, layers=tuple(layers))


def _layer_from(x: Any, i: int) -> LayerSpec:
    if isinstance(x, LayerSpec):
        return x
    if not isinstance(x, dict):
        raise SpecError(f"layers[{i}]: expected a mapping, got {type(x).__name__}")
    allowed = {f.name for f in fields(LayerSpec)}
    unknown = sorted(set(x) - allowed)
    if unknown:
        raise SpecError(f"layers[{i}]: unknown key(s) {', '.join(unknown)}; allowed keys: {', '.join(sorted(allowed))}")
    x = dict(x)
    if "inputs" in x:
        ins = x["inputs"]
        x["inputs"] = tuple(ins) if isinstance(ins, (list, tuple)) else (ins,)
    try:
        return LayerSpec(**x)
    except SpecError as exc:
        raise SpecError(f"layers[{i}].{exc}") from None
    except TypeError as exc:
        raise SpecError(f"layers[{i}]: {exc}") from exc


def _to_dict(obj: Any, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.name == "layers":
            value = [_to_dict(layer, full) for layer in value]
        elif isinstance(value, tuple):
            value = list(value)
        if not full and f.name != "layers":
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            if isinstance(default, tuple):
                default = list(default)
            if value == default:
                continue
        out[f.name] = value
    return out


def load_spec(source: str | Path | dict[str, Any] | ArchSpec) -> ArchSpec:
    """Load a spec from an ``ArchSpec``, a dict, a built-in name (``gcn``, ``gin``, ``gps``...) or a YAML/JSON path."""
    if isinstance(source, ArchSpec):
        return source
    if isinstance(source, dict):
        return ArchSpec.from_dict(source)
    text_source = str(source)
    path = Path(text_source)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists():
        if not path.exists():
            raise SpecError(f"spec file not found: {path}")
        text = path.read_text()
        if path.suffix.lower() == ".json":
            return ArchSpec.from_json(text)
        return ArchSpec.from_yaml(text)
    from autogt.models.builtin import builtin_spec

    return builtin_spec(text_source)
