"""matplotlib for every figure tinykd writes (the report's, the sweep's, the compression one):
the Agg backend, and PNG/SVG bytes that are the same for the same figure (no dates or software
names in the metadata, fixed SVG element ids)."""
from __future__ import annotations

import io


def pyplot():
    """matplotlib.pyplot on the Agg backend, set up for reproducible files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "tinykd"  # fixed element ids: byte-identical SVGs
    return plt


def figure_bytes(fig, fmt: str) -> bytes:
    """The figure as a `fmt` (png, svg) file, without the metadata that would change run to run."""
    buf = io.BytesIO()
    meta = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, metadata=meta, dpi=120, bbox_inches="tight")
    return buf.getvalue()
