"""Run every benchmark in this folder: `python -m bench` (each also runs alone: `python -m bench.<name>`).

Each module with a `main()` is run in its own process, in name order, with no arguments (its
defaults); a failing bench is reported and the others still run.
"""
from __future__ import annotations

import pkgutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    failed = []
    for name in names:
        print(f"=== bench.{name}", flush=True)
        start = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=here.parent)
        print(f"=== bench.{name}: exit {rc}, {time.perf_counter() - start:.1f} s\n", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
