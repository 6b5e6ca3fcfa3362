"""Tools for people working on avsc itself (not used by the pipeline)."""
