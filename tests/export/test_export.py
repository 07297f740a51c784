from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from autogt.cli import main
from autogt.elastic import extract_model, set_granularity
from autogt.export import ExportError, batch_inputs, export
from autogt.models import ArchSpec, LayerSpec, build_model
from autogt.registry import register, unregister
from autogt.testing.layers import molecule_task, node_task, random_graphs
from autogt.train import load_checkpoint, load_model, save_checkpoint
from autogt.train.metrics import TargetScaler

ort = pytest.importorskip("onnxruntime")
TASK = molecule_task()

MODELS = {
    "gcn": ArchSpec(hidden=12, layers=(LayerSpec(local="gcn", ffn=0, norm="none"),) * 2, node_encoder="linear",
                    pooling="sum"),
    "gin": ArchSpec(hidden=12, layers=(LayerSpec(local="gine", ffn=0),) * 3, pooling="max"),
    "gps": ArchSpec(hidden=16, layers=(LayerSpec(local="gine", attn="full", heads=4, ffn=32),) * 2, pe="rw",
                    pe_dim=4, pe_hidden=4, post_layers=2),
    "performer": ArchSpec(hidden=16, layers=(LayerSpec(local="gine", attn="performer", heads=2, ffn=32),) * 2,
                          pe="lap", pe_dim=3, virtual_node=True, pooling="attention"),
}


def _trained_like(spec, task=TASK):
    model = build_model(spec, task)
    with torch.no_grad():  # non-trivial norms and weights
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _onnx_run(path, names, args):
    """Run an ONNX export; ``names`` are the inputs it takes (unused ones, e.g. ``edge_attr``, are dropped)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == names
    full = ["x", "edge_index", "edge_attr", "batch", "pe"]
    feeds = {k: v.numpy() for k, v in zip(full, args, strict=False) if k in names}
    return torch.from_numpy(session.run(None, feeds)[0])


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_matches_pytorch_on_other_sizes(name, fmt, tmp_path):
    model = _trained_like(MODELS[name])
    res = export(model, fmt, tmp_path / f"m.{fmt}")
    assert res.max_abs_diff <= 1e-4
    assert len({g for g, _ in res.checked}) >= 2  # verified on batches of several graph counts
    batch = random_graphs([11, 2, 6, 9, 3, 5, 8], TASK, seed=7, pe_dim=MODELS[name].pe_dim or 8)  # unseen sizes
    args = batch_inputs(batch, model)
    with torch.no_grad():
        ref = model(batch)
    if fmt == "torchscript":
        got = torch.jit.load(str(res.path))(*args)
    else:
        got = _onnx_run(res.path, res.input_names, args)
    assert got.shape == ref.shape == (7, 2)
    assert torch.allclose(got, ref, atol=1e-4)


def test_regression_export_includes_denormalisation(tmp_path):
    task = molecule_task(num_outputs=1, kind="regression")
    model = _trained_like(MODELS["gps"], task)
    scaler = TargetScaler(mean=(5.0,), std=(3.0,))
    save_checkpoint(tmp_path / "reg.safetensors", model, MODELS["gps"], task, target_scaler=scaler)
    loaded, ckpt = load_model(tmp_path / "reg.safetensors")
    batch = random_graphs([4, 7, 5], task, seed=3, pe_dim=4)
    with torch.no_grad():
        raw = loaded(batch)
        want = ckpt.denormalize(raw)
    for fmt in ("torchscript", "onnx"):
        res = export(tmp_path / "reg.safetensors", fmt, tmp_path / f"reg.{fmt}")
        args = batch_inputs(batch, loaded)
        got = torch.jit.load(res.path)(*args) if fmt == "torchscript" else _onnx_run(res.path, res.input_names, args)
        assert torch.allclose(got, want, atol=1e-4)
        assert not torch.allclose(got, raw, atol=1e-1)


def test_node_level_export(tmp_path):
    task = node_task()
    model = _trained_like(ArchSpec(hidden=8, layers=(LayerSpec(local="sage", attn="full", heads=2),) * 2), task)
    for fmt in ("torchscript", "onnx"):
        res = export(model, fmt, tmp_path / f"n.{fmt}")
        assert res.max_abs_diff <= 1e-4 and len({n for _, n in res.checked}) == 3


def test_elastic_model_and_its_slice_export_alike(tmp_path):
    spec = MODELS["gps"].replace(elastic=(0.25, 0.5, 1.0))
    model = _trained_like(spec)
    set_granularity(model, (0, 2))
    sub = extract_model(model, (0, 2)).eval()
    batch = random_graphs([6, 3, 9], TASK, seed=5, pe_dim=4)
    a = export(model, "onnx", tmp_path / "elastic.onnx")
    b = export(sub, "onnx", tmp_path / "slice.onnx")
    args = batch_inputs(batch, sub)
    assert torch.allclose(_onnx_run(a.path, a.input_names, args), _onnx_run(b.path, b.input_names, args), atol=1e-5)


class _Eigen(nn.Module):
    """A local op whose spectrum term has no ONNX symbolic."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim)

    def forward(self, x, edge_index, edge_attr=None):
        return self.lin(x) * torch.linalg.eigvalsh(x.T @ x).mean().tanh()


