"""Helpers shared by the tests (no tests and no fixtures here: fixtures live in conftest.py).

tests/ is on sys.path while pytest runs (conftest.py sits there), so a test imports these as
`from support import export_harness as H`.
"""
