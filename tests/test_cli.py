"""Top-level `tinykd` command line: --version from the package metadata, user-facing --help."""
from __future__ import annotations

import argparse
from importlib import metadata

import pytest

from tinykd import cli


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"tinykd {metadata.version('tinykd')}"


def test_help_describes_the_tool_and_shows_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "knowledge distillation" in out
    assert "registered by the modules" not in out  # the developer note stays in the source
    examples = [line.split()[:2] for line in out.split("examples:", 1)[1].splitlines() if line.startswith("  tinykd")]
    assert len(examples) >= 3
    parser = cli.build_parser()
    commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for _, command in examples:  # every example names a real subcommand
        assert command in commands, command
