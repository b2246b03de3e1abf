"""Putting the firmware on the board: QEMU's virtual flash, or a real board (the B-L475E-IOT01A)
through its ST-LINK with OpenOCD, st-flash (stlink-tools) or pyOCD; targets and flash base come
from the board's description (board.py). Hardware backends program, verify and
reset; a missing tool or board is one clear DeviceError."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import DeviceError, ParamError
from . import board as B
from .firmware import sha256_file

BACKENDS = ("qemu", "openocd", "stlink", "pyocd")
QEMU_IMAGE = "flash.elf"  # the virtual board's flash content, inside the flash stage's output
# The semihosting flavour (bulk evaluation on QEMU only; halts a board without a debugger): built
# beside tinykd.elf, copied next to the QEMU image, never programmed into hardware.
SEMIHOST_BUILD = "tinykd-semihost.elf"
QEMU_SEMIHOST_IMAGE = "flash-semihost.elf"

# How each hardware backend is installed (for the error message).
INSTALL = {
    "openocd": "apt install openocd",
    "st-flash": "apt install stlink-tools",
    "st-info": "apt install stlink-tools",
    "pyocd": "pip install pyocd",
}

def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ParamError("device.backend", backend, " | ".join(BACKENDS))


def _which(tool: str, backend: str) -> str:
    path = shutil.which(tool)
    if not path:
        others = ", ".join(b for b in BACKENDS if b != backend)
        raise DeviceError(f"device.backend = {backend} needs {tool}, which is not on PATH "
                          f"({INSTALL.get(tool, 'install it')}); or choose device.backend: {others}")
    return path


def _run(cmd: list[str], what: str, timeout_s: float = 180.0) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise DeviceError(f"{what}: `{' '.join(cmd)}` did not finish within {timeout_s:g} s") from None
    out = (proc.stdout or "") + (proc.stderr or "")
    if proc.returncode != 0:
        tail = "\n".join(ln for ln in out.strip().splitlines()[-6:])
        raise DeviceError(f"{what} failed (is the board connected over USB and free?):\n{tail}")
    return out


def flash_openocd(elf: Path, brd: B.Board) -> list[str]:
    openocd = _which("openocd", "openocd")
    cmd = [openocd, "-f", "interface/stlink.cfg", "-f", brd.openocd_target,
           "-c", f"program {elf} verify reset exit"]
    _run(cmd, "openocd programming")
    return ["openocd", *cmd[1:-1], "program tinykd.elf verify reset exit"]


def flash_stlink(binary: Path, brd: B.Board) -> list[str]:
    info = _which("st-info", "stlink")
    flasher = _which("st-flash", "stlink")
    probe = _run([info, "--probe"], "st-info --probe")
    if "Found 0 stlink programmers" in probe or "serial" not in probe.lower():
        raise DeviceError(f"st-info --probe found no ST-LINK: connect the {brd.name}'s USB ST-LINK port")
    # st-flash reads the image back after writing ("Flash written and verified").
    out = _run([flasher, "--reset", "write", str(binary), hex(brd.flash_base)], "st-flash write")
    if "verified" not in out.lower():
        raise DeviceError(f"st-flash did not report a verified write:\n{out.strip()[-500:]}")
    return ["st-flash", "--reset", "write", "tinykd.bin", hex(brd.flash_base)]


def flash_pyocd(elf: Path, binary: Path, brd: B.Board) -> list[str]:
    pyocd = _which("pyocd", "pyocd")
    target = brd.pyocd_target
    _run([pyocd, "load", "-t", target, str(elf)], "pyocd load")
    # pyOCD does not verify by itself: read the flash back and compare.
    with tempfile.TemporaryDirectory() as tmp:
        back = Path(tmp) / "readback.bin"
        size = binary.stat().st_size
        _run([pyocd, "cmd", "-t", target, "-c", f"savemem {hex(brd.flash_base)} {size} {back}"],
             "pyocd read-back")
        if back.read_bytes() != binary.read_bytes():
            raise DeviceError("pyocd: the flash read back differs from tinykd.bin (verify failed)")
    _run([pyocd, "reset", "-t", target], "pyocd reset")
    return ["pyocd", "load", "-t", target, "tinykd.elf"]


def flash(backend: str, firmware_dir: Path, out_dir: Path, model_sha256: str, board: str = B.DEFAULT) -> dict:
    """Flash the build in `firmware_dir` (built for `board`) with `backend`; fill `out_dir` (QEMU:
    the virtual flash image) and return the deterministic flash record."""
    check_backend(backend)
    brd = B.load(board)
    firmware_dir, out_dir = Path(firmware_dir), Path(out_dir)
    elf, binary = firmware_dir / "tinykd.elf", firmware_dir / "tinykd.bin"
    for f in (elf, binary):
        if not f.is_file():
            raise DeviceError(f"{f} does not exist: run the build stage first")
    if backend == "qemu":
        from .qemu import check_machine

        check_machine(machine=brd.qemu_machine)
        shutil.copyfile(elf, out_dir / QEMU_IMAGE)
        command = ["qemu-system-arm", "-M", brd.qemu_machine, "-kernel", QEMU_IMAGE]
        semihost = firmware_dir / SEMIHOST_BUILD
        if semihost.is_file():
            shutil.copyfile(semihost, out_dir / QEMU_SEMIHOST_IMAGE)
    elif backend == "openocd":
        command = flash_openocd(elf, brd)
    elif backend == "stlink":
        command = flash_stlink(binary, brd)
    else:
        command = flash_pyocd(elf, binary, brd)
    semihost = out_dir / QEMU_SEMIHOST_IMAGE
    return {
        "backend": backend,
        "board": brd.key,
        "command": command,
        "image": QEMU_IMAGE if backend == "qemu" else None,
        "semihost_image": QEMU_SEMIHOST_IMAGE if semihost.is_file() else None,
        "semihost_elf_sha256": sha256_file(semihost) if semihost.is_file() else None,
        "image_sha256": sha256_file(binary),
        "elf_sha256": sha256_file(elf),
        "model_sha256": model_sha256,
    }
