"""Host side of the MLPerf Tiny / EEMBC DUT protocol (firmware side: firmware/app/mlperf_protocol.c).

Commands are ASCII ending in '%'; the device answers with lines ending in "\\r\\n", the last one
"m-ready". `Device` works over any pyserial-like object (`write(bytes)`, `read(n)` returning
what arrived within its timeout): a serial port, `serial.serial_for_url("socket://...")`, or a
pipe adapter in the tests.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from ..errors import DeviceError

READY = "m-ready"
DB_CHUNK_BYTES = 126     # hex data per `db` command: 3 + 252 = 255 characters, the device limit
LAP_MODULUS = 2 ** 32    # m-lap-us is a 32-bit microsecond counter

_RESULTS = re.compile(r"^m-results-\[([^\]]*)\]$")
_RAW = re.compile(r"^m-raw-\[([^\]]*)\]$")
_LAP = re.compile(r"^m-lap-us-([0-9]+)$")


@dataclass
class InferReply:
    iterations: int
    warmups: int
    start_us: int
    end_us: int
    results: list[str]          # the values exactly as printed
    lines: list[str] = field(repr=False)

    @property
    def elapsed_us(self) -> int:
        return (self.end_us - self.start_us) % LAP_MODULUS

    @property
    def values(self) -> list[float]:
        return [float(v) for v in self.results]


class Device:
    """One MLPerf DUT. `log` collects the transcript ("> cmd" sent, "< line" received)."""

    def __init__(self, port, timeout_s: float = 10.0, echo=None):
        self.port = port
        self.timeout_s = timeout_s
        self.buffer = b""
        self.log: list[str] = []
        self.echo = echo

    # -- lines ------------------------------------------------------------------------------
    def _record(self, line: str) -> None:
        self.log.append(line)
        if self.echo:
            self.echo(line)

    def read_line(self, deadline: float) -> str | None:
        while b"\n" not in self.buffer:
            if time.monotonic() > deadline:
                return None
            chunk = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 1))
            if chunk:
                self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\n", 1)
        line = raw.decode("ascii", errors="replace").strip("\r\x00")
        self._record(f"< {line}")
        return line

    def send(self, command: str) -> None:
        shown = command if not command.startswith("db ") or len(command) < 40 else \
            f"{command[:35]}... ({(len(command) - 3) // 2} bytes)"
        self._record(f"> {shown}%")
        self.port.write(command.encode("ascii") + b"%")
        flush = getattr(self.port, "flush", None)
        if flush:
            flush()

    def command(self, command: str, timeout_s: float | None = None) -> list[str]:
        """Send one command; return the reply lines up to and excluding m-ready."""
        self.send(command)
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.timeout_s)
        lines = []
        while True:
            line = self.read_line(deadline)
            if line is None:
                raise DeviceError(f"no m-ready from the device within "
                                  f"{timeout_s if timeout_s is not None else self.timeout_s:g} s "
                                  f"after '{command[:40]}%' (got {lines[-3:]!r}); is it running "
                                  "the MLPerf firmware (firmware.protocol: mlperf) at this baud rate?")
            if line == READY:
                return lines
            if line:
                lines.append(line)

    def checked(self, command: str, timeout_s: float | None = None) -> list[str]:
        """`command`, raising on an e-[...] reply."""
        lines = self.command(command, timeout_s)
        errors = [line for line in lines if line.startswith("e-[")]
        if errors:
            raise DeviceError(f"the device refused '{command[:40]}': {errors[0]}")
        return lines

    # -- session ----------------------------------------------------------------------------
    def drain(self, quiet_s: float = 0.3, limit_s: float = 5.0) -> None:
        """Read and drop whatever arrives until the line has been quiet for `quiet_s`."""
        start = last = time.monotonic()
        while time.monotonic() - last < quiet_s and time.monotonic() - start < limit_s:
            chunk = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 1))
            if chunk:
                self.buffer += chunk
                last = time.monotonic()
        for raw in self.buffer.split(b"\n"):
            if raw.strip():
                self._record(f"< {raw.decode('ascii', errors='replace').strip()}")
        self.buffer = b""

    def sync(self, attempts: int = 5, timeout_s: float = 2.0) -> str:
        """Get the device's attention and return its name (the m-name-dut-[...] text).

        A lone '%' ends whatever partial command the device may hold (bytes sent before its
        UART was ready are lost, so it may have a fragment); the boot lines and stale replies
        are read away before asking for the name."""
        last = ""
        for _ in range(attempts):
            self.send("")
            self.drain()
            try:
                for line in self.command("name", timeout_s):
                    m = re.match(r"^m-name-dut-\[(.*)\]$", line)
                    if m:
                        return m.group(1)
                    last = line
            except DeviceError as exc:
                last = str(exc)
        raise DeviceError(f"the device does not answer the MLPerf 'name' command ({last}); is it "
                          "running the MLPerf firmware (firmware.protocol: mlperf)?")

    def profile(self) -> tuple[str, str]:
        profile = model = ""
        for line in self.checked("profile"):
            m = re.match(r"^m-(profile|model)-\[(.*)\]$", line)
            if m and m.group(1) == "profile":
                profile = m.group(2)
            elif m:
                model = m.group(2)
        return profile, model

    def info(self) -> dict[str, str]:
        """tinykd's extension: model hash, input mapping, timer ({} on other firmware)."""
        for line in self.command("info"):
            m = re.match(r"^m-info-\[(.*)\]$", line)
            if m:
                return dict(kv.split("=", 1) for kv in m.group(1).split(",") if "=" in kv)
        return {}

    def load(self, data: bytes, chunk: int = DB_CHUNK_BYTES) -> None:
        lines = self.checked(f"db load {len(data)}")
        if f"m-[Expecting {len(data)} bytes]" not in lines:
            raise DeviceError(f"unexpected reply to 'db load {len(data)}': {lines!r}")
        done = False
        for i in range(0, len(data), chunk):
            done = "m-load-done" in self.checked("db " + data[i:i + chunk].hex())
        if not done:
            raise DeviceError(f"the device did not confirm the load of {len(data)} bytes (m-load-done)")

    def infer(self, iterations: int, warmups: int, timeout_s: float | None = None) -> InferReply:
        lines = self.checked(f"infer {iterations} {warmups}", timeout_s)
        laps = [int(m.group(1)) for m in map(_LAP.match, lines) if m]
        results = [m.group(1) for m in map(_RESULTS.match, lines) if m]
        if len(laps) != 2 or len(results) != 1 or "m-infer-done" not in lines:
            raise DeviceError(f"malformed reply to 'infer {iterations} {warmups}': {lines!r}")
        values = [v.strip() for v in results[0].split(",") if v.strip()]
        return InferReply(iterations, warmups, laps[0], laps[1], values, lines)

    def raw(self) -> list[int] | None:
        """tinykd's extension: the int8 output of the last inference (None on other firmware)."""
        for line in self.command("raw"):
            m = _RAW.match(line)
            if m:
                return [int(v) for v in m.group(1).split(",") if v.strip()]
        return None
