"""autogt.export."""
