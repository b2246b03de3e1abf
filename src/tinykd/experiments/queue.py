"""Sweep points as queued DVC experiments.

Every point is one `dvc exp run --queue -S kd.alpha=... -S kd.temperature=... <targets>`;
`dvc queue start -j N` runs them in temporary copies of the workspace that share the DVC cache,
so fetch, teacher and baseline are checked out from the cache rather than rerun.
"""
from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import ParamError, TinykdError
from . import dvc_command
from .points import Point

DEFAULT_TARGETS = ("quantize@student",)


def queue_command(point: Point, targets=DEFAULT_TARGETS, base_sets=()) -> list[str]:
    """`base_sets` (-S pairs of a preset) minus the keys the point sets itself, then the point's."""
    own = {key for key, _ in point.sets}
    base = []
    for flag, pair in zip(base_sets[::2], base_sets[1::2]):
        if pair.split("=", 1)[0] not in own:
            base += [flag, pair]
    return ["exp", "run", "--queue", "-n", point.name, *base, *point.set_args(), *targets]


def queue(points: list[Point], targets=DEFAULT_TARGETS, cwd: Path = Path("."), dry_run: bool = False,
          echo=print, base_sets=()) -> list[list[str]]:
    """Queue one experiment per point; returns the dvc command lines."""
    cmds = [queue_command(p, targets, base_sets) for p in points]
    for point, cmd in zip(points, cmds):
        echo("dvc " + " ".join(cmd) + (f"    # {point.note}" if point.note else ""))
        if not dry_run:
            dvc_command.run(cmd, cwd)
    return cmds


def start(jobs: int, cwd: Path = Path(".")) -> None:
    """`dvc queue start -j N`. Its workers outlive it and inherit its stdout/stderr: those go to a
    file, not a pipe, or reading them to the end would wait for the workers to exit."""
    if jobs < 1:
        raise ParamError("--jobs", jobs, "an integer >= 1")
    with tempfile.TemporaryFile("w+") as log:
        code = dvc_command.call(["queue", "start", "-j", str(jobs)], cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log)
        if code != 0:
            log.seek(0)
            last = log.read().strip().splitlines()[-1:] or ["(no output)"]
            raise TinykdError(f"`dvc queue start -j {jobs}` failed: {last[0]}")


_STATUS_LINE = re.compile(r"^(?P<task>[0-9a-f]{7,})\s+(?P<name>\S+)\s+.*"
                          r"\s(?P<status>Queued|Running|Success|Failed)\s*$")


def queue_status(cwd: Path = Path(".")) -> dict[str, str]:
    """{experiment name: Queued | Running | Success | Failed} from `dvc queue status`."""
    out = dvc_command.run(["queue", "status"], cwd).stdout
    status = {}
    for line in out.splitlines():
        m = _STATUS_LINE.match(line.strip())
        if m:
            status[m["name"]] = m["status"]
    return status


def wait(names: list[str] | None = None, cwd: Path = Path("."), timeout_s: float = 24 * 3600,
         poll_s: float = 5.0, echo=print) -> dict[str, str]:
    """Block until the named (default: all) queued experiments have finished; returns their status."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        status = queue_status(cwd)
        mine = {n: s for n, s in status.items() if names is None or n in names}
        pending = sorted(n for n, s in mine.items() if s in ("Queued", "Running"))
        summary = f"{len(mine) - len(pending)}/{len(mine)} finished"
        if summary != last:
            echo(f"sweep: {summary}")
            last = summary
        if not pending:
            return mine
        if time.monotonic() > deadline:
            raise TinykdError(f"sweep: {len(pending)} experiment(s) still queued or running after {timeout_s:g} s: "
                              + ", ".join(pending[:5]))
        time.sleep(poll_s)
