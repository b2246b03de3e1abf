"""MLPerf Tiny ic01 mode: the DUT text protocol (firmware/app/mlperf_*.c) and tinykd's runner.

Host tests build the protocol with the host C compiler - as a ctypes library for the number
formatting and the pixel mapping, and as a stdin/stdout DUT (tests/c/mlperf_host_dut.c) around a
fake model - and drive it with the protocol's exact strings. The slow tests build the real
firmware (PROTOCOL=mlperf) around an exported int8 CIFAR-shaped model, run it on QEMU's
B-L475E-IOT01A and compare every m-results vector with the host int8 reference.
"""
from __future__ import annotations

import ctypes
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinykd.data.scaling import DEFAULT, InputScaling, quantize_pixels
from tinykd.errors import DataError, DeviceError
from tinykd.mlperf import reference, runner
from tinykd.mlperf.client import Device
from tinykd.mlperf.datasets import Sample, load_samples

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "firmware" / "app"
FAKE = REPO / "tests" / "c" / "mlperf_fake_model"
CC = os.environ.get("CC", "cc")
CFLAGS = ["-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic"]
FIRMWARE_STRING = "ULPMark for tinyML Firmware V0.0.1"


# ---- host builds -------------------------------------------------------------------------

def _compile(out: Path, sources: list[Path], includes: list[Path], extra: list[str] = ()) -> Path:
    cmd = [CC, *CFLAGS, *extra, *[f"-I{i}" for i in includes], *map(str, sources), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


@pytest.fixture(scope="module")
def clib(tmp_path_factory):
    so = _compile(tmp_path_factory.mktemp("mlperf_lib") / "libmlperf.so",
                  [APP / "mlperf_protocol.c", APP / "mlperf_input.c"], [APP], ["-shared", "-fPIC"])
    lib = ctypes.CDLL(str(so))
    lib.mlperf_format_fixed3.argtypes = [ctypes.c_float, ctypes.c_char_p]
    lib.mlperf_format_fixed3.restype = ctypes.c_size_t
    lib.mlperf_input_table.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float),
                                       ctypes.c_size_t, ctypes.c_float, ctypes.c_int32,
                                       ctypes.POINTER(ctypes.c_int8)]
    lib.mlperf_input_apply.argtypes = [ctypes.POINTER(ctypes.c_int8), ctypes.c_size_t,
                                       ctypes.POINTER(ctypes.c_uint8), ctypes.POINTER(ctypes.c_int8), ctypes.c_size_t]
    lib.mlperf_input_table.restype = ctypes.c_int
    return lib


@pytest.fixture(scope="module")
def host_dut(tmp_path_factory):
    """The DUT program around the fake model (output[k] = sum of input[i], i % 10 == k, / 64)."""
    return _compile(tmp_path_factory.mktemp("mlperf_dut") / "dut",
                    [REPO / "tests/c/mlperf_host_dut.c", APP / "mlperf_protocol.c",
                     APP / "mlperf_input.c", APP / "mlperf_model.c", FAKE / "model.c"],
                    [APP, FAKE])


class PipePort:
    """The pyserial calls Device uses (write, read with a timeout) over a child's stdin/stdout."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.chunks: queue.Queue[bytes] = queue.Queue()
        self.pending = b""
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        while True:
            data = os.read(self.proc.stdout.fileno(), 4096)
            if not data:
                return
            self.chunks.put(data)

    def write(self, data: bytes) -> None:
        self.proc.stdin.write(data)

    def read(self, n: int) -> bytes:
        if not self.pending:
            try:
                self.pending = self.chunks.get(timeout=0.05)
            except queue.Empty:
                return b""
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(5)


@pytest.fixture
def dut(host_dut):
    port = PipePort([str(host_dut)])
    dev = Device(port, timeout_s=5.0)
    yield dev
    port.close()


def fake_model(pixels: bytes) -> list[int]:
    x = np.frombuffer(pixels, dtype=np.uint8).astype(np.int64) - 128   # scale 1/255, zp -128
    acc = [int(x[k::10].sum()) for k in range(10)]
    return [max(-128, min(127, int(a / 64))) for a in acc]            # C division truncates


def fake_results(pixels: bytes) -> str:
    return ",".join(reference.format_results(fake_model(pixels), 0.00390625, -128))


def image(seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, 3072, dtype=np.uint8).tobytes()


def exchange(dev: Device, command: str) -> list[str]:
    """Every line the device sends for `command`, m-ready included."""
    return dev.command(command) + ["m-ready"]


def load_like_eembc(dev: Device, data: bytes) -> list[str]:
    """The reference runners' load: 'db load N', then 31-byte 'db' chunks."""
    replies = exchange(dev, f"db load {len(data)}")
    for i in range(0, len(data), 31):
        replies += exchange(dev, "db " + data[i:i + 31].hex())
    return replies


# ---- number formatting and pixel mapping ----------------------------------------------------

def _fmt(clib, v: float) -> str:
    buf = ctypes.create_string_buffer(64)
    n = clib.mlperf_format_fixed3(v, buf)
    assert n == len(buf.value)
    return buf.value.decode()


