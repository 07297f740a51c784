"""autogt.testing."""
