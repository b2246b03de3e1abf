"""The hand-in report: one Markdown file plus PNG/SVG figures, from the pipeline's metrics.

`collect` gathers what exists (any input may be missing), `figures` draws, `markdown` writes the
text. Numbers come only from the metrics files; a missing part is reported as missing.
"""
from .build import build_report  # noqa: F401
