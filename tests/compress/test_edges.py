"""Edge gates: a learned, deterministic scorer whose closed edges are really dropped at export."""

from __future__ import annotations

import copy

import pytest
import torch

from autogt.compress import EdgeFilter, EdgeScorer, FilteredModel, HardConcreteMasker, MaskedModel, make_layout, remove
from autogt.compress._edges import KEEP_THRESHOLD
from autogt.models import ArchSpec, LayerSpec, build_model
from autogt.testing.layers import random_graphs

SPEC = ArchSpec(hidden=12, layers=(LayerSpec(local="gine", attn="full", heads=2, ffn=16),
                                   LayerSpec(local="gcn", attn="none", ffn=8),
                                   LayerSpec(local="sage", attn="none", ffn=8)))


def _drop_bond_category(masker, category: int) -> None:
    with torch.no_grad():
        masker.scorer.edge_tables[0].weight.zero_()
        masker.scorer.edge_tables[0].weight[category] = -20.0


def test_filter_drops_edges_and_matches_masked_model(mol_task):
    batch = random_graphs([6, 8, 5], mol_task, seed=2, edge_prob=0.5)
    layout = make_layout(SPEC, mol_task, ("edges",))
    assert layout.edges
    model = build_model(SPEC, mol_task).eval()
    masker = HardConcreteMasker(layout, mol_task)
    category = int(batch.edge_attr[0, 0])
    _drop_bond_category(masker, category)
    masked = MaskedModel(copy.deepcopy(model), masker).eval()
    with torch.no_grad():
        want = masked(batch)
    masked.detach()
    filt = EdgeFilter.from_scorer(masker.scorer)
    small = filt(batch)
    dropped = int((batch.edge_attr[:, 0] == category).sum())
    assert dropped > 0
    assert small.edge_index.size(1) == batch.edge_index.size(1) - dropped  # really dropped
    assert small.edge_attr.size(0) == small.edge_index.size(1)
    assert bool((small.edge_attr[:, 0] != category).all())
    _spec, pruned = remove(model, layout, masker.values(deterministic=True), mol_task)
    with torch.no_grad():
        got = FilteredModel(pruned, filt)(batch)
        unfiltered = pruned(batch)
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(unfiltered, want, atol=1e-4)  # dropping the edges matters


def test_scorer_is_symmetric_and_json_round_trips(mol_task):
    scorer = EdgeScorer.for_task(mol_task, init=0.0)
    with torch.no_grad():
        for t in [*scorer.node_tables, *scorer.edge_tables]:
            t.weight.normal_()
    batch = random_graphs([7], mol_task, seed=1)
    s = scorer(batch.x, batch.edge_index, batch.edge_attr)
    rev = scorer(batch.x, batch.edge_index.flip(0), batch.edge_attr)
    assert torch.allclose(s, rev)  # both directions of a bond share the gate
    again = EdgeScorer.from_dict(scorer.to_dict())
    assert torch.allclose(again(batch.x, batch.edge_index, batch.edge_attr), s)
    assert EdgeFilter(again).keep_mask(batch).tolist() == (s > KEEP_THRESHOLD).tolist()


def test_rule_description():
    scorer = EdgeScorer(node_vocab=(3,), edge_vocab=(4,), init=3.0)
    with torch.no_grad():
        scorer.edge_tables[0].weight[2] = -9.0
    assert EdgeFilter(scorer).rule() == "drop edges whose bond category (column 0) is in [2]"
    with torch.no_grad():
        scorer.node_tables[0].weight[1] = 0.5
    assert "atom(u)" in EdgeFilter(scorer).rule()


def test_float_features(mol_task):
    from autogt.testing.layers import node_task

    task = {**node_task(node_dim=5, edge_dim=2), "level": "graph", "num_outputs": 1}
    scorer = EdgeScorer.for_task(task)
    batch = random_graphs([4, 5], task, seed=0)
    assert scorer(batch.x, batch.edge_index, batch.edge_attr).shape == (batch.edge_index.size(1),)


def test_unsupported_ops_refuse_edge_gates(mol_task):
    spec = ArchSpec(hidden=8, layers=(LayerSpec(local="gat", heads=2),))
    layout = make_layout(spec, mol_task, ("edges",))
    assert not layout.edges and any("gat" in n for n in layout.notes)


@pytest.mark.parametrize("deterministic", [True, False])
def test_edge_weights_shape(mol_task, deterministic):
    layout = make_layout(SPEC, mol_task, ("edges",))
    masker = HardConcreteMasker(layout, mol_task)
    batch = random_graphs([4, 6], mol_task, seed=0)
    w = masker.edge_weights(batch, deterministic=deterministic)
    assert w.shape == (batch.edge_index.size(1),) and bool(((w >= 0) & (w <= 1)).all())


def test_keep_rule_matches_the_expected_l0():
    from autogt.compress._gates import open_prob

    assert float(open_prob(torch.tensor(KEEP_THRESHOLD))) == pytest.approx(0.5)
