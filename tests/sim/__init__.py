"""The two-node cluster simulator used by fast tests and benchmarks."""
