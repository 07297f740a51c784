"""``AutoGTModel`` and ``build_model``: an ``ArchSpec`` turned into a plain ``torch.nn.Module``.

Forward pass, top to bottom::

    h0 = node_encoder(x)                        # atom embeddings | Linear | raw features (none)
    h0 = h0 + pe(x) or cat(h0, pe(x))           # pe_hidden == 0: added; > 0: concatenated
    h0 = pre_layers(dropout(h0, in_dropout))    # Linear + act, each
    for layer i:                                # DAG: sum of the named inputs (0 = h0)
        h_in = sum(proj(out[j]) for j in inputs[i]) (+ virtual node state)
        out[i] = GTLayer_i(h_in, edge_index, edge_enc[width_i], batch, ptr)
    h = readout_act(combine(leaves))            # last | concat | sum | mean; act: identity by default
    y = head(pool(h)) (graph level) or head(h) (node level)

The head is ``post_layers`` Linear layers (``out -> hidden -> ... -> num_outputs``) with ``head_act``
(default: ``layers[0].act``) between them and ``head_dropout`` before each; with ``spec.output == "layer"``
there is no head and the last layer is ``num_outputs`` wide (Kipf & Welling's GCN). ``pre_layers`` use
``layers[0].act``.

Virtual node (Hu et al. 2020, GIN-VN): a per-graph vector (zero-initialised embedding) added to every
node of each layer's input; before layer ``i > 0`` it is updated as
``vn = dropout(MLP(sum_pool(h_in of layer i-1) + vn))`` with
``MLP = Linear(w, 2w') -> norm -> ReLU -> Linear(2w', w') -> norm -> ReLU`` (``w'`` = layer ``i``'s
input width, norm and dropout from layer ``i``'s spec).

Example:
    >>> import torch
    >>> from torch_geometric.data import Data
    >>> from autogt.models import ArchSpec, LayerSpec, build_model
    >>> task = {"level": "graph", "kind": "regression", "num_outputs": 1, "node_dim": 3}
    >>> spec = ArchSpec(hidden=8, layers=(LayerSpec(local="gin", attn="full", heads=2),))
    >>> model = build_model(spec, task).eval()
    >>> g = Data(x=torch.randn(4, 3), edge_index=torch.tensor([[0, 1, 2], [1, 2, 3]]))
    >>> model(g).shape
    torch.Size([1, 1])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from autogt.models._util import dropout, make_act, make_norm, scatter_sum
from autogt.models.encoders import CategoricalEncoder, LinearEncoder, PEEncoder
from autogt.models.layer import GTLayer
from autogt.models.plan import TaskInfo, make_plan
from autogt.models.spec import ArchSpec
from autogt.registry import get

__all__ = ["AutoGTModel", "build_model"]


class AutoGTModel(nn.Module):
    """A graph transformer / GNN built from an :class:`~autogt.models.spec.ArchSpec` (see module doc).

    Attributes:
        spec: the architecture.
        plan: the resolved widths (:class:`~autogt.models.plan.ModelPlan`).

    Shapes:
        ``model(batch)`` with ``batch.x [n, node_dim]`` -> ``[G, num_outputs]`` (graph level) or
        ``[n, num_outputs]`` (node level).
    """

    def __init__(self, spec: ArchSpec, task: Any) -> None:
        super().__init__()
        plan = make_plan(spec, task)
        info = plan.info
        self.spec, self.plan, self.level = spec, plan, info.level
        first_act = spec.layers[0].act

        # ---- node input
        if plan.node_encoder == "atom":
            self.node_encoder: nn.Module | None = CategoricalEncoder(info.atom_vocab, plan.node_width)
        elif plan.node_encoder == "linear":
            self.node_encoder = LinearEncoder(info.node_dim, plan.node_width)
        else:
            self.node_encoder = None
        self.pe_encoder = PEEncoder(spec.pe, spec.pe_dim, plan.pe_width) if spec.pe != "none" else None
        pre: list[nn.Module] = []
        width = plan.enc_width
        for _ in range(spec.pre_layers):
            pre += [nn.Linear(width, spec.hidden), make_act(first_act)]
            width = spec.hidden
        self.pre = nn.Sequential(*pre)

        # ---- edge input: one encoder per distinct width an edge-aware op needs
        self.edge_encoders = nn.ModuleDict()
        for w in plan.edge_widths:
            if plan.edge_encoder == "bond":
                self.edge_encoders[str(w)] = CategoricalEncoder(info.bond_vocab, w)
            else:
                self.edge_encoders[str(w)] = LinearEncoder(info.edge_dim, w)

        # ---- layers (DAG)
        self.in_projs = nn.ModuleDict()
        self.layers = nn.ModuleList()
        for i, (layer, lp) in enumerate(zip(spec.layers, plan.layers, strict=True)):
            for pos, dim in enumerate(lp.source_dims):
                if pos > 0 and dim != lp.in_dim:
                    self.in_projs[f"{i}_{pos}"] = nn.Linear(dim, lp.in_dim, bias=False)
            self.layers.append(GTLayer(layer, lp.in_dim, lp.out_dim, edge_dim=lp.edge_dim, head_dim=lp.head_dim,
                                       elastic=spec.elastic, raw_input=lp.raw_input))

        # ---- virtual node
        if spec.virtual_node:
            self.vn_embedding = nn.Embedding(1, plan.layers[0].in_dim)
            nn.init.zeros_(self.vn_embedding.weight)
            self.vn_mlps = nn.ModuleList()
            for i in range(1, len(spec.layers)):
                w_in, w = plan.layers[i - 1].in_dim, plan.layers[i].in_dim
                norm = spec.layers[i].norm
                self.vn_mlps.append(nn.Sequential(
                    nn.Linear(w_in, 2 * w), make_norm(norm, 2 * w), nn.ReLU(),
                    nn.Linear(2 * w, w), make_norm(norm, w), nn.ReLU(),
                ))

        # ---- combine leaves
        self.leaf_projs = nn.ModuleDict()
        if spec.combine in ("sum", "mean"):
            for leaf, dim in zip(plan.leaves, plan.leaf_dims, strict=True):
                if dim != plan.out_dim:
                    self.leaf_projs[str(leaf)] = nn.Linear(dim, plan.out_dim, bias=False)

        # ---- readout and head
        self.readout_act = make_act(spec.readout_act)
        head_act = first_act if spec.head_act == "auto" else spec.head_act
        self.pool = get("pooling", spec.pooling)(plan.out_dim) if info.level == "graph" else None
        head: list[nn.Module] = []
        if spec.output == "head":
            width = plan.out_dim
            for _ in range(spec.post_layers - 1):
                head += [nn.Dropout(spec.head_dropout), nn.Linear(width, spec.hidden), make_act(head_act)]
                width = spec.hidden
            head += [nn.Dropout(spec.head_dropout), nn.Linear(width, info.num_outputs)]
        self.head = nn.Sequential(*head)  # empty (identity) when the last layer is the output

    # ------------------------------------------------------------------ helpers
    @property
    def task_info(self) -> TaskInfo:
        return self.plan.info

    def _pe(self, data: Any, n: int) -> Tensor:
        kind, k = self.spec.pe, self.spec.pe_dim
        pe = getattr(data, f"pe_{kind}", None)
        if pe is not None:
            return pe
        try:
            from autogt.data.pe import compute_pe
        except ImportError as exc:
            raise ValueError(
                f"spec uses pe={kind!r} but the batch has no 'pe_{kind}' attribute and autogt.data.pe.compute_pe is "
                f"unavailable; attach it first (autogt.data.pe.add_pe(task, {kind!r}, {k}))"
            ) from exc
        graphs = data.to_data_list() if hasattr(data, "to_data_list") else [data]
        pe = torch.cat([torch.as_tensor(compute_pe(g, kind, k)) for g in graphs])
        if pe.size(0) != n:
            raise ValueError(f"compute_pe returned {pe.size(0)} rows for {n} nodes")
        return pe.to(self._device())

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def encode_edges(self, edge_attr: Tensor | None) -> dict[int, Tensor]:
        """Edge features at every width an edge-aware op needs (raw features under key -1)."""
        if edge_attr is None or self.plan.edge_encoder == "absent":
            return {}
        if edge_attr.dim() == 1:
            edge_attr = edge_attr.unsqueeze(-1)
        if self.plan.edge_encoder == "none":
            return {-1: edge_attr.float()}
        return {int(w): enc(edge_attr) for w, enc in self.edge_encoders.items()}

    # ------------------------------------------------------------------ forward
    def forward(self, data: Any) -> Tensor:
        x, edge_index = data.x, data.edge_index
        n = x.size(0)
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(n, dtype=torch.long, device=x.device)
        ptr = getattr(data, "ptr", None)
        if ptr is None:
            counts = torch.bincount(batch, minlength=int(batch.max()) + 1 if n else 1)
            ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
        num_graphs = ptr.numel() - 1
        spec, plan = self.spec, self.plan

        # ---- encode nodes
        h = self.node_encoder(x) if self.node_encoder is not None else x.float()  # [n, node_width]
        if h.dim() == 1:
            h = h.unsqueeze(-1)
        if self.pe_encoder is not None:
            pe = self.pe_encoder(self._pe(data, n), batch, num_graphs)  # [n, pe_width]
            h = torch.cat([h, pe], dim=-1) if plan.pe_concat else h + pe
        h = self.pre(dropout(h, spec.in_dropout, self.training))  # [n, w0]
        edges = self.encode_edges(getattr(data, "edge_attr", None))

        # ---- layers
        outs = [h]
        vn = self.vn_embedding.weight.expand(num_graphs, -1) if spec.virtual_node else None  # [G, w]
        prev_in: Tensor | None = None
        for i, (layer, lp) in enumerate(zip(self.layers, plan.layers, strict=True)):
            h_in = outs[lp.sources[0]]
            for pos, src in enumerate(lp.sources[1:], start=1):
                proj = self.in_projs[f"{i}_{pos}"] if f"{i}_{pos}" in self.in_projs else None
                h_in = h_in + (outs[src] if proj is None else proj(outs[src]))
            if vn is not None:
                if i > 0:
                    assert prev_in is not None
                    pooled = scatter_sum(prev_in, batch, num_graphs)  # [G, w_prev]
                    vn = dropout(self.vn_mlps[i - 1](pooled + vn), spec.layers[i].dropout, self.training)
                h_in = h_in + vn[batch]
                prev_in = h_in
            ea = None
            if lp.edge_dim:
                ea = edges.get(-1 if plan.edge_encoder == "none" else lp.in_dim)
            outs.append(layer(h_in, edge_index, ea, batch, ptr))  # [n, out_i]

        # ---- combine leaves, read out
        leaves = [outs[j] for j in plan.leaves]
        if spec.combine == "concat":
            h = torch.cat(leaves, dim=-1)
        elif spec.combine in ("sum", "mean"):
            leaves = [self.leaf_projs[str(j)](t) if str(j) in self.leaf_projs else t
                      for j, t in zip(plan.leaves, leaves, strict=True)]
            h = torch.stack(leaves).sum(0)
            if spec.combine == "mean":
                h = h / len(leaves)
        else:
            h = leaves[-1]  # [n, out_dim]
        h = self.readout_act(h)
        if self.pool is not None:
            h = self.pool(h, batch, num_graphs)  # [G, out_dim]
        return self.head(h)

    def extra_repr(self) -> str:
        return f"spec={self.spec.hash()}, level={self.level!r}"


def build_model(spec: ArchSpec, task: Any) -> AutoGTModel:
    """Build the model for ``spec`` on ``task`` (a ``Task`` or its ``describe()`` dict).

    Raises:
        SpecError: the spec does not fit the task (e.g. ``node_encoder="atom"`` on float features).
        UnknownNameError: an op name that is not registered (the message lists the known ones).
    """
    return AutoGTModel(spec, task)

