"""Space schema: loading, validation messages, conditionals, flat forms, NNI format, fixing values."""

from __future__ import annotations

import math

import optuna
import pytest

from autogt.models.spec import ArchSpec
from autogt.spaces import SpaceError, load_space, parse_space, space_names

optuna.logging.set_verbosity(optuna.logging.WARNING)


def small(**overrides):
    raw = {
        "name": "small",
        "model": {"hidden": {"choices": [32, 64]}, "lr": {"float": [1e-4, 1e-2], "log": True}},
        "layers": {
            "depth": [1, 3],
            "each": {
                "attn": {"choices": ["none", "full"]},
                "heads": {"choices": [2, 4], "when": {"attn": ["full"]}},
                "local": {"choices": ["gcn", "gin"]},
            },
            "shared": {"dropout": {"float": [0.0, 0.5], "step": 0.1}},
        },
    }
    raw.update(overrides)
    return raw


def test_bundled_names_and_loading_by_path(tmp_path):
    assert {"gps", "gnn", "nasbench_graph", "transformer"} <= set(space_names())
    path = tmp_path / "mine.yaml"
    path.write_text("layers: {depth: 2, each: {local: {choices: [gcn, sage]}}}\n")
    space = load_space(str(path))
    assert space.name == "mine" and space.source == str(path.resolve())
    assert sorted(space.distributions()) == ["layer1.local", "layer2.local"]


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"layers": {"depth": 2}, "modle": {}}, ["modle", "allowed keys", "model"]),
        (small(model={"hiden": {"choices": [1]}}), ["hiden", "allowed keys", "hidden"]),
        (small(layers={"depth": 2, "each": {"local": {"choices": ["gcn", "foo"]}}}),
         ["'foo'", "local", "gcn", "sage"]),
        (small(layers={"depth": 2, "shared": {"norm": "bacth"}}), ["'bacth'", "norm", "batch", "layer"]),
        (small(model={"pe": {"choices": ["none", "lapp"]}}), ["'lapp'", "pe", "lap", "rw"]),
        (small(model={"lr": {"int": [1, 2]}}), ["lr", "float field"]),
        (small(model={"hidden": {"float": [1.0, 2.0]}}), ["hidden", "int field"]),
        (small(model={"hidden": {"choices": [32], "steps": 2}}), ["steps", "allowed", "step"]),
        (small(model={"lr": {"float": [1e-4, 1e-2], "log": True, "step": 0.1}}), ["step and log"]),
        (small(model={"hidden": {"int": [64, 32]}}), ["low 64 > high 32"]),
        (small(layers={"depth": [3, 1]}), ["layers.depth"]),
        (small(layers={"depth": 2, "each": {"heads": {"choices": [2], "when": {"atn": "full"}}}}),
         ["heads.when", "unknown key 'atn'", "allowed"]),
        (small(layers={"depth": 2, "each": {"attn": {"choices": ["none", "full"]},
                                            "heads": {"choices": [2], "when": {"attn": "performer"}}}}),
         ["'performer' is not a choice of attn", "none, full"]),
        (small(layers={"depth": 2, "each": {"heads": {"choices": [2], "when": {"ffn": [0]}},
                                            "ffn": {"choices": [0, 8], "when": {"heads": [2]}}}}),
         ["circular"]),
        (small(constraints={"max_parms": 3}), ["max_parms", "max_params"]),
        (small(model={"link": {"choices": {"a": {"layers.fooo": 1}}}}), ["fooo", "allowed keys"]),
        (small(model={"link": {"choices": {"a": {"layer9.inputs": 0}}}}), ["layer9", "layer1..layer3"]),
        (small(model={"hidden": {"choices": [32]}, "link": {"choices": {"a": {"hidden": 8}}}}),
         ["sets hidden", "also a model dimension"]),
        (small(model={"colour": {"choices": ["red"]}}), ["colour", "allowed keys"]),
    ],
)
def test_invalid_spaces_name_the_key_and_the_allowed_values(raw, words):
    with pytest.raises(SpaceError) as info:
        parse_space(raw)
    message = str(info.value)
    for word in words:
        assert word in message, (word, message)


