"""firmware/Makefile and the build/flash helpers around it: a stand-in model (hand-written
model.h/model.c in the export folder layout) builds, reproducibly; one that overflows flash or
SRAM stops with the linker's numbers; bad options and missing tools give one clear error."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tinykd.device import firmware as fw
from tinykd.device.flash import flash
from tinykd.errors import DeviceError, ParamError

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not shutil.which("arm-none-eabi-gcc"),
                                reason="needs arm-none-eabi-gcc (scripts/setup-system.sh)")

MODEL_H = """#ifndef TINYKD_MODEL_H
#define TINYKD_MODEL_H
#include <stdint.h>
#define TINYKD_INPUT_BYTES 12
#define TINYKD_OUTPUT_BYTES 4
#define TINYKD_ARENA_BYTES {arena}
#define TINYKD_INPUT_RANK 4
#define TINYKD_INPUT_SHAPE {{1, 2, 2, 3}}
#define TINYKD_OUTPUT_RANK 2
#define TINYKD_OUTPUT_SHAPE {{1, 4}}
#define TINYKD_INPUT_SCALE 0.5f
#define TINYKD_INPUT_ZERO_POINT (-1)
#define TINYKD_OUTPUT_SCALE 0.25f
#define TINYKD_OUTPUT_ZERO_POINT (3)
#define TINYKD_MODEL_SHA256 "{sha}"
#define TINYKD_MACS 48
#define TINYKD_NUM_LAYERS 1
int tinykd_model_invoke(const int8_t *input, int8_t *output);
int tinykd_model_check(void);
#endif
"""

MODEL_C = """#include "model.h"
#ifndef TINYKD_LAYER_BEGIN
#define TINYKD_LAYER_BEGIN(i)
#define TINYKD_LAYER_END(i)
#endif
static int8_t arena[TINYKD_ARENA_BYTES] __attribute__((aligned(16), used));
static const int8_t weights[{weights}] = {{1, 2, 3}};
int tinykd_model_check(void) {{ return 0; }}  /* the firmware's boot check: no kernel scratch here */
int tinykd_model_invoke(const int8_t *input, int8_t *output)
{{
    TINYKD_LAYER_BEGIN(0);
    for (int o = 0; o < 4; o++) {{
        int32_t acc = 0;
        for (int i = 0; i < 12; i++) acc += input[i] * weights[(o * 12 + i) % {weights}];
        arena[o % TINYKD_ARENA_BYTES] = (int8_t)acc;
        output[o] = arena[o % TINYKD_ARENA_BYTES];
    }}
    TINYKD_LAYER_END(0);
    return 0;
}}
"""


def stand_in_model(folder: Path, arena: int = 64, weights: int = 48, sha: str = "ab" * 32) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.h").write_text(MODEL_H.format(arena=arena, sha=sha))
    (folder / "model.c").write_text(MODEL_C.format(weights=weights))
    (folder / "sources.txt").write_text(f"{folder / 'model.c'}\n-I{folder}\n")
    return folder


def test_build_reports_memory_and_is_reproducible(tmp_path):
    model = stand_in_model(tmp_path / "model")
    elf1 = fw.make(model, tmp_path / "b1", baud=115200)
    elf2 = fw.make(model, tmp_path / "b2", baud=115200)
    assert elf1.read_bytes() == elf2.read_bytes()
    assert (tmp_path / "b1" / "tinykd.bin").is_file() and (tmp_path / "b1" / "tinykd.map").is_file()
    rep = fw.memory_report(elf1)
    assert rep["stack_reserve"] == 16384
    assert 1000 < rep["flash_used"] < 64 * 1024 and rep["flash_limit"] == 1 << 20
    assert rep["sram1_used"] >= 64 and rep["sram2_used"] >= rep["stack_reserve"]
    assert fw.model_sha256(model) == "ab" * 32
    # another baud rate is another image (BRR differs)
    elf3 = fw.make(model, tmp_path / "b3", baud=9600)
    assert elf3.read_bytes() != elf1.read_bytes()


def test_the_map_names_no_checkout_path(tmp_path):
    """The build stage's .map says "." for the checkout (the objects already do, through
    -ffile-prefix-map), so two clones in different folders pin the same md5 for it."""
    model = stand_in_model(tmp_path / "model")
    fw.make(model, tmp_path / "b", baud=115200)
    raw = (tmp_path / "b" / "tinykd.map").read_bytes()
    root = str(REPO).encode()
    assert b"/obj" + root + b"/firmware/app/main.o" in raw  # what the linker writes
    out = fw.portable_map(raw, REPO)
    assert root not in out and b"/obj/firmware/app/main.o" in out
    # the same build in a clone elsewhere: the same map
    assert fw.portable_map(raw.replace(root, b"/elsewhere/tinykd"), Path("/elsewhere/tinykd")) == out


@pytest.mark.parametrize("arena,weights,region", [(200_000, 48, "SRAM1"), (64, 1_200_000, "FLASH")])
def test_overflow_stops_with_the_linker_numbers(tmp_path, arena, weights, region):
    model = stand_in_model(tmp_path / "model", arena=arena, weights=weights)
    with pytest.raises(DeviceError) as err:
        fw.make(model, tmp_path / "b")
    msg = str(err.value)
    assert "does not fit" in msg and f"region `{region}' overflowed by" in msg, msg


def test_a_board_is_its_description(tmp_path):
    """A second board folder that differs from the B-L475E-IOT01A only in its board.yaml (64 KB of
    SRAM1 instead of 96 KB, another name) builds through firmware.board / BOARD=, reports its own
    limits and name, and refuses an arena that fits the original board but not this one."""
    from tinykd.device import board as B

    firmware = tmp_path / "firmware"
    shutil.copytree(REPO / "firmware", firmware, ignore=shutil.ignore_patterns("build", "*.o"))
    small = firmware / "boards" / "small"
    shutil.copytree(firmware / "boards" / B.DEFAULT, small)
    text = (small / "board.yaml").read_text()
    assert "sram1_bytes: 98304\n" in text
    assert "name: B-L475E-IOT01A\n" in text
    (small / "board.yaml").write_text(text.replace("sram1_bytes: 98304\n", "sram1_bytes: 65536\n")
                                      .replace("name: B-L475E-IOT01A\n", "name: Small-L475\n"))
    assert B.names(firmware) == sorted([B.DEFAULT, "small"])
    assert B.load("small", firmware).limits()["sram1"] == 65536
    fw.check_options(115200, "tinykd", "small", firmware)
    with pytest.raises(ParamError, match="firmware.board = 'tiny' .*b_l475e_iot01a | small"):
        fw.check_options(115200, "tinykd", "tiny", firmware)

    elf = fw.make(stand_in_model(tmp_path / "fits"), tmp_path / "b_small", firmware_dir=firmware, board="small")
    rep = fw.memory_report(elf, "small", firmware)
    assert rep["board"] == "small" and rep["sram1_limit"] == 65536 and rep["flash_limit"] == 1 << 20
    assert b" board Small-L475 model " in elf.read_bytes()  # the banner's BOARD_NAME is board.yaml's

    over = stand_in_model(tmp_path / "over", arena=80_000)  # 80,000 B: < 96 KB, > 64 KB
    fw.make(over, tmp_path / "b_default", firmware_dir=firmware)
    with pytest.raises(DeviceError) as err:
        fw.make(over, tmp_path / "b_over", firmware_dir=firmware, board="small")
    msg = str(err.value)
    assert "does not fit small (flash 1048576 B, SRAM1 65536 B" in msg and "region `SRAM1' overflowed by" in msg, msg


def test_bad_options_and_missing_model(tmp_path):
    with pytest.raises(ParamError, match="firmware.protocol"):
        fw.check_options(115200, "modbus")
    with pytest.raises(ParamError, match="firmware.baud"):
        fw.check_options("fast", "tinykd")
    with pytest.raises(DeviceError, match="not an exported model"):
        fw.make(tmp_path / "nowhere", tmp_path / "b")
    proc = subprocess.run(["make", "-s", "-C", str(REPO / "firmware"), f"MODEL_DIR={tmp_path}",
                           f"BUILD_DIR={tmp_path / 'b'}"], capture_output=True, text=True)
    assert proc.returncode != 0 and "has no sources.txt" in proc.stderr


def test_hardware_backend_without_its_tool_is_one_clear_error(tmp_path, monkeypatch):
    model = stand_in_model(tmp_path / "model")
    fw.make(model, tmp_path / "fw")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    for backend, tool in (("stlink", "st-info"), ("openocd", "openocd"), ("pyocd", "pyocd")):
        with pytest.raises(DeviceError, match=f"needs {tool}, which is not on PATH"):
            flash(backend, tmp_path / "fw", tmp_path, "ab" * 32)
    with pytest.raises(ParamError, match="device.backend"):
        flash("jtag", tmp_path / "fw", tmp_path, "ab" * 32)


def _functions(elf: Path) -> dict[str, bytes]:
    """Function name -> its machine code, from the ELF's symbol table and .text."""
    nm = subprocess.run(["arm-none-eabi-nm", "-S", "--defined-only", str(elf)], capture_output=True, text=True,
                        check=True).stdout
    text = subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "--only-section=.text", str(elf), "/dev/stdout"],
                          capture_output=True, check=True).stdout
    head = subprocess.run(["arm-none-eabi-objdump", "-h", str(elf)], capture_output=True, text=True, check=True).stdout
    base = next(int(ln.split()[3], 16) for ln in head.splitlines() if ln.split()[1:2] == [".text"])
    out = {}
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            addr, size = int(parts[0], 16) & ~1, int(parts[1], 16)
            out[parts[3]] = text[addr - base:addr - base + size]
    return out