@pytest.mark.parametrize("v", [0.0, -0.0, 0.0625, 0.1875, 0.0005, 0.0015, 0.0025, 1 / 256, 0.9960938,
                               -0.0001, -1.2345, 123.4565, 1e-30, 3.4e38, 16777217.0, 1e20, 0.5,
                               float("inf"), float("-inf")])
def test_fixed3_matches_printf_on_ties_and_extremes(clib, v):
    expected = "%.3f" % float(np.float32(v))
    assert _fmt(clib, v) == expected


def test_fixed3_nan(clib):
    assert _fmt(clib, float("nan")) == "nan"


@settings(max_examples=1000, deadline=None)
@given(st.floats(width=32, allow_nan=False))
def test_fixed3_matches_printf(clib, v):
    assert _fmt(clib, v) == "%.3f" % v


@settings(max_examples=400, deadline=None)
@given(st.integers(-128, 127), st.integers(-128, 127))
def test_dequantized_outputs_format_like_the_reference(clib, q, zp):
    scale = np.float32(0.00390625) if zp == -128 else np.float32(0.1372549)
    v = reference.dequantize([q], scale, zp)[0]
    assert _fmt(clib, float(v)) == reference.format_value(v)


def _c_table(clib, scaling, scale, zp):
    """The firmware's tables (mlperf_input_table, host-compiled) for an InputScaling."""
    mean, std = scaling.per_channel()
    n = len(mean)
    table = (ctypes.c_int8 * (256 * n))()
    kind = clib.mlperf_input_table((ctypes.c_float * n)(*mean), (ctypes.c_float * n)(*std), n,
                                   float(scale), zp, table)
    return np.array(table, dtype=np.int8).reshape(n, 256), kind


CIFAR_MEAN_STD = InputScaling((125.307, 122.961, 113.8575), (62.9932, 62.0887, 66.7049))


@pytest.mark.parametrize("scaling,scale,zp,mapping", [
    (DEFAULT, np.float32(1.0) / np.float32(255.0), -128, "subtract-128"),  # [0,1] inputs
    (DEFAULT, 0.00392156886, -128, "subtract-128"),                        # model.h's literal
    (InputScaling((0.0,), (1.0,)), 1.0, -128, "subtract-128"),             # raw-pixel model
    (DEFAULT, 0.0078125, 0, "quantize"),
    (InputScaling((127.5,), (127.5,)), 0.00784313772, -1, "quantize"),     # [-1, 1] inputs
    (DEFAULT, 1e-7, 3, "quantize"),                                        # saturates
    (CIFAR_MEAN_STD, 0.0157116, 6, "quantize"),                            # per-channel mean/std
    (InputScaling((0.0,), (58.395, 57.12, 57.375)), 0.0175, -128, "quantize"),   # per-channel std only
])
def test_input_table_host_and_device_agree(clib, scaling, scale, zp, mapping):
    """The firmware's per-channel tables hold, entry for entry, what the host's input
    quantization (tinykd.data.scaling.quantize_pixels) gives each pixel value."""
    table, kind = _c_table(clib, scaling, scale, zp)
    expected = reference.input_table(scale, zp, scaling)
    assert table.tolist() == expected.tolist()
    assert kind == (0 if mapping == "subtract-128" else 1)
    assert reference.input_mapping(scale, zp, scaling) == mapping
    if mapping == "subtract-128":
        assert expected.tolist() == [[p - 128 for p in range(256)]]


_means = st.floats(-300, 300)
_stds = st.floats(0.01, 400)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_means, _stds), min_size=1, max_size=4),
       st.floats(1e-4, 4.0), st.integers(-128, 127))
def test_input_table_matches_the_host_for_any_scaling(clib, channels, scale, zp):
    scaling = InputScaling(tuple(m for m, _ in channels), tuple(s for _, s in channels))
    table, _ = _c_table(clib, scaling, scale, zp)
    assert table.tolist() == reference.input_table(scale, zp, scaling).tolist()


def test_input_table_hash_host_and_device_agree(clib):
    clib.mlperf_input_table_hash.argtypes = [ctypes.POINTER(ctypes.c_int8), ctypes.c_size_t]
    clib.mlperf_input_table_hash.restype = ctypes.c_uint32
    hashes = set()
    for scaling, scale, zp in ((DEFAULT, 1 / 255, -128), (CIFAR_MEAN_STD, 0.0157116, 6),
                               (CIFAR_MEAN_STD, 0.0157116, 7)):
        table, _ = _c_table(clib, scaling, scale, zp)
        c = clib.mlperf_input_table_hash(table.ctypes.data_as(ctypes.POINTER(ctypes.c_int8)), len(table))
        assert f"{c:08x}" == reference.table_hash(reference.input_table(scale, zp, scaling))
        hashes.add(c)
    assert len(hashes) == 3


