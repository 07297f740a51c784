"""autogt.hardware."""
