"""scripts/check-debian.sh replays the Dockerfile's steps in Debian chroots; its dry run shows what
it would run, and it refuses a Dockerfile it could not replay faithfully before building anything."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "check-debian.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _dry(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), "--dry-run", *args], capture_output=True, text=True, timeout=60)


def test_dry_run_replays_the_dockerfiles_run_steps_in_order():
    text = (REPO / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    runs = [line[4:].strip() for line in joined.splitlines() if line.startswith("RUN ")]
    assert runs and re.search(r"^FROM debian:trixie-slim$", text, re.M) and 'CMD ["make", "test"]' in text
    proc = _dry("--dockerfile", str(REPO / "Dockerfile"), "bookworm", "trixie")
    assert proc.returncode == 0, proc.stderr
    for release in ("bookworm", "trixie"):
        block = proc.stdout.split(f"# {release}: ")[1].split("\n# ")[0]
        shown = [re.sub(r"\s+", " ", line[4:]) for line in block.splitlines() if line.startswith("RUN ")]
        assert shown == [re.sub(r"\s+", " ", r) for r in runs]
        assert "WORKDIR /tinykd" in block and "COPY . ." in block and "SMOKE . .venv/bin/activate" in block


@pytest.mark.parametrize("line, word", [("USER me", "USER"), ("COPY src /src", "COPY src /src"),
                                        ("ENV A B", "ENV A"), ("WORKDIR rel", "WORKDIR rel")])
def test_a_step_it_cannot_replay_is_one_line_before_anything_runs(line, word, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM debian:trixie-slim\n{line}\nRUN true\n")
    proc = _dry("--dockerfile", str(tmp_path / "Dockerfile"), "trixie")
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and word in proc.stderr, proc.stderr


def test_unknown_release_or_option_is_refused():
    proc = _dry("sid")
    assert proc.returncode == 2 and "release sid is not checked; expected bookworm or trixie" in proc.stderr
    proc = _dry("--nope", "trixie")
    assert proc.returncode == 2 and "unknown option --nope" in proc.stderr