def test_input_apply_indexes_channel_last(clib):
    """An image through the C tables equals the host's quantization of the whole image."""
    img = np.random.default_rng(4).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    table, _ = _c_table(clib, CIFAR_MEAN_STD, 0.0157116, 6)
    px = np.ascontiguousarray(img.reshape(-1))
    out = (ctypes.c_int8 * px.size)()
    clib.mlperf_input_apply(table.ctypes.data_as(ctypes.POINTER(ctypes.c_int8)), 3,
                            px.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), out, px.size)
    assert list(out) == quantize_pixels(img, 0.0157116, 6, CIFAR_MEAN_STD).reshape(-1).tolist()


# ---- the protocol, exact strings -----------------------------------------------------------

def test_boot_name_profile_help(dut):
    boot = [dut.read_line(time.monotonic() + 5) for _ in range(2)]
    assert boot == ["m-init-done", "m-ready"]
    assert exchange(dut, "name") == ["m-name-dut-[tinykd host]", "m-ready"]
    assert exchange(dut, "profile") == [f"m-profile-[{FIRMWARE_STRING}]", "m-model-[ic01]", "m-ready"]
    help_lines = exchange(dut, "help")
    assert help_lines[0] == FIRMWARE_STRING and help_lines[-1] == "m-ready"
    assert any(line.startswith("infer N [W]") for line in help_lines)
    assert exchange(dut, "info") == [
        "m-info-[model-sha256=" + "0" * 64 + ",input=subtract-128,timer=virtual]", "m-ready"]
    assert exchange(dut, "") == ["m-ready"]       # a lone '%' (runners flush with it)


def test_load_and_infer_exact_sequence(dut):
    dut.drain(quiet_s=0.1)
    data = image(1)
    replies = load_like_eembc(dut, data)
    assert replies[:2] == ["m-[Expecting 3072 bytes]", "m-ready"]
    # 99 full chunks of 31 bytes answer m-ready only; the 100th (3 bytes) completes the load.
    assert replies[2:-2] == ["m-ready"] * 99
    assert replies[-2:] == ["m-load-done", "m-ready"]
    printed = dut.command("db print")
    assert len(printed) == 3072 // 8 and printed[0] == "m-buffer-" + "-".join(f"{b:02x}" for b in data[:8])

    lines = exchange(dut, "infer 20 5")
    assert lines[:3] == ["m-warmup-start-5", "m-warmup-done", "m-infer-start-20"]
    assert lines[3].startswith("m-lap-us-") and lines[4].startswith("m-lap-us-")
    t0, t1 = int(lines[3][9:]), int(lines[4][9:])
    assert t1 - t0 == 20 * 1500 + 21          # the host DUT's virtual clock: 1500 us per inference
    assert lines[5:] == ["m-infer-done", f"m-results-[{fake_results(data)}]", "m-ready"]
    assert exchange(dut, "results") == [f"m-results-[{fake_results(data)}]", "m-ready"]
    assert exchange(dut, "raw") == [f"m-raw-[{','.join(map(str, fake_model(data)))}]", "m-ready"]

    # `infer` alone is the reference monitor's `infer 1 10`.
    lines = exchange(dut, "infer")
    assert lines[:3] == ["m-warmup-start-10", "m-warmup-done", "m-infer-start-1"]
    # The same image loaded with bigger chunks (tinykd's runner) gives the same vector.
    dut.load(image(2))
    assert dut.infer(1, 0).results == fake_results(image(2)).split(",")


@pytest.mark.parametrize("command,error", [
    ("bogus", "e-[Unknown command: bogus]"),
    ("NAME", "e-[Unknown command: NAME]"),
    ("infer 0", "e-[infer: iterations must be 1..100000, got 0]"),
    ("infer x 1", "e-[infer: iterations must be 1..100000, got x]"),
    ("infer 1 -1", "e-[infer: warm-up iterations must be 0..100000, got -1]"),
    ("infer 1 2 3", "e-[infer: usage 'infer N [W]']"),
    ("infer 100001 0", "e-[infer: iterations must be 1..100000, got 100001]"),
    ("infer 99999999999999999999 0", "e-[infer: iterations must be 1..100000, got 99999999999999999999]"),
    ("db", "e-[Command 'db' requires a subcommand: load N, print or hex bytes]"),
    ("db load", "e-[Command 'db load' requires the number of bytes]"),
    ("db load 0", "e-[db load: byte count must be 1..3072, got '0']"),
    ("db load 3073", "e-[db load: byte count must be 1..3072, got '3073']"),
    ("db load 12x", "e-[db load: byte count must be 1..3072, got '12x']"),
    ("db load 4 5", "e-[Command 'db load' takes one argument, the number of bytes]"),
    ("db 0102", "e-[db: no buffer announced; send 'db load N' first]"),
    ("results", "e-[No results yet: run 'infer N W' first]"),
    ("infer 1 0", "e-[infer: 0 bytes loaded, the model needs 3072; send 'db load N' and the data first]"),
])
def test_malformed_commands_get_one_error_line_and_the_device_stays_usable(dut, command, error):
    dut.drain(quiet_s=0.1)
    assert exchange(dut, command) == [error, "m-ready"]
    assert exchange(dut, "name") == ["m-name-dut-[tinykd host]", "m-ready"]


