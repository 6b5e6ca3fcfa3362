"""avsc.models."""
