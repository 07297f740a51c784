"""autogt.spaces."""
