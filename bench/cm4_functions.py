"""Where one inference's instructions go, per firmware function: QEMU's execution log
(`-d in_asm,exec,nochain`) of an INFER on the emulated B-L475E-IOT01A, mapped to the ELF's
symbols.

    python -m bench.cm4_functions [--arch resnet8] [--elf FIRMWARE.elf] [--top 25]

Without --elf it exports the architecture's seeded model (as bench.cm4_kernels does) with the
Cortex-M4 kernels and builds the firmware under --workdir first.

Debian's QEMU ships no TCG plugins, so the count is rebuilt from the log: `in_asm` prints each
translation block's guest instructions once, `exec` (with chaining off) prints every execution
of a block, and each executed block adds its instructions to the functions they belong to. Only
the blocks executed between the INFER request and its answer count: the log is cut at a marker
written just before the request and read just after the answer. The total agrees with the
INFER tick count (`bench.cm4_kernels`) to within the SysTick granularity plus the UART
handling around the inference.
"""
from __future__ import annotations

import argparse
import bisect
import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_TB = re.compile(r"^IN:")
_INSN = re.compile(r"^0x([0-9a-f]+):\s")
_EXEC = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")


def symbols(elf: Path) -> tuple[list[int], list[str]]:
    """Function start addresses (sorted, Thumb bit cleared) and names."""
    out = subprocess.run(["arm-none-eabi-nm", "-n", "-S", str(elf)], check=True, capture_output=True,
                         text=True).stdout
    starts, names = [], []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            addr = int(parts[0], 16) & ~1
            if starts and starts[-1] == addr:
                continue
            starts.append(addr)
            names.append(f"{parts[3]}@{addr:x}")
    return starts, names


def profile(log: Path, elf: Path, begin: int, end: int) -> collections.Counter:
    """Instructions per function over the log's bytes [begin, end) of exec lines."""
    starts, names = symbols(elf)
    blocks: dict[int, list[int]] = {}
    with open(log, "r", errors="replace") as f:
        text = f.read()
    # translations can appear anywhere (a block is translated on first use), so read them all
    current = None
    for line in text.splitlines():
        if _TB.match(line):
            current = []
            continue
        m = _INSN.match(line)
        if m and current is not None:
            current.append(int(m.group(1), 16))
            continue
        if current:
            blocks.setdefault(current[0], current)
            current = None
    counts: collections.Counter = collections.Counter()
    for line in text[begin:end].splitlines():
        m = _EXEC.match(line)
        if not m:
            continue
        for pc in blocks.get(int(m.group(1), 16), ()):
            i = bisect.bisect_right(starts, pc) - 1
            counts[names[i] if i >= 0 else "?"] += 1
    return counts


def run(elf: Path, image: bytes, log: Path) -> tuple[int, int, bytes]:
    from tinykd.device.protocol import Link
    from tinykd.device.qemu import QemuBoard
    from tinykd.device.serial_port import open_port

    class TracedBoard(QemuBoard):
        def command(self, port):
            return super().command(port) + ["-d", "in_asm,exec,nochain", "-D", str(log)]

    with TracedBoard(elf) as board:
        port = open_port(board.url, 115200)
        try:
            link = Link(port, timeout_s=600.0, retries=0)
            link.wait_ready(60.0)
            begin = log.stat().st_size
            res = link.infer(image)
            end = log.stat().st_size
        finally:
            port.close()
    return begin, end, res.output


def build(arch: str, work: Path) -> Path:
    from bench.cm4_kernels import model_blob
    from tinykd.device import firmware as fw
    from tinykd.export import export_model

    mdir = work / arch / "auto" / "model"
    export_model(model_blob(arch, work / "models"), mdir, variants="auto")
    return fw.make(mdir, work / arch / "auto" / "fw", jobs=2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="resnet8")
    ap.add_argument("--elf", type=Path, help="profile this firmware instead of building --arch")
    ap.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "bench" / "cm4")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--input-bytes", type=int, default=32 * 32 * 3)
    args = ap.parse_args(argv)
    import numpy as np

    if args.elf is None:
        args.elf = build(args.arch, args.workdir)

    image = np.random.default_rng(1).integers(-128, 128, args.input_bytes, dtype=np.int8).tobytes()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "qemu.log"
        begin, end, _ = run(args.elf, image, log)
        counts = profile(log, args.elf, begin, end)
    total = sum(counts.values())
    print(f"{total:,} instructions executed during INFER (log bytes {begin:,}..{end:,})\n")
    print(f"{'function':<48} {'instructions':>13} {'share':>6}")
    for name, n in counts.most_common(args.top):
        print(f"{name:<48} {n:>13,} {100 * n / total:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
