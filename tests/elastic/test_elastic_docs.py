"""docs/elastic.md: the layer-norm spec it recommends is the gps built-in with ``norm: layer``, and
``elastic_spec`` points batch-norm users to it."""

import dataclasses
import re
import warnings
from pathlib import Path

import pytest

from autogt.elastic import ElasticNormWarning, elastic_spec
from autogt.models import builtin_spec
from autogt.models.spec import ArchSpec

DOC = Path(__file__).resolve().parents[2] / "docs" / "elastic.md"


def test_layer_norm_spec_in_docs_is_gps_with_layer_norm():
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/elastic.md lost its YAML example"
    spec = ArchSpec.from_yaml(blocks[0])
    gps = builtin_spec("gps")
    assert spec == gps.replace(layers=tuple(dataclasses.replace(layer, norm="layer") for layer in gps.layers))


def test_elastic_spec_warns_about_batch_norm_only():
    gps = builtin_spec("gps")
    with pytest.warns(ElasticNormWarning, match="docs/elastic.md"):
        elastic_spec(gps)
    layer_norm = gps.replace(layers=tuple(dataclasses.replace(layer, norm="layer") for layer in gps.layers))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ElasticNormWarning)
        assert elastic_spec(layer_norm).elastic == (0.125, 0.25, 0.5, 1.0)
