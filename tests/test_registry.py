from __future__ import annotations

import pytest

from autogt import registry


def test_register_get_names():
    registry.register("t_kind", "a", 1)
    try:
        assert registry.get("t_kind", "a") == 1
        assert registry.names("t_kind") == ["a"]
        with pytest.raises(registry.UnknownNameError, match="known t_kind names: a"):
            registry.get("t_kind", "b")
        with pytest.raises(ValueError, match="already registered"):
            registry.register("t_kind", "a", 2)
    finally:
        registry.unregister("t_kind", "a")
