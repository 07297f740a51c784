"""Input encoders: categorical (atom / bond) embeddings, linear feature encoders and PE/SE encoders."""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

__all__ = ["CategoricalEncoder", "LinearEncoder", "PEEncoder"]


class CategoricalEncoder(nn.Module):
    """Sum of one embedding per feature column (OGB ``AtomEncoder`` / ``BondEncoder`` style).

    Column ``c`` has ``vocab[c]`` categories; out-of-range indices (negative or too large) are clamped
    into ``[0, vocab[c] - 1]``, so unseen categories share the last bucket. In training, tables with at
    most :attr:`one_hot_max` rows in all are looked up as one-hot rows times the stacked tables.

    Shapes:
        x ``long[n, len(vocab)]`` -> ``[n, dim]``.
    """

    #: largest total vocabulary looked up by a one-hot product in training (the one-hot matrix is
    #: ``[n, sum(vocab)]``; above this, one gather per column)
    one_hot_max = 1024

    def __init__(self, vocab: tuple[int, ...] | list[int], dim: int) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(int(v), dim) for v in vocab)
        for emb in self.embeddings:
            nn.init.xavier_uniform_(emb.weight)  # type: ignore[arg-type]
        self.upper: Tensor
        self.offsets: Tensor
        self.register_buffer("upper", torch.tensor([int(v) - 1 for v in vocab], dtype=torch.long), persistent=False)
        starts = [0, *itertools.accumulate(int(v) for v in list(vocab)[:-1])]  # first row of each column's table
        self.register_buffer("offsets", torch.tensor(starts, dtype=torch.long), persistent=False)
        self.vocab_size = sum(int(v) for v in vocab)

    def _stacked_table(self) -> Tensor:
        """Every column's table, one under the other (row ``offsets[c] + i`` is category ``i`` of column ``c``)."""
        return torch.cat([emb.weight for emb in self.embeddings if isinstance(emb, nn.Embedding)])  # [V, dim]

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 1:
            x = x.unsqueeze(-1)
        if x.size(-1) != len(self.embeddings):
            raise ValueError(f"categorical encoder expects {len(self.embeddings)} feature columns, got {x.size(-1)}")
        x = torch.minimum(x.long().clamp_min(0), self.upper)  # [n, C]
        onnx = torch.onnx.is_in_onnx_export()
        if self.training and torch.is_grad_enabled() and not onnx and self.one_hot_max >= self.vocab_size:
            # training: a one-hot matrix times the stacked tables. The C gathers and their backward
            # (``embedding_dense_backward``, a serial scatter-add per column) cost about 2.5x more on CPU
            # than two small GEMMs; the tables stay separate parameters (the gradient of ``cat`` splits it)
            table = self._stacked_table()  # [V, dim]
            hot = torch.zeros(x.size(0), table.size(0), dtype=table.dtype, device=table.device)
            return hot.scatter_(1, x + self.offsets, 1.0) @ table  # [n, V] @ [V, dim]
        if torch.is_grad_enabled() or onnx:
            # large vocabularies, and tracers (Torch-Pruning's dependency graph, built in eval mode, cannot
            # follow a concatenation of parameters; ONNX has no EmbeddingBag): one gather per column
            out = self.embeddings[0](x[:, 0])
            for c, emb in enumerate(self.embeddings[1:], start=1):
                out = out + emb(x[:, c])
            return out  # [n, dim]
        # inference: one fused lookup-and-sum over the stacked tables, the same sum without C gathers of
        # [n, dim] and C - 1 additions (memory-bound, a fixed cost that pruning cannot shrink: about 10x
        # faster on a batch of 256 molecules); the tables stay separate parameters, so checkpoints and
        # structural pruning see the usual per-column embeddings
        table = self._stacked_table()  # [sum(vocab), dim]
        return nn.functional.embedding_bag(x + self.offsets, table, mode="sum")  # [n, dim]


class LinearEncoder(nn.Module):
    """``Linear(in_dim, dim)`` on features cast to float.

    Shapes:
        x ``[n, in_dim]`` -> ``[n, dim]``.
    """

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 1:
            x = x.unsqueeze(-1)
        return self.lin(x.to(self.lin.weight.dtype))


class PEEncoder(nn.Module):
    """``Linear(k, dim)`` on a positional / structural encoding.

    ``lap`` eigenvectors get a random sign per graph and eigenvector in training (their sign is
    arbitrary); NaNs (padding for graphs smaller than ``k``) become 0. Encodings wider than ``k`` are
    cut to their first ``k`` columns.

    Shapes:
        pe ``[n, >=k]``, batch ``[n]`` -> ``[n, dim]``.
    """

    def __init__(self, kind: str, k: int, dim: int) -> None:
        super().__init__()
        self.kind, self.k = kind, k
        self.lin = nn.Linear(k, dim)

    def forward(self, pe: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        if pe.dim() != 2 or pe.size(1) < self.k:
            raise ValueError(f"pe_{self.kind}: expected shape [num_nodes, >={self.k}], got {list(pe.shape)}")
        pe = torch.nan_to_num(pe[:, : self.k].to(self.lin.weight.dtype))  # [n, k]
        if self.kind == "lap" and self.training:
            sign = torch.randint(0, 2, (num_graphs, self.k), device=pe.device).to(pe.dtype) * 2 - 1  # [G, k]
            pe = pe * sign[batch]
        return self.lin(pe)  # [n, dim]
