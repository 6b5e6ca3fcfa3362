"""avsc.features."""
