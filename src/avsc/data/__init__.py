"""avsc.data."""