def test_unknown_space_name_lists_bundled_ones():
    with pytest.raises(SpaceError, match="bundled: gnn, gps"):
        load_space("no_such_space")


def test_cross_field_errors_surface_at_load_time():
    # pe=lap needs pe_dim >= 1: the corner check turns it into a load error naming pe_dim
    with pytest.raises(SpaceError, match="pe_dim"):
        parse_space(small(model={"pe": "lap"}))


def test_conditional_params_only_suggested_when_active():
    space = parse_space(small())
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    saw = {"on": False, "off": False}
    for _ in range(60):
        trial = study.ask()
        spec, params = space.sample(trial)
        assert len(spec.layers) == params["depth"]
        for i in range(1, 4):
            present = i <= params["depth"]
            assert (f"layer{i}.attn" in params) == present
            assert (f"layer{i}.local" in params) == present
            if present:
                active = params[f"layer{i}.attn"] == "full"
                assert (f"layer{i}.heads" in params) == active
                assert (f"layer{i}.heads" in trial.params) == active  # never suggested when inactive
                saw["on" if active else "off"] = True
                assert spec.layers[i - 1].heads == (params[f"layer{i}.heads"] if active else 4)
        assert space.to_spec(params) == spec
        study.tell(trial, 0.0)
    assert saw == {"on": True, "off": True}


def test_or_conditions_and_negation():
    raw = small(layers={"depth": 1, "each": {
        "attn": {"choices": ["none", "full"]},
        "local": {"choices": ["gcn", "gat"]},
        "heads": {"choices": [2, 8], "when": [{"attn": {"not": ["none"]}}, {"local": "gat"}]},
    }})
    space = parse_space(raw)
    base = {"hidden": 32, "lr": 1e-3, "layers.dropout": 0.0}
    assert "layer1.heads" not in space.active_params({**base, "layer1.attn": "none", "layer1.local": "gcn",
                                                      "layer1.heads": 8})
    for attn, local in (("full", "gcn"), ("none", "gat"), ("full", "gat")):
        p = {**base, "layer1.attn": attn, "layer1.local": local, "layer1.heads": 8}
        assert space.to_spec(p).layers[0].heads == 8


def test_to_spec_errors_name_the_parameter_and_allowed_values():
    space = parse_space(small())
    good = {"depth": 1, "hidden": 32, "lr": 1e-3, "layers.dropout": 0.1, "layer1.attn": "none",
            "layer1.local": "gcn"}
    assert isinstance(space.to_spec(good), ArchSpec)
    with pytest.raises(SpaceError, match="missing parameter 'layer1.local'"):
        space.to_spec({k: v for k, v in good.items() if k != "layer1.local"})
    with pytest.raises(SpaceError, match=r"layer1.local: 'sage' is not allowed; choose one of gcn, gin"):
        space.to_spec({**good, "layer1.local": "sage"})
    with pytest.raises(SpaceError, match=r"lr: 0.5 is outside"):
        space.to_spec({**good, "lr": 0.5})
    with pytest.raises(SpaceError, match="not on the grid|is outside"):
        space.to_spec({**good, "depth": 4})
    # extra and inactive keys are ignored
    assert space.to_spec({**good, "layer1.heads": 2, "layer3.attn": "full", "junk": 1}) == space.to_spec(good)