def test_bad_db_data_and_data_beyond_the_announced_length(dut):
    dut.drain(quiet_s=0.1)
    assert exchange(dut, "db load 4") == ["m-[Expecting 4 bytes]", "m-ready"]
    assert exchange(dut, "db 0g") == ["e-[db: invalid hex digit g]", "m-ready"]
    assert exchange(dut, "db 012") == ["e-[db: 3 hex digits; two per byte expected]", "m-ready"]
    assert exchange(dut, "db 01 02") == ["e-[db: hex data must be one word without spaces]", "m-ready"]
    assert exchange(dut, "db 0102") == ["m-ready"]
    assert exchange(dut, "db 030405") == [
        "e-[db: 3 bytes exceed the announced length: 2 of 4 bytes remain; chunk ignored]", "m-ready"]
    assert exchange(dut, "db 0304") == ["m-load-done", "m-ready"]
    assert exchange(dut, "db 05") == [
        "e-[db: buffer already full (4 bytes); send 'db load N' to start a new one]", "m-ready"]
    assert exchange(dut, "db print") == ["m-buffer-01-02-03-04", "m-ready"]
    # A full image still loads and infers afterwards.
    data = image(3)
    assert load_like_eembc(dut, data)[-2:] == ["m-load-done", "m-ready"]
    assert dut.infer(2, 1).results == fake_results(data).split(",")


def test_over_long_lines_are_refused_whole(dut):
    dut.drain(quiet_s=0.1)
    assert exchange(dut, "x" * 255) == ["e-[Unknown command: " + "x" * 255 + "]", "m-ready"]
    assert exchange(dut, "db " + "ab" * 150) == [
        "e-[Command too long: 303 characters, at most 255 allowed; ignored]", "m-ready"]
    assert exchange(dut, "n" * 5000) == [
        "e-[Command too long: 5000 characters, at most 255 allowed; ignored]", "m-ready"]
    # Nothing of the long line leaked into the next command; '\r\n' between commands is ignored.
    dut.port.write(b"\r\nname\r\n%")
    lines = []
    while (line := dut.read_line(time.monotonic() + 5)) != "m-ready":
        lines.append(line)
    assert lines == ["m-name-dut-[tinykd host]"]


def test_device_client_errors_are_clear(dut):
    dut.sync()
    with pytest.raises(DeviceError, match=r"refused 'infer 1 0': e-\[infer: 0 bytes loaded"):
        dut.infer(1, 0)
    silent = PipePort(["sleep", "3"])   # a port with nothing behind it
    try:
        with pytest.raises(DeviceError, match="no m-ready from the device within 0.2 s after 'name%'"):
            Device(silent).command("name", 0.2)
        with pytest.raises(DeviceError, match="does not answer the MLPerf 'name' command"):
            Device(silent).sync(attempts=1, timeout_s=0.1)
    finally:
        silent.proc.kill()
        silent.proc.wait()


# ---- runner and datasets -------------------------------------------------------------------

def test_sync_survives_a_partial_command_and_boot_lines(dut):
    dut.port.write(b"db lo")                  # a fragment, as if the host started mid-command
    assert dut.sync() == "tinykd host"
    assert dut.profile() == (FIRMWARE_STRING, "ic01")
    assert dut.info()["input"] == "subtract-128"


def test_performance_mode_median_throughput(dut):
    samples = [Sample(f"img{i}", image(10 + i), i % 10) for i in range(3)]
    device = runner.describe(dut)
    result = runner.run_performance(dut, samples, windows=5, iterations=20, warmups=5)
    assert [w["sample"] for w in result["windows"]] == ["img0", "img1", "img2", "img0", "img1"]
    for w in result["windows"]:
        assert w["elapsed_us"] == 20 * 1500 + 21
        assert w["results"] == fake_results(samples[int(w["sample"][3:])].pixels).split(",")
    assert result["median_throughput_inf_per_s"] == round(20 / (30021 / 1e6), 4)
    result.update(device=device, clock=runner.clock_description(True, device["info"]), dataset="x")
    text = runner.summary_text(result)
    assert "Median throughput: 666.200 inf./s" in text and "QEMU virtual time" in text


def test_accuracy_mode_top1_and_files(dut, tmp_path):
    samples = [Sample(f"img{i}", image(20 + i), None) for i in range(6)]
    labels = [int(np.argmax(fake_model(s.pixels))) for s in samples]
    samples = [Sample(s.name, s.pixels, label if i % 2 == 0 else (label + 1) % 10)
               for i, (s, label) in enumerate(zip(samples, labels))]
    device = runner.describe(dut)
    result = runner.run_accuracy(dut, samples)
    assert (result["correct"], result["labelled"], result["top1"]) == (3, 6, 0.5)
    assert [r["predicted"] for r in result["images"]] == labels
    result.update(device=device, clock=runner.clock_description(False, device["info"]), dataset="x")
    runner.write_results(tmp_path / "acc", result, dut.log)
    saved = json.loads((tmp_path / "acc" / "results.json").read_text())
    assert saved["top1"] == 0.5 and saved["device"]["profile"] == FIRMWARE_STRING
    assert "Top-1 accuracy: 50.00 % (3 of 6 images)" in (tmp_path / "acc" / "results.txt").read_text()
    assert "> infer 1 0%" in (tmp_path / "acc" / "log.txt").read_text()


