from __future__ import annotations

import numpy as np
import pytest
import torch

from autogt.data import TaskError, infer_kind, load_task

SMILES = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCCl"]


@pytest.fixture
def csv_with(write_csv):
    def _make(columns: dict[str, list[object]]):
        header = ["smiles", *columns]
        rows = [[s, *(columns[c][i] for c in columns)] for i, s in enumerate(SMILES)]
        return write_csv([header, *rows])

    return _make


def test_infer_kind_rules():
    nan = np.nan
    assert infer_kind(np.array([[0.0], [1.0], [nan]])) == "binary"
    assert infer_kind(np.array([[0.0, 1.0], [1.0, nan]])) == "multilabel"
    assert infer_kind(np.array([[0.0], [1.0], [2.0]])) == "multiclass"
    assert infer_kind(np.array([[0.0, 2.0], [1.0, 3.0]])) == "regression"  # integers in 2 columns
    assert infer_kind(np.array([[0.5], [1.0]])) == "regression"
    with pytest.raises(TaskError):
        infer_kind(np.array([[nan], [nan]]))


def test_binary_and_multilabel(csv_with):
    task = load_task(csv_with({"y": [0, 1, 0, 1, 1, 0]}))
    assert (task.kind, task.metric, task.num_outputs) == ("binary", "rocauc", 1)
    assert task.split_name == "scaffold"
    task = load_task(csv_with({"a": [0, 1, 0, 1, 1, 0], "b": [1, None, 0, 0, 1, 1]}))
    assert (task.kind, task.metric, task.num_outputs) == ("multilabel", "rocauc", 2)


def test_multiclass_encodes_class_indices(csv_with):
    task = load_task(csv_with({"c": [3, 5, 7, 3, 5, 9]}))
    assert (task.kind, task.metric, task.num_outputs) == ("multiclass", "accuracy", 4)
    assert task.label_names == ("3", "5", "7", "9")
    assert [int(g.y) for g in task.graphs] == [0, 1, 2, 0, 1, 3]
    assert task.meta["num_classes"] == 4


def test_regression_defaults(csv_with):
    task = load_task(csv_with({"v": [0.1, -2.5, 3.0, 1.0, 2.0, 0.0]}))
    assert (task.kind, task.metric, task.split_name) == ("regression", "rmse", "random")
    assert task.meta["label_mean"] == pytest.approx(np.mean([0.1, -2.5, 3.0, 1.0, 2.0, 0.0]))
    assert task.meta["label_std"] == pytest.approx(np.std([0.1, -2.5, 3.0, 1.0, 2.0, 0.0]))


def test_overrides(csv_with):
    path = csv_with({"y": [0, 1, 0, 1, 1, 0]})
    task = load_task(path, kind="regression", metric="mae")
    assert (task.kind, task.metric, task.split_name) == ("regression", "mae", "random")
    assert load_task(path, metric="accuracy").metric == "accuracy"
    with pytest.raises(TaskError, match="does not suit"):
        load_task(path, metric="rmse")
    with pytest.raises(TaskError, match="not allowed"):
        load_task(path, metric="f1")
    with pytest.raises(TaskError, match="not allowed"):
        load_task(path, kind="ordinal")
    reg = csv_with({"v": [0.1, -2.5, 3.0, 1.0, 2.0, 0.0]})
    with pytest.raises(TaskError, match=r"labels in \{0, 1\}"):
        load_task(reg, kind="binary")
    with pytest.raises(TaskError, match="integer"):
        load_task(reg, kind="multiclass")
    two = csv_with({"a": [0, 1, 0, 1, 1, 0], "b": [1, 0, 0, 0, 1, 1]})
    with pytest.raises(TaskError, match="multilabel"):
        load_task(two, kind="binary")
    task = load_task(csv_with({"y": [0, 1, 0, 1, 1, 0]}), kind="multiclass")
    assert task.num_outputs == 2 and task.graphs[1].y.dtype == torch.float32
