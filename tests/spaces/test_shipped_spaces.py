"""Every bundled space samples valid ArchSpecs, define-by-run and without Optuna."""

from __future__ import annotations

import warnings

import optuna
import pytest

from autogt.models.spec import ArchSpec
from autogt.spaces import load_space, space_names

optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACES = space_names()


def test_the_four_shipped_spaces_are_there():
    assert {"gps", "gnn", "nasbench_graph", "transformer"} <= set(SPACES)


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("sampler", ["optuna-random", "optuna-qmc", "random_params"])
def test_space_samples_50_valid_specs(name, sampler):
    space = load_space(name)
    specs = []
    if sampler == "random_params":
        for seed in range(50):
            params = space.random_params(seed)
            specs.append((space.to_spec(params), params))
    else:
        make = optuna.samplers.RandomSampler if sampler == "optuna-random" else optuna.samplers.QMCSampler
        with warnings.catch_warnings():  # QMCSampler is "experimental"
            warnings.simplefilter("ignore")
            study = optuna.create_study(sampler=make(seed=0))
        for _ in range(50):
            trial = study.ask()
            spec, params = space.sample(trial)
            assert trial.params == params
            specs.append((spec, params))
            study.tell(trial, 0.0)
    for spec, params in specs:
        assert isinstance(spec, ArchSpec)
        assert ArchSpec.from_json(spec.to_json()) == spec
        assert space.to_spec(params) == spec
        assert space.active_params(params) == params
        assert space.layers.depth_min <= len(spec.layers) <= space.layers.depth_max
    assert len({spec.hash() for spec, _ in specs}) > 25  # the samples actually vary


def test_gps_is_heterogeneous_and_conditional():
    space = load_space("gps")
    depths, layer_kinds = set(), set()
    for seed in range(60):
        params = space.random_params(seed)
        spec = space.to_spec(params)
        depths.add(len(spec.layers))
        layer_kinds |= {(layer.local, layer.attn) for layer in spec.layers}
        for i, layer in enumerate(spec.layers, start=1):
            assert (f"layer{i}.heads" in params) == (layer.attn != "none" or layer.local == "gatv2")
        assert ("pe_dim" in params) == (spec.pe != "none")
    assert depths == {2, 3, 4, 5, 6}
    assert len(layer_kinds) > 10


def test_transformer_has_no_local_ops_and_per_layer_widths():
    space = load_space("transformer")
    widths = set()
    for seed in range(20):
        spec = space.to_spec(space.random_params(seed))
        assert spec.pe in ("lap", "rw") and spec.pe_dim > 0
        assert all(layer.local == "none" and layer.attn in ("full", "performer") for layer in spec.layers)
        widths |= {layer.dim for layer in spec.layers}
    assert widths == {64, 128, 256}


def test_gnn_connectivity_presets():
    space = load_space("gnn").fix(depth=3)
    base = space.random_params(0)
    specs = {c: space.to_spec({**base, "connectivity": c}) for c in ("stack", "skipsum", "skipconcat")}
    assert not any(layer.residual for layer in specs["stack"].layers)
    assert all(layer.residual for layer in specs["skipsum"].layers)
    assert [layer.inputs for layer in specs["skipconcat"].layers] == [(0,), (0, 1), (0, 1, 2)]


@pytest.mark.parametrize("name", SPACES)
def test_space_specs_build_into_models(name):
    build_model = pytest.importorskip("autogt.models").build_model
    mol = {"level": "graph", "kind": "binary", "num_outputs": 1, "node_dim": 9, "edge_dim": 3,
           "node_categorical": True, "edge_categorical": True,
           "atom_vocab": [119, 5, 12, 12, 10, 6, 6, 2, 2], "bond_vocab": [5, 6, 2]}
    space = load_space(name)
    for seed in range(5):
        model = build_model(space.to_spec(space.random_params(seed)), mol)
        assert sum(p.numel() for p in model.parameters()) > 0