def test_datasets_ic01_npz_and_image_folder(tmp_path):
    from PIL import Image

    imgs = [image(30 + i) for i in range(4)]
    ic01 = tmp_path / "ic01"
    ic01.mkdir()
    for i, b in enumerate(imgs):
        (ic01 / f"im_{i}.bin").write_bytes(b)
    (ic01 / "y_labels.csv").write_text("".join(f"im_{i}.bin,10,{i + 3}\n" for i in range(4)))
    got = load_samples(ic01, limit=3)
    assert [(s.name, s.pixels, s.label) for s in got] == [(f"im_{i}.bin", imgs[i], i + 3) for i in range(3)]

    x = np.stack([np.frombuffer(b, np.uint8).reshape(32, 32, 3) for b in imgs])
    np.savez(tmp_path / "test.npz", x=x, y=np.arange(4))
    got = load_samples(tmp_path / "test.npz")
    assert [s.pixels for s in got] == imgs and [s.label for s in got] == [0, 1, 2, 3]

    for c, b in zip(["cat", "dog"], imgs):
        (tmp_path / "folder" / c).mkdir(parents=True)
        Image.fromarray(np.frombuffer(b, np.uint8).reshape(32, 32, 3)).save(tmp_path / "folder" / c / "a.png")
    got = load_samples(tmp_path / "folder")
    assert [(s.name, s.pixels, s.label) for s in got] == [("cat/a.png", imgs[0], 0), ("dog/a.png", imgs[1], 1)]
    (tmp_path / "split" / "train").mkdir(parents=True)
    shutil.copytree(tmp_path / "folder", tmp_path / "split" / "test")
    got = load_samples(tmp_path / "split", limit=1)
    assert [(s.name, s.pixels, s.label) for s in got] == [("cat/a.png", imgs[0], 0)]


def test_ic01_folder_round_trip_through_the_cli(tmp_path, capsys):
    from tinykd.cli import main

    x = np.stack([np.frombuffer(image(60 + i), np.uint8).reshape(32, 32, 3) for i in range(5)])
    np.savez(tmp_path / "test.npz", x=x, y=np.array([3, 1, 4, 1, 5]))
    assert main(["mlperf", "dataset", "--dataset", str(tmp_path / "test.npz"), "--limit", "4",
                 "--out", str(tmp_path / "ic01")]) == 0
    assert "wrote 4 images" in capsys.readouterr().out
    back = load_samples(tmp_path / "ic01")
    assert [(s.pixels, s.label) for s in back] == [(x[i].tobytes(), want) for i, want in enumerate([3, 1, 4, 1])]
    assert (tmp_path / "ic01" / "y_labels.csv").read_text().splitlines()[0] == "img_00000_c3.bin,10,3"
    assert main(["mlperf", "performance", "--dataset", str(tmp_path / "test.npz")]) == 1
    assert "--port/--elf = None is not allowed" in capsys.readouterr().err


def test_datasets_bad_input_is_named(tmp_path):
    (tmp_path / "ic01").mkdir()
    (tmp_path / "ic01" / "a.bin").write_bytes(b"\0" * 100)
    (tmp_path / "ic01" / "y_labels.csv").write_text("a.bin,10,1\n")
    with pytest.raises(DataError, match=r"a.bin: 100 bytes; an ic01 image is 3072"):
        load_samples(tmp_path / "ic01")
    np.savez(tmp_path / "gray.npz", x=np.zeros((2, 28, 28, 1), np.uint8))
    with pytest.raises(DataError, match=r"expected uint8 \(N, 32, 32, 3\)"):
        load_samples(tmp_path / "gray.npz")
    with pytest.raises(DataError, match="does not exist"):
        load_samples(tmp_path / "nope")


