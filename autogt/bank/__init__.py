"""The task-model bank: tasks, designs and results, task similarity and transfer priors.

- :class:`Bank` (``Bank(url=None)``): a SQL store (SQLite file by default, any SQLAlchemy URL for a shared
  bank) plus the read-only records shipped in the ``bank/`` folder; ``add_task``, ``add_result``,
  ``tasks``, ``results``, ``similar``, ``export``, ``import_``. Writes are idempotent on
  ``(task, design, seed, fidelity)`` and safe from several processes at once.
- Records: :class:`BankTask`, :class:`BankDesign`, :class:`BankResult`, :class:`BankRecord`.
- Similarity (pure functions): :func:`meta_similarity`, :func:`embedding_similarity`,
  :func:`rank_similarity`; anchor-model Fisher embeddings: :func:`anchor_embedding`.
- Priors: :class:`Prior` and :func:`build_prior`; the sampler that uses them is
  :class:`autogt.controllers.prior.PriorSampler` (``prior_for(task, bank, space)`` builds one).
- :func:`import_nasbench`: all of NAS-Bench-Graph as bank records.

Example:
    >>> from autogt.bank import Bank
    >>> from autogt.models.spec import ArchSpec
    >>> bank = Bank("sqlite://", shipped=False)
    >>> _ = bank.add_result("toy", ArchSpec(), {"val": 0.7, "metric": "rocauc"}, seed=0)
    >>> [t.name for t in bank.tasks()]
    ['toy']
"""

from __future__ import annotations

from autogt.bank._anchors import DEFAULT_ANCHORS, anchor_embedding, fisher_summary
from autogt.bank._nasbench import import_nasbench
from autogt.bank._prior import Prior, build_prior, reliability
from autogt.bank._records import (
    BankDesign,
    BankError,
    BankRecord,
    BankResult,
    BankTask,
    fidelity_key,
)
from autogt.bank._similarity import embedding_similarity, meta_similarity, rank_similarity, task_features
from autogt.bank._store import Bank

__all__ = [
    "Bank",
    "BankTask",
    "BankDesign",
    "BankResult",
    "BankRecord",
    "BankError",
    "fidelity_key",
    "Prior",
    "import_nasbench",
    "anchor_embedding",
    "fisher_summary",
    "DEFAULT_ANCHORS",
    "build_prior",
    "reliability",
    "task_features",
    "meta_similarity",
    "embedding_similarity",
    "rank_similarity",
]
