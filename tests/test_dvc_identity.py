"""dvc exp run commits each experiment; on a system where git has no identity (a fresh Debian, as
scripts/check-debian.sh found) tinykd's dvc calls give those commits a stand-in, never overriding
an identity the user has set."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tinykd.experiments import dvc_command

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


@pytest.fixture
def no_identity(tmp_path, monkeypatch):
    """A git repository with no user.name/user.email anywhere (no global or system config)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        for key in ("NAME", "EMAIL"):
            monkeypatch.delenv(f"GIT_{who}_{key}", raising=False)
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def test_missing_identity_gets_the_stand_in(no_identity):
    env = dvc_command.env(no_identity)
    assert env["GIT_AUTHOR_NAME"] == env["GIT_COMMITTER_NAME"] == dvc_command.STAND_IN["name"]
    assert env["GIT_AUTHOR_EMAIL"] == env["GIT_COMMITTER_EMAIL"] == dvc_command.STAND_IN["email"]
    # the stand-in is what git itself then commits with
    proc = subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=no_identity, env=env)
    assert proc.returncode == 0
    log = subprocess.run(["git", "log", "-1", "--format=%an <%ae>"], cwd=no_identity, env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert log == "tinykd experiment <tinykd@localhost.invalid>"


def test_an_identity_the_user_set_wins(no_identity, monkeypatch):
    subprocess.run(["git", "config", "user.name", "Ada"], cwd=no_identity, check=True)
    env = dvc_command.env(no_identity)
    assert "GIT_AUTHOR_NAME" not in env and env["GIT_AUTHOR_EMAIL"] == dvc_command.STAND_IN["email"]
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.org")
    env = dvc_command.env(no_identity)
    assert env["GIT_AUTHOR_EMAIL"] == "ada@example.org"
    assert env["GIT_COMMITTER_EMAIL"] == dvc_command.STAND_IN["email"]