def test_semihost_flavour_shares_the_uart_image_code_and_only_it_semihosts(tmp_path):
    """tinykd-semihost.elf (QEMU bulk evaluation) is linked from the UART image's objects with
    another front-end: every function both images have is the same size, the inference path
    byte for byte identical where it does not call out; and only the semihost image holds the
    `bkpt 0xAB` that would halt a board without a debugger."""
    model = stand_in_model(tmp_path / "model")
    elf = fw.make(model, tmp_path / "b", baud=115200)
    semi = tmp_path / "b" / "tinykd-semihost.elf"
    assert semi.is_file() and (tmp_path / "b" / "tinykd-semihost.map").is_file()
    uart_fns, semi_fns = _functions(elf), _functions(semi)
    shared = set(uart_fns) & set(semi_fns)
    assert {"tinykd_model_invoke", "inference_run", "board_ticks", "board_measure_begin", "board_init"} <= shared
    assert all(len(uart_fns[f]) == len(semi_fns[f]) for f in shared - {"frontend_run"}), \
        [f for f in shared if len(uart_fns[f]) != len(semi_fns[f])]

    def dis(elf_path):
        return subprocess.run(["arm-none-eabi-objdump", "-d", str(elf_path)], capture_output=True, text=True,
                              check=True).stdout

    assert "bkpt\t0x00ab" not in dis(elf)
    assert "bkpt\t0x00ab" in dis(semi)
    # the mlperf front-end gets no semihost flavour
    fw.make(model, tmp_path / "m", protocol="mlperf")
    assert not (tmp_path / "m" / "tinykd-semihost.elf").exists()
