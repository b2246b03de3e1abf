"""Host side of the tinykd UART protocol, version 1 (the firmware side is firmware/app/protocol.[ch]).

Frame: A5 5A | type u8 | seq u8 | length u16 LE | payload | CRC-16/CCITT-FALSE u16 LE over
type..payload. Requests have the top bit of `type` clear, responses set. The device sends a BOOT
frame after every reset and an ERROR frame for any malformed frame it received.

`Link` runs requests over any pyserial object (a serial port or `serial.serial_for_url`): it
numbers them, matches the response by type and sequence number, ignores stale or foreign frames,
and resends a bounded number of times on a timeout, an ERROR naming the request, or a reboot.
"""
from __future__ import annotations

import binascii
import enum
import struct
import time
from dataclasses import dataclass

from ..errors import DeviceError

VERSION = 1
SYNC = b"\xa5\x5a"
HEADER_BYTES = 6
OVERHEAD = 8
RESPONSE = 0x80
MAX_PAYLOAD = 0xFFFF
# Largest answer the host accepts before HELLO has said how big the output is (HELLO itself is
# ~160 bytes); raised after HELLO when the model's output needs more.
HOST_MAX_PAYLOAD = 4096


class Type(enum.IntEnum):
    HELLO = 0x01
    INFER = 0x02
    RESET = 0x03
    PROFILE = 0x04
    BOOT = 0x70
    ERROR = 0x7F


class ErrorCode(enum.IntEnum):
    CRC = 1
    LENGTH = 2
    TYPE = 3
    TRUNCATED = 4
    MODEL = 5
    UNSUPPORTED = 6


class Timer(enum.IntEnum):
    DWT = 0
    SYSTICK = 1


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor); binascii's
    crc_hqx is exactly this polynomial and bit order, in C."""
    return binascii.crc_hqx(data, crc)


def encode(type_: int, seq: int, payload: bytes = b"") -> bytes:
    if not 0 <= type_ <= 0xFF or not 0 <= seq <= 0xFF:
        raise ValueError(f"type {type_} / seq {seq} outside 0..255")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes; at most {MAX_PAYLOAD}")
    body = struct.pack("<BBH", type_, seq, len(payload)) + bytes(payload)
    return SYNC + body + struct.pack("<H", crc16(body))


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes


@dataclass(frozen=True)
class BadFrame:
    """A frame the host-side parser rejected (reason: 'crc' or 'length')."""

    reason: str
    type: int
    seq: int


class FrameParser:
    """Incremental parser with the same resynchronisation rules as the firmware's."""

    def __init__(self, max_payload: int = MAX_PAYLOAD):
        self.max_payload = max_payload
        self._buf = bytearray()
        self.skipped = 0  # bytes outside frames (banner text, noise)
        self.text = bytearray()  # printable bytes outside frames, for the boot banner

    def feed(self, data: bytes) -> list[Frame | BadFrame]:
        self._buf += data
        out: list[Frame | BadFrame] = []
        while True:
            start = self._buf.find(SYNC)
            if start < 0:
                keep = 1 if self._buf.endswith(SYNC[:1]) else 0
                self._skip(len(self._buf) - keep)
                return out
            self._skip(start)
            if len(self._buf) < HEADER_BYTES:
                return out
            type_, seq, length = struct.unpack_from("<BBH", self._buf, 2)
            if length > self.max_payload:
                out.append(BadFrame("length", type_, seq))
                self._skip(2)
                continue
            total = HEADER_BYTES + length + 2
            if len(self._buf) < total:
                return out
            body = bytes(self._buf[2 : HEADER_BYTES + length])
            (rx_crc,) = struct.unpack_from("<H", self._buf, HEADER_BYTES + length)
            if rx_crc != crc16(body):
                out.append(BadFrame("crc", type_, seq))
                self._skip(2)  # resync from the byte after this frame's sync pair
                continue
            out.append(Frame(type_, seq, body[4:]))
            del self._buf[:total]

    def pending(self) -> int:
        return len(self._buf)

    def expire(self) -> list[Frame | BadFrame]:
        """Nothing more came for a while: a partial frame at the head is noise or a cut-off
        answer; drop its sync pair and rescan what follows (as the firmware does on its
        inter-byte timeout)."""
        if self._buf.startswith(SYNC):
            self._skip(2)
            return self.feed(b"")
        return []

    def _skip(self, n: int) -> None:
        if n <= 0:
            return
        chunk = self._buf[:n]
        self.skipped += n
        self.text += bytes(b for b in chunk if 32 <= b < 127 or b in (10, 13))
        del self.text[:-4096]
        del self._buf[:n]


