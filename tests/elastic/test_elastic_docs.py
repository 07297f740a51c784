"""docs/elastic.md: the layer-norm spec it recommends is the gps built-in with ``norm: layer``."""

import dataclasses
import re
from pathlib import Path

from autogt.models import builtin_spec
from autogt.models.spec import ArchSpec

DOC = Path(__file__).resolve().parents[2] / "docs" / "elastic.md"


def test_layer_norm_spec_in_docs_is_gps_with_layer_norm():
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/elastic.md lost its YAML example"
    spec = ArchSpec.from_yaml(blocks[0])
    gps = builtin_spec("gps")
    assert spec == gps.replace(layers=tuple(dataclasses.replace(layer, norm="layer") for layer in gps.layers))
