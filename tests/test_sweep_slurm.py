"""The Snakemake sweep on a real SLURM: scripts/slurm-local.sh brings up a one-node cluster (munged,
MariaDB, slurmdbd, slurmctld, slurmd), the local-cluster command of docs/sweeps.md runs the tiny
project's 2x2 grid through snakemake-executor-plugin-slurm, and the points must equal the same
sweep run locally (conftest.snakemake_grid). Then SLURM kills one point's training at its time
limit: no partial point may stay, and the next run redoes that point only. Every daemon is
stopped by the pid it recorded."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from support import tiny_project as tp

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "slurm-local.sh"
DOC = REPO / "docs" / "sweeps.md"
DAEMONS = ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged")
POINTS = ["T1-a0.5", "T1-a0.9", "T4-a0.5", "T4-a0.9"]
PACKAGES = "slurm-wlm slurmdbd munge mariadb-server"

pytestmark = pytest.mark.slow


def documented_command() -> list[str]:
    """The local-cluster sweep command of docs/sweeps.md: the test runs what the page tells users."""
    found = [line for line in DOC.read_text().splitlines()
             if line.startswith("snakemake sweep --profile workflow/profiles/slurm") and "slurm_account=tinykd" in line]
    assert len(found) == 1, f"docs/sweeps.md should have one local-cluster sweep command, has {found}"
    return shlex.split(found[0])


def _installed() -> bool:
    return all(shutil.which(p) or os.path.exists(f"/usr/sbin/{p}") for p in
               ("slurmctld", "slurmd", "slurmdbd", "munged", "mariadbd", "sbatch", "sacct"))


def _free_port_base() -> int:
    """A base port with it and the next three free on 127.0.0.1 (not the script's default, so a
    developer's own local cluster keeps running)."""
    for base in range(27817, 29817, 4):
        try:
            for port in range(base, base + 4):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    pytest.fail("no four free consecutive ports in 27817-29817")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory, tool_env):
    """Environment for SLURM commands against a cluster brought up by scripts/slurm-local.sh."""
    if not _installed():
        if os.geteuid() != 0:
            pytest.skip(f"SLURM is not installed and the tests do not run as root, so `{SCRIPT.name} install` "
                        f"cannot apt-get install {PACKAGES}")
        if not shutil.which("apt-get"):
            pytest.skip(f"SLURM is not installed and there is no apt-get to install {PACKAGES}")
        proc = subprocess.run(["bash", str(SCRIPT), "install"], capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["(no output)"]
            pytest.skip(f"`{SCRIPT.name} install` could not install {PACKAGES}: {last[0]}")
    if os.geteuid() != 0:
        pytest.skip("the local SLURM needs root (slurmd starts jobs as their user); the tests do not run as root")

    state = tmp_path_factory.mktemp("slurm") / "cluster"
    env = {**tool_env, "SLURM_LOCAL_PORT": str(_free_port_base())}
    log = state.parent / "slurm-local.log"
    started = time.monotonic()
    try:
        # Output to a file: the daemons outlive the script and would hold a pipe open.
        with open(log, "w") as fh:
            up = subprocess.run(["bash", str(SCRIPT), "up", str(state)], stdout=fh, stderr=subprocess.STDOUT,
                                env=env, timeout=300)
        assert up.returncode == 0, f"slurm-local.sh up failed:\n{log.read_text()[-3000:]}"
        print(f"local SLURM up in {time.monotonic() - started:.1f} s")
        exports = subprocess.run(["bash", str(SCRIPT), "env", str(state)], capture_output=True, text=True,
                                 check=True).stdout
        conf = re.search(r"SLURM_CONF=(\S+)", exports).group(1)
        env.update(SLURM_CONF=conf, PATH=f"{env['PATH']}{os.pathsep}/usr/sbin")
        yield env
    finally:
        pids = {d: (state / "run" / f"{d}.pid").read_text().strip() for d in DAEMONS
                if (state / "run" / f"{d}.pid").is_file()}
        if (state / "run").is_dir():
            subprocess.run(["bash", str(SCRIPT), "down", str(state)], env=env, timeout=120)
        alive = {d: pid for d, pid in pids.items() if pid.isdigit() and os.path.exists(f"/proc/{pid}")
                 and not open(f"/proc/{pid}/stat").read().split(") ")[-1].startswith("Z")}
        assert not alive, f"daemons still running after slurm-local.sh down: {alive}"
        assert os.path.realpath("/etc/slurm/slurm.conf") != str(state / "etc" / "slurm.conf"), \
            "slurm-local.sh down left its /etc/slurm/slurm.conf link"


def _copy_project(src: Path, dest: Path) -> Path:
    """The trained tiny project without any sweep results or Snakemake state."""
    def ignore(folder, names):
        here = Path(folder)
        return [n for n in names
                if (here == src and n in (".snakemake", "logs")) or (here == src / "build" and n == "sweep")]
    shutil.copytree(src, dest, symlinks=True, ignore=ignore)
    return dest


def _point(grid: Path, name: str) -> dict:
    return {"distill": json.loads((grid / name / "distill.json").read_text()),
            "quantize": json.loads((grid / name / "quantize.json").read_text()),
            "tflite": (grid / name / "student_int8.tflite").read_bytes()}


def _jobs(env: dict) -> list[tuple[str, str, str]]:
    """(job id, state, comment) of every job the cluster has run; the plugin's comment names the rule."""
    out = subprocess.run(["sacct", "-a", "-X", "-n", "-P", "-S", "2000-01-01", "-o", "JobID,State,Comment%200"],
                         env=env, capture_output=True, text=True, check=True).stdout
    return [tuple(line.split("|", 2)) for line in out.splitlines() if line.strip()]


def _comment(rule: str, point: str) -> str:
    t, a = point[1:].split("-a")
    return f"rule_{rule}_wildcards_{t}_{a}"


def test_sweep_on_slurm_equals_local_and_a_timed_out_point_is_redone(snakemake_grid, slurm, tmp_path):
    proj = _copy_project(snakemake_grid["project"], tmp_path / "proj")
    grid, local = proj / "build" / "sweep" / "grid", snakemake_grid["grid"]
    cmd = documented_command()
    started = time.monotonic()
    tp.run(cmd, proj, slurm, timeout=900)
    print(f"SLURM sweep took {time.monotonic() - started:.1f} s")

    assert sorted(p.name for p in grid.iterdir() if p.is_dir()) == POINTS
    for name in POINTS:
        assert _point(grid, name) == _point(local, name), f"{name}: the SLURM run differs from the local one"
    assert (grid / "results.csv").read_bytes() == (local / "results.csv").read_bytes()
    jobs = _jobs(slurm)
    want = {_comment(rule, p) for rule in ("sweep_distill", "sweep_quantize") for p in POINTS}
    assert {c for _, _, c in jobs} == want, jobs  # params and table are local rules: no job of theirs
    assert {s for _, s, _ in jobs} == {"COMPLETED"}, jobs

    # SLURM kills a point's training at its time limit. The point's own params.yaml asks for many
    # epochs (Snakemake reruns what depends on a newer file, so only this point) and the run gives
    # distill one minute; the profile's retry is turned off.
    victim = "T1-a0.5"
    params_file = grid / victim / "params.yaml"
    original = params_file.read_bytes()
    slow = yaml.safe_load(original)
    slow["kd"]["epochs"] = 100000
    params_file.write_text(yaml.safe_dump(slow, sort_keys=False))
    others = {p: {f.name: f.stat().st_mtime_ns for f in (grid / p).iterdir()} for p in POINTS if p != victim}
    killed = tp.run(cmd + ["--retries", "0", "--set-resources", "sweep_distill:runtime=1"], proj, slurm,
                    timeout=600, check=False)
    assert killed.returncode != 0, "the sweep with a 1-minute distill should have failed"
    timed_out = [j for j in _jobs(slurm) if j[2] == _comment("sweep_distill", victim) and j[1] == "TIMEOUT"]
    assert timed_out, f"no TIMEOUT job for {victim}: {_jobs(slurm)}\n{killed.stderr[-3000:]}"
    left = sorted(f.name for f in (grid / victim).iterdir())
    # distill's outputs are gone; quantize's are the previous run's and are redone before the table reads them.
    assert not {"student.keras", "distill.json", "dvclive"} & set(left), left

    # The next run (the documented command) redoes that point only, to the same bytes as before.
    params_file.write_bytes(original)
    before = {j[0] for j in _jobs(slurm)}
    tp.run(cmd, proj, slurm, timeout=900)
    new = {c for i, s, c in _jobs(slurm) if i not in before and s == "COMPLETED"}
    assert new == {_comment("sweep_distill", victim), _comment("sweep_quantize", victim)}, new
    assert _point(grid, victim) == _point(local, victim)
    for p, files in others.items():
        assert {f.name: f.stat().st_mtime_ns for f in (grid / p).iterdir()} == files, f"{p} was redone"
