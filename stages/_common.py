"""Shared by the stage entry points: run a stage body, turning TinykdError into one line."""
from __future__ import annotations

import sys
from typing import Callable


def run(body: Callable[[], None]) -> None:
    from tinykd.errors import TinykdError

    try:
        body()
    except TinykdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
