"""The tinykd frame protocol: the firmware's C parser (firmware/app/protocol.c, built for the host
and loaded with ctypes) against the host's Python twin, fault cases, a hypothesis search over
the C parser, and a short sanitizer fuzz run of firmware/app/fuzz_protocol.c."""
from __future__ import annotations

import ctypes
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinykd.device import protocol as P

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "firmware" / "app"

EV_NONE, EV_FRAME, EV_BAD_CRC, EV_BAD_LENGTH, EV_TRUNCATED = range(5)


class Parser(ctypes.Structure):
    """struct tkp_parser (protocol.h); the size is checked against the C side."""

    _fields_ = [("buf", ctypes.c_void_p), ("cap", ctypes.c_uint16), ("state", ctypes.c_uint8),
                ("type", ctypes.c_uint8), ("seq", ctypes.c_uint8), ("len", ctypes.c_uint16),
                ("pos", ctypes.c_uint16), ("crc", ctypes.c_uint16), ("rx_crc", ctypes.c_uint16)]


def _compile(out: Path, sources: list[Path], flags: list[str]) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no host C compiler")
    subprocess.run([cc, "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", f"-I{APP}", *flags,
                    *map(str, sources), "-o", str(out)], check=True, capture_output=True, text=True)
    return out


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    so = _compile(tmp_path_factory.mktemp("proto") / "libtkp.so", [APP / "protocol.c"], ["-shared", "-fPIC"])
    lib = ctypes.CDLL(str(so))
    lib.tkp_parser_size.restype = ctypes.c_size_t
    lib.tkp_parser_init.argtypes = [ctypes.POINTER(Parser), ctypes.c_void_p, ctypes.c_uint16]
    lib.tkp_parser_feed.argtypes = [ctypes.POINTER(Parser), ctypes.c_uint8]
    lib.tkp_parser_expire.argtypes = [ctypes.POINTER(Parser)]
    lib.tkp_parser_busy.argtypes = [ctypes.POINTER(Parser)]
    lib.tkp_crc16.argtypes = [ctypes.c_uint16, ctypes.c_char_p, ctypes.c_size_t]
    lib.tkp_crc16.restype = ctypes.c_uint16
    lib.tkp_encode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint8, ctypes.c_uint8,
                               ctypes.c_char_p, ctypes.c_uint16]
    lib.tkp_encode.restype = ctypes.c_size_t
    assert lib.tkp_parser_size() == ctypes.sizeof(Parser)
    return lib


class CParser:
    """The firmware's parser, fed byte by byte; collects (event, type, seq, payload)."""

    def __init__(self, lib, cap: int = 256):
        self.lib, self.cap = lib, cap
        self.buf = ctypes.create_string_buffer(max(cap, 1))
        self.p = Parser()
        lib.tkp_parser_init(ctypes.byref(self.p), self.buf, cap)

    def feed(self, data: bytes) -> list[tuple]:
        out = []
        for b in data:
            ev = self.lib.tkp_parser_feed(ctypes.byref(self.p), b)
            if ev == EV_FRAME:
                out.append(("frame", self.p.type, self.p.seq, self.buf.raw[: self.p.len]))
            elif ev != EV_NONE:
                out.append((ev, self.p.type, self.p.seq))
        return out

    def expire(self) -> int:
        return self.lib.tkp_parser_expire(ctypes.byref(self.p))

    @property
    def busy(self) -> bool:
        return bool(self.lib.tkp_parser_busy(ctypes.byref(self.p)))


def c_encode(lib, type_: int, seq: int, payload: bytes) -> bytes:
    out = ctypes.create_string_buffer(len(payload) + 8)
    n = lib.tkp_encode(out, len(out), type_, seq, payload, len(payload))
    assert n == len(payload) + 8
    return out.raw[:n]


# ---- CRC and encoding agree between firmware and host --------------------------------------

def test_crc_check_value(lib):
    # CRC-16/CCITT-FALSE's catalogued check value for "123456789"
    assert P.crc16(b"123456789") == 0x29B1
    assert lib.tkp_crc16(0xFFFF, b"123456789", 9) == 0x29B1


@given(type_=st.integers(0, 255), seq=st.integers(0, 255), payload=st.binary(max_size=300))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_c_and_python_encode_identically(lib, type_, seq, payload):
    assert c_encode(lib, type_, seq, payload) == P.encode(type_, seq, payload)


def test_encode_refuses_a_frame_that_does_not_fit(lib):
    out = ctypes.create_string_buffer(10)
    assert lib.tkp_encode(out, 10, 1, 1, b"abc", 3) == 0  # needs 11 bytes
    with pytest.raises(ValueError):
        P.encode(1, 1, bytes(70000))


