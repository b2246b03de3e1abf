"""The QEMU bulk path: test images into the emulated board at memory speed, through ARM semihosting.

The UART path sends each image byte by byte through QEMU's USART1 model (~0.13 s per 32x32x3
image). Here the host writes the int8 inputs to a file, QEMU runs the `semihost` flavour of the
firmware (tinykd-semihost.elf: the UART image's board support, inference_run(), model and kernel
objects, linked with firmware/app/bulk_semihost.c instead of the UART front-end) with
`-semihosting-config enable=on,target=native`, and the firmware reads the file with SYS_READ and
writes (ticks, output) records with SYS_WRITE. The file layouts are documented in
bulk_semihost.c; this module is their host-side twin.

`-icount shift=0` keeps the per-image tick counts exact and repeatable; the firmware restarts the
SysTick grid at each inference, so a count depends neither on the transport nor on which of
several QEMU instances (disjoint contiguous shards of the images) ran it.
"""
from __future__ import annotations

import binascii
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DeviceError
from .protocol import Hello
from .qemu import check_machine, machine, qemu_binary, stop_process

VERSION = 1
IN_NAME = "tinykd-bulk.in"
OUT_NAME = "tinykd-bulk.out"
IN_MAGIC, OUT_MAGIC = b"TKBI", b"TKBO"
IN_HEADER_BYTES, OUT_HEADER_BYTES = 16, 8
CRC_BYTES = 2
ERROR_PREFIX = "tinykd-semihost: error: "
# QEMU's icount options: one instruction = 1 ns of virtual time; nothing idles in the bulk
# firmware, so virtual time never needs to wait for the host clock.
ICOUNT = "shift=0,align=off,sleep=off"


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE, the UART protocol's (binascii.crc_hqx is exactly it)."""
    return binascii.crc_hqx(data, crc)


def encode_input(inputs: np.ndarray) -> bytes:
    """The bulk input file for int8 `inputs` [N, ...] (one record per image)."""
    x = np.ascontiguousarray(inputs, dtype=np.int8).reshape(len(inputs), -1)
    n, size = x.shape
    head = IN_MAGIC + struct.pack("<IIH", n, size, VERSION)
    parts = [head, struct.pack("<H", crc16(head))]
    for row in x:
        b = row.tobytes()
        parts += [b, struct.pack("<H", crc16(b))]
    return b"".join(parts)


@dataclass
class OutputFile:
    hello: Hello | None
    records: list[tuple[bytes, int]]  # (output bytes, ticks) per image, in input order


def parse_output(data: bytes, complete: bool = True) -> OutputFile:
    """Parse a bulk output file. With `complete` False (a file still being written), a partial
    header or trailing partial record is not an error: it just is not returned yet."""
    if len(data) < OUT_HEADER_BYTES:
        if complete:
            raise DeviceError(f"the device's {OUT_NAME} is {len(data)} bytes, shorter than its header")
        return OutputFile(None, [])
    if data[:4] != OUT_MAGIC:
        raise DeviceError(f"the device's {OUT_NAME} does not start with {OUT_MAGIC.decode()}: "
                          "is the flashed image tinykd-semihost.elf?")
    version, hello_len = struct.unpack_from("<HH", data, 4)
    if version != VERSION:
        raise DeviceError(f"the device writes bulk format version {version}; this host reads {VERSION}: "
                          "rebuild the firmware from this checkout")
    if len(data) < OUT_HEADER_BYTES + hello_len:
        if complete:
            raise DeviceError(f"the device's {OUT_NAME} ends inside its HELLO header")
        return OutputFile(None, [])
    hello = Hello.parse(data[OUT_HEADER_BYTES:OUT_HEADER_BYTES + hello_len])
    size = 4 + hello.output_bytes + CRC_BYTES
    body = memoryview(data)[OUT_HEADER_BYTES + hello_len:]
    n, rest = divmod(len(body), size)
    if rest and complete:
        raise DeviceError(f"the device's {OUT_NAME} ends inside record {n} ({rest} of {size} bytes)")
    records = []
    for i in range(n):
        rec = bytes(body[i * size:(i + 1) * size])
        if crc16(rec[:-CRC_BYTES]) != struct.unpack_from("<H", rec, size - CRC_BYTES)[0]:
            raise DeviceError(f"the device's {OUT_NAME}: record {i} fails its CRC (corrupt output file)")
        records.append((rec[4:-CRC_BYTES], struct.unpack_from("<I", rec)[0]))
    return OutputFile(hello, records)


def qemu_command(binary: str, image: Path, qemu_machine: str) -> list[str]:
    # -no-reboot: a fault resets the chip (startup.c), which would restart the run from image 0
    # and rewrite the output file; ending QEMU instead makes it a short output, reported below.
    return [binary, "-M", qemu_machine, "-icount", ICOUNT, "-nographic", "-monitor", "none", "-serial", "null",
            "-no-reboot", "-semihosting-config", "enable=on,target=native", "-kernel", str(image)]


