"""Benchmarks: scripts printing figures (not pass/fail); run as `python -m bench.<name>`."""