# ---- roundtrips ----------------------------------------------------------------------------

@given(frames=st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=256)),
                       min_size=1, max_size=6))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_frames_roundtrip_host_to_firmware_and_back(lib, frames):
    stream = b"".join(P.encode(t, s, p) for t, s, p in frames)
    got = CParser(lib, cap=256).feed(stream)
    assert got == [("frame", t, s, p) for t, s, p in frames]
    back = b"".join(c_encode(lib, t, s, p) for t, s, p in frames)
    assert P.FrameParser().feed(back) == [P.Frame(t, s, p) for t, s, p in frames]


def test_python_parser_handles_any_chunking():
    stream = P.encode(0x81, 7, b"hello") + b"\r\nbanner text\r\n" + P.encode(0x70, 0, b"\x01\x00")
    for size in (1, 2, 3, 7, len(stream)):
        parser, got = P.FrameParser(), []
        for i in range(0, len(stream), size):
            got += parser.feed(stream[i:i + size])
        assert got == [P.Frame(0x81, 7, b"hello"), P.Frame(0x70, 0, b"\x01\x00")]
        assert b"banner text" in parser.text


# ---- fault cases: error event, then resynchronisation -----------------------------------------

def test_bad_crc_is_reported_and_the_next_frame_parses(lib):
    bad = bytearray(P.encode(2, 5, b"payload"))
    bad[8] ^= 0x10
    good = P.encode(1, 6)
    c = CParser(lib)
    assert c.feed(bytes(bad) + good) == [(EV_BAD_CRC, 2, 5), ("frame", 1, 6, b"")]
    assert P.FrameParser().feed(bytes(bad) + good) == [P.BadFrame("crc", 2, 5), P.Frame(1, 6, b"")]


def test_oversized_length_is_rejected_at_the_header(lib):
    c = CParser(lib, cap=16)
    header = bytes([0xA5, 0x5A, 2, 9, 0xFF, 0xFF])  # announces 65535 bytes
    assert c.feed(header) == [(EV_BAD_LENGTH, 2, 9)]
    assert not c.busy  # does not wait for 64 KiB that will never come
    assert c.feed(P.encode(1, 10, b"x" * 16)) == [("frame", 1, 10, b"x" * 16)]
    assert c.feed(P.encode(1, 11, b"x" * 17)) == [(EV_BAD_LENGTH, 1, 11)]


def test_truncated_frame_expires_and_the_next_frame_parses(lib):
    c = CParser(lib)
    frame = P.encode(2, 3, bytes(range(50)))
    assert c.feed(frame[:20]) == []
    assert c.busy
    assert c.expire() == EV_TRUNCATED
    assert not c.busy
    assert c.feed(P.encode(1, 4)) == [("frame", 1, 4, b"")]
    # a lone first sync byte is noise, not a truncated frame
    assert c.feed(b"\xa5") == [] and c.expire() == EV_NONE


def test_garbage_between_frames_costs_nothing(lib):
    garbage = b"\x00\xff\xa5\x13\x5a\xa5\xa5\xa5garbage\r\n\xa5"
    frames = [P.encode(1, i, bytes([i]) * i) for i in range(1, 6)]
    stream = garbage + garbage.join(frames) + garbage
    c_frames = [g for g in CParser(lib).feed(stream) if g[0] == "frame"]
    assert c_frames == [("frame", 1, i, bytes([i]) * i) for i in range(1, 6)]
    py_frames = [f for f in P.FrameParser().feed(stream) if isinstance(f, P.Frame)]
    assert py_frames == [P.Frame(1, i, bytes([i]) * i) for i in range(1, 6)]


def test_zero_capacity_parser_accepts_only_empty_frames(lib):
    c = CParser(lib, cap=0)
    assert c.feed(P.encode(1, 1)) == [("frame", 1, 1, b"")]
    assert c.feed(P.encode(2, 2, b"a")) == [(EV_BAD_LENGTH, 2, 2)]


def test_hello_layout_is_130_bytes_plus_board_name():
    import struct

    fields = [2, 1, 0, 80_000_000, 640, 192, 10, 33184, 6, 192, 4, 2, 1, 8, 8, 3, 1, 10, 0, 0,
              0.5, -128, 0.25, -128, b"a" * 64, 0]
    payload = struct.pack(P.HELLO_FORMAT, *fields) + b"board"
    h = P.Hello.parse(payload)
    assert h.input_shape == (1, 8, 8, 3) and h.output_shape == (1, 10)
    assert h.emulated and h.ticks_to_units(8) == 100.0  # 8 SysTick ticks at 80 MHz = 100 ns
    assert h.board == "board" and h.model_sha256 == "a" * 64
    with pytest.raises(P.DeviceError, match="protocol version 1; this host speaks 2"):
        P.Hello.parse(struct.pack("<H", 1) + payload[2:])


