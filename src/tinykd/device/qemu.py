"""The emulated board: QEMU's machine for the board (board.yaml's qemu_machine, the
B-L475E-IOT01A's `-M b-l475e-iot01a` by default) with USART1 on a local TCP socket.

QEMU is started with `-icount shift=0` (one guest instruction = 1 ns of virtual time, so the
firmware's SysTick ticks convert to instruction counts and are identical run to run) and
`wait=on`, so the guest only starts once we are connected and no boot output is lost.
"""
from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import DeviceError
from . import board as B

QEMU = "qemu-system-arm"


def qemu_binary() -> str:
    path = shutil.which(QEMU)
    if not path:
        raise DeviceError(f"{QEMU} not found on PATH: install QEMU >= 9 (Debian: "
                          "bookworm-backports qemu-system-arm; `bash scripts/setup-system.sh`)")
    return path


def machine(board: str = B.DEFAULT) -> str:
    return B.load(board).qemu_machine


def check_machine(binary: str | None = None, machine: str | None = None) -> None:
    binary = binary or qemu_binary()
    machine = machine or B.load().qemu_machine
    out = subprocess.run([binary, "-machine", "help"], capture_output=True, text=True).stdout
    if machine not in out.split():
        raise DeviceError(f"{binary} has no {machine} machine (the B-L475E-IOT01A's arrived in QEMU 9): "
                          "install a newer qemu-system-arm")


def stop_process(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """Terminate `proc` if it still runs; kill it when it ignores SIGTERM for `grace_s`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QemuBoard:
    """A running QEMU board; `url` is the pyserial URL of its USART1.

    Use as a context manager; `restart()` power-cycles it (a fresh QEMU on the same image).
    """

    def __init__(self, image: str | Path, icount: bool = True, log: str | Path | None = None,
                 board: str = B.DEFAULT, sleep: bool = True):
        self.image = Path(image)
        if not self.image.is_file():
            raise DeviceError(f"firmware image {self.image} does not exist: run the build and flash stages")
        self.binary = qemu_binary()
        self.machine = machine(board)
        check_machine(self.binary, self.machine)
        self.icount, self.sleep = icount, sleep
        self.log = Path(log) if log else None
        self.proc: subprocess.Popen | None = None
        self._stderr = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def command(self, port: int) -> list[str]:
        # No -no-reboot: a RESET request (or a fault) must reboot the board, not end QEMU.
        cmd = [self.binary, "-M", self.machine, "-nographic", "-monitor", "none",
               "-kernel", str(self.image), "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on"]
        if self.icount:
            # sleep=off: virtual time skips the guest's idle periods instead of waiting them out
            # (see tinykd.mlperf.cli.qemu_board for why that matters); ticks are unaffected.
            cmd[1:1] = ["-icount", "shift=0" if self.sleep else "shift=0,sleep=off"]
        return cmd

    def start(self, attempts: int = 5) -> "QemuBoard":
        problem = ""
        for _ in range(attempts):
            self.port = _free_port()
            # A file, not a pipe: nobody reads QEMU's stderr while it runs, and a full pipe
            # would stall it.
            self._stderr = open(self.log, "ab") if self.log else tempfile.TemporaryFile()
            self.proc = subprocess.Popen(self.command(self.port), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=self._stderr)
            problem = self._wait_listening(10.0)
            if not problem:
                # never leave an orphan QEMU waiting for a client after we exit
                atexit.register(self.stop)
                return self
            self.stop()
            if "Address already in use" not in problem:
                break
        raise DeviceError(f"QEMU did not start: {problem}")

    def _wait_listening(self, timeout_s: float) -> str:
        """'' once QEMU listens on the port; else what went wrong."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = ""
                if not self.log:
                    self._stderr.seek(0)
                    err = self._stderr.read().decode(errors="replace")
                return err.strip().splitlines()[-1] if err.strip() else f"exit code {self.proc.returncode}"
            # QEMU prints nothing when ready; probing with a connect would be taken as the
            # client, so look for the listening socket instead.
            if _listening(self.port):
                return ""
            time.sleep(0.02)
        return f"not listening on 127.0.0.1:{self.port} after {timeout_s:g} s"

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self.proc is not None:
            stop_process(self.proc)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self.proc = None

    def restart(self) -> "QemuBoard":
        self.stop()
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "QemuBoard":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _listening(port: int) -> bool:
    """Is something listening on 127.0.0.1:port? (Linux: /proc/net/tcp, state 0A = LISTEN.)"""
    want = f"0100007F:{port:04X}"
    try:
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                return True
    except OSError:
        return True  # cannot tell: let the connect attempt decide
    return False
