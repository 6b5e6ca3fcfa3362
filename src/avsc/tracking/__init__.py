"""avsc.tracking."""