def test_cli_rejects_bad_arguments(capsys, tmp_path):
    from tinykd.cli import main

    assert main(["mlperf", "performance", "--port", "loop://", "--windows", "0"]) == 1
    assert "--windows = 0 is not allowed" in capsys.readouterr().err
    assert main(["mlperf", "accuracy", "--port", "loop://", "--dataset", str(tmp_path / "none")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["mlperf", "accuracy", "--port", "loop://", "--limit", "-1"]) == 1
    assert "--limit = -1 is not allowed" in capsys.readouterr().err


# ---- slow: the real firmware on QEMU --------------------------------------------------------

def _tiny_ic01_tflite(path: Path, scaling=None) -> Path:
    """A CIFAR-shaped (32x32x3 -> 10) Keras model with seeded random weights, full int8.

    Its residual ADD is where LiteRT's default XNNPACK kernels round differently from TFLite
    Micro; the host reference must use the reference kernels (see tinykd.mlperf.reference)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from tinykd.quantize import convert_int8

    keras.utils.set_random_seed(1234)
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    y = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.ReLU()(keras.layers.Add()([x, y]))   # a residual ADD, as in ResNet-8
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(10)(x)
    model = keras.Model(inp, keras.layers.Softmax()(x), name="tiny_ic01")
    calibration = np.random.default_rng(5).integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
    path.write_bytes(convert_int8(model, calibration, scaling))
    return path


@pytest.fixture(scope="module")
def ic01_build(tmp_path_factory):
    """The tiny model exported (tinykd export) and built into PROTOCOL=mlperf firmware."""
    if not shutil.which("arm-none-eabi-gcc") or not shutil.which("qemu-system-arm"):
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm (scripts/setup-system.sh)")
    from tinykd.cli import main

    work = tmp_path_factory.mktemp("mlperf_fw")
    tflite = _tiny_ic01_tflite(work / "tiny.tflite")
    assert main(["export", str(tflite), str(work / "model")]) == 0
    # What the build stage runs for `firmware.protocol: mlperf`.
    from tinykd.device import firmware

    elf = firmware.make(work / "model", work / "fw", baud=115200, protocol="mlperf")
    return {"tflite": tflite, "model": work / "model", "elf": elf, "work": work}


@pytest.mark.slow
def test_host_build_of_the_exported_model_matches_the_reference(ic01_build):
    """The same protocol and glue around the exported C model, on the host: many images fast."""
    model = ic01_build["model"]
    entries = (model / "sources.txt").read_text().split()
    sources = [REPO / e if not Path(e).is_absolute() else Path(e) for e in entries if e.endswith(".c")]
    includes = [REPO / e[2:] for e in entries if e.startswith("-I")]
    exe = _compile(ic01_build["work"] / "host_dut",
                   [REPO / "tests/c/mlperf_host_dut.c", APP / "mlperf_protocol.c",
                    APP / "mlperf_input.c", APP / "mlperf_model.c", *sources],
                   [APP, model, *includes], ["-lm"])
    ref = reference.HostReference(ic01_build["tflite"])
    from tflite_micro.python.tflite_micro import runtime

    tflm = runtime.Interpreter.from_bytes(ic01_build["tflite"].read_bytes())
    for seed in range(100, 105):        # the host reference is TFLite Micro's answer too
        x = quantize_pixels(np.frombuffer(image(seed), np.uint8).reshape(1, 32, 32, 3), ref.input_scale,
                            ref.input_zero_point)
        tflm.set_input(x, 0)
        tflm.invoke()
        assert tflm.get_output(0).reshape(-1).tolist() == ref.raw(image(seed)).tolist()
    port = PipePort([str(exe)])
    try:
        dev = Device(port)
        dev.sync()
        assert dev.info()["input"] == ref.mapping == "subtract-128"
        for seed in range(40):
            px = image(100 + seed)
            dev.load(px)
            assert dev.infer(1, 0).results == ref.results(px), f"image seed {100 + seed}"
            assert dev.raw() == ref.raw(px).tolist()
    finally:
        port.close()


@pytest.mark.slow
def test_qemu_board_speaks_the_protocol_exactly(ic01_build):
    import serial

    from tinykd.mlperf.cli import qemu_board

    ref = reference.HostReference(ic01_build["tflite"])
    sha = ic01_build["model"].joinpath("model.h").read_text().split('TINYKD_MODEL_SHA256 "')[1][:64]
    with qemu_board(ic01_build["elf"]) as board:
        link = serial.serial_for_url(board.url, timeout=0.05)
        dev = Device(link, timeout_s=20)
        try:
            # wait=on: the board boots once we are connected, so its boot lines are ours.
            assert [dev.read_line(time.monotonic() + 20) for _ in range(2)] == ["m-init-done", "m-ready"]
            from tinykd.device.board import load as load_board

            name = f"tinykd-fw 0.1.0 on {load_board().name}"   # board.yaml's name
            assert exchange(dev, "name") == [f"m-name-dut-[{name}]", "m-ready"]
            assert exchange(dev, "profile") == [f"m-profile-[{FIRMWARE_STRING}]", "m-model-[ic01]", "m-ready"]
            assert exchange(dev, "info") == [
                f"m-info-[model-sha256={sha},input=subtract-128,input-table={ref.table_hash},timer=systick]",
                "m-ready"]
            # Faults: one error line each, then m-ready, and the device carries on.
            assert exchange(dev, "inference 1") == ["e-[Unknown command: inference]", "m-ready"]
            assert exchange(dev, "infer 0 0") == ["e-[infer: iterations must be 1..100000, got 0]", "m-ready"]
            assert exchange(dev, "infer 1 0") == [
                "e-[infer: 0 bytes loaded, the model needs 3072; send 'db load N' and the data first]", "m-ready"]
            assert exchange(dev, "db load 5000") == ["e-[db load: byte count must be 1..3072, got '5000']", "m-ready"]
            assert exchange(dev, "db " + "5a" * 200) == [
                "e-[Command too long: 403 characters, at most 255 allowed; ignored]", "m-ready"]
            assert exchange(dev, "db load 2") == ["m-[Expecting 2 bytes]", "m-ready"]
            assert exchange(dev, "db 0a0b0c") == [
                "e-[db: 3 bytes exceed the announced length: 2 of 2 bytes remain; chunk ignored]", "m-ready"]
            assert exchange(dev, "db 0a0b") == ["m-load-done", "m-ready"]
            assert exchange(dev, "db 0c") == [
                "e-[db: buffer already full (2 bytes); send 'db load N' to start a new one]", "m-ready"]

            for seed in (7, 8):
                px = image(seed)
                replies = load_like_eembc(dev, px)
                assert replies[:2] == ["m-[Expecting 3072 bytes]", "m-ready"]
                assert replies[-2:] == ["m-load-done", "m-ready"]
                lines = exchange(dev, "infer 20 5")
                assert lines[:3] == ["m-warmup-start-5", "m-warmup-done", "m-infer-start-20"]
                assert [line[:9] for line in lines[3:5]] == ["m-lap-us-", "m-lap-us-"]
                elapsed = int(lines[4][9:]) - int(lines[3][9:])
                assert 0 < elapsed < 20 * 100_000
                assert lines[5:] == ["m-infer-done", f"m-results-[{','.join(ref.results(px))}]", "m-ready"]
                assert exchange(dev, "raw") == [f"m-raw-[{','.join(map(str, ref.raw(px).tolist()))}]", "m-ready"]
            assert dev.sync() == name
        finally:
            link.close()


@pytest.mark.slow
def test_tinykd_mlperf_on_the_qemu_board(ic01_build, tmp_path, capsys):
    from tinykd.cli import main

    x = np.stack([np.frombuffer(image(50 + i), np.uint8).reshape(32, 32, 3) for i in range(4)])
    ref = reference.HostReference(ic01_build["tflite"])
    labels = [int(np.argmax(ref.raw(img.tobytes()))) for img in x]
    labels[1] = (labels[1] + 1) % 10
    np.savez(tmp_path / "test.npz", x=x, y=np.array(labels))
    elf = str(ic01_build["elf"])

    assert main(["mlperf", "accuracy", "--elf", elf, "--dataset", str(tmp_path / "test.npz"),
                 "--tflite", str(ic01_build["tflite"]), "--out", str(tmp_path / "acc"), "--quiet"]) == 0
    acc = json.loads((tmp_path / "acc" / "results.json").read_text())
    assert (acc["correct"], acc["labelled"], acc["top1"]) == (3, 4, 0.75)
    assert acc["reference"] == {"results_equal": 4, "results_agreement": 1.0, "raw_checked": 4, "raw_equal": 4}
    assert acc["clock"]["source"] == "qemu-icount"

    assert main(["mlperf", "performance", "--elf", elf, "--dataset", str(tmp_path / "test.npz"),
                 "--out", str(tmp_path / "perf"), "--quiet"]) == 0
    out = capsys.readouterr().out
    perf = json.loads((tmp_path / "perf" / "results.json").read_text())
    assert [(w["iterations"], w["warmups"]) for w in perf["windows"]] == [(20, 5)] * 5
    throughputs = sorted(w["throughput_inf_per_s"] for w in perf["windows"])
    assert perf["median_throughput_inf_per_s"] == throughputs[2] > 0
    assert "QEMU virtual time" in out and "-icount shift=0" in out
    assert "Median throughput:" in (tmp_path / "perf" / "results.txt").read_text()
    assert "> infer 20 5%" in (tmp_path / "perf" / "log.txt").read_text()

    other = tmp_path / "other.tflite"                  # a different file: another sha256
    other.write_bytes(ic01_build["tflite"].read_bytes() + b"\0" * 16)
    assert main(["mlperf", "accuracy", "--elf", elf, "--dataset", str(tmp_path / "test.npz"),
                 "--tflite", str(other), "--out", str(tmp_path / "bad"), "--quiet"]) == 1
    assert "the board runs a different model" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.fixture(scope="module")
def sanitized_dut(tmp_path_factory):
    return _compile(tmp_path_factory.mktemp("mlperf_asan") / "dut",
                    [REPO / "tests/c/mlperf_host_dut.c", APP / "mlperf_protocol.c",
                     APP / "mlperf_input.c", APP / "mlperf_model.c", FAKE / "model.c"],
                    [APP, FAKE], ["-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"])


def test_random_input_never_wedges_the_parser(sanitized_dut):
    """Garbage of any length and content (under ASan/UBSan), then a '%': the next command works."""
    port = PipePort([str(sanitized_dut)])
    dev = Device(port, timeout_s=5)
    words = [b"db", b"load", b"infer", b"results", b"raw", b"name", b"3072", b"0", b"-1", b"ff",
             b" ", b"  ", b"%", b"\r\n", b"\x00", b"\xff", b"zz", b"99999999999", b"print"]

    marks = iter(range(10**6))

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.one_of(st.sampled_from(words), st.binary(max_size=40)), max_size=40),
           st.integers(0, 600))
    def check(pieces, pad):
        port.write(b"".join(pieces) + b"a" * pad + b"%")
        # Whatever the garbage caused is answered before this marker's error line.
        mark = f"marker{next(marks)}"
        dev.send(mark)
        while (line := dev.read_line(time.monotonic() + 5)) != f"e-[Unknown command: {mark}]":
            assert line is not None, "the DUT stopped answering"
        assert dev.read_line(time.monotonic() + 5) == "m-ready"
        assert exchange(dev, "name") == ["m-name-dut-[tinykd host]", "m-ready"]

    try:
        check()
        assert port.proc.poll() is None, "the DUT died"
    finally:
        port.close()
    assert port.proc.returncode == 0


@pytest.mark.slow
def test_build_stage_with_firmware_protocol_mlperf(ic01_build, tmp_path, tool_env):
    """`firmware.protocol: mlperf` in params.yaml makes the build stage link the MLPerf front-end."""
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["firmware"]["protocol"] = "mlperf"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = subprocess.run([str(Path(tool_env["PATH"].split(os.pathsep)[0]) / "python"), "stages/build.py",
                           "--params", str(tmp_path / "params.yaml"), "--model-dir", str(ic01_build["model"]),
                           "--out", str(tmp_path / "fw"), "--metrics", str(tmp_path / "firmware.json")],
                          cwd=REPO, env=tool_env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "fw" / "build_info.json").read_text())["protocol"] == "mlperf"
    image = (tmp_path / "fw" / "tinykd.bin").read_bytes()
    assert FIRMWARE_STRING.encode() in image and b"m-results-[" in image


@pytest.mark.slow
def test_per_channel_student_input_on_the_qemu_board(tmp_path, tool_env, capsys):
    """A mean/std student (calibrated on its own scaling): the build stage passes student.input to
    the MLPerf firmware, whose per-channel tables make every m-results and raw vector on the QEMU
    board equal the host reference fed by the host's own input quantization."""
    if not shutil.which("arm-none-eabi-gcc") or not shutil.which("qemu-system-arm"):
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm (scripts/setup-system.sh)")
    import yaml

    from tinykd.cli import main

    tflite = _tiny_ic01_tflite(tmp_path / "tiny.tflite", CIFAR_MEAN_STD)
    assert main(["export", str(tflite), str(tmp_path / "model")]) == 0
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["firmware"]["protocol"] = "mlperf"
    params["student"]["input"] = CIFAR_MEAN_STD.as_dict()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = subprocess.run([str(Path(tool_env["PATH"].split(os.pathsep)[0]) / "python"), "stages/build.py",
                           "--params", str(tmp_path / "params.yaml"), "--model-dir", str(tmp_path / "model"),
                           "--out", str(tmp_path / "fw"), "--metrics", str(tmp_path / "firmware.json")],
                          cwd=REPO, env=tool_env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "fw" / "build_info.json").read_text())
    assert (info["input_mean"], info["input_std"]) == ("125.307,122.961,113.8575", "62.9932,62.0887,66.7049")

    ref = reference.HostReference(tflite, CIFAR_MEAN_STD)
    assert ref.mapping == "quantize" and ref.table.shape == (3, 256)
    x = np.stack([np.frombuffer(image(60 + i), np.uint8).reshape(32, 32, 3) for i in range(4)])
    np.savez(tmp_path / "test.npz", x=x, y=np.array([int(np.argmax(ref.raw(img.tobytes()))) for img in x]))
    # The three channels really are quantized differently (not one table for all).
    assert len({tuple(row) for row in ref.table.tolist()}) == 3
    elf = str(tmp_path / "fw" / "tinykd.elf")
    assert main(["mlperf", "accuracy", "--elf", elf, "--dataset", str(tmp_path / "test.npz"),
                 "--tflite", str(tflite), "--params", str(tmp_path / "params.yaml"),
                 "--out", str(tmp_path / "acc"), "--quiet"]) == 0
    acc = json.loads((tmp_path / "acc" / "results.json").read_text())
    assert acc["reference"] == {"results_equal": 4, "results_agreement": 1.0, "raw_checked": 4, "raw_equal": 4}
    assert acc["top1"] == 1.0 and acc["device"]["info"]["input"] == "quantize"
    assert acc["device"]["info"]["input-table"] == ref.table_hash

    # The same firmware against a pixels / 255 reference: refused in one line, nothing written.
    capsys.readouterr()
    assert main(["mlperf", "accuracy", "--elf", elf, "--dataset", str(tmp_path / "test.npz"),
                 "--tflite", str(tflite), "--params", str(tmp_path / "none.yaml"),
                 "--out", str(tmp_path / "bad"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert "the board's pixel tables" in err and "--params" in err and err.count("\n") == 0
    assert not (tmp_path / "bad").exists()

