"""autogt.controllers."""
