"""The hand-in report: one Markdown file plus PNG/SVG figures, from the pipeline's metrics.

`collect` gathers what exists (any input may be missing), `figures` draws, `markdown` writes the
text, `build` puts them in one folder. The writers of the other summaries live here too:
`compression` (the compression methods' section and figure, part of the report) and `sweep` (a
sweep's table and figures, `tinykd sweep collect`); `plotting` is the matplotlib set-up they share.
Numbers come only from the metrics files; a missing part is reported as missing.
"""
from .build import build_report  # noqa: F401
