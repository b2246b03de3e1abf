"""The UART front-end fuzzer (firmware/fuzz/fuzz_frontend.c), built by `make -C firmware
fuzz-frontend`: the firmware's handle_frame, request loop and receive ring compiled for the host
under AddressSanitizer + UndefinedBehaviorSanitizer; bounded, seeded runs of the plain and the
profiling build, each answer checked byte for byte against a model of the protocol."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUNS = 1500

pytestmark = pytest.mark.skipif(not (shutil.which("make") and (shutil.which("cc") or shutil.which("gcc"))),
                                reason="needs make and a host C compiler")


@pytest.fixture(scope="module")
def fuzzers(tmp_path_factory) -> dict[str, Path]:
    """The two builds, made by the Makefile's own recipe (FUZZ_RUNS=0: build, run nothing)."""
    # gcc gives the built-in driver these tests run (clang would build a libFuzzer binary)
    cc = shutil.which("gcc") or shutil.which("cc")
    if "clang" in subprocess.run([cc, "--version"], capture_output=True, text=True).stdout:
        pytest.skip("the built-in fuzz driver needs gcc; clang builds the libFuzzer target (make fuzz)")
    out = tmp_path_factory.mktemp("fuzz")
    proc = subprocess.run(["make", "-s", "-C", str(REPO / "firmware"), "fuzz-frontend", "FUZZ_RUNS=0",
                           f"HOSTCC={cc}", f"BUILD_DIR={out}"], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 and re.search(r"cannot find .*(asan|ubsan)", proc.stderr):
        pytest.skip(f"sanitizer runtime unavailable: {proc.stderr[-200:]}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return {"plain": out / "fuzz" / "fuzz_frontend", "profiling": out / "fuzz" / "fuzz_frontend_profiling"}


def _run(exe: Path, runs: int, seed: int) -> str:
    proc = subprocess.run([str(exe), str(runs), str(seed)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def _counts(text: str) -> tuple[dict[str, int], dict[int, int], int, int]:
    answers = {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", re.search(r"answers: (.*)", text).group(1))}
    errors = {int(k): int(v) for k, v in re.findall(r"(\d+):(\d+)", re.search(r"errors: (.*)", text).group(1))}
    line = re.search(r"line: (\d+) bytes dropped by a full ring, (\d+) pauses", text)
    return answers, errors, int(line.group(1)), int(line.group(2))


@pytest.mark.parametrize("build", ["plain", "profiling"])
def test_frontend_fuzz_run_reaches_every_answer(fuzzers, build):
    text = _run(fuzzers[build], RUNS, seed=1)
    profiled = build == "profiling"
    assert text.startswith(f"fuzz_frontend: {RUNS} inputs, all invariants held"
                           + (" (profiling build)" if profiled else "\n")), text
    # Every answer and every error the front-end can send was reached, with a ring that overflowed
    # and a line that paused mid-frame: a generator that stops reaching one fails here.
    answers, errors, dropped, pauses = _counts(text)
    assert all(answers[k] > 0 for k in ("hello", "load", "infer", "reset", "boot")), answers
    assert (answers["profile"] > 0) == profiled, answers
    unsupported = 6   # TKP_ERR_UNSUPPORTED: PROFILE on a build without the layer hooks
    assert all(errors[code] > 0 for code in range(1, 9) if code != unsupported), errors
    assert (errors[unsupported] > 0) == (not profiled), errors
    assert answers["boot"] == RUNS + answers["reset"]   # a banner per start and per RESET
    assert dropped > 0 and pauses > 0
    # inputs whose boot-time tinykd_model_check() failed: HELLO flags it, every INFER is refused
    failed = int(re.search(r"model check failed at boot: (\d+) inputs", text).group(1))
    assert RUNS // 8 < failed < RUNS // 2, failed


def test_frontend_fuzz_is_reproducible_per_seed(fuzzers):
    first = _run(fuzzers["plain"], 200, seed=7)
    assert _run(fuzzers["plain"], 200, seed=7) == first
    assert _run(fuzzers["plain"], 200, seed=8) != first
