"""avsc.evaluation."""
