"""`snakemake --lint` for `make lint`, less the one lint tinykd answers by design.

    python scripts/snakemake_lint.py [-s workflow/Snakefile]

Snakemake asks every shell rule for a `conda:` or `container:` directive. tinykd's rules run
in the project venv that `make setup` builds from pyproject.toml and constraints.txt, so
that lint is reported as a count, not a failure. Any other lint, or a Snakefile that does
not load, fails (exit 1) with snakemake's own text. Snakemake has no switch to silence a lint,
and `--lint json` prints text in Snakemake 9, hence parsing the text.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The title of snakemake.linting.rules.RuleLinter.lint_missing_software_definition's lint.
ACCEPTED = "Specify a conda environment or container for each rule."
_ITEM = re.compile(r"^Lints for (?:rule|snakefile) (?P<what>.+?):?$")
_TITLE = re.compile(r"^    \* (?P<title>.+):$")


def lint_blocks(text: str) -> list[tuple[str, str, list[str]]]:
    """(item, lint title, lines of the lint) for every lint in `snakemake --lint` output."""
    out: list[tuple[str, str, list[str]]] = []
    item = None
    for line in text.splitlines():
        if m := _ITEM.match(line):
            item = m["what"]
        elif (m := _TITLE.match(line)) and item is not None:
            out.append((item, m["title"], [line]))
        elif out and line.startswith("      "):
            out[-1][2].append(line)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-s", "--snakefile", default="workflow/Snakefile")
    args = ap.parse_args(argv)
    snakefile = ROOT / args.snakefile
    if not snakefile.is_file():
        print(f"error: no Snakefile at {snakefile}", file=sys.stderr)
        return 1
    exe = Path(sys.executable).with_name("snakemake")
    cmd = [str(exe) if exe.is_file() else "snakemake", "-s", str(snakefile), "--lint"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    if proc.returncode == 0:
        print("snakemake --lint: no lints")
        return 0
    blocks = lint_blocks(text)
    if not blocks:  # a failure that is not a lint: the Snakefile did not load
        sys.stderr.write(text)
        print(f"error: snakemake --lint exited {proc.returncode} without a lint", file=sys.stderr)
        return 1
    other = [b for b in blocks if b[1] != ACCEPTED]
    accepted = len(blocks) - len(other)
    for item, _, lines in other:
        print(f"{item}:", *lines, sep="\n")
    print(f"snakemake --lint: {len(other)} lint(s); {accepted} rule(s) without conda/container "
          "(accepted: rules run in the project venv)")
    return 1 if other else 0


if __name__ == "__main__":
    sys.exit(main())
