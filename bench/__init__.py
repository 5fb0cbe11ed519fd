"""Load benchmarks (``make bench``)."""
