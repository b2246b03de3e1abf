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
    (".sweep", "add_parser"),
    (".presets", "add_parser"),
    (".live", "add_parser"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinykd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    import importlib

    for module, func in _COMMANDS:
        getattr(importlib.import_module(module, __package__), func)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TinykdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
