"""`tinykd` command line: subcommands are registered by the modules that implement them."""
from __future__ import annotations

import argparse
import sys

from .errors import TinykdError

# Each entry: (module, function) where function(subparsers) adds a subcommand whose
# parser has `func` set as default. Areas add their own line here.
_COMMANDS = [
    (".models", "add_parser"),
    (".export.cli", "add_parser"),
    (".mlperf.cli", "add_parser"),
    (".device.cli", "add_parser"),
    (".experiments.cli", "add_sweep_parser"),
    (".experiments.cli", "add_preset_parser"),
    (".live", "add_parser"),
    (".params", "add_parser"),
]


def _params_to_check(args: argparse.Namespace):
    """params.yaml of the commands that start DVC runs, validated before DVC touches outputs.
    (`preset run/show` validate params.yaml merged with the preset themselves; `live` and the
    stages load it through tinykd.params.load.)"""
    from pathlib import Path

    if args.command == "sweep" and getattr(args, "sweep_command", None) == "queue":
        path = Path(args.repo) / "params.yaml"
        return path if path.is_file() else None
    return None


DESCRIPTION = """\
tinykd: knowledge distillation to int8 C for Cortex-M4 microcontrollers.

The pipeline itself runs with `dvc repro` (or `make repro`); these commands
check its parameters, export a model to C, talk to a board or its QEMU
emulation, and run sweeps and course presets as DVC experiments."""

EPILOG = """\
examples:
  tinykd params check params.yaml                  validate params.yaml against the schema
  tinykd export models/student_int8.tflite out/c   generate C for an int8 model
  tinykd preset run quick                          every stage on a 5,000-image subset, few epochs
  tinykd preset run mnist_kd                       run a course preset as a DVC experiment
  tinykd sweep queue grid -j 2 --wait              queue the temperature x alpha grid

`tinykd COMMAND --help` describes a command."""


def _version() -> str:
    """The installed distribution's version (pyproject.toml's, via the package metadata)."""
    from importlib import metadata

    try:
        return metadata.version("tinykd")
    except metadata.PackageNotFoundError:  # run from a source tree that was never pip-installed
        from . import __version__

        return f"{__version__} (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinykd",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    import importlib

    for module, func in _COMMANDS:
        getattr(importlib.import_module(module, __package__), func)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        path = _params_to_check(args)
        if path is not None:
            from . import params

            params.check_file(path)
        return int(args.func(args) or 0)
    except TinykdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
