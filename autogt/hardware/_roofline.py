"""Roofline estimates for devices that are not at hand, from their published peak numbers.

Each block (see :mod:`autogt.hardware._blocks`) costs::

    t = max(flops / (peak * compute_eff), bytes / (bandwidth * bandwidth_eff)) + ops * launch_us

``flops``, ``bytes`` moved and ``ops`` (aten kernels) per block come from the device-independent
count tables of a measured profile (counted with a dispatch mode while profiling, so they follow the
real implementation: attention padding, gathers, per-bucket launches); without one, from analytic
formulas (:func:`nominal_counts`). ``peak`` is the FP32 peak by default (PyTorch runs FP32 matmuls
without TF32 unless asked); ``dtype="tf32"``/``"fp16"`` picks the tensor-core peak.

``compute_eff``, ``bandwidth_eff`` and ``launch_us`` (eager PyTorch: CPU dispatch plus kernel launch per
op; small molecule batches are launch-bound) have defaults below and are *calibrated* when a measured
CUDA profile exists: :func:`fit_roofline` fits them to that profile's whole-model measurements and every
roofline built afterwards uses the fitted values (:func:`autogt.hardware.load_profile`).

Published numbers (dense, no sparsity; NVIDIA data sheets):

====== ============= ====== ====== ====== ========= =======
name   card          FP32   TF32   FP16   memory    GB/s
====== ============= ====== ====== ====== ========= =======
h100   H100 SXM5 80G 67     495    989    HBM3      3350
h200   H200 SXM 141G 67     495    989    HBM3e     4800
a100   A100 SXM4 80G 19.5   156    312    HBM2e     2039
l4     L4 24G        30.3   60     121    GDDR6     300
t4     T4 16G        8.1    (8.1)  65     GDDR6     320
====== ============= ====== ====== ====== ========= =======

(TFLOP/s; T4 has no TF32, so its FP32 peak is used.)

Example:
    >>> ROOFLINES["h100"].peak_tflops("fp32"), ROOFLINES["t4"].peak_tflops("tf32")
    (67.0, 8.1)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from autogt.hardware._blocks import Block, nominal_layer
from autogt.models.ops._base import op_attr
from autogt.registry import get

__all__ = ["RooflineSpec", "ROOFLINES", "match_roofline", "nominal_counts", "roofline_block_ms",
           "combine_roofline", "DEFAULT_REF_DEGREE"]

DEFAULT_REF_DEGREE = 2.16
"""Directed edges per node of bundled BBBP molecules (used when no measured profile gives one)."""

_BYTES = 4.0  # float32 activations


@dataclass(frozen=True)
class RooflineSpec:
    """Published facts of a device, plus the efficiency terms of the roofline model.

    Attributes:
        name: short name (``h100``...); ``card``: the product it describes.
        fp32_tflops, tf32_tflops, fp16_tflops: dense peaks (``tf32_tflops`` 0 = not supported).
        bandwidth_gbs: memory bandwidth (GB/s); ``memory_gb``: capacity.
        compute_eff, bandwidth_eff: achieved fraction of the peaks.
        launch_us: fixed cost per aten op (dispatch + kernel launch) in microseconds.
        calibrated: ``True`` when the efficiencies were fitted to a measured profile.
        source: where the numbers come from.
    """

    name: str
    card: str
    fp32_tflops: float
    tf32_tflops: float
    fp16_tflops: float
    bandwidth_gbs: float
    memory_gb: float
    compute_eff: float = 0.5
    bandwidth_eff: float = 0.7
    launch_us: float = 8.0
    calibrated: bool = False
    source: str = ""

    def peak_tflops(self, dtype: str = "fp32") -> float:
        """Peak for ``fp32``, ``tf32`` (falls back to FP32 where unsupported) or ``fp16``/``bf16``."""
        if dtype == "fp32":
            return self.fp32_tflops
        if dtype == "tf32":
            return self.tf32_tflops or self.fp32_tflops
        if dtype in ("fp16", "bf16"):
            return self.fp16_tflops
        raise ValueError(f"dtype: {dtype!r} is not allowed; choose one of fp32, tf32, fp16, bf16")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RooflineSpec:
        allowed = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in allowed})


_NV = "NVIDIA data sheet (dense peaks)"
ROOFLINES: dict[str, RooflineSpec] = {
    "h100": RooflineSpec("h100", "NVIDIA H100 SXM5 80GB", 67.0, 495.0, 989.0, 3350.0, 80.0, source=_NV),
    "h200": RooflineSpec("h200", "NVIDIA H200 SXM 141GB", 67.0, 495.0, 989.0, 4800.0, 141.0, source=_NV),
    "a100": RooflineSpec("a100", "NVIDIA A100 SXM4 80GB", 19.5, 156.0, 312.0, 2039.0, 80.0, source=_NV),
    "l4": RooflineSpec("l4", "NVIDIA L4 24GB", 30.3, 60.0, 121.0, 300.0, 24.0, source=_NV),
    "t4": RooflineSpec("t4", "NVIDIA T4 16GB", 8.1, 0.0, 65.0, 320.0, 16.0, launch_us=10.0, source=_NV),
}
"""Roofline devices shipped with autogt (registered under registry kind ``device``)."""


def match_roofline(gpu_name: str) -> str | None:
    """The shipped roofline name a GPU name refers to (``"NVIDIA H100 80GB HBM3"`` -> ``h100``), or ``None``.

    Example:
        >>> match_roofline("NVIDIA A100-SXM4-80GB"), match_roofline("Tesla T4"), match_roofline("RTX 4090")
        ('a100', 't4', None)
    """
    text = " " + gpu_name.lower().replace("nvidia", " ").replace("-", " ")
    return next((name for name in ROOFLINES if f" {name} " in text + " "), None)


# ----------------------------------------------------------------------------- analytic counts
def _local_nominal_flops(name: str, w: int, heads: int, n: float, e: float) -> float:
    layer, _w, edge_dim, _ = nominal_layer(f"local:{name}", {"width": w, "heads": heads})
    fn = op_attr(get("local", name), "flops")
    if fn is None:
        return 2.0 * n * w * w + 2.0 * e * w
    return float(fn(w, w, heads=heads, edge_dim=edge_dim, layer=layer, nodes=n, edges=e))


def _attn_nominal_flops(name: str, w: int, heads: int, n: float, nsq: float | None = None) -> float:
    layer, _w, _e, head_dim = nominal_layer(f"attn:{name}", {"width": w, "heads": heads})
    fn = op_attr(get("global", name), "flops")
    if nsq is None:
        nsq = 1.2 * n * n  # molecule batches: mean of n^2 is about 1.2 x (mean n)^2
    if fn is None:
        return 8.0 * n * w * w + 4.0 * nsq * w
    return float(fn(w, w, heads=heads, head_dim=head_dim, layer=layer, nodes=n, edges=0.0, nodes_sq=nsq))


# ops per block family (one aten kernel each in eager mode) when no measured counts exist
_OPS = {"local": 14.0, "ffn": 7.0, "overhead": 40.0, "edge": 10.0, "pe": 6.0, "vn": 14.0, "linear": 2.0,
        "norm": 2.0, "act": 1.0, "pool": 5.0}


def nominal_counts(block: Block, ref_degree: float = DEFAULT_REF_DEGREE,
                   nodes_sq: float | None = None) -> tuple[float, float, float]:
    """Analytic ``(ops, flops, bytes)`` of the measured configuration at ``block.coords`` (no ``scale``).

    Used by rooflines when no measured profile provides count tables. Bytes are float32 reads and writes
    of activations plus weights; attention counts padded per-bucket tensors but no score matrix (fused
    kernels), and ~3 size buckets per batch; ``nodes_sq`` (mean squared graph size) defaults to that of
    molecule batches, ``1.2 n^2``.
    """
    c = block.coords
    family, _, name = block.key.partition(":")
    w, b, n = int(c["width"]), float(c["batch"]), float(c["nodes"])
    rows = b * n
    e = n * ref_degree
    heads = int(c.get("heads", 4))
    if family == "local":
        flops = b * _local_nominal_flops(name, w, heads, n, e)
        traffic = rows * w * 4 + b * e * w * 3 + w * w * 2
        return _OPS["local"], flops, _BYTES * traffic
    if family == "attn":
        flops = b * _attn_nominal_flops(name, w, heads, n, nodes_sq)
        buckets = min(3.0, b)
        traffic = rows * w * 12 + 4 * w * w
        return 10.0 + 9.0 * buckets, flops, _BYTES * traffic
    if family == "ffn":
        f = float(c["ffn"])
        return _OPS["ffn"], 4.0 * rows * w * f, _BYTES * (rows * (3 * w + 2 * f) + 2 * w * f)
    if family == "linear":
        return _OPS["linear"], 2.0 * rows * w * w, _BYTES * (2 * rows * w + w * w)
    if family == "overhead":
        return _OPS["overhead"], rows * w * 9 + rows * w + 2 * b * w, _BYTES * (rows * w * 12 + 1000 * w)
    if family == "edge":
        return _OPS["edge"], b * e * w * 3, _BYTES * b * e * w * 4
    if family == "pe":
        return _OPS["pe"], 2.0 * rows * 16 * w, _BYTES * rows * (16 + w)
    if family == "vn":
        return _OPS["vn"], 2.0 * b * 4 * w * w + 2 * rows * w, _BYTES * (3 * rows * w + 4 * w * w)
    if family == "norm":
        return _OPS["norm"], 5.0 * rows * w, _BYTES * 2 * rows * w
    if family == "act":
        return _OPS["act"], rows * w, _BYTES * 2 * rows * w
    if family == "pool":
        return _OPS["pool"], 3.0 * rows * w, _BYTES * rows * w
    raise ValueError(f"no analytic counts for block {block.key!r}")


def roofline_block_ms(counts: tuple[float, float, float], scale: float, spec: RooflineSpec,
                      dtype: str = "fp32") -> tuple[float, float, float]:
    """``(compute_ms, memory_ms, launch_ms)`` of one block at unit efficiencies (launch uses ``launch_us``)."""
    ops, flops, nbytes = counts
    compute = scale * flops / (spec.peak_tflops(dtype) * 1e12) * 1e3
    memory = scale * nbytes / (spec.bandwidth_gbs * 1e9) * 1e3
    return compute, memory, ops * spec.launch_us * 1e-3


def combine_roofline(parts: tuple[float, float, float], spec: RooflineSpec) -> float:
    """One block's roofline time from :func:`roofline_block_ms` parts and the spec's efficiencies."""
    compute, memory, launch = parts
    return max(compute / max(spec.compute_eff, 1e-6), memory / max(spec.bandwidth_eff, 1e-6)) + launch

