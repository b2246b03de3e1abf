"""Host side of the tinykd UART protocol, version 2 (the firmware side is firmware/app/protocol.[ch]).

Frame: A5 5A | type u8 | seq u8 | length u16 LE | payload | CRC-16/CCITT-FALSE u16 LE over
type..payload. Requests have the top bit of `type` clear, responses set. The device sends a BOOT
frame after every reset and an ERROR frame for any malformed frame it received.

`Link` runs requests over any pyserial object (a serial port or `serial.serial_for_url`): it
numbers them, matches the response by type and sequence number, ignores stale or foreign frames,
and resends a bounded number of times on a timeout, an ERROR naming the request, or a reboot.

An input tensor travels in LOAD chunks (at most 256 bytes, tagged with the image's 16-bit tag and
their offset), all sent back to back and acknowledged one by one; the chunks whose answer does
not come are resent — halved in size, after an exponentially growing pause — up to
`chunk_retries` more times each, then INFER (tag, CRC-16 of the whole input) runs the model on the
loaded buffer. At a line error rate of p per byte a frame of n bytes survives with (1-p)^n: the
whole 3,072-byte tensor in one frame almost never does at p = 0.004, a 64-byte chunk three times
in four.
"""
from __future__ import annotations

import binascii
import enum
import struct
import time
from dataclasses import dataclass, field

from ..errors import DeviceError

VERSION = 2
SYNC = b"\xa5\x5a"
HEADER_BYTES = 6
OVERHEAD = 8
RESPONSE = 0x80
MAX_PAYLOAD = 0xFFFF
# Largest answer the host accepts before HELLO has said how big the output is (HELLO itself is
# ~160 bytes); raised after HELLO when the model's output needs more.
HOST_MAX_PAYLOAD = 4096
# LOAD: u16 tag, u16 offset, then at most CHUNK_MAX data bytes; INFER: u16 tag, u16 input CRC.
CHUNK_MAX = 256
LOAD_HEADER_BYTES = 4
# Chunks are not split below this when resent.
CHUNK_MIN = 16
# The first pause before a resend round, doubled each round up to BACKOFF_MAX_S.
BACKOFF_S = 0.005
BACKOFF_MAX_S = 0.5


class Type(enum.IntEnum):
    HELLO = 0x01
    INFER = 0x02
    RESET = 0x03
    PROFILE = 0x04
    LOAD = 0x05
    BOOT = 0x70
    ERROR = 0x7F


class ErrorCode(enum.IntEnum):
    CRC = 1
    LENGTH = 2
    TYPE = 3
    TRUNCATED = 4
    MODEL = 5
    UNSUPPORTED = 6
    INCOMPLETE = 7
    INPUT_CRC = 8


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

    def expire_all(self) -> list[Frame | BadFrame]:
        """A timeout passed: nothing still in the buffer is a frame in progress. Peel off every
        partial frame at the head (noise whose damaged length announces bytes that never come,
        hiding the real answers behind it) until what is left is no frame start."""
        out: list[Frame | BadFrame] = []
        while self._buf.startswith(SYNC):
            out += self.expire()
        return out

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
    # flags bit 1: tinykd_model_check() failed at boot (a kernel's *_scratch_size() exceeds what
    # the export planned for it); the board then refuses every INFER (firmware/app/inference.h)
    model_check_failed: bool = False

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
            raise DeviceError(f"HELLO answer of {len(payload)} bytes; version {VERSION} needs >= {HELLO_FIXED_BYTES}")
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
            uart_dropped=dropped, board=payload[HELLO_FIXED_BYTES:].decode("ascii", "replace"),
            model_check_failed=bool(flags & 2))

    def require_model_check(self) -> "Hello":
        """Itself, unless the board found its model does not fit the export's plan: then the one
        line to stop on (ModelCheckError)."""
        if self.model_check_failed:
            raise ModelCheckError(
                f"the board refuses its model (sha256 {self.model_sha256[:16]}…): tinykd_model_check() failed at "
                "boot, a kernel needs more scratch than the export planned; export the model again with this "
                "checkout and rebuild the firmware")
        return self

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
    chunks: int = 0          # LOAD frames sent, resends included
    chunk_resends: int = 0   # of those, resends
    reloads: int = 0         # inputs loaded again from the start (a reboot, an INFER refused)


class ModelCheckError(DeviceError):
    """The board's boot-time tinykd_model_check() failed: no inference will run, whatever is retried."""


