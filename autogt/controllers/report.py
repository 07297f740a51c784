"""``report(study, storage, out_file)``: one self-contained HTML page about a search.

Sections: a summary (arguments stored in the study, trial counts), the optimisation history (one plot per
objective), the Pareto front (multi-objective), parameter importances, and the best specs (the best trial,
or every Pareto-optimal one) as JSON. Plots come from :mod:`optuna.visualization` (plotly); plotly's
JavaScript is embedded once, inline, so the page works offline. A plot that cannot be drawn (too few
trials, one parameter...) is replaced by a one-line note.

Example:
    >>> from autogt.controllers import report
    >>> report("nasbench:cora-nasbench_graph-tpe-s0", "sqlite:///runs/study.db", "report.html")  # doctest: +SKIP
    PosixPath('report.html')
"""

from __future__ import annotations

import html
import json
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

__all__ = ["report"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9rem} td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
pre{background:#f6f6f6;padding:.5rem;overflow-x:auto;font-size:.8rem} .note{color:#777;font-style:italic}
"""


def _table(rows: list[tuple[str, Any]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


class _Figures:
    """Renders plotly figures, embedding plotly.js with the first one only."""

    def __init__(self) -> None:
        self.js_done = False

    def render(self, make: Any, *args: Any, **kwargs: Any) -> str:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # experimental / importance-direction notices
                fig = make(*args, **kwargs)
        except Exception as exc:  # not enough trials, a single parameter, ...
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return f'<p class="note">not available: {html.escape(reason)}</p>'
        out = fig.to_html(full_html=False, include_plotlyjs=not self.js_done)
        self.js_done = True
        return out


def report(study: str | optuna.Study, storage: str | None = None, out_file: str | Path = "report.html") -> Path:
    """Write the HTML report of ``study`` (a name in ``storage``, or a loaded Study) to ``out_file``."""
    from optuna import visualization as vis

    if isinstance(study, str):
        if storage is None:
            raise ValueError("storage: required when the study is given by name")
        study = optuna.load_study(study_name=study, storage=storage)
    attrs = dict(study.user_attrs)
    objectives = list(attrs.get("objectives") or [f"objective {i}" for i in range(len(study.directions))])
    trials = study.get_trials(deepcopy=False)
    counts = {s.name: sum(1 for t in trials if t.state == s) for s in TrialState}
    figs = _Figures()
    parts = [f"<h1>autogt search: {html.escape(study.study_name)}</h1>"]
    keys = ("data", "space", "controller", "objectives", "epochs", "seed", "pruner", "trials")
    summary: list[tuple[str, Any]] = [(k, attrs[k]) for k in keys if k in attrs]
    summary += [("directions", ", ".join(d.name.lower() for d in study.directions))]
    summary += [(f"trials {k.lower()}", v) for k, v in counts.items() if v]
    parts += ["<h2>Summary</h2>", _table(summary)]

    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    parts.append("<h2>Optimisation history</h2>")
    if len(study.directions) == 1:
        parts.append(figs.render(vis.plot_optimization_history, study, target_name=objectives[0]))
    else:
        for i, name in enumerate(objectives):
            parts.append(figs.render(vis.plot_optimization_history, study,
                                     target=lambda t, i=i: t.values[i], target_name=name))
    if len(study.directions) > 1:
        parts.append("<h2>Pareto front</h2>")
        parts.append(figs.render(vis.plot_pareto_front, study, target_names=objectives))
    parts.append("<h2>Parameter importances</h2>")
    if len(study.directions) == 1:
        parts.append(figs.render(vis.plot_param_importances, study, target_name=objectives[0]))
    else:
        parts.append(figs.render(vis.plot_param_importances, study, target=lambda t: t.values[0],
                                 target_name=objectives[0]))

    parts.append("<h2>Best specs</h2>")
    if not complete:
        parts.append('<p class="note">no completed trial yet</p>')
    else:
        best = [study.best_trial] if len(study.directions) == 1 else sorted(study.best_trials, key=lambda t: t.number)
        for t in best[:50]:
            rows = [("trial", t.number)] + [(name, v) for name, v in zip(objectives, t.values, strict=False)]
            m = t.user_attrs.get("metrics") or {}
            rows += [(k, m.get(k)) for k in ("val", "test", "params", "flops", "latency_ms", "checkpoint")
                     if m.get(k) is not None]
            spec = t.user_attrs.get("spec")
            pretty = json.dumps(json.loads(spec), indent=1, sort_keys=True) if spec else "(no spec)"
            parts += [_table(rows), f"<pre>{html.escape(pretty)}</pre>"]
    body = "\n".join(parts)
    page = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(study.study_name)}</title>"
            f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out
