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
        assert "WORKDIR /tinykd" in block and "COPY . ." in block
        phases = [line[6:] for line in block.splitlines() if line.startswith("PHASE ")]
        # the README's commands after the set-up; `make repro` last (its dry run needs data/)
        assert phases == ["make test", "activation line", "tinykd preset run quick",
                          "dvc exp run -S kd.alpha=0.3 && dvc metrics diff", "make repro (--dry, default params)"]


def test_dataset_option_sets_the_two_documented_values_before_the_quick_run(tmp_path):
    archive = tmp_path / "copy.tar.gz"
    archive.write_bytes(b"")
    proc = _dry("--dataset", str(archive), "trixie")
    assert proc.returncode == 0, proc.stderr
    phases = [line[6:] for line in proc.stdout.splitlines() if line.startswith("PHASE ")]
    assert phases.index("offline dataset in params.yaml") == phases.index("tinykd preset run quick") - 1
    assert "source: /srv/tinykd-data/copy.tar.gz" in proc.stdout and "name: image_folder" in proc.stdout
    assert "make test TEST_ARGS=" in proc.stdout
    assert "\n  make test\n" in _dry("--full-tests", "trixie").stdout
    proc = _dry("--dataset", str(tmp_path / "missing.tar.gz"), "trixie")
    assert proc.returncode == 2 and "--dataset" in proc.stderr and "is not a file" in proc.stderr


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
