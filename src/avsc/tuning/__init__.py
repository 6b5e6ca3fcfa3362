"""avsc.tuning."""
