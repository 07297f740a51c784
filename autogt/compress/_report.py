"""Prune reports: one JSON file and one Markdown file per run.

Example:
    >>> md = to_markdown({"method": "l0", "target": "flops=0.5", "before": {"metric": "rmse", "val": 1.0,
    ...     "test": 1.1, "params": 10, "flops": 100.0, "latency_ms": 2.0}, "after": {"metric": "rmse",
    ...     "val": 1.0, "test": 1.2, "params": 5, "flops": 50.0, "latency_ms": 1.0}, "layers": []})
    >>> md.splitlines()[0]
    '# Prune report: l0, flops=0.5'
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from autogt._json import json_safe

__all__ = ["to_markdown", "write_report"]

_KEYS = ("metric", "val", "test", "params", "flops", "latency_ms", "latency_pred_ms")


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
    return str(v)


def to_markdown(report: dict[str, Any]) -> str:
    """The Markdown form of a report (``PruneResult.summary()`` plus task name)."""
    before, after = report.get("before", {}), report.get("after", {})
    lines = [f"# Prune report: {report.get('method', '?')}, {report.get('target', '?')}", ""]
    if report.get("task"):
        lines += [f"Task: {report['task']}", ""]
    lines += ["| | " + " | ".join(k for k in _KEYS if k in before or k in after) + " |"]
    keys = [k for k in _KEYS if k in before or k in after]
    lines += ["|---|" + "---|" * len(keys)]
    lines += ["| before | " + " | ".join(_fmt(before.get(k)) for k in keys) + " |"]
    lines += ["| after | " + " | ".join(_fmt(after.get(k)) for k in keys) + " |"]
    if before.get("flops") and after.get("flops"):
        lines += ["", f"FLOPs ratio {after['flops'] / before['flops']:.3f}"
                  + (f", measured speed-up {before['latency_ms'] / after['latency_ms']:.2f}x"
                     if before.get("latency_ms") and after.get("latency_ms") else "")]
    if "achieved_ratio" in report:
        lines += [f"Target ratio {report.get('target_ratio', 1.0):.3f}, achieved {report['achieved_ratio']:.3f}"]
    layers = report.get("layers") or []
    if layers:
        lines += ["", "## Layers", "", "| layer | kept | local | attn | heads | FFN neurons |",
                  "|---|---|---|---|---|---|"]
        for r in layers:
            lines.append(f"| {r['layer']} | {'yes' if r['kept'] else 'removed'} | {r['local']} | {r['attn']} | "
                         f"{r['heads_before']} -> {r['heads_after']} | {r['ffn_before']} -> {r['ffn_after']} |")
    edges = report.get("edges")
    if edges:
        lines += ["", "## Edges", "", f"Kept fraction: {_fmt(edges.get('kept_fraction'))}",
                  f"Rule: {edges.get('rule', '-')}"]
    spec = report.get("spec")
    if spec is not None:
        lines += ["", "## Pruned spec", "", "```json", json.dumps(spec, sort_keys=True), "```"]
    notes = report.get("notes") or []
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_report(out_dir: str | Path, report: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir``; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / "report.json", out / "report.md"
    js.write_text(json.dumps(json_safe(report), indent=2, sort_keys=False, default=str) + "\n")
    md.write_text(to_markdown(report))
    return js, md
