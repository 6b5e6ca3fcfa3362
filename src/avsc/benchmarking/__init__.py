"""Scale benchmarks: fabricated full-size feature sets, per-stage cost measurement and projection."""
