"""Benchmarks that print figures (ratios against baselines run in the same process)."""
