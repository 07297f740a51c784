from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch_geometric.data import Data

from autogt.data import TaskError, add_pe, compute_pe, load_task
from autogt.data.pe import DENSE_MAX, _lap_dense, _lap_sparse, _one_thread, _rw_dense, _rw_sparse


def _undirected(pairs, n):
    ei = torch.tensor(pairs, dtype=torch.long).t()
    return Data(edge_index=torch.cat([ei, ei.flip(0)], dim=1), num_nodes=n)


def _rw_reference(g, k):
    a = torch.zeros(g.num_nodes, g.num_nodes, dtype=torch.float64)
    a[g.edge_index[0], g.edge_index[1]] = 1
    p = a / a.sum(1, keepdim=True).clamp(min=1)
    m, out = p.clone(), []
    for _ in range(k):
        out.append(torch.diagonal(m))
        m = m @ p
    return torch.stack(out, 1).float()


def _normalized_laplacian(g):
    n = g.num_nodes
    a = torch.zeros(n, n, dtype=torch.float64)
    a[g.edge_index[0], g.edge_index[1]] = 1
    deg = a.sum(1)
    dinv = torch.where(deg > 0, deg.clamp(min=1e-12).rsqrt(), torch.zeros_like(deg))
    return torch.eye(n, dtype=torch.float64) - dinv[:, None] * a * dinv[None, :]


def test_rwse_triangle():
    tri = _undirected([(0, 1), (1, 2), (2, 0)], 3)
    pe = compute_pe(tri, "rw", 4)
    assert pe.shape == (3, 4) and pe.dtype == torch.float32
    assert torch.allclose(pe, torch.tensor([[0.0, 0.5, 0.25, 0.375]] * 3))


def test_rwse_matches_dense_reference_and_isolated_nodes():
    g = _undirected([(0, 1), (1, 2), (2, 3), (3, 0), (1, 3), (3, 4)], 6)  # node 5 isolated
    pe = compute_pe(g, "rw", 6)
    assert torch.allclose(pe, _rw_reference(g, 6), atol=1e-6)
    assert pe[5].abs().sum() == 0


def test_lap_pe_properties():
    g = _undirected([(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (0, 2)], 5)
    pe = compute_pe(g, "lap", 3).double()
    lap = _normalized_laplacian(g)
    eigvals = torch.linalg.eigvalsh(lap)
    lam = (pe * (lap @ pe)).sum(0)
    assert torch.allclose(lam, eigvals[1:4], atol=1e-5)  # the 3 smallest non-trivial
    assert torch.allclose(lap @ pe, pe * lam, atol=1e-5)
    assert torch.allclose(pe.t() @ pe, torch.eye(3, dtype=torch.float64), atol=1e-5)
    # sign convention: the first clearly non-zero entry of each column is positive
    for col in pe.t():
        assert float(col[col.abs() > 1e-4][0]) > 0


def test_lap_pe_zero_padding():
    edge = _undirected([(0, 1)], 2)
    pe = compute_pe(edge, "lap", 4)
    assert pe.shape == (2, 4)
    assert pe[:, 1:].abs().sum() == 0 and pe[:, 0].abs().sum() > 0
    single = Data(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=1)
    assert compute_pe(single, "lap", 3).abs().sum() == 0 and compute_pe(single, "rw", 3).shape == (1, 3)


def test_sparse_and_dense_paths_agree():
    rng = np.random.default_rng(0)
    n = DENSE_MAX + 40
    src = rng.integers(0, n, 3 * n)
    dst = rng.integers(0, n, 3 * n)
    keep = src != dst
    ei = np.concatenate([np.stack([src[keep], dst[keep]]), np.stack([dst[keep], src[keep]])], axis=1)
    adj = torch.zeros(1, n, n, dtype=torch.float64)
    adj[0, ei[0], ei[1]] = 1
    with _one_thread():  # as add_pe runs the dense path
        rw_dense, dense_vecs = _rw_dense(adj, 5)[0], _lap_dense(adj, 4)[0]
    assert np.allclose(_rw_sparse(ei, n, 5), rw_dense.numpy(), atol=1e-10)
    sparse_vecs = torch.from_numpy(_lap_sparse(ei, n, 4))
    lap = _normalized_laplacian(Data(edge_index=torch.from_numpy(ei), num_nodes=n))
    lam_sparse = (sparse_vecs * (lap @ sparse_vecs)).sum(0)
    lam_dense = (dense_vecs * (lap @ dense_vecs)).sum(0)
    assert torch.allclose(lam_sparse, lam_dense, atol=1e-6)


def test_add_pe_on_task_idempotent_and_fast():
    task = load_task("bbbp")
    start = time.perf_counter()
    add_pe(task, "rw", 16)
    add_pe(task, "lap", 8)
    assert time.perf_counter() - start < 15
    g = task.graphs[3]
    assert g.pe_rw.shape == (g.num_nodes, 16) and g.pe_lap.shape == (g.num_nodes, 8)
    assert torch.allclose(g.pe_rw, compute_pe(g, "rw", 16))
    first = g.pe_rw
    add_pe(task, "rw", 16)
    assert g.pe_rw is first  # skipped: already there with the same k
    add_pe(task, "rw", 4)
    assert g.pe_rw.shape[1] == 4
    assert add_pe(task, "none", 0) is task
    with pytest.raises(TaskError, match="rw, lap"):
        add_pe(task, "spectral", 4)
    with pytest.raises(TaskError, match=">= 1"):
        add_pe(task, "rw", 0)


def test_add_pe_node_task():
    task = load_task("cora")
    add_pe(task, "rw", 8)
    add_pe(task, "lap", 4)
    g = task.graphs[0]
    assert g.pe_rw.shape == (2708, 8) and g.pe_lap.shape == (2708, 4)
    # RWSE spot check against explicit walks from a few start nodes
    import scipy.sparse as sp

    ei = g.edge_index.numpy()
    a = sp.csr_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(2708, 2708))
    p = sp.diags(1.0 / np.maximum(np.asarray(a.sum(1)).ravel(), 1)) @ a
    for node in (0, 100, 2000):
        v = np.zeros(2708)
        v[node] = 1.0
        for step in range(8):
            v = p.T @ v
            assert abs(v[node] - float(g.pe_rw[node, step])) < 1e-5
    vecs = g.pe_lap.double()
    assert torch.allclose(vecs.t() @ vecs, torch.eye(4, dtype=torch.float64), atol=1e-4)


def test_lap_pe_on_disconnected_large_graph():
    import scipy.sparse as sp

    task = add_pe(load_task("citeseer"), "lap", 6)  # 438 components, 48 isolated nodes
    g = task.graphs[0]
    vecs = g.pe_lap.double().numpy()
    assert np.isfinite(vecs).all()
    assert np.allclose(vecs.T @ vecs, np.eye(6), atol=1e-5)
    n = g.num_nodes
    ei = g.edge_index.numpy()
    a = sp.csr_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(n, n))
    deg = np.asarray(a.sum(1)).ravel()
    dinv = sp.diags(np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1e-12)), 0))
    lap = sp.eye(n) - dinv @ a @ dinv
    lam = (vecs * (lap @ vecs)).sum(0)
    assert np.abs(lap @ vecs - vecs * lam).max() < 1e-5
    assert np.allclose(lam, 0, atol=1e-6)  # many components: the smallest non-trivial eigenvalues are 0
