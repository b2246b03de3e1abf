"""Atomic output writing: a crashed stage never leaves a half-written artifact, and a tool
never deletes what it did not write.

Everything is written to a temporary sibling and renamed into place; rename is atomic
on POSIX within one filesystem. An output folder carries a marker file (MARKER); an
existing folder without it is somebody else's and is only replaced with force=True (an
empty one excepted). The current folder, the home folder, their ancestors, the filesystem
root, symbolic links and existing files are never replaced, whatever force says.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import TinykdError

MARKER = ".tinykd-output"
MARKER_TEXT = "This folder was written by tinykd; its next run replaces it whole.\n"
_TMP_SUFFIX = ".tinykd-tmp"
_OLD_SUFFIX = ".tinykd-old"
_COMPLETED: list[Path] = []   # outputs this process has put in place (for the interrupt message)


def completed() -> list[Path]:
    """The outputs (files and folders) this process has written in full so far."""
    return list(_COMPLETED)


class OutputError(TinykdError):
    """An output path tinykd must not replace (somebody else's folder, a file, $HOME, ...)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def is_tinykd_output(folder: str | os.PathLike) -> bool:
    """True if `folder` is a folder tinykd wrote (it holds the marker file)."""
    return (Path(folder) / MARKER).is_file()


def _protected(dest: Path) -> str | None:
    """Why `dest` (absolute, resolved) may never be replaced, or None."""
    if dest == Path(dest.anchor):
        return "the filesystem root"
    places = []
    for what, place in (("the current folder", Path.cwd), ("the home folder", Path.home)):
        try:
            places.append((what, place().resolve()))
        except (OSError, RuntimeError):  # pragma: no cover - no home, or the cwd was removed
            pass
    for what, place in places:
        if dest == place:
            return what
    for what, place in places:
        if dest in place.parents:
            return f"a folder containing {what}"
    return None


def check_output_dir(dest: str | os.PathLike, force: bool = False) -> Path:
    """Refuse (OutputError, one line) an output folder tinykd may not replace; return it absolute.

    Allowed: a path that does not exist, an empty folder, a folder holding MARKER, and with
    force=True any other folder - never `.`, $HOME, /, their ancestors, a link or a file."""
    raw = str(dest)
    dest = Path(os.path.abspath(dest))
    if os.path.islink(dest):
        raise OutputError(f"output folder {raw!r} is a symbolic link; tinykd writes only real folders "
                          "(give a new folder name)")
    why = _protected(dest.resolve())
    if why:
        raise OutputError(f"output folder {raw!r} is {why}; tinykd replaces its output folder whole, "
                          "so give a new folder name (e.g. ./out)")
    if dest.exists() and not dest.is_dir():
        raise OutputError(f"output folder {raw!r} is an existing file; tinykd will not replace it "
                          "(give a new folder name)")
    if dest.is_dir() and not force and not is_tinykd_output(dest) and any(dest.iterdir()):
        raise OutputError(f"output folder {raw!r} exists and was not written by tinykd (no {MARKER} "
                          "in it); it would be replaced whole: choose a new folder, or pass --force "
                          "to replace it")
    return dest


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(dest: str | os.PathLike) -> list[Path]:
    """Remove temporaries of `dest` left by a killed run of tinykd (SIGKILL, power loss) whose
    writer process is gone: `.<name>.*.tinykd-tmp` folders (their marker names the pid),
    `.<name>.*.tinykd-tmp-<pid><suffix>` files, and marked `.<name>.*.tinykd-old` folders.
    Nothing without these names and marks is touched. Returns what was removed."""
    dest = Path(os.path.abspath(dest))
    removed = []
    if not dest.name or not dest.parent.is_dir():
        return removed
    file_tmp = re.compile(re.escape(f".{dest.name}.") + r".+" + re.escape(_TMP_SUFFIX) + r"-(\d+)")
    for p in dest.parent.glob(f".{glob_escape(dest.name)}.*"):
        if p.is_symlink():
            continue
        if p.is_file():
            found = file_tmp.match(p.name)
            if found and not _pid_alive(int(found.group(1))):
                p.unlink()
                removed.append(p)
            continue
        if not p.is_dir() or not is_tinykd_output(p):
            continue
        if p.name.endswith(_TMP_SUFFIX):
            try:
                found = re.search(r"being written by pid (\d+)", (p / MARKER).read_text())
            except (OSError, UnicodeDecodeError):
                continue
            if found is None or _pid_alive(int(found.group(1))):
                continue
        elif not p.name.endswith(_OLD_SUFFIX):
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary file path beside `dest`; move it onto `dest` only if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.",
                               suffix=f"{_TMP_SUFFIX}-{os.getpid()}{suffix or dest.suffix}", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp)
    # mkstemp creates 0600; outputs should get the permissions any other new file would.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, dest)
        _COMPLETED.append(dest)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(dest: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside `dest`; it replaces `dest` only if the block succeeds.

    `dest` is checked first (check_output_dir): somebody else's folder is refused unless
    force. The new folder gets the MARKER file, so the next run may replace it; stale
    temporaries of killed runs are removed (remove_stale)."""
    dest = check_output_dir(dest, force)
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=_TMP_SUFFIX, dir=dest.parent))
    old = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        (tmp / MARKER).write_text(f"{MARKER_TEXT}(temporary, being written by pid {os.getpid()})\n")
        yield tmp
        (tmp / MARKER).write_text(MARKER_TEXT)
        check_output_dir(dest, force)  # it may have appeared while the block ran
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=_OLD_SUFFIX, dir=dest.parent))
            os.replace(dest, old)  # onto the empty placeholder: atomic, nothing else touched
            try:
                os.replace(tmp, dest)
            except BaseException:
                os.replace(old, dest)  # put the previous output back
                old = None
                raise
        else:
            os.replace(tmp, dest)
        _COMPLETED.append(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists():
            shutil.rmtree(old, ignore_errors=True)


def write_bytes(dest: str | os.PathLike, data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def write_text(dest: str | os.PathLike, text: str) -> None:
    write_bytes(dest, text.encode("utf-8"))


def write_json(dest: str | os.PathLike, obj) -> None:
    """Deterministic JSON: sorted keys, fixed indentation, trailing newline."""
    write_text(dest, json.dumps(obj, indent=2, sort_keys=True) + "\n")