HELLO_FORMAT = "<HBBIIIIIHHBB4H4Hfifi64sI"
HELLO_FIXED_BYTES = struct.calcsize(HELLO_FORMAT)
assert HELLO_FIXED_BYTES == 130


@dataclass(frozen=True)
class Hello:
    protocol_version: int
    timer: Timer
    profiling: bool
    core_hz: int
    arena_bytes: int
    input_bytes: int
    output_bytes: int
    macs: int
    layers: int
    max_payload: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    model_sha256: str
    uart_dropped: int
    board: str

    @classmethod
    def parse(cls, payload: bytes) -> "Hello":
        if len(payload) < 2:
            raise DeviceError(f"HELLO answer of {len(payload)} bytes is too short to name its version")
        (version,) = struct.unpack_from("<H", payload)
        if version != VERSION:
            raise DeviceError(
                f"the device speaks tinykd protocol version {version}; this host speaks {VERSION}: "
                "rebuild and reflash the firmware from this checkout")
        if len(payload) < HELLO_FIXED_BYTES:
            raise DeviceError(f"HELLO answer of {len(payload)} bytes; version 1 needs >= {HELLO_FIXED_BYTES}")
        f = struct.unpack_from(HELLO_FORMAT, payload)
        (_, timer, flags, core_hz, arena, in_bytes, out_bytes, macs, layers, max_payload,
         in_rank, out_rank) = f[:12]
        in_shape, out_shape = f[12:16], f[16:20]
        in_scale, in_zp, out_scale, out_zp, sha, dropped = f[20:26]
        return cls(
            protocol_version=version, timer=Timer(timer), profiling=bool(flags & 1), core_hz=core_hz,
            arena_bytes=arena, input_bytes=in_bytes, output_bytes=out_bytes, macs=macs, layers=layers,
            max_payload=max_payload, input_shape=tuple(in_shape[:in_rank]),
            output_shape=tuple(out_shape[:out_rank]), input_scale=in_scale, input_zero_point=in_zp,
            output_scale=out_scale, output_zero_point=out_zp, model_sha256=sha.decode("ascii", "replace"),
            uart_dropped=dropped, board=payload[HELLO_FIXED_BYTES:].decode("ascii", "replace"))

    @property
    def emulated(self) -> bool:
        """The DWT cycle counter counts on every STM32L4 chip; only an emulator leaves it at 0."""
        return self.timer == Timer.SYSTICK

    def ticks_to_units(self, ticks: int) -> float:
        """Ticks → cycles on hardware; → guest instructions under QEMU `-icount shift=0`
        (one instruction = 1 ns of virtual time, SysTick at the core clock)."""
        return ticks * 1e9 / self.core_hz if self.emulated else float(ticks)

    @property
    def latency_unit(self) -> str:
        return "instructions" if self.emulated else "cycles"


@dataclass(frozen=True)
class InferResult:
    ticks: int
    output: bytes


@dataclass
class LinkStats:
    requests: int = 0
    retries: int = 0
    timeouts: int = 0
    device_errors: int = 0
    reboots: int = 0
    bad_frames: int = 0