# ---- search and fuzz -------------------------------------------------------------------------

@given(noise=st.binary(max_size=600), cap=st.integers(0, 300), payload=st.binary(max_size=300))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_noise_then_timeout_then_frame_is_received(lib, noise, cap, payload):
    payload = payload[:cap]
    c = CParser(lib, cap=cap)
    events = c.feed(noise)
    assert all(e[0] in ("frame", EV_BAD_CRC, EV_BAD_LENGTH) for e in events)
    c.expire()
    assert c.feed(P.encode(2, 77, payload)) == [("frame", 2, 77, payload)]


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="no host C compiler")
def test_sanitizer_fuzz_run(tmp_path):
    """firmware/app/fuzz_protocol.c under ASan + UBSan, structure-aware random inputs."""
    try:
        exe = _compile(tmp_path / "fuzz_protocol", [APP / "fuzz_protocol.c", APP / "protocol.c"],
                       ["-DTKP_FUZZ_MAIN", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"])
    except subprocess.CalledProcessError as exc:
        if "asan" in exc.stderr.lower() or "sanitize" in exc.stderr.lower():
            pytest.skip(f"sanitizer runtime unavailable: {exc.stderr[-200:]}")
        raise
    proc = subprocess.run([str(exe), "8000", "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "8000 inputs, all invariants held" in proc.stdout


# ---- the host's request logic (tinykd.device.protocol.Link) over a scripted fake port ----------

class ScriptedPort:
    """A pyserial-like port; `answer(type, seq, payload, attempt)` returns the bytes the fake
    device sends back for each request it receives."""

    def __init__(self, answer):
        self.answer, self.rx, self.attempts, self.timeout = answer, bytearray(), 0, 0.05
        self.parser = P.FrameParser()

    def write(self, data):
        for f in self.parser.feed(bytes(data)):
            self.attempts += 1
            self.rx += self.answer(f.type, f.seq, f.payload, self.attempts)

    def flush(self):
        pass

    @property
    def in_waiting(self):
        return len(self.rx)

    def read(self, n):
        out, self.rx = bytes(self.rx[:n]), self.rx[n:]
        return out


def _link(answer, retries=2):
    return P.Link(ScriptedPort(answer), timeout_s=0.05, retries=retries, chunk_retries=retries)


def _ack(seq, payload):
    """The device's answer to a LOAD: tag, offset, length, bytes loaded (here: all of them)."""
    tag, off = struct.unpack_from("<HH", payload)
    n = len(payload) - 4
    return P.encode(P.Type.LOAD | 0x80, seq, struct.pack("<HHHH", tag, off, n, off + n))


def _infer_answer(seq, tag, ticks, out):
    return P.encode(P.Type.INFER | 0x80, seq, struct.pack("<HI", tag, ticks) + out)


def test_link_ignores_stale_and_foreign_frames():
    def answer(t, seq, payload, attempt):
        if t == P.Type.LOAD:
            return _ack(seq, payload)
        tag = struct.unpack_from("<H", payload)[0]
        return (_infer_answer((seq - 1) & 0xFF, tag, 1, b"old")                 # stale answer
                + _infer_answer(seq, tag - 1, 1, b"old")                        # an earlier input's
                + P.encode(P.Type.ERROR, 99, bytes([1, 2, 99]))                 # about other garbage
                + b"noise" + _infer_answer(seq, tag, 7, b"new"))
    link = _link(answer)
    r = link.infer(b"x")
    assert (r.ticks, r.output) == (7, b"new") and link.stats.retries == 0


@pytest.mark.parametrize("trouble", ["silence", "error_crc", "boot"])
def test_link_resends_after_trouble(trouble):
    def answer(t, seq, payload, attempt):
        if t == P.Type.LOAD:
            return _ack(seq, payload)
        if attempt == 2:
            return {"silence": b"", "error_crc": P.encode(P.Type.ERROR, seq, bytes([P.ErrorCode.CRC, t, seq])),
                    "boot": b"\r\nbanner\r\n" + P.encode(P.Type.BOOT, 0, b"\x02\x00")}[trouble]
        return _infer_answer(seq, struct.unpack_from("<H", payload)[0], 5, b"ok")
    link = _link(answer)
    assert link.infer(b"x").output == b"ok"
    # LOAD, INFER (lost); after a reboot the input is loaded again, else only the INFER is resent
    assert link.port.attempts == (4 if trouble == "boot" else 3)
    assert link.stats.reloads == (trouble == "boot")


def test_link_gives_up_after_bounded_retries():
    link = _link(lambda *a: b"", retries=2)
    link.chunk_retries = 2
    with pytest.raises(P.DeviceError, match=r"LOAD of input bytes 0\.\.0 failed after 3 attempts \(no answer"):
        link.infer(b"x")
    assert link.port.attempts == 3


def test_link_does_not_resend_what_the_device_cannot_do():
    link = _link(lambda t, seq, p, a: P.encode(P.Type.ERROR, seq, bytes([P.ErrorCode.UNSUPPORTED, t, seq])))
    with pytest.raises(P.DeviceError, match="PROFILE request refused: device error UNSUPPORTED"):
        link.profile()
    assert link.port.attempts == 1


def test_wait_ready_reports_what_the_port_said():
    link = _link(lambda *a: b"Hello from some other firmware\r\n")
    with pytest.raises(P.DeviceError, match="no tinykd device answered .*other firmware"):
        link.wait_ready(0.3, poll_s=0.05)


def test_a_board_whose_model_check_failed_is_refused_at_once():
    """HELLO flags bit 1: the firmware's boot-time tinykd_model_check() failed; the host stops on
    its first HELLO with one line naming the cause, instead of polling until the timeout."""
    fields = [2, 1, 2, 80_000_000, 640, 192, 10, 33184, 6, 260, 4, 2, 1, 8, 8, 3, 1, 10, 0, 0,
              0.5, -128, 0.25, -128, b"a" * 64, 0]
    hello = struct.pack(P.HELLO_FORMAT, *fields) + b"board"
    assert P.Hello.parse(hello).model_check_failed and not P.Hello.parse(hello).profiling
    link = _link(lambda t, seq, p, a: P.encode(P.Type.HELLO | 0x80, seq, hello))
    with pytest.raises(P.ModelCheckError, match=r"^the board refuses its model \(sha256 aaaaaaaaaaaaaaaa…\): "
                       r"tinykd_model_check\(\) failed at boot") as err:
        link.wait_ready(5.0, poll_s=0.05)
    assert "\n" not in str(err.value) and link.port.attempts == 1
    ok = struct.pack(P.HELLO_FORMAT, *fields[:2], 1, *fields[3:]) + b"board"
    h = _link(lambda t, seq, p, a: P.encode(P.Type.HELLO | 0x80, seq, ok)).wait_ready(5.0, poll_s=0.05)
    assert h.profiling and not h.model_check_failed


def test_host_parser_recovers_from_noise_that_looks_like_a_header():
    # noise announcing 4000 bytes, then a real answer: the parser waits (it cannot know) ...
    parser = P.FrameParser(4096)
    answer = P.encode(0x81, 1, b"hi")
    assert parser.feed(b"\xa5\x5a\x02\x09\xa0\x0f" + answer) == []
    # ... until the link's timeout expires it: the real answer is found after the noise
    assert parser.expire() == [P.Frame(0x81, 1, b"hi")]
    # noise announcing more than the limit is rejected at once
    assert P.FrameParser(4096).feed(b"\xa5\x5a\x02\x09\xff\xff" + answer) == [P.BadFrame("length", 2, 9),
                                                                           P.Frame(0x81, 1, b"hi")]


@given(noise=st.binary(max_size=300), payload=st.binary(max_size=64))
@settings(max_examples=200, deadline=None)
def test_host_parser_never_loses_a_frame_after_noise_and_expiry(noise, payload):
    parser = P.FrameParser(512)
    got = parser.feed(noise)
    for _ in range(len(noise)):  # expire repeatedly, as successive link timeouts would
        got += parser.expire()
    got += parser.feed(P.encode(0x82, 3, payload))
    for _ in range(len(noise)):
        got += parser.expire()
    frames = [f for f in got if isinstance(f, P.Frame)]
    assert frames and frames[-1] == P.Frame(0x82, 3, payload)


# ---- the chunked input over a noisy line: the host Link against the firmware's C parser and loader

class Loader(ctypes.Structure):
    """struct tkp_loader (protocol.h); the size is checked against the C side."""

    _fields_ = [("buf", ctypes.c_void_p), ("map", ctypes.c_void_p), ("size", ctypes.c_uint16),
                ("tag", ctypes.c_uint16), ("filled", ctypes.c_uint16), ("has_tag", ctypes.c_uint8)]


class NoisyBoard:
    """A pyserial-like port in front of the firmware's own parser and loader (ctypes): every
    byte either way is, with probability `rate`, replaced, dropped or doubled by a random one.
    The "model" answers sha256(input)[:10]; ticks are the input's CRC."""

    def __init__(self, lib, size: int, rate: float, seed: int):
        import random

        for name, args in (("tkp_loader_init", [ctypes.POINTER(Loader), ctypes.c_void_p, ctypes.c_void_p,
                                                ctypes.c_uint16]),
                           ("tkp_loader_load", [ctypes.POINTER(Loader), ctypes.c_void_p, ctypes.c_uint16]),
                           ("tkp_loader_ready", [ctypes.POINTER(Loader), ctypes.c_void_p, ctypes.c_uint16])):
            getattr(lib, name).argtypes = args
        lib.tkp_loader_size.restype = ctypes.c_size_t
        assert lib.tkp_loader_size() == ctypes.sizeof(Loader)
        self.lib, self.rate, self.rng = lib, rate, random.Random(seed)
        self.parser = CParser(lib, cap=4 + P.CHUNK_MAX)
        self.input = ctypes.create_string_buffer(size)
        self.map = ctypes.create_string_buffer((size + 7) // 8)
        self.loader = Loader()
        lib.tkp_loader_init(ctypes.byref(self.loader), self.input, self.map, size)
        self.rx, self.timeout, self.baudrate, self.damaged, self.inferences = bytearray(), 0.05, 10_000_000, 0, 0

    def _noise(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            if self.rng.random() >= self.rate:
                out.append(b)
                continue
            self.damaged += 1
            what = self.rng.randrange(3)
            out += [bytes([self.rng.randrange(256)]), b"", bytes([b, self.rng.randrange(256)])][what]
        return bytes(out)

    def _answer(self, type_: int, seq: int, payload: bytes) -> bytes:
        buf = ctypes.create_string_buffer(payload, max(len(payload), 1))
        if type_ == P.Type.LOAD:
            st = self.lib.tkp_loader_load(ctypes.byref(self.loader), buf, len(payload))
            if st:
                return P.encode(P.Type.ERROR, seq, bytes([st, type_, seq]))
            return P.encode(P.Type.LOAD | 0x80, seq, payload[:4] + struct.pack("<HH", len(payload) - 4,
                                                                                self.loader.filled))
        if type_ == P.Type.INFER:
            st = self.lib.tkp_loader_ready(ctypes.byref(self.loader), buf, len(payload))
            if st:
                return P.encode(P.Type.ERROR, seq, bytes([st, type_, seq]))
            import hashlib

            self.inferences += 1
            x = self.input.raw
            return P.encode(P.Type.INFER | 0x80, seq, payload[:2] + struct.pack("<I", P.crc16(x))
                            + hashlib.sha256(x).digest()[:10])
        return P.encode(P.Type.ERROR, seq, bytes([P.ErrorCode.TYPE, type_, seq]))

    def write(self, data):
        self.parser.expire()  # the host paused before this write: the inter-byte timeout passed
        out = b""
        for ev in self.parser.feed(self._noise(bytes(data))):
            if ev[0] == "frame":
                out += self._answer(ev[1], ev[2], ev[3])
            else:
                out += P.encode(P.Type.ERROR, ev[2], bytes([{EV_BAD_CRC: 1, EV_BAD_LENGTH: 2}[ev[0]], ev[1], ev[2]]))
        self.rx += self._noise(out)

    def flush(self):
        pass

    @property
    def in_waiting(self):
        return len(self.rx)

    def read(self, n):
        out, self.rx = bytes(self.rx[:n]), self.rx[n:]
        return out


@pytest.mark.parametrize("rate", [0.0, 0.0002, 0.004])
def test_chunked_input_survives_a_noisy_line(lib, rate):
    """3,072-byte inputs (a CIFAR image) at 0, 1/5000 and 1/250 damaged bytes per byte, both
    ways: every image's answer is the right one. In one frame, at 0.004, an input would get
    through intact with probability 0.996^3080 = 4e-6."""
    import hashlib

    rng = __import__("numpy").random.default_rng(2)
    board = NoisyBoard(lib, 3072, rate, seed=int(rate * 1e4) + 1)
    link = P.Link(board, timeout_s=0.5, retries=3)
    for _ in range(50 if rate else 5):
        x = rng.integers(0, 256, 3072, dtype="uint8").tobytes()
        r = link.infer(x)
        assert (r.output, r.ticks) == (hashlib.sha256(x).digest()[:10], P.crc16(x))
    if rate >= 0.004:
        assert board.damaged > 100 and link.stats.chunk_resends > 0
    if rate == 0:
        assert link.stats.chunk_resends == 0 and link.stats.chunks == 5 * 12