@pytest.fixture
def eigen_op():
    register("local", "eigtest", lambda in_dim, out_dim, **_: _Eigen(in_dim, out_dim))
    yield "eigtest"
    unregister("local", "eigtest")


def test_unsupported_operator_is_named(eigen_op, tmp_path):
    model = _trained_like(ArchSpec(hidden=8, layers=(LayerSpec(local="gine"), LayerSpec(local=eigen_op))))
    with pytest.raises(ExportError, match=r"'aten::linalg_eigvalsh' \(used by layers\[1\]\.local 'eigtest'\)"):
        export(model, "onnx", tmp_path / "m.onnx")
    assert export(model, "torchscript", tmp_path / "m.pt").max_abs_diff <= 1e-4  # TorchScript has the op


def test_unsupported_global_op_is_named(tmp_path):
    from autogt.models.attention import MultiHeadAttention

    register("global", "oddattn", lambda i, o, *, heads, head_dim, layer: MultiHeadAttention(i, o, heads, head_dim))
    try:
        model = build_model(ArchSpec(hidden=8, layers=(LayerSpec(attn="oddattn", heads=2),)), TASK)
        for fmt in ("torchscript", "onnx"):
            with pytest.raises(ExportError, match="global op 'oddattn'"):
                export(model, fmt, tmp_path / "m")
    finally:
        unregister("global", "oddattn")


def test_export_checkpoint_format_and_bad_format(tmp_path):
    model = _trained_like(MODELS["gin"])
    res = export(model, "checkpoint", tmp_path / "c.safetensors")
    loaded, _ = load_model(res.path)
    batch = random_graphs([3, 4], TASK)
    with torch.no_grad():
        assert torch.allclose(loaded(batch), model(batch))
    import autogt
    import autogt.export as package

    assert autogt.export is package or callable(autogt.export)  # the package is callable like the function
    assert package(model, "checkpoint", tmp_path / "d.safetensors").path.endswith("d.safetensors")
    with pytest.raises(ExportError, match="format"):
        export(model, "tflite", tmp_path / "m")
    with pytest.raises(ExportError, match="opset"):
        export(model, "onnx", tmp_path / "m.onnx", opset=13)


def test_export_cli(tmp_path, capsys):
    save_checkpoint(tmp_path / "m.safetensors", _trained_like(MODELS["gps"]), MODELS["gps"], TASK)
    code = main(["export", str(tmp_path / "m.safetensors"), "--format", "onnx", "--out", str(tmp_path / "m.onnx"),
                 "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["format"] == "onnx" and out["max_abs_diff"] <= 1e-4
    assert out["input_names"] == ["x", "edge_index", "edge_attr", "batch", "pe"]
    code = main(["export", str(tmp_path / "nope.safetensors"), "--format", "onnx", "--out", str(tmp_path / "x")])
    assert code == 2


def test_bbbp_batches_of_other_sizes(tmp_path):
    """Real molecules: trace on one BBBP batch, verify on BBBP batches with other graph/node counts."""
    from autogt.data import load_task

    task = load_task("bbbp")
    spec = ArchSpec(hidden=16, layers=(LayerSpec(local="gine", attn="full", heads=4, ffn=32),) * 2, pe="rw", pe_dim=8,
                    pe_hidden=4, batch_size=16)
    model = _trained_like(spec, task)
    ckpt = tmp_path / "bbbp.safetensors"
    save_checkpoint(ckpt, model, spec, task)
    for fmt in ("torchscript", "onnx"):
        res = export(ckpt, fmt, tmp_path / f"b.{fmt}")
        graphs = [g for g, _ in res.checked]
        assert graphs[0] == 16 and len(set(graphs)) == len(graphs) >= 3, res.checked
        assert res.max_abs_diff <= 1e-4
    assert np.isfinite(res.max_abs_diff)
    assert load_checkpoint(ckpt).task_info["name"] == "bbbp"
