"""autogt.bank."""
