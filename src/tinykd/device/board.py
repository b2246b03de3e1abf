"""Board descriptions: firmware/boards/<board>/board.yaml, the one place a board's facts live.

board.mk reads the same file for the build (memory map, size check, clock), so a board is one
folder under firmware/boards/ and every step — the export stage's footprint budget, the build's
size report, flashing, QEMU, the latency figures — takes its facts from there.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DeviceError, ParamError

REPO = Path(__file__).resolve().parents[3]
FIRMWARE_DIR = REPO / "firmware"
DEFAULT = "b_l475e_iot01a"
FILE = "board.yaml"
REGIONS = ("flash", "sram1", "sram2")
_INT_KEYS = ("core_hz", "stack_bytes", "firmware_ram_reserve", "firmware_flash_reserve",
             *(f"{r}_{k}" for r in REGIONS for k in ("origin", "bytes")))
_STR_KEYS = ("name", "arena_region", "qemu_machine", "pyocd_target", "openocd_target")
# board.mk reads each line with sed: a key, a colon, one plain value, an optional comment.
_LINE = re.compile(r"^([a-z0-9_]+):[ \t]*([^\s#]+)[ \t]*(#.*)?$")


@dataclass(frozen=True)
class Board:
    key: str                       # the folder name (firmware.board in params.yaml)
    name: str
    core_hz: int
    regions: dict                  # region -> (origin, bytes)
    stack_bytes: int
    arena_region: str
    firmware_ram_reserve: int
    firmware_flash_reserve: int
    qemu_machine: str
    pyocd_target: str
    openocd_target: str

    @property
    def flash_base(self) -> int:
        return self.regions["flash"][0]

    def limits(self) -> dict[str, int]:
        """Region -> bytes."""
        return {r: n for r, (_, n) in self.regions.items()}

    def gcc_flags(self) -> list[str]:
        """What board.mk (boards/board_yaml.mk) passes to arm-none-eabi-gcc, for a program linked
        with the board's startup.c, board.c and link.ld outside the Makefile (a test image)."""
        return [f"-DBOARD_CORE_HZ={self.core_hz}u", f'-DBOARD_NAME="{self.name}"',
                f"-Wl,--defsym=__stack_size={self.stack_bytes}",
                *(f"-Wl,--defsym=__board_{r}_{k}={v}" for r, (o, n) in self.regions.items()
                  for k, v in (("origin", hex(o)), ("bytes", n)))]


def names(firmware_dir: Path = FIRMWARE_DIR) -> list[str]:
    return sorted(p.parent.name for p in (Path(firmware_dir) / "boards").glob(f"*/{FILE}"))


def load(key: str = DEFAULT, firmware_dir: Path = FIRMWARE_DIR, param: str = "firmware.board") -> Board:
    """The Board of firmware_dir/boards/<key>/board.yaml; `param` names the setting in errors."""
    return _load(str(key), Path(firmware_dir).resolve(), param)


@functools.lru_cache(maxsize=None)
def _load(key: str, firmware_dir: Path, param: str) -> Board:
    path = firmware_dir / "boards" / key / FILE
    if "/" in key or not path.is_file():
        raise ParamError(param, key, "a board folder with a board.yaml under firmware/boards/: "
                         + (" | ".join(names(firmware_dir)) or "none found"))
    facts: dict[str, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            raise DeviceError(f"{path}:{n}: {line.strip()!r} is not a flat `key: value` line (board.mk reads "
                              "this file with sed)")
        facts[m.group(1)] = m.group(2)
    missing = [k for k in (*_INT_KEYS, *_STR_KEYS) if k not in facts]
    if missing:
        raise DeviceError(f"{path} has no {', '.join(missing)}")
    ints = {}
    for k in _INT_KEYS:
        try:
            ints[k] = int(facts[k], 0)
        except ValueError:
            raise DeviceError(f"{path}: {k} is {facts[k]!r}; expected an integer (decimal or 0x hex)") from None
    if facts["arena_region"] not in REGIONS:
        raise DeviceError(f"{path}: arena_region is {facts['arena_region']!r}; expected one of {', '.join(REGIONS)}")
    return Board(key=key, name=facts["name"], core_hz=ints["core_hz"],
                 regions={r: (ints[f"{r}_origin"], ints[f"{r}_bytes"]) for r in REGIONS},
                 stack_bytes=ints["stack_bytes"], arena_region=facts["arena_region"],
                 firmware_ram_reserve=ints["firmware_ram_reserve"],
                 firmware_flash_reserve=ints["firmware_flash_reserve"],
                 qemu_machine=facts["qemu_machine"], pyocd_target=facts["pyocd_target"],
                 openocd_target=facts["openocd_target"])