class PortError(DeviceError):
    """The port itself failed (closed, unplugged, the QEMU behind it gone): no retry helps."""


class _Reload(Exception):
    """The device lost the loaded input (it rebooted, or refused the INFER): load it again."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


@dataclass
class _LoadRound:
    pieces: list[tuple[int, int]] = field(default_factory=list)  # (offset, length) in send order
    seqs: dict[int, tuple[int, int]] = field(default_factory=dict)  # seq -> piece


class Link:
    """Requests over a pyserial object; see the module docstring."""

    def __init__(self, port, timeout_s: float = 10.0, retries: int = 3, chunk_bytes: int = CHUNK_MAX,
                 chunk_retries: int = 10):
        self.port = port
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        if not 1 <= int(chunk_bytes) <= CHUNK_MAX:
            raise ValueError(f"chunk_bytes {chunk_bytes} outside 1..{CHUNK_MAX}")
        self.chunk_bytes = int(chunk_bytes)
        self.chunk_retries = int(chunk_retries)
        self.parser = FrameParser(HOST_MAX_PAYLOAD)
        self.stats = LinkStats()
        self._seq = 0
        self._tag = 0
        self._queue: list[Frame | BadFrame] = []
        self._max_chunk = CHUNK_MAX      # from HELLO: the device's largest request, less the header
        self._chunk = self.chunk_bytes   # the size the next input starts with (adapts to losses)
        self._infer_s = 0.0              # longest INFER round trip seen (bounds its timeout)

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
            raise PortError(f"cannot write to the device ({exc})") from exc

    def _read_some(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            self.port.timeout = min(remaining, 0.05)
            waiting = getattr(self.port, "in_waiting", 0) or 1
            data = self.port.read(min(max(waiting, 1), 65536))
        except Exception as exc:
            raise PortError(f"cannot read from the device ({exc})") from exc
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

    def _next_answer(self, deadline: float) -> Frame | None:
        """The next intact frame before `deadline` (damaged ones are counted and skipped; a BOOT
        frame is counted as a reboot), or None after a timeout, which is counted and expires
        every partial frame left in the parser."""
        while True:
            frame = self.next_frame(deadline)
            if frame is None:
                self.stats.timeouts += 1
                self._queue.extend(self.parser.expire_all())
                return None
            if isinstance(frame, BadFrame):
                self.stats.bad_frames += 1
                continue
            if frame.type == Type.BOOT:
                self.stats.reboots += 1
            return frame

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
        return self._exchange(type_, payload, retries, lambda attempt: timeout_s)[0]

    def _exchange(self, type_: int, payload: bytes, retries: int, wait, *, reboot_reloads: bool = False,
                  any_attempt: bool = False, reload_codes: tuple = (), accept=None) -> tuple[Frame, float | None]:
        """The request/answer loop: send, read until the answer (type | RESPONSE, the attempt's
        seq; any attempt's seq with `any_attempt`; and `accept(frame)` if given) comes, resend up
        to `retries` times, `wait(attempt)` seconds each, after a timeout or an ERROR naming the
        request. Returns the answer and its round-trip time (None if it answered an earlier
        attempt). What a reboot (a BOOT frame) means differs: for a request that carries all it
        needs, only this attempt was lost, so it is resent; with `reboot_reloads` (an INFER on
        the loaded input) the input itself is gone, and _Reload says to load it again — as do
        the ERROR codes in `reload_codes`. An ERROR saying the device cannot do it at all is
        raised at once: no resend would help."""
        want = type_ | RESPONSE
        seqs: set[int] = set()
        problem = "no answer"
        for attempt in range(retries + 1):
            if attempt:
                self.stats.retries += 1
                self._backoff(attempt)
            seq = self.next_seq()
            seqs.add(seq)
            mine = seqs if any_attempt else {seq}
            self.stats.requests += 1
            limit = wait(attempt)
            t0 = time.monotonic()
            self.write(encode(type_, seq, payload))
            deadline = t0 + limit
            while True:
                frame = self._next_answer(deadline)
                if frame is None:
                    problem = f"no answer within {limit:.3g} s"
                    break
                if frame.type == Type.BOOT:
                    # The device restarted: whatever it was doing for us is lost.
                    if reboot_reloads:
                        raise _Reload("the device rebooted")
                    problem = "the device rebooted"
                    break
                if frame.type == Type.ERROR and len(frame.payload) >= 3:
                    code, bad_type, bad_seq = frame.payload[:3]
                    if bad_type != type_ or bad_seq not in mine:
                        continue  # an error about some earlier garbage: not ours
                    self.stats.device_errors += 1
                    problem = f"device error {_error_name(code)}"
                    if code in reload_codes:
                        raise _Reload(f"{_type_name(type_)} refused: {problem}")
                    if code in (ErrorCode.TYPE, ErrorCode.UNSUPPORTED, ErrorCode.MODEL):
                        raise DeviceError(f"{_type_name(type_)} request refused: {problem}")
                    if bad_seq == seq:
                        break
                    continue
                if frame.type == want and frame.seq in mine and (accept is None or accept(frame)):
                    return frame, (time.monotonic() - t0 if frame.seq == seq else None)
                # a stale answer to an earlier attempt, or about another input: ignore
        raise DeviceError(f"{_type_name(type_)} request failed after {retries + 1} attempts: {problem}")

    def hello(self, **kw) -> Hello:
        h = Hello.parse(self.request(Type.HELLO, **kw).payload).require_model_check()
        # Now the largest answer is known; a tight limit lets line noise that happens to
        # contain A5 5A (or a damaged length field) be rejected at once instead of being waited on.
        self.parser.max_payload = max(256, 6 + h.output_bytes, 2 + 4 * h.layers)
        if h.max_payload <= LOAD_HEADER_BYTES:
            raise DeviceError(f"the device takes requests of at most {h.max_payload} bytes: no room for a LOAD chunk")
        self._max_chunk = min(CHUNK_MAX, h.max_payload - LOAD_HEADER_BYTES)
        self._chunk = min(self._chunk, self._max_chunk)
        return h

    # -- the input: LOAD chunks, then INFER -------------------------------------------------
    def infer(self, data: bytes, timeout_s: float | None = None) -> InferResult:
        """Load `data` (the int8 input) in acknowledged chunks and run the model on it. The
        input is loaded again from the start if the device reboots or refuses the INFER (at most
        `chunk_retries` times); DeviceError names what failed once the retries are used up."""
        data = bytes(data)
        if not data:
            raise ValueError("an INFER needs the input tensor; got 0 bytes")
        problem = ""
        for _ in range(self.chunk_retries + 1):
            self._tag = (self._tag + 1) & 0xFFFF
            try:
                self._load(data, self._tag)
                return self._infer_loaded(self._tag, crc16(data), timeout_s)
            except _Reload as exc:
                self.stats.reloads += 1
                problem = exc.why
        raise DeviceError(f"INFER failed: the input was loaded {self.chunk_retries + 1} times and lost each "
                          f"time (last: {problem})")

    def _backoff(self, attempt: int) -> None:
        if attempt > 0:
            time.sleep(min(BACKOFF_MAX_S, BACKOFF_S * 2 ** (attempt - 1)))

    def _wire_s(self, nbytes: int) -> float:
        """Time for `nbytes` on the line (10 bits a byte), with room for a busy host."""
        baud = getattr(self.port, "baudrate", None) or 115200
        return 0.15 + 2.0 * nbytes * 10 / baud

    def _load(self, data: bytes, tag: int) -> None:
        n = len(data)
        acked = bytearray(n)   # 1 = the device acknowledged this byte under `tag`
        sends = bytearray(n)   # how many times it was sent
        size = min(self._chunk, self._max_chunk)
        attempt = 0
        while True:
            pieces = _pieces(acked, size)
            if not pieces:
                return
            worst = max(max(sends[o:o + m]) for o, m in pieces)
            if worst > self.chunk_retries:
                o, m = next((o, m) for o, m in pieces if max(sends[o:o + m]) == worst)
                raise DeviceError(f"LOAD of input bytes {o}..{o + m - 1} failed after {worst} attempts "
                                  f"({self._last_load_problem})")
            self._backoff(attempt)
            rnd = _LoadRound()
            frames = []
            for o, m in pieces:
                seq = self.next_seq()
                rnd.pieces.append((o, m))
                rnd.seqs[seq] = (o, m)
                frames.append(encode(Type.LOAD, seq, struct.pack("<HH", tag, o) + data[o:o + m]))
                for i in range(o, o + m):
                    sends[i] = min(255, sends[i] + 1)
            self.stats.chunks += len(pieces)
            self.stats.requests += len(pieces)
            if attempt:
                self.stats.chunk_resends += len(pieces)
                self.stats.retries += len(pieces)
            wire = sum(len(f) for f in frames) + 16 * len(frames)
            self.write(b"".join(frames))
            lost = self._collect_acks(rnd, acked, tag, n, min(self.timeout_s, self._wire_s(wire) * 2 ** attempt))
            # Adapt: a round that lost chunks resends them halved; the next input starts at the
            # size that got through (doubling back towards chunk_bytes while nothing is lost).
            if lost:
                size = max(CHUNK_MIN, size // 2)
                self._chunk = max(CHUNK_MIN, min(self._chunk, size if lost * 4 > len(pieces) else self._chunk))
            elif attempt == 0:
                self._chunk = min(self.chunk_bytes, self._max_chunk, self._chunk * 2)
            attempt += 1

    _last_load_problem = "no answer"

    def _collect_acks(self, rnd: _LoadRound, acked: bytearray, tag: int, n: int, timeout_s: float) -> int:
        """Read answers to one round of LOAD frames; returns how many pieces are still unacknowledged."""
        # Answers are matched to this round by seq (a piece resent in several rounds has several
        # answers; an old one must not end this round early and leave this round's unread).
        last_seq = next(reversed(rnd.seqs))
        deadline = time.monotonic() + timeout_s
        settled: set[int] = set()
        while True:
            frame = self._next_answer(deadline)
            if frame is None:
                self._last_load_problem = f"no answer within {timeout_s:.2f} s"
                break
            if frame.type == Type.BOOT:
                raise _Reload("the device rebooted")
            if frame.type == Type.ERROR and len(frame.payload) >= 3:
                code, bad_type, bad_seq = frame.payload[:3]
                if bad_type == Type.LOAD and bad_seq in rnd.seqs:
                    self.stats.device_errors += 1
                    self._last_load_problem = f"device error {_error_name(code)}"
                    settled.add(bad_seq)
                    if bad_seq == last_seq:
                        break
                continue
            if frame.type == Type.LOAD | RESPONSE and len(frame.payload) >= 8:
                a_tag, off, m, filled = struct.unpack_from("<HHHH", frame.payload)
                if a_tag != tag or off + m > n:
                    continue  # an answer about an earlier input
                acked[off:off + m] = b"\x01" * m
                if filled == n:
                    acked[:] = b"\x01" * n  # everything is in, whatever answers were lost
                    return 0
                if rnd.seqs.get(frame.seq) == (off, m):
                    settled.add(frame.seq)
                    if frame.seq == last_seq or len(settled) == len(rnd.seqs):
                        break
        # The device handles frames in order: once the last piece is settled, the silent ones are lost.
        return sum(1 for o, m in rnd.pieces if 0 in acked[o:o + m])

    def _infer_loaded(self, tag: int, crc: int, timeout_s: float | None) -> InferResult:
        limit = self.timeout_s if timeout_s is None else timeout_s

        def wait(attempt: int) -> float:
            # The inference takes the same time for every input: once one answer has been seen,
            # a lost request or answer is noticed after a few times that, not after timeout_s.
            return limit if not self._infer_s else min(limit, max(0.25, 4 * self._infer_s) * 2 ** attempt)

        # Any attempt's answer will do (the same input gives the same output), if it is about
        # this input's tag.
        frame, rtt = self._exchange(
            Type.INFER, struct.pack("<HH", tag, crc), self.chunk_retries, wait, reboot_reloads=True,
            any_attempt=True, reload_codes=(ErrorCode.INCOMPLETE, ErrorCode.INPUT_CRC),
            accept=lambda f: len(f.payload) >= 6 and struct.unpack_from("<H", f.payload)[0] == tag)
        if rtt is not None:
            self._infer_s = max(self._infer_s, rtt)
        (ticks,) = struct.unpack_from("<I", frame.payload, 2)
        return InferResult(ticks=ticks, output=frame.payload[6:])

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
            except ModelCheckError:
                raise
            except DeviceError as exc:
                if "protocol version" in str(exc):
                    raise


def _pieces(acked: bytearray, size: int) -> list[tuple[int, int]]:
    """The unacknowledged runs of `acked`, cut into (offset, length) pieces of at most `size`."""
    out, i, n = [], 0, len(acked)
    while i < n:
        if acked[i]:
            i += 1
            continue
        j = i
        while j < n and not acked[j]:
            j += 1
        out += [(o, min(size, j - o)) for o in range(i, j, size)]
        i = j
    return out


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
