"""The tabular NAS-Bench-Graph evaluator answers exactly what the bench files hold."""

from __future__ import annotations

import random

import nas_bench_graph as nbg
import pytest

from autogt.controllers import TabularEvaluator
from autogt.controllers.tabular import parse_tabular
from autogt.spaces import SpaceError, load_space, nasbench


@pytest.mark.parametrize("name", nasbench.DATASETS)
def test_values_equal_the_bench_file(name):
    raw = nbg.light_read(name)
    evaluator = TabularEvaluator(name)
    rng = random.Random(0)
    for key in rng.sample(sorted(raw), 200):
        link, ops = nasbench.decode_hash(key)
        # query through another encoding of the same architecture where one exists
        result = evaluator(nasbench.to_spec(link, ops, name))
        assert result.status == "ok" and result.metric == nasbench.protocol(name)["metric"]
        assert result.val == float(raw[key]["valid_perf"])
        assert result.test == float(raw[key]["perf"])
        assert result.params == round(float(raw[key]["para"]) * 1e6)
        assert result.latency_ms == pytest.approx(float(raw[key]["latency"]) * 1000)
        assert result.epochs == nasbench.protocol(name)["epochs"]
        assert result.extra["arch_hash"] == key
        assert result.spec_hash == nasbench.to_spec(link, ops, name).hash()


def test_isomorphic_encodings_get_the_same_answer():
    evaluator = TabularEvaluator("citeseer")
    a = evaluator(nasbench.to_spec([0, 1, 2, 1], ["gcn", "gin", "fc", "cheb"]))
    b = evaluator(nasbench.to_spec([0, 1, 1, 3], ["gcn", "cheb", "gin", "fc"]))
    assert a.ok and (a.val, a.test, a.params) == (b.val, b.test, b.params)


def test_invalid_and_unknown_architectures_are_failed_queries():
    evaluator = TabularEvaluator("proteins")
    empty = evaluator(nasbench.to_spec([0, 1, 2, 3], ["skip"] * 4))
    assert empty.status == "failed" and "not in the proteins bench file" in empty.reason and empty.val is None
    gat = evaluator(nasbench.to_spec([0, 1, 2, 3], ["gat", "gcn", "gcn", "gcn"]))
    assert gat.status == "failed"  # proteins only has gcn sage arma fc skip
    ok = evaluator(nasbench.to_spec([0, 1, 2, 3], ["gcn", "sage", "arma", "fc"]))
    assert ok.ok and ok.metric == "rocauc"
    gps = load_space("gps")
    other = evaluator(gps.to_spec(gps.random_params(0)))
    assert other.status == "failed" and "not a NAS-Bench-Graph architecture" in other.reason


def test_query_best_and_data_names():
    evaluator = TabularEvaluator("cora")
    table = nbg.light_read("cora")
    assert evaluator.best() == max(float(v["valid_perf"]) for v in table.values())
    assert evaluator.query([0, 0, 0, 0], ["skip"] * 4) is None
    assert parse_tabular("nasbench:Cora") == "cora"
    assert parse_tabular("cora") is None and parse_tabular(None) is None
    with pytest.raises(SpaceError, match="choose one of cora"):
        parse_tabular("nasbench:mnist")
