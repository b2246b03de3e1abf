"""Building the firmware (firmware/Makefile) around an exported model, and its memory report."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import DeviceError, ParamError
from . import board as B
from .board import FIRMWARE_DIR

TARGET = "tinykd"

# Section → memory region it occupies (the link scripts under boards/*/link.ld).
SECTIONS = {"flash": (".isr_vector", ".text", ".ARM.exidx", ".data"), "sram1": (".data", ".bss"),
            "sram2": (".sram2_bss", ".stack")}
PROTOCOLS_GLOB = "frontend_*.c"


def protocols(firmware_dir: Path = FIRMWARE_DIR) -> list[str]:
    return sorted(p.stem.removeprefix("frontend_") for p in (Path(firmware_dir) / "app").glob(PROTOCOLS_GLOB))


def check_options(baud, protocol: str, board: str = B.DEFAULT, firmware_dir: Path = FIRMWARE_DIR) -> None:
    if isinstance(baud, bool) or not isinstance(baud, int) or not 1200 <= baud <= 10_000_000:
        raise ParamError("firmware.baud", baud, "an integer number of bits per second, 1200..10000000 "
                         "(115200 for the ST-LINK virtual COM port)")
    if protocol not in protocols(firmware_dir):
        raise ParamError("firmware.protocol", protocol, " | ".join(protocols(firmware_dir)))
    B.load(board, firmware_dir)


def input_scaling_flags(value, model_dir: Path, key: str = "student.input") -> dict[str, str]:
    """The Makefile's INPUT_MEAN / INPUT_STD for a params scaling (`key`, e.g. student.input),
    after checking its lists against the exported model's channel count (model.json); {} for the
    default pixels / 255, so the default build is unchanged."""
    import json

    from ..data.scaling import from_params

    try:
        shape = json.loads((Path(model_dir) / "model.json").read_text())["input"]["shape"]
    except (OSError, ValueError, KeyError) as exc:
        raise DeviceError(f"{model_dir}/model.json has no input shape ({exc}): run the export stage first") from None
    scaling = from_params(value, key, channels=int(shape[-1]))
    if scaling.is_default:
        return {}
    mean, std = scaling.per_channel()
    # repr: the shortest text that reads back as the same double, which C then rounds to float
    # exactly as numpy's float32 does.
    return {"INPUT_MEAN": ",".join(repr(v) for v in mean), "INPUT_STD": ",".join(repr(v) for v in std)}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise DeviceError(f"{name} not found on PATH: install the Arm toolchain (Debian: gcc-arm-none-eabi "
                          "libnewlib-arm-none-eabi; `bash scripts/setup-system.sh`)")
    return path


def make(model_dir: Path, build_dir: Path, baud: int = 115200, protocol: str = "tinykd",
         profile_layers: bool = False, extra: dict[str, str] | None = None, jobs: int | None = None,
         firmware_dir: Path = FIRMWARE_DIR, board: str = B.DEFAULT) -> Path:
    """Run firmware/Makefile; returns the .elf. A failed build raises DeviceError carrying the
    Makefile's `error:` lines (for an overflow: the linker's region and byte counts)."""
    _tool("arm-none-eabi-gcc")
    model_dir, build_dir = Path(model_dir).resolve(), Path(build_dir).resolve()
    if not (model_dir / "sources.txt").is_file() or not (model_dir / "model.h").is_file():
        raise DeviceError(f"{model_dir} is not an exported model (no model.h / sources.txt): "
                          "run `tinykd export MODEL.tflite DIR` or the export stage first")
    firmware_dir = Path(firmware_dir).resolve()
    if not (firmware_dir / "Makefile").is_file():
        raise DeviceError(f"{firmware_dir} has no Makefile: expected tinykd's firmware/ folder")
    args = ["make", "-C", str(firmware_dir), f"-j{jobs or os.cpu_count() or 1}",
            f"MODEL_DIR={model_dir}", f"BUILD_DIR={build_dir}", f"BAUD={int(baud)}",
            f"BOARD={board}", f"PROTOCOL={protocol}", f"PROFILE_LAYERS={1 if profile_layers else 0}", "all"]
    args += [f"{k}={v}" for k, v in (extra or {}).items()]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower() or ln.startswith("  ")]
        detail = "\n".join((errors or lines)[-12:]) or proc.stdout[-2000:]
        raise DeviceError(f"firmware build failed ({' '.join(args[3:])}):\n{detail}")
    return build_dir / f"{TARGET}.elf"


def portable_map(text: bytes, repo_root: Path) -> bytes:
    """A linker map with the checkout's absolute path replaced by ".", as -ffile-prefix-map does
    for the objects: the same firmware then has the same .map (and md5 in dvc.lock) in every clone.
    The object folder mirrors each source's absolute path (obj/<root>/firmware/...); that part
    becomes obj/firmware/..."""
    root = str(Path(repo_root).resolve()).encode() + b"/"  # with the slash: /x/ref1 is not /x/ref10
    return text.replace(b"/obj" + root, b"/obj/").replace(root, b"./")


def section_sizes(elf: Path) -> dict[str, int]:
    out = subprocess.run([_tool("arm-none-eabi-size"), "-A", "-d", str(elf)], capture_output=True,
                         text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        m = re.match(r"^(\.\S+)\s+(\d+)\s+\d+", line)
        if m:
            sizes[m.group(1)] = int(m.group(2))
    return sizes


def memory_report(elf: Path, board: str = B.DEFAULT, firmware_dir: Path = FIRMWARE_DIR) -> dict:
    """Flash and RAM use of a linked image against the board's limits (bytes)."""
    s = section_sizes(elf)
    limits = B.load(board, firmware_dir).limits()
    used = {mem: sum(s.get(k, 0) for k in sections) for mem, sections in SECTIONS.items()}
    report = {
        "board": board,
        "text": s.get(".isr_vector", 0) + s.get(".text", 0) + s.get(".ARM.exidx", 0),
        "data": s.get(".data", 0),
        "bss": s.get(".bss", 0),
        "sram2_bss": s.get(".sram2_bss", 0),
        "stack_reserve": s.get(".stack", 0),
    }
    for mem, n in used.items():
        report[f"{mem}_used"] = n
        report[f"{mem}_limit"] = limits[mem]
        report[f"{mem}_percent"] = round(100.0 * n / limits[mem], 2)
    return report


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_sha256(model_dir: Path) -> str:
    """The sha256 of the .tflite an export folder was generated from (TINYKD_MODEL_SHA256)."""
    header = Path(model_dir) / "model.h"
    try:
        text = header.read_text()
    except OSError as exc:
        raise DeviceError(f"cannot read {header}: {exc.strerror}; run the export stage first") from None
    m = re.search(r'#define\s+TINYKD_MODEL_SHA256\s+"([0-9a-f]{64})"', text)
    if not m:
        raise DeviceError(f"{header} has no TINYKD_MODEL_SHA256: re-export the model")
    return m.group(1)