def test_fixed_distributions_only_without_conditionals():
    with pytest.raises(SpaceError, match="conditional parameters"):
        parse_space(small()).fixed_distributions()
    space = load_space("nasbench_graph")
    dists = space.fixed_distributions()
    assert sorted(dists) == ["layer1.local", "layer2.local", "layer3.local", "layer4.local", "link"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(10):
        trial = study.ask(dists)
        assert len(space.to_spec(trial.params).layers) == 4
        study.tell(trial, 0.0)


def test_distributions_are_stable_and_typed():
    space = parse_space(small())
    d = space.distributions()
    assert list(d) == ["depth", "hidden", "lr", "layers.dropout"] + [
        f"layer{i}.{k}" for i in (1, 2, 3) for k in ("attn", "heads", "local")]
    assert d["lr"].log and d["layers.dropout"].step == 0.1
    assert d["depth"].low == 1 and d["depth"].high == 3
    assert d == parse_space(small()).distributions()


def test_presets_set_fields_and_per_layer_inputs():
    raw = {
        "model": {"wiring": {"choices": {"chain": {"layers.inputs": "previous"},
                                         "star": {"layers.inputs": "input", "combine": "concat"},
                                         "dense": {"layers.inputs": "dense"},
                                         "custom": {"layer2.inputs": 0, "layer3.inputs": [1, 2]}}}},
        "layers": {"depth": 3, "each": {"local": {"choices": {"cheb": {"local_out": 3}, "gcn": {}}}}},
    }
    space = parse_space(raw)
    base = {"layer1.local": "cheb", "layer2.local": "gcn", "layer3.local": "gcn"}
    inputs = {w: [layer.inputs for layer in space.to_spec({**base, "wiring": w}).layers]
              for w in ("chain", "star", "dense", "custom")}
    assert inputs["chain"] == [(-1,)] * 3
    assert inputs["star"] == [(0,)] * 3
    assert inputs["dense"] == [(0,), (0, 1), (0, 1, 2)]
    assert inputs["custom"] == [(-1,), (0,), (1, 2)]
    spec = space.to_spec({**base, "wiring": "star"})
    assert spec.combine == "concat" and spec.layers[0].local_out == 3 and spec.layers[1].local_out == 0


def test_nni_format_and_back():
    raw = small(model={"hidden": {"int": [32, 64], "step": 16}, "lr": {"float": [1e-4, 1e-2], "log": True},
                       "batch_size": {"int": [8, 1024]}, "weight_decay": {"float": [0.0, 0.1]}})
    space = parse_space(raw)
    nni = space.to_nni()
    assert nni["hidden"] == {"_type": "choice", "_value": [32, 48, 64]}
    assert nni["lr"] == {"_type": "loguniform", "_value": [1e-4, 1e-2]}
    assert nni["batch_size"]["_type"] == "quniform"
    assert nni["weight_decay"] == {"_type": "uniform", "_value": [0.0, 0.1]}
    assert nni["layers.dropout"] == {"_type": "quniform", "_value": [0.0, 0.5, 0.1]}
    assert nni["layer3.heads"] == {"_type": "choice", "_value": [2, 4]}  # flattened conditional
    raw_params = {"depth": 2, "hidden": 48, "lr": 0.001, "batch_size": 100.4, "weight_decay": 0.05,
                  "layers.dropout": 0.2999, "layer1.attn": "none", "layer1.heads": 4, "layer1.local": "gin",
                  "layer2.attn": "full", "layer2.heads": 2, "layer2.local": "gcn", "layer3.attn": "full"}
    params = space.from_nni(raw_params)
    assert params["batch_size"] == 100 and isinstance(params["batch_size"], int)
    assert math.isclose(params["layers.dropout"], 0.3)
    assert "layer1.heads" not in params and "layer3.attn" not in params and params["layer2.heads"] == 2
    spec = space.to_spec(params)
    assert spec.batch_size == 100 and spec.layers[1].heads == 2


def test_fix_pins_values():
    space = load_space("gps").fix(hidden=128, depth=3, **{"layers.attn": "full"})
    assert "hidden" not in space.distributions() and "depth" not in space.distributions()
    for seed in range(5):
        spec = space.to_spec(space.random_params(seed))
        assert spec.hidden == 128 and len(spec.layers) == 3
        assert all(layer.attn == "full" for layer in spec.layers)
        assert all(f"layer{i}.heads" in space.random_params(seed) for i in (1, 2, 3))


def test_fix_keeps_the_other_dimensions_identical():
    space = load_space("nasbench_graph")
    fixed = space.fix(hidden=64)
    assert fixed.distributions() == space.distributions()  # same choices in the same order
    gps = load_space("gps")
    kept = gps.fix(pooling="mean").distributions()
    assert kept == {k: v for k, v in gps.distributions().items() if k != "pooling"}


def test_constraints_violations():
    space = parse_space(small(constraints={"max_params": 1000, "max_latency_ms": 5}))
    assert space.constraints.active == ("max_params", "max_latency_ms")
    assert space.constraints.violations(params=1500, latency_ms=2.0) == (500.0, -3.0)
    assert space.constraints.violations() == (0.0, 0.0)
