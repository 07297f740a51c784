"""Data: tasks from bundled names, SMILES CSV files or PyG data; splits, encodings and loaders.

Example:
    >>> from autogt.data import load_task, add_pe, graph_loader
    >>> task = add_pe(load_task("esol"), "rw", 8)
    >>> task.kind, task.metric, task.graphs[0].x.shape[1], task.graphs[0].pe_rw.shape[1]
    ('regression', 'rmse', 9, 8)
    >>> batch = next(iter(graph_loader(task.graphs, task.split["train"], 16, shuffle=True, seed=0)))
    >>> batch.num_graphs
    16
"""

from __future__ import annotations

from autogt.data._featurize import ATOM_VOCAB, BOND_VOCAB, FEATURIZER_VERSION, mol_to_graph, smiles_to_graph
from autogt.data._labels import infer_kind
from autogt.data._load import BUNDLED, UnknownDatasetError, load_task
from autogt.data._meta import homophily
from autogt.data._molecules import molecule_table
from autogt.data._pyg import normalize_rows
from autogt.data._splits import random_node_split, random_split, scaffold_split
from autogt.data._warn import DataWarning
from autogt.data.loader import BatchSamplerFactory, GraphLoader, graph_loader
from autogt.data.pe import add_pe, compute_pe
from autogt.data.sampler import SizeAwareBatches, size_aware, size_aware_batches
from autogt.data.task import Task, TaskError

__all__ = [
    "ATOM_VOCAB",
    "BOND_VOCAB",
    "BUNDLED",
    "BatchSamplerFactory",
    "DataWarning",
    "FEATURIZER_VERSION",
    "GraphLoader",
    "SizeAwareBatches",
    "Task",
    "TaskError",
    "UnknownDatasetError",
    "add_pe",
    "compute_pe",
    "graph_loader",
    "homophily",
    "infer_kind",
    "load_task",
    "molecule_table",
    "mol_to_graph",
    "normalize_rows",
    "random_node_split",
    "random_split",
    "scaffold_split",
    "size_aware",
    "size_aware_batches",
    "smiles_to_graph",
]
