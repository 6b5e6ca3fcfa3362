"""avsc.config."""
