"""Benchmarks: ``python -m bench.NAME``; each prints its figures and ends with one JSON line."""
