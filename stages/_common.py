"""Shared by the stage entry points: run a stage body, turning TinykdError into one line and
Ctrl-C (or SIGTERM) into one line and exit 130 (143), with the outputs left as they were."""
from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Callable


class _Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so the atomic writers clean up."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _argv_paths(argv: list[str]) -> list[str]:
    """The values of the command line (outputs among them): `--out x` and `--out=x` give x."""
    paths = []
    for arg in argv:
        if arg.startswith("-"):
            if "=" in arg:
                paths.append(arg.split("=", 1)[1])
            continue
        paths.append(arg)
    return [p for p in paths if p]


def stage_name(argv0: str | None = None) -> str:
    return Path(argv0 or sys.argv[0]).stem


def run(body: Callable[[], None], stage: str | None = None) -> None:
    from tinykd import atomic
    from tinykd.errors import TinykdError

    stage = stage or stage_name()
    # Temporaries a killed (SIGKILL) run of this stage left beside its outputs go first.
    for path in _argv_paths(sys.argv[1:]):
        try:
            for stale in atomic.remove_stale(path):
                print(f"{stage}: removed {stale}, left by a run that was killed", file=sys.stderr)
        except (OSError, ValueError):
            continue
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    # A shell without job control starts background commands with SIGINT ignored, and Python then
    # never raises KeyboardInterrupt: a stage started that way (nohup ... &, some CI runners)
    # would sleep through Ctrl-C. Stages always take it.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        body()
    except TinykdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except (KeyboardInterrupt, _Terminated) as exc:
        what = "interrupted" if isinstance(exc, KeyboardInterrupt) else "terminated"
        done = [str(p) for p in atomic.completed()]
        if done:
            print(f"{what}; outputs of {stage} left as before, except {', '.join(done)} "
                  "(already written in full)", file=sys.stderr)
        else:
            print(f"{what}; outputs of {stage} left as before", file=sys.stderr)
        sys.exit(130 if isinstance(exc, KeyboardInterrupt) else 143)
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
