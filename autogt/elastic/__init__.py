"""autogt.elastic."""