class Link:
    """Requests over a pyserial object; see the module docstring."""

    def __init__(self, port, timeout_s: float = 10.0, retries: int = 3):
        self.port = port
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.parser = FrameParser(HOST_MAX_PAYLOAD)
        self.stats = LinkStats()
        self._seq = 0
        self._queue: list[Frame | BadFrame] = []

    # A callable that power-cycles the device and returns a fresh port (set for a QEMU board
    # that evaluate started itself); None where we cannot (a port given by the user).
    restart = None

    def reattach(self, port) -> None:
        """Continue on a new port (the device was restarted): forget half-received bytes."""
        self.port = port
        self.parser = FrameParser(self.parser.max_payload)
        self._queue.clear()

    # -- low level -------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
            self.port.flush()
        except Exception as exc:  # pyserial raises SerialException / OSError
            raise DeviceError(f"cannot write to the device ({exc})") from exc

    def _read_some(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            self.port.timeout = min(remaining, 0.05)
            waiting = getattr(self.port, "in_waiting", 0) or 1
            data = self.port.read(min(max(waiting, 1), 65536))
        except Exception as exc:
            raise DeviceError(f"cannot read from the device ({exc})") from exc
        if data:
            self._queue.extend(self.parser.feed(data))

    def next_frame(self, deadline: float) -> Frame | BadFrame | None:
        while not self._queue:
            if time.monotonic() >= deadline:
                return None
            self._read_some(deadline)
        return self._queue.pop(0)

    def drain(self, quiet_s: float = 0.05) -> None:
        """Discard everything the device sends until it has been quiet for `quiet_s`."""
        deadline = time.monotonic() + quiet_s
        while time.monotonic() < deadline:
            before = self.parser.skipped + len(self._queue) + self.parser.pending()
            self._read_some(deadline)
            if self.parser.skipped + len(self._queue) + self.parser.pending() != before:
                deadline = time.monotonic() + quiet_s
        self._queue.clear()

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    # -- requests --------------------------------------------------------------------------
    def request(self, type_: int, payload: bytes = b"", timeout_s: float | None = None,
                retries: int | None = None) -> Frame:
        """Send a request and return its response frame, resending on timeouts, on an ERROR
        frame naming it, and after a device reboot; DeviceError once the retries are used up."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        retries = self.retries if retries is None else retries
        want = type_ | RESPONSE
        last_problem = "no answer"
        for attempt in range(retries + 1):
            if attempt:
                self.stats.retries += 1
            seq = self.next_seq()
            self.stats.requests += 1
            self.write(encode(type_, seq, payload))
            deadline = time.monotonic() + timeout_s
            while True:
                frame = self.next_frame(deadline)
                if frame is None:
                    self.stats.timeouts += 1
                    last_problem = f"no answer within {timeout_s:g} s"
                    self._queue.extend(self.parser.expire())
                    break
                if isinstance(frame, BadFrame):
                    self.stats.bad_frames += 1
                    continue
                if frame.type == Type.BOOT:
                    # The device restarted: whatever it was doing for us is lost.
                    self.stats.reboots += 1
                    last_problem = "the device rebooted"
                    break
                if frame.type == Type.ERROR and len(frame.payload) >= 3:
                    code, bad_type, bad_seq = frame.payload[:3]
                    if bad_seq == seq and bad_type == type_:
                        self.stats.device_errors += 1
                        last_problem = f"device error {_error_name(code)}"
                        if code in (ErrorCode.TYPE, ErrorCode.UNSUPPORTED, ErrorCode.MODEL):
                            raise DeviceError(f"{Type(type_).name} request refused: {last_problem}")
                        break
                    continue  # an error about some earlier garbage: not ours
                if frame.type == want and frame.seq == seq:
                    return frame
                # a stale answer to an earlier attempt: ignore
        raise DeviceError(f"{_type_name(type_)} request failed after {retries + 1} attempts: {last_problem}")

    def hello(self, **kw) -> Hello:
        h = Hello.parse(self.request(Type.HELLO, **kw).payload)
        # Now the largest answer is known; a tighter limit lets line noise that happens to
        # contain A5 5A be rejected at once instead of being waited on.
        self.parser.max_payload = max(HOST_MAX_PAYLOAD, 4 + h.output_bytes, 2 + 4 * h.layers)
        return h

    def infer(self, data: bytes, **kw) -> InferResult:
        frame = self.request(Type.INFER, bytes(data), **kw)
        if len(frame.payload) < 4:
            raise DeviceError(f"INFER answer of {len(frame.payload)} bytes is too short")
        (ticks,) = struct.unpack_from("<I", frame.payload)
        return InferResult(ticks=ticks, output=frame.payload[4:])

    def profile(self, **kw) -> list[int]:
        payload = self.request(Type.PROFILE, **kw).payload
        (n,) = struct.unpack_from("<H", payload)
        return list(struct.unpack_from(f"<{n}I", payload, 2))

    def reset(self, **kw) -> None:
        """Reset the device and wait for its BOOT frame."""
        self.request(Type.RESET, **kw)
        self.wait_boot(self.timeout_s)

    def wait_boot(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            frame = self.next_frame(deadline)
            if frame is None:
                raise DeviceError(f"the device did not boot within {timeout_s:g} s")
            if isinstance(frame, Frame) and frame.type == Type.BOOT:
                self.stats.reboots += 1
                return

    def wait_ready(self, timeout_s: float, poll_s: float = 0.3) -> Hello:
        """Say HELLO until the device answers: bytes sent before its UART is up are lost."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                text = self.parser.text.decode("ascii", "replace").strip()
                seen = f"; it sent: {text[-200:]!r}" if text else "; it sent nothing"
                raise DeviceError(f"no tinykd device answered on {_port_name(self.port)} within "
                                  f"{timeout_s:g} s{seen} (wrong port/baud, or not tinykd firmware?)")
            try:
                return self.hello(timeout_s=min(poll_s, left), retries=0)
            except DeviceError as exc:
                if "protocol version" in str(exc):
                    raise


def _type_name(type_: int) -> str:
    try:
        return Type(type_).name
    except ValueError:
        return f"type 0x{type_:02x}"


def _error_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"code {code}"


def _port_name(port) -> str:
    return getattr(port, "name", None) or getattr(port, "port", None) or str(port)
