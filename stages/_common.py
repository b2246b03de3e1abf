"""Shared by the stage entry points: `stage()` is the one way a stage script starts.

A stage script is three functions and a docstring (its `--help` text):

    def arguments(ap):        # its options, paths given by dvc.yaml's `cmd`
        ap.add_argument("--model", required=True)

    def body(args, p):        # the work; `p` is params.yaml, already validated
        from tinykd import train    # heavy imports (TensorFlow, Keras) here, never at module level
        ...

    def main():
        stage(__doc__, arguments, body, sections=["teacher"])

The rule: **params are validated before anything heavy is imported.** `stage()` parses the
command line, then loads params.yaml (`tinykd.params.load`: the whole file against the schema,
plus the file checks of `sections`, the sections the stage reads), and only then calls `body`,
which is where TensorFlow and the other slow imports happen. A bad value in params.yaml therefore
stops the stage with one line before TensorFlow is loaded (docs/pipeline.md, "Writing a stage",
has the times). tests/test_stages.py checks both halves: no heavy import at module level, and no
TensorFlow in memory when a bad params file has stopped a stage.

How a stage ends (the same for every stage):
- 0: done; 2: a bad command line (argparse's usage line);
- 1: a TinykdError (bad params, data, model, device, ...), as one line `error: <message>` on stderr;
- 130 / 143: Ctrl-C / SIGTERM, as one line saying the outputs were left as they were (the atomic
  writers delete their temporaries), and which outputs were already written in full;
- any other exception is a bug and keeps its traceback (exit 1).
Temporaries left beside an output by a killed run (SIGKILL) are removed first.
"""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Callable, Iterable


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


def read_record(path: Path, made_by: str) -> dict:
    """The JSON record an earlier stage wrote (build_info.json, flash.json); missing or damaged,
    it is a DeviceError saying which stage to run first."""
    import json

    from tinykd.errors import DeviceError

    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise DeviceError(f"cannot read {path} ({exc}): run the {made_by} stage first") from None


def stage(doc: str | None, arguments: Callable[[argparse.ArgumentParser], None],
          body: Callable[[argparse.Namespace, dict | None], None], *, sections: Iterable[str] | None = (),
          argv: list[str] | None = None, name: str | None = None) -> None:
    """Run one stage: parse `argv` (default sys.argv[1:]) with `doc` as the help text and the
    options `arguments` adds, load and validate params (`--params`, default params.yaml; the
    file checks of `sections`), then `body(args, params)`. `sections=None`: the stage reads no
    params.yaml, has no --params option, and `body` gets None. Ends as the module docstring says."""
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = argparse.ArgumentParser(description=doc)
    if sections is not None:
        sections = list(sections)
        ap.add_argument("--params", default="params.yaml")
    arguments(ap)
    args = ap.parse_args(argv)

    def validated_then_body():
        p = None
        if sections is not None:
            from tinykd import params as P

            p = P.load(args.params, sections=sections)
        body(args, p)

    run(validated_then_body, name, argv=argv)


def run(body: Callable[[], None], stage: str | None = None, argv: list[str] | None = None) -> None:
    """`body()` with the stage's signal handling and error mapping (stage() uses it; so can a
    script that parses its own command line)."""
    from tinykd import atomic
    from tinykd.errors import TinykdError

    stage = stage or stage_name()
    # Temporaries a killed (SIGKILL) run of this stage left beside its outputs go first.
    for path in _argv_paths(sys.argv[1:] if argv is None else argv):
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
