"""avsc.training."""
