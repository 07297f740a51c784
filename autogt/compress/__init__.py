"""autogt.compress."""