class _Shard:
    """One QEMU running the semihost image on a contiguous slice of the inputs, in its own folder."""

    def __init__(self, binary: str, image: Path, inputs: np.ndarray, folder: Path, log: Path | None,
                 qemu_machine: str):
        self.n = len(inputs)
        self.folder = folder
        folder.mkdir()
        (folder / IN_NAME).write_bytes(encode_input(inputs))
        self.out = folder / OUT_NAME
        self.err = open(folder / "qemu.stderr", "w+b")
        self.log = log
        self.proc = subprocess.Popen(qemu_command(binary, image, qemu_machine), cwd=folder, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.err, start_new_session=True)
        self.record_bytes: int | None = None
        self.hello: Hello | None = None
        self.header_bytes: int | None = None

    def done(self) -> int:
        """Images answered so far (from the output file's size; cheap enough to poll)."""
        if self.record_bytes is None:
            try:
                data = self.out.read_bytes()
            except OSError:
                return 0
            f = parse_output(data, complete=False)
            if f.hello is None:
                return 0
            self.header_bytes = OUT_HEADER_BYTES + struct.unpack_from("<H", data, 6)[0]
            self.record_bytes = 4 + f.hello.output_bytes + CRC_BYTES
            self.hello = f.hello
        try:
            size = self.out.stat().st_size
        except OSError:
            return 0
        return max(0, min(self.n, (size - self.header_bytes) // self.record_bytes))

    def stderr_text(self) -> str:
        self.err.flush()
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def failure(self) -> str | None:
        """None while running or after a complete run; else what went wrong, in one line."""
        code = self.proc.poll()
        if code is None:
            return None
        text = self.stderr_text()
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        device = [ln[len(ERROR_PREFIX):] for ln in lines if ln.startswith(ERROR_PREFIX)]
        if device:
            return f"the device stopped: {device[-1]}"
        if code == 0 and self.done() == self.n:
            return None
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        detail = f" ({lines[-1]})" if lines else ""
        return f"QEMU ended ({how}) after {self.done()} of {self.n} images{detail}"

    def stop(self) -> None:
        stop_process(self.proc)
        if self.log is not None:
            with open(self.log, "ab") as f:
                f.write(self.stderr_text().encode())
            self.log = None
        self.err.close()


def default_jobs() -> int:
    """QEMU instances: one per core (an emulated core is single-threaded under -icount)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def reference_worker(ref, inputs: np.ndarray) -> tuple[list[np.ndarray], Callable[[], bool]]:
    """(outputs, work) for run(): each work() call runs the host reference on the next input
    while QEMU runs, appending to outputs; False once every input is done."""
    outputs: list[np.ndarray] = []

    def work() -> bool:
        if len(outputs) == len(inputs):
            return False
        outputs.append(ref.run(inputs[len(outputs)]))
        return True

    return outputs, work


def run(image: str | Path, inputs: np.ndarray, *, jobs: int | None = None, progress: bool = True,
        log: str | Path | None = None, work: Callable[[], bool] | None = None,
        timeout_s: float | None = None, on_started: Callable[[list], None] | None = None,
        on_hello: Callable[[Hello], None] | None = None, board: str | None = None
        ) -> tuple[Hello, list[tuple[bytes, int]]]:
    """Run every int8 input through the semihost image (built for `board`, None = the default) on
    `jobs` QEMU instances (disjoint
    contiguous shards); returns the device's HELLO and (output bytes, ticks) per image, in order.

    `on_hello` gets the device's HELLO (the output file's header) as soon as it is written, to
    refuse a wrong model before the run rather than after it. `work` is called while QEMU runs (the host reference, one image per call; it returns False
    when it has nothing left to do). Any failure (a device error line, QEMU dying, a short or
    corrupt output file, `timeout_s` without progress) stops every QEMU and raises DeviceError;
    so does Ctrl-C (KeyboardInterrupt, re-raised). Nothing is left behind either way."""
    from tqdm import tqdm

    # Absolute: each QEMU runs in its own shard folder (its semihosting files are relative to it).
    image = Path(image).resolve()
    if not image.is_file():
        raise DeviceError(f"semihosting image {image} does not exist: rerun the build and flash stages "
                          "(firmware.protocol: tinykd builds tinykd-semihost.elf)")
    inputs = np.asarray(inputs)
    if len(inputs) == 0:
        raise DeviceError("no input images to evaluate")
    binary = qemu_binary()
    qemu_machine = machine(board) if board else machine()
    check_machine(binary, qemu_machine)
    jobs = max(1, min(int(jobs or default_jobs()), len(inputs)))
    bounds = np.linspace(0, len(inputs), jobs + 1).round().astype(int)
    tmp = Path(tempfile.mkdtemp(prefix="tinykd-bulk-"))
    shards: list[_Shard] = []
    bar = tqdm(total=len(inputs), desc="evaluate on QEMU (semihosting)", unit="img",
               disable=None if progress else True, leave=False)
    try:
        for k in range(jobs):
            shards.append(_Shard(binary, image, inputs[bounds[k]:bounds[k + 1]], tmp / f"shard{k}",
                                 Path(log) if log else None, qemu_machine))
        if on_started is not None:
            on_started([s.proc for s in shards])
        shown, last_progress, announced = 0, time.monotonic(), False
        while True:
            shards[0].done()  # parses the header once it is there
            if not announced and on_hello is not None and shards[0].hello is not None:
                announced = True
                on_hello(shards[0].hello)
            problems = [p for p in (s.failure() for s in shards) if p]
            if problems:
                raise DeviceError(problems[0])
            done = sum(s.done() for s in shards)
            if done != shown:
                bar.update(done - shown)
                shown, last_progress = done, time.monotonic()
            if all(s.proc.poll() is not None for s in shards):
                break
            if timeout_s is not None and time.monotonic() - last_progress > timeout_s:
                raise DeviceError(f"QEMU answered no image for {timeout_s:g} s ({done} of {len(inputs)} done)")
            if work is None or not work():
                time.sleep(0.05)
        hello, records = None, []
        for s in shards:
            f = parse_output(s.out.read_bytes(), complete=True)
            if len(f.records) != s.n:
                raise DeviceError(f"QEMU ended after {len(f.records)} of {s.n} images without an error")
            if hello is not None and f.hello != hello:
                raise DeviceError("the QEMU instances describe different devices")
            hello = f.hello
            records += f.records
        return hello, records
    finally:
        bar.close()
        for s in shards:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
