"""The firmware on QEMU's B-L475E-IOT01A, end to end on a tiny model:
tinykd export → build → flash(qemu) → evaluate stages, device outputs bit-identical to the host
int8 reference on every image; protocol faults against the running device (bad CRC, garbage,
truncated frame, oversized length, unknown type, reset mid-run); the stale-firmware refusal;
device.port pointing at a QEMU started by someone else; per-layer profiling build."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
N_IMAGES = 24

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm (scripts/setup-system.sh)"),
]


def _tiny_tflite(path: Path, seed: int, side: int = 8) -> Path:
    """side x side x 3 (8 unless given) → 10 classes: conv, max-pool, conv, global average pool,
    dense, softmax; full int8."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from tinykd.quantize import convert_int8

    keras.utils.set_random_seed(seed)
    inp = keras.Input((side, side, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(10)(x)
    model = keras.Model(inp, keras.layers.Softmax()(x))
    calibration = np.random.default_rng(seed).integers(0, 256, (32, side, side, 3), dtype=np.uint8)
    path.write_bytes(convert_int8(model, calibration))
    return path


def _stage(name: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "stages" / f"{name}.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _params(path: Path, **device) -> Path:
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p["device"].update({"backend": "qemu", "port": "", "timeout_s": 5.0, "retries": 3, **device})
    p["evaluate"]["samples"] = "all"
    path.write_text(yaml.safe_dump(p, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def pipe(tmp_path_factory, tool_env):
    """Tiny model exported with `tinykd export`, test data, then the build and flash stages."""
    from tinykd.cli import main
    from tinykd.data.store import npz_bytes

    w = tmp_path_factory.mktemp("device")
    tflite = _tiny_tflite(w / "tiny_int8.tflite", seed=7)
    assert main(["export", str(tflite), str(w / "model")]) == 0
    rng = np.random.default_rng(3)
    (w / "data").mkdir()
    (w / "data" / "test.npz").write_bytes(npz_bytes({
        "x": rng.integers(0, 256, (N_IMAGES, 8, 8, 3), dtype=np.uint8),
        "y": rng.integers(0, 10, N_IMAGES).astype(np.int64)}))
    (w / "data" / "dataset.json").write_text(json.dumps({"classes": [f"c{i}" for i in range(10)]}))
    params = _params(w / "params.yaml")
    _ok(_stage("build", "--params", str(params), "--model-dir", str(w / "model"), "--out", str(w / "fw"),
               "--metrics", str(w / "metrics" / "firmware.json"), env=tool_env))
    _ok(_stage("flash", "--params", str(params), "--firmware", str(w / "fw"), "--out", str(w / "flash"),
               env=tool_env))
    return {"w": w, "tflite": tflite, "params": params, "model": w / "model"}


def _evaluate(pipe, params: Path, flash: Path, out: str, env: dict, model: Path | None = None):
    w = pipe["w"]
    return _stage("evaluate", "--params", str(params), "--flash", str(flash),
                  "--model-dir", str(model or pipe["model"]), "--tflite", str(pipe["tflite"]),
                  "--data", str(w / "data"), "--metrics", str(w / out / "device.json"),
                  "--plots", str(w / out / "plots"), env=env)


def test_pipeline_on_qemu_is_bit_exact_on_every_image(pipe, tool_env):
    w = pipe["w"]
    fwm = json.loads((w / "metrics" / "firmware.json").read_text())
    assert fwm["flash_used"] <= fwm["flash_limit"] and fwm["sram1_used"] <= fwm["sram1_limit"]
    assert fwm["model_sha256"] == json.loads((pipe["model"] / "model.json").read_text())["sha256"]
    record = json.loads((w / "flash" / "flash.json").read_text())
    assert record["backend"] == "qemu"
    assert (w / "flash" / "flash.elf").read_bytes() == (w / "fw" / "tinykd.elf").read_bytes()

    out = _ok(_evaluate(pipe, pipe["params"], w / "flash", "run1", tool_env))
    m = json.loads((w / "run1" / "device.json").read_text())
    assert m["samples"] == N_IMAGES
    assert m["bit_exact"] == 1.0 and m["bit_exact_images"] == N_IMAGES and m["top1_agreement"] == 1.0
    assert m["accuracy"] == m["host_accuracy"]
    assert m["latency_unit"] == "instructions" and m["timer"] == "systick" and m["emulated"] is True
    assert m["latency_instructions_median"] > 1000 and m["latency_instructions_p95"] >= m["latency_instructions_median"]
    assert m["model_sha256"] == fwm["model_sha256"] and m["firmware_sha256"] == record["image_sha256"]
    assert "bit-exact 1.0000" in out
    rows = (w / "run1" / "plots" / "per_image.csv").read_text().splitlines()
    assert len(rows) == N_IMAGES + 1 and all(r.split(",")[4] == "1" for r in rows[1:])
    conf = (w / "run1" / "plots" / "confusion.csv").read_text().splitlines()
    assert conf[0] == "actual,predicted" and len(conf) == N_IMAGES + 1 and conf[1].startswith("c")

    # The flash stage's record is deterministic.
    first = (w / "flash" / "flash.json").read_bytes()
    _ok(_stage("flash", "--params", str(pipe["params"]), "--firmware", str(w / "fw"), "--out",
               str(w / "flash"), env=tool_env))
    assert (w / "flash" / "flash.json").read_bytes() == first

    # device.port set: evaluate talks to a QEMU somebody else started, same results to the byte.
    from tinykd.device.qemu import QemuBoard

    with QemuBoard(w / "flash" / "flash.elf") as board:
        params = _params(w / "params_port.yaml", port=board.url)
        _ok(_evaluate(pipe, params, w / "flash", "run2", tool_env))
    m2 = json.loads((w / "run2" / "device.json").read_text())
    assert m2.pop("port") == board.url and m.pop("port") == ""
    # run1 went through the semihosting bulk path (QEMU started by evaluate), run2 over the UART:
    # the same outputs and the same tick counts, image by image.
    assert m.pop("transport") == "semihost" and m2.pop("transport") == "uart"
    # Same results to the byte, latencies included: each inference restarts SysTick's tick grid
    # (board_measure_begin), so the host's timing cannot move a latency by a tick (see docs/firmware.md).
    assert m2 == m
    per_image = "plots/per_image.csv"
    assert (w / "run2" / per_image).read_bytes() == (w / "run1" / per_image).read_bytes()


def test_device_metrics_are_byte_identical_across_evaluations(pipe, tool_env):
    """Two evaluations of the same image write the same metrics/device.json and per-image CSV to
    the byte, so `dvc repro -f` leaves dvc.lock unchanged. Between the runs the host's timing
    differs (when each frame's bytes arrive while the board idles); before the firmware restarted
    SysTick per inference, a few of the latencies moved by one tick (12.5 instructions)."""
    w = pipe["w"]
    for out in ("again1", "again2"):
        _ok(_evaluate(pipe, pipe["params"], w / "flash", out, tool_env))
    first = json.loads((w / "again1" / "device.json").read_text())
    assert first["samples"] == N_IMAGES and first["timer"] == "systick"

    def ticks(out):
        rows = (w / out / "plots" / "per_image.csv").read_text().splitlines()[1:]
        return [int(r.split(",")[5]) for r in rows]

    assert ticks("again2") == ticks("again1") and len(set(ticks("again1"))) > 1  # per image, not one constant
    assert (w / "again2" / "device.json").read_bytes() == (w / "again1" / "device.json").read_bytes()
    for name in ("per_image.csv", "confusion.csv"):
        assert (w / "again2" / "plots" / name).read_bytes() == (w / "again1" / "plots" / name).read_bytes(), name


def test_stale_firmware_is_refused(pipe, tool_env):
    """Firmware built from another export (another model hash) must not be evaluated."""
    w = pipe["w"]
    other = w / "model_other"
    shutil.copytree(pipe["model"], other)
    header = other / "model.h"
    sha = json.loads((pipe["model"] / "model.json").read_text())["sha256"]
    header.write_text(header.read_text().replace(sha, "0" * 64))
    (other / "sources.txt").write_text((other / "sources.txt").read_text().replace(
        os.path.relpath(pipe["model"], REPO), os.path.relpath(other, REPO)))
    _ok(_stage("build", "--params", str(pipe["params"]), "--model-dir", str(other), "--out", str(w / "fw_other"),
               "--metrics", str(w / "metrics" / "firmware_other.json"), env=tool_env))
    _ok(_stage("flash", "--params", str(pipe["params"]), "--firmware", str(w / "fw_other"), "--out",
               str(w / "flash_other"), env=tool_env))
    proc = _evaluate(pipe, pipe["params"], w / "flash_other", "stale", tool_env)
    assert proc.returncode == 1
    err = proc.stderr.strip().splitlines()
    assert err[-1].startswith("error: the board runs a different model") and "reflash with" in err[-1], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (w / "stale" / "device.json").exists()


def test_firmware_whose_model_check_fails_at_boot_is_refused(pipe, capsys):
    """An export whose planned scratch is smaller than a kernel's *_scratch_size() (here: the
    first check's plan cut to 16 bytes): the firmware runs tinykd_model_check() at boot, says so
    in its banner and HELLO, refuses INFER without running the model, and the host stops with one
    line."""
    import re

    from tinykd.cli import main
    from tinykd.device import firmware as fw
    from tinykd.device.protocol import DeviceError, Link
    from tinykd.device.qemu import QemuBoard
    from tinykd.device.serial_port import open_port

    w = pipe["w"]
    bad = w / "model_bad_plan"
    shutil.copytree(pipe["model"], bad)
    (bad / "sources.txt").write_text((bad / "sources.txt").read_text().replace(
        os.path.relpath(pipe["model"], REPO), os.path.relpath(bad, REPO)))
    model_c = (bad / "model.c").read_text()
    head, check = model_c.split("int tinykd_model_check(void)\n", 1)
    check, n = re.subn(r"\) > \d+\) \{", ") > 16) {", check, count=1)
    assert n == 1, "the model has no scratch check to spoil"
    (bad / "model.c").write_text(head + "int tinykd_model_check(void)\n" + check)
    elf = fw.make(bad, w / "fw_bad_plan")

    assert main(["device", "hello", "--elf", str(elf), "--timeout", "20"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the board refuses its model") \
        and "tinykd_model_check() failed at boot" in err[0], err
    with QemuBoard(elf) as board:
        port = open_port(board.url, 115200)
        link = Link(port, timeout_s=3.0, retries=1)
        link.wait_boot(20)
        banner = link.parser.text.decode("ascii", "replace")
        with pytest.raises(DeviceError, match="INFER request refused: device error MODEL"):
            link.infer(bytes(192))
        port.close()
    assert "model check failed: a kernel needs more scratch than the export planned" in banner


# ---- protocol faults against the running device ------------------------------------------------

@pytest.fixture(scope="module")
def device(pipe):
    """A QEMU board on the flashed image, a Link to it, and the host reference."""
    from tinykd.data.scaling import quantize_pixels
    from tinykd.device.evaluate import HostReference
    from tinykd.device.protocol import Link
    from tinykd.device.qemu import QemuBoard
    from tinykd.device.serial_port import open_port

    ref = HostReference(pipe["tflite"])
    rng = np.random.default_rng(11)
    images = rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)
    inputs = [quantize_pixels(img, ref.input_scale, ref.input_zero_point) for img in images]
    expected = [ref.run(x).tobytes() for x in inputs]
    with QemuBoard(pipe["w"] / "flash" / "flash.elf") as board:
        port = open_port(board.url, 115200)
        link = Link(port, timeout_s=3.0, retries=3)
        hello = link.wait_ready(15)
        yield {"link": link, "hello": hello, "inputs": [x.tobytes() for x in inputs], "expected": expected,
               "board": board}
        port.close()


def _errors(link, within_s: float = 10.0, expect: int = 1, grace_s: float = 0.3) -> list[tuple[int, int, int]]:
    """ERROR frames (code, type, seq) from the device: wait up to `within_s` for `expect` of
    them (generous: a loaded CI host slows QEMU's UART), then `grace_s` more for any extra."""
    from tinykd.device.protocol import Frame, Type

    out, deadline = [], time.monotonic() + within_s
    while (f := link.next_frame(deadline)) is not None:
        if isinstance(f, Frame) and f.type == Type.ERROR:
            out.append(tuple(f.payload[:3]))
            if len(out) == expect:
                deadline = min(deadline, time.monotonic() + grace_s)
    return out


def _all_correct(dev) -> None:
    link = dev["link"]
    outs = [link.infer(x).output for x in dev["inputs"]]
    assert outs == dev["expected"]


def test_hello_describes_the_model(device, pipe):
    h = device["hello"]
    info = json.loads((pipe["model"] / "model.json").read_text())
    assert h.protocol_version == 2 and h.core_hz == 80_000_000 and h.timer.name == "SYSTICK"
    assert h.model_sha256 == info["sha256"] and h.arena_bytes == info["arena_bytes"] and h.macs == info["macs"]
    assert list(h.input_shape) == info["input"]["shape"] and list(h.output_shape) == info["output"]["shape"]
    assert h.input_zero_point == info["input"]["zero_point"]
    assert np.float32(h.input_scale) == np.float32(info["input"]["scale"])
    assert h.board.startswith("B-L475E-IOT01A")


def _load(tag: int, offset: int, data: bytes) -> bytes:
    return struct.pack("<HH", tag, offset) + data


def test_bad_crc_gets_an_error_and_nothing_is_lost(device):
    from tinykd.device.protocol import ErrorCode, Type, encode

    link = device["link"]
    frame = bytearray(encode(Type.LOAD, 200, _load(900, 0, device["inputs"][0][:64])))
    frame[-1] ^= 0xFF
    link.write(bytes(frame))
    assert _errors(link) == [(ErrorCode.CRC, Type.LOAD, 200)]
    _all_correct(device)


def test_garbage_between_frames(device):
    link = device["link"]
    rng = np.random.default_rng(5)
    retries, errors = link.stats.retries, link.stats.device_errors
    outs = []
    for x in device["inputs"]:
        noise = rng.integers(0, 256, 40, dtype=np.uint8).tobytes().replace(b"\xa5", b"\x00")
        link.write(noise)
        outs.append(link.infer(x).output)
    assert outs == device["expected"]
    # without a sync pair the noise never even looks like a frame: no errors, no resends
    assert (link.stats.retries, link.stats.device_errors) == (retries, errors)


def test_truncated_frame_times_out_on_the_device(device):
    from tinykd.device.protocol import ErrorCode, Type, encode

    link = device["link"]
    link.write(encode(Type.LOAD, 201, _load(901, 0, device["inputs"][1][:128]))[:100])
    errs = _errors(link)
    assert errs == [(ErrorCode.TRUNCATED, Type.LOAD, 201)]
    _all_correct(device)


def test_oversized_wrong_length_and_unknown_type(device):
    from tinykd.device.protocol import ErrorCode, Type, encode

    link = device["link"]
    link.write(b"\xa5\x5a" + struct.pack("<BBH", Type.LOAD, 202, 0xFFFF))
    assert _errors(link) == [(ErrorCode.LENGTH, Type.LOAD, 202)]
    link.write(encode(Type.LOAD, 203, b"shrt"))  # a header, no data
    assert _errors(link) == [(ErrorCode.LENGTH, Type.LOAD, 203)]
    link.write(encode(Type.LOAD, 205, _load(902, 190, b"abc")))  # past the 192-byte input
    assert _errors(link) == [(ErrorCode.LENGTH, Type.LOAD, 205)]
    link.write(encode(Type.INFER, 206, device["inputs"][0]))  # a version-1 INFER: the whole tensor
    assert _errors(link) == [(ErrorCode.LENGTH, Type.INFER, 206)]
    link.write(encode(0x55, 204))
    assert _errors(link) == [(ErrorCode.TYPE, 0x55, 204)]
    _all_correct(device)


def test_infer_needs_the_whole_input_loaded_under_its_tag(device):
    """The board refuses an INFER whose buffer is incomplete, was loaded for another tag, or does
    not have the CRC the INFER names; a complete buffer runs, and runs again if the INFER is resent."""
    from tinykd.device.protocol import ErrorCode, Frame, Type, crc16, encode

    link = device["link"]
    x = device["inputs"][2]
    infer = struct.pack("<HH", 910, crc16(x))
    link.write(encode(Type.LOAD, 210, _load(910, 0, x[:100])))
    link.write(encode(Type.INFER, 211, infer))
    link.write(encode(Type.LOAD, 212, _load(911, 100, x[100:])))  # the rest, but for another tag
    link.write(encode(Type.INFER, 213, infer))
    link.write(encode(Type.LOAD, 214, _load(910, 100, x[100:])))  # tag 910 again: the buffer restarts
    link.write(encode(Type.INFER, 215, infer))
    link.write(encode(Type.LOAD, 216, _load(910, 0, x[:100])))    # now whole
    link.write(encode(Type.INFER, 217, struct.pack("<HH", 910, crc16(x) ^ 1)))
    assert _errors(link, expect=4) == [(ErrorCode.INCOMPLETE, Type.INFER, 211), (ErrorCode.INCOMPLETE, Type.INFER, 213),
                                       (ErrorCode.INCOMPLETE, Type.INFER, 215), (ErrorCode.INPUT_CRC, Type.INFER, 217)]
    answers = []
    for seq in (218, 219):  # the same INFER twice (as after a lost answer): the same result twice
        link.write(encode(Type.INFER, seq, infer))
        deadline = time.monotonic() + 10
        while (f := link.next_frame(deadline)) is not None:
            if isinstance(f, Frame) and f.type == Type.INFER | 0x80:
                answers.append((f.seq, f.payload))
                break
    assert [a[0] for a in answers] == [218, 219] and answers[0][1] == answers[1][1]
    tag, _ticks = struct.unpack_from("<HI", answers[0][1])
    assert tag == 910 and answers[0][1][6:] == device["expected"][2]
    _all_correct(device)


def test_device_reset_mid_run_loses_and_miscounts_nothing(device, pipe):
    """A RESET slipped in before images 3 and 8: the device reboots with an INFER in flight;
    the host notices the BOOT frame, resends, re-checks the model hash, and every image is
    answered once, in order, bit-exact."""
    from tinykd.device.evaluate import run_images
    from tinykd.device.protocol import Type, encode

    link = device["link"]
    before = link.stats.reboots

    def reset_some(i, lk):
        if i in (3, 8):
            lk.write(encode(Type.RESET, 240 + i))

    inputs = np.stack([np.frombuffer(x, dtype=np.int8) for x in device["inputs"]])
    sha = device["hello"].model_sha256
    got = run_images(link, device["hello"], inputs, sha, "reflash", progress=False, on_image=reset_some)
    assert [o for o, _ in got] == device["expected"]
    assert len(got) == len(device["inputs"])
    assert link.stats.reboots - before == 2
    assert all(t > 0 for _, t in got)


def test_qemu_killed_mid_run_is_restarted_and_nothing_is_lost(device, pipe):
    """Power loss: the QEMU that evaluate started is killed in the middle of a run; evaluate
    starts it again on the same flash image and resends the image in flight."""
    from tinykd.device.connect import open_device
    from tinykd.device.evaluate import run_images

    inputs = np.stack([np.frombuffer(x, dtype=np.int8) for x in device["inputs"]])
    killed = []

    def kill_once(i, link):
        if i == 5 and not killed:
            killed.append(link.board.proc.pid)
            link.board.proc.kill()
            link.board.proc.wait()

    with open_device(image=pipe["w"] / "flash" / "flash.elf", baud=115200, timeout_s=3.0, retries=2) as link:
        hello = link.wait_ready(15)
        got = run_images(link, hello, inputs, hello.model_sha256, "reflash", progress=False, on_image=kill_once)
        assert killed and link.board.proc.pid != killed[0] and link.board.alive()
    assert [o for o, _ in got] == device["expected"]


# ---- a noisy line; an evaluation killed and resumed --------------------------------------------

N_NOISY = 50


@pytest.fixture(scope="module")
def noisy(pipe):
    """50 test images and a clean-link UART evaluation of them to compare with."""
    from tinykd.data.store import npz_bytes

    w = pipe["w"] / "noisy"
    (w / "data").mkdir(parents=True)
    rng = np.random.default_rng(21)
    (w / "data" / "test.npz").write_bytes(npz_bytes({
        "x": rng.integers(0, 256, (N_NOISY, 8, 8, 3), dtype=np.uint8),
        "y": rng.integers(0, 10, N_NOISY).astype(np.int64)}))
    (w / "data" / "dataset.json").write_text(json.dumps({"classes": [f"c{i}" for i in range(10)]}))
    return w


def _evaluate_on(pipe, w: Path, params: Path, out: str, env: dict, **popen):
    args = [sys.executable, str(REPO / "stages" / "evaluate.py"), "--params", str(params),
            "--flash", str(pipe["w"] / "flash"), "--model-dir", str(pipe["model"]), "--tflite", str(pipe["tflite"]),
            "--data", str(w / "data"), "--metrics", str(w / out / "device.json"), "--plots", str(w / out / "plots"),
            "--journal", str(w / f"journal-{out}.jsonl")]
    if popen:
        return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def _clean_uart(pipe, noisy, env) -> tuple[dict, bytes]:
    if not (noisy / "clean" / "device.json").exists():
        params = _params(noisy / "params_clean.yaml", chunk_bytes=64)
        p = yaml.safe_load(params.read_text())
        p["evaluate"]["transport"] = "uart"
        params.write_text(yaml.safe_dump(p, sort_keys=False))
        _ok(_evaluate_on(pipe, noisy, params, "clean", env))
    return (json.loads((noisy / "clean" / "device.json").read_text()),
            (noisy / "clean" / "plots" / "per_image.csv").read_bytes())


def test_noisy_line_gives_the_clean_results(pipe, noisy, tool_env):
    """A proxy damages 0.4 % of the bytes both ways (replaced, dropped or doubled) between the QEMU
    board and evaluate: every image still gets through, with the clean link's outputs and ticks."""
    from support.noise_proxy import NoiseProxy
    from tinykd.device.qemu import QemuBoard

    clean, clean_csv = _clean_uart(pipe, noisy, tool_env)
    with QemuBoard(pipe["w"] / "flash" / "flash.elf") as board, \
            NoiseProxy(("127.0.0.1", board.port), rate=0.004, seed=1) as proxy:
        params = _params(noisy / "params_noisy.yaml", port=proxy.url, chunk_bytes=64, timeout_s=5.0)
        proc = _evaluate_on(pipe, noisy, params, "noisy", tool_env)
    out = _ok(proc)
    assert proxy.damaged["to_device"] > 20 and proxy.damaged["to_host"] > 0, proxy.damaged
    m = json.loads((noisy / "noisy" / "device.json").read_text())
    assert m.pop("port") == proxy.url and clean.pop("port") == ""
    assert m == clean and m["samples"] == N_NOISY and m["failed_images"] == 0 and m["bit_exact"] == 1.0
    assert (noisy / "noisy" / "plots" / "per_image.csv").read_bytes() == clean_csv
    stats = out.strip().splitlines()[-1]
    assert f"{N_NOISY} images sent" in stats and "resent" in stats, out
    assert int(stats.split("LOAD chunks (")[1].split()[0]) > 0, stats  # the noise did cost resends
    print(stats, proxy.damaged, proxy.forwarded)


def test_noisy_line_with_cifar_sized_inputs(tmp_path, tool_env):
    """A 32x32x3 model (3,072-byte inputs, a CIFAR-10 image) on QEMU behind the noise proxy at
    0.4 % damaged bytes both ways: 10 images give the host reference's outputs bit for bit. In
    one frame such an input would get through intact with probability 0.996^3080 = 4e-6."""
    from support.noise_proxy import NoiseProxy
    from tinykd.cli import main
    from tinykd.data.store import npz_bytes
    from tinykd.device.qemu import QemuBoard

    tflite = _tiny_tflite(tmp_path / "cifar_int8.tflite", seed=8, side=32)
    assert main(["export", str(tflite), str(tmp_path / "model")]) == 0
    rng = np.random.default_rng(32)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test.npz").write_bytes(npz_bytes({
        "x": rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8), "y": rng.integers(0, 10, 10).astype(np.int64)}))
    params = _params(tmp_path / "params.yaml", chunk_bytes=64, timeout_s=5.0)
    _ok(_stage("build", "--params", str(params), "--model-dir", str(tmp_path / "model"), "--out",
               str(tmp_path / "fw"), "--metrics", str(tmp_path / "firmware.json"), env=tool_env))
    _ok(_stage("flash", "--params", str(params), "--firmware", str(tmp_path / "fw"), "--out", str(tmp_path / "flash"),
               env=tool_env))
    with QemuBoard(tmp_path / "flash" / "flash.elf") as board, \
            NoiseProxy(("127.0.0.1", board.port), rate=0.004, seed=3) as proxy:
        noisy = _params(tmp_path / "params_noisy.yaml", port=proxy.url, chunk_bytes=64, timeout_s=5.0)
        out = _ok(_stage("evaluate", "--params", str(noisy), "--flash", str(tmp_path / "flash"), "--model-dir",
                         str(tmp_path / "model"), "--tflite", str(tflite), "--data", str(tmp_path / "data"),
                         "--metrics", str(tmp_path / "m" / "device.json"), "--plots", str(tmp_path / "m" / "plots"),
                         "--journal", str(tmp_path / "journal.jsonl"), env=tool_env))
    m = json.loads((tmp_path / "m" / "device.json").read_text())
    assert m["samples"] == 10 and m["failed_images"] == 0 and m["bit_exact"] == 1.0, m
    assert proxy.damaged["to_device"] > 50 and proxy.damaged["to_host"] > 0, proxy.damaged
    stats = out.strip().splitlines()[-1]
    assert "10 images sent" in stats and int(stats.split("LOAD chunks (")[1].split()[0]) > 0, stats
    print(stats, proxy.damaged, proxy.forwarded)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return out


def test_killed_evaluation_resumes_from_its_journal(pipe, noisy, tool_env):
    """evaluate (UART, its own QEMU) killed with SIGKILL after some answers: the journal keeps
    them; the rerun sends only the rest and writes the uninterrupted run's device.json to the byte.
    A journal made for another firmware is not used: that run starts over."""
    import signal

    clean, clean_csv = _clean_uart(pipe, noisy, tool_env)
    params = noisy / "params_clean.yaml"
    journal = noisy / "journal-resume.jsonl"
    proc = _evaluate_on(pipe, noisy, params, "resume", tool_env, popen=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and len(journal.read_bytes().splitlines()) > 1 + N_NOISY // 3:
            break
        time.sleep(0.01)
    qemus = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    for pid in qemus:  # a SIGKILLed evaluate cannot stop its QEMU
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    answered = len(journal.read_bytes().splitlines()) - 1
    assert N_NOISY // 3 <= answered < N_NOISY and not (noisy / "resume" / "device.json").exists()

    err = _evaluate_on(pipe, noisy, params, "resume", tool_env)
    out = _ok(err)
    assert f"{answered} images already answered" in err.stderr, err.stderr
    assert f"{N_NOISY - answered} images sent, {answered} from the journal, 0 failed" in out, out
    assert json.loads((noisy / "resume" / "device.json").read_text()) == clean
    assert (noisy / "resume" / "device.json").read_bytes() == (noisy / "clean" / "device.json").read_bytes()
    assert (noisy / "resume" / "plots" / "per_image.csv").read_bytes() == clean_csv
    assert not journal.exists()  # done: a forced rerun measures afresh

    # a journal for another firmware image: started over, same bytes again
    assert not (noisy / "journal-clean.jsonl").exists()
    head = {"journal": "tinykd-evaluate-journal", "version": 1, "key": {"firmware_sha256": "0" * 64}}
    journal.write_text(json.dumps(head) + "\n" + json.dumps({"k": 0, "ticks": 1, "output": "00" * 10}) + "\n")
    again = _ok(_evaluate_on(pipe, noisy, params, "resume", tool_env))
    assert f"{N_NOISY} images sent, 0 from the journal" in again
    assert (noisy / "resume" / "device.json").read_bytes() == (noisy / "clean" / "device.json").read_bytes()


def test_images_failing_past_max_failed_images_stop_the_stage_and_keep_the_journal(pipe, noisy, tool_env):
    """A proxy loses every frame of three chosen images on the way to the board — the first
    LOAD chunk of images 2 and 8, the INFER of image 5 — so no retry gets them through. With
    device.max_failed_images 2 the stage reports each failed image with its index and cause,
    stops at the third with one line naming the count and the limit, writes no metrics and keeps
    the journal; the rerun with limit 3 resumes from it, sends only the rest, and records the
    three failures in its metrics."""
    from support.noise_proxy import LossProxy
    from tinykd.data.scaling import quantize_pixels
    from tinykd.device import evaluate as E
    from tinykd.device import protocol as P
    from tinykd.device.qemu import QemuBoard

    ref = E.HostReference(pipe["tflite"])
    with np.load(noisy / "data" / "test.npz") as z:
        inputs = quantize_pixels(z["x"], ref.input_scale, ref.input_zero_point)  # samples: all, in order
    bad_load = {bytes(inputs[k].tobytes()[:P.CHUNK_MIN]): k for k in (2, 8)}
    bad_infer = {P.crc16(inputs[5].tobytes()): 5}

    def lose(type_: int, payload: bytes) -> bool:
        if type_ == P.Type.LOAD and int.from_bytes(payload[2:4], "little") == 0:
            return payload[4:4 + P.CHUNK_MIN] in bad_load
        return type_ == P.Type.INFER and int.from_bytes(payload[2:4], "little") in bad_infer

    out = noisy / "lossy"
    journal = noisy / "journal-lossy.jsonl"
    with QemuBoard(pipe["w"] / "flash" / "flash.elf") as board, LossProxy(("127.0.0.1", board.port), lose) as proxy:
        fast = dict(port=proxy.url, chunk_bytes=64, chunk_retries=2, timeout_s=2.0)
        stopped = _evaluate_on(pipe, noisy, _params(noisy / "params_lossy2.yaml", max_failed_images=2, **fast),
                               "lossy", tool_env)
        assert stopped.returncode == 1, stopped.stdout[-2000:] + stopped.stderr[-2000:]
        last = stopped.stderr.strip().splitlines()[-1]
        assert last.startswith("error: 3 images failed (device.max_failed_images: 2); the last: image 8 "
                               "(test index 8): LOAD of input bytes 0..15 failed after 3 attempts (no answer"), last
        assert "Traceback" not in stopped.stderr
        reported = [ln for ln in stopped.stderr.splitlines() if ln.startswith("evaluate: image ")]
        assert [ln.split(":")[1].strip() for ln in reported] == [
            "image 2 (test index 2)", "image 5 (test index 5)", "image 8 (test index 8)"], reported
        assert "LOAD of input bytes 0..15 failed after 3 attempts (no answer" in reported[0]
        assert "INFER request failed after 3 attempts: no answer within" in reported[1]
        assert not (out / "device.json").exists() and not (out / "plots").exists()
        kept = [json.loads(ln)["k"] for ln in journal.read_text().splitlines()[1:]]
        assert kept == [0, 1, 3, 4, 6, 7], kept  # every answer before the stop, none of the failed

        resumed = _evaluate_on(pipe, noisy, _params(noisy / "params_lossy3.yaml", max_failed_images=3, **fast),
                               "lossy", tool_env)
    stats = _ok(resumed).strip().splitlines()[-1]
    assert "resuming from" in resumed.stderr and "6 images already answered" in resumed.stderr, resumed.stderr
    assert f"{N_NOISY - 6 - 3} images sent, 6 from the journal, 3 failed" in stats, stats
    assert resumed.stderr.count("evaluate: image ") == 3, resumed.stderr  # the same three, again
    assert {t for t, _ in proxy.lost} == {P.Type.LOAD, P.Type.INFER}
    m = json.loads((out / "device.json").read_text())
    assert m["failed_images"] == 3 and m["failed_indices"] == [2, 5, 8] and m["samples"] == N_NOISY - 3
    assert m["bit_exact"] == 1.0
    # every other image: the clean link's row (output and ticks) to the byte
    clean_rows = _clean_uart(pipe, noisy, tool_env)[1].decode().splitlines()
    want = [r for r in clean_rows if r.split(",")[0] not in ("2", "5", "8")]
    assert (out / "plots" / "per_image.csv").read_text().splitlines() == want
    assert not journal.exists()


def test_per_layer_profile_build(pipe, capsys):
    """PROFILE_LAYERS=1: the TINYKD_LAYER_BEGIN/END hooks time every layer."""
    from tinykd.device import firmware as fw
    from tinykd.device.protocol import Link
    from tinykd.device.qemu import QemuBoard
    from tinykd.device.serial_port import open_port

    w = pipe["w"]
    elf = fw.make(pipe["model"], w / "fw_profile", profile_layers=True)
    x = np.zeros(192, dtype=np.int8).tobytes()
    with QemuBoard(elf) as board:
        port = open_port(board.url, 115200)
        link = Link(port, timeout_s=3.0)
        hello = link.wait_ready(15)
        assert hello.profiling
        total = link.infer(x).ticks
        layers = link.profile()
        time.sleep(0.05)  # a different tick phase at the start of the second inference
        again = (link.infer(x).ticks, link.profile())
        port.close()
    assert len(layers) == hello.layers and all(t > 0 for t in layers)
    assert sum(layers) <= total
    assert again == (total, layers)  # per-layer ticks are as repeatable as the total

    # the same through the command line, layers named from model.json
    from tinykd.cli import main

    assert main(["device", "profile", "--elf", str(elf), "--model-dir", str(pipe["model"])]) == 0
    out = capsys.readouterr().out
    assert "CONV_2D" in out and "total (INFER)" in out and len(out.strip().splitlines()) == hello.layers + 2
    assert main(["device", "hello", "--elf", str(elf)]) == 0
    assert json.loads((pipe["model"] / "model.json").read_text())["sha256"] in capsys.readouterr().out


# ---- the semihosting bulk path (QEMU only) -------------------------------------------------------

@pytest.fixture(scope="module")
def bulk_case(pipe):
    from tinykd.data.scaling import quantize_pixels
    from tinykd.device.evaluate import HostReference

    ref = HostReference(pipe["tflite"])
    images = np.random.default_rng(12).integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
    inputs = quantize_pixels(images, ref.input_scale, ref.input_zero_point)
    return {"image": pipe["w"] / "flash" / "flash-semihost.elf", "inputs": inputs,
            "expected": [ref.run(x).tobytes() for x in inputs]}


def _bulk_error(bulk_case, monkeypatch, spoil=None, inputs=None, **kw) -> str:
    from tinykd.device import bulk
    from tinykd.errors import DeviceError

    if spoil is not None:
        encode = bulk.encode_input
        monkeypatch.setattr(bulk, "encode_input", lambda x: spoil(bytearray(encode(x))))
    with pytest.raises(DeviceError) as err:
        bulk.run(bulk_case["image"], bulk_case["inputs"] if inputs is None else inputs, jobs=1,
                 progress=False, timeout_s=60, **kw)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_bulk_is_bit_exact_and_its_ticks_do_not_depend_on_the_sharding(bulk_case, device):
    from tinykd.device import bulk

    one_h, one = bulk.run(bulk_case["image"], bulk_case["inputs"], jobs=1, progress=False)
    three_h, three = bulk.run(bulk_case["image"], bulk_case["inputs"], jobs=3, progress=False)
    assert [o for o, _ in one] == bulk_case["expected"]
    assert one == three and one_h == three_h
    assert one_h.model_sha256 == device["hello"].model_sha256 and one_h.input_bytes == 192
    # the same ticks as over the UART, image by image
    link = device["link"]
    uart = [link.infer(x.tobytes()) for x in bulk_case["inputs"][:6]]
    assert [(r.output, r.ticks) for r in uart] == one[:6]


def test_bulk_corrupt_input_file_is_one_clear_error(bulk_case, monkeypatch):
    rec = 192 + 2

    def flip(b):
        b[16 + 5 * rec + 17] ^= 0x40
        return bytes(b)

    assert _bulk_error(bulk_case, monkeypatch, flip) == \
        "the device stopped: image 5: CRC mismatch (corrupt input file)"
    monkeypatch.undo()

    def magic(b):
        b[0:4] = b"JUNK"
        return bytes(b)

    assert "not a tinykd bulk input file" in _bulk_error(bulk_case, monkeypatch, magic)
    monkeypatch.undo()

    def header(b):
        b[4] ^= 1  # the count: caught by the header CRC
        return bytes(b)

    assert "header CRC mismatch" in _bulk_error(bulk_case, monkeypatch, header)


def test_bulk_truncated_input_file_is_one_clear_error(bulk_case, monkeypatch):
    msg = _bulk_error(bulk_case, monkeypatch, lambda b: bytes(b[:-7]))
    assert msg == ("the device stopped: tinykd-bulk.in holds 39 whole images and a partial one; its header "
                   "announces 40 (truncated or padded file)")
    monkeypatch.undo()
    assert "shorter than its 16-byte header" in _bulk_error(bulk_case, monkeypatch, lambda b: bytes(b[:9]))


def test_bulk_model_input_size_mismatch(bulk_case, monkeypatch):
    wrong = np.zeros((4, 100), dtype=np.int8)
    assert _bulk_error(bulk_case, monkeypatch, inputs=wrong) == \
        "the device stopped: the input images are 100 bytes; the model takes 192"


def test_bulk_qemu_dying_mid_run_is_one_clear_error(bulk_case, monkeypatch):
    """QEMU killed once it has answered some images: every QEMU stops, nothing is returned."""
    procs, killed = [], []

    def kill_after_first_answers():
        if not killed and procs:
            out = Path(f"/proc/{procs[0].pid}/cwd") / "tinykd-bulk.out"
            try:
                grown = out.stat().st_size > 8 + 200 + 40 * 16
            except OSError:
                grown = False
            if grown:
                procs[0].kill()
                killed.append(procs[0].pid)
        time.sleep(0.001)
        return True

    many = np.resize(bulk_case["inputs"], (6000, 192))
    msg = _bulk_error(bulk_case, monkeypatch, inputs=many, on_started=procs.extend, work=kill_after_first_answers)
    assert killed and msg.startswith("QEMU ended (signal SIGKILL) after ") and msg.endswith(" of 6000 images"), msg
    assert all(p.poll() is not None for p in procs)
    assert not Path(f"/proc/{procs[0].pid}/cwd").exists()


def _bulk_qemus(pid: int) -> list[int]:
    """The semihosting QEMUs the process `pid` started (not its `qemu -machine help` probe)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"semihosting-config" in cmdline:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.parametrize("how", ["kill-qemu", "ctrl-c"])
def test_bulk_stage_stopped_mid_run_writes_no_metrics(pipe, tool_env, tmp_path, how):
    """The evaluate stage on many images: QEMU killed (one-line error, exit 1) or Ctrl-C on the
    stage (exit 130); either way every QEMU is gone and no metrics or plots are written."""
    import signal

    from tinykd.data.store import npz_bytes

    w = pipe["w"]
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(4)
    (data / "test.npz").write_bytes(npz_bytes({"x": rng.integers(0, 256, (30000, 8, 8, 3), dtype=np.uint8),
                                               "y": rng.integers(0, 10, 30000).astype(np.int64)}))
    proc = subprocess.Popen([sys.executable, str(REPO / "stages" / "evaluate.py"), "--params", str(pipe["params"]),
                             "--flash", str(w / "flash"), "--model-dir", str(pipe["model"]), "--tflite",
                             str(pipe["tflite"]), "--data", str(data), "--metrics", str(tmp_path / "m" / "device.json"),
                             "--plots", str(tmp_path / "m" / "plots")], cwd=REPO, env=tool_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    qemus = []
    while not qemus and time.monotonic() < deadline and proc.poll() is None:
        qemus = _bulk_qemus(proc.pid)
        time.sleep(0.02)
    assert qemus, "evaluate started no QEMU"
    out_file = Path(f"/proc/{qemus[0]}/cwd") / "tinykd-bulk.out"
    while time.monotonic() < deadline:  # until it has answered some images
        with contextlib.suppress(OSError):
            if out_file.stat().st_size > 8 + 200 + 20 * 16:
                break
        time.sleep(0.005)
    if how == "kill-qemu":
        os.kill(qemus[0], signal.SIGKILL)
    else:
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if how == "kill-qemu":
        assert proc.returncode == 1, err
        assert err.strip().splitlines()[-1].startswith("error: QEMU ended (signal SIGKILL) after "), err
    else:
        assert proc.returncode == 130, err
        assert "interrupted" in err.strip().splitlines()[-1], err
    assert "Traceback" not in err
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())
    for pid in qemus:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_transport_choice():
    from tinykd.device.evaluate import choose_transport
    from tinykd.errors import ParamError

    assert choose_transport("auto", "qemu", "") == "semihost"
    assert choose_transport("auto", "qemu", "socket://127.0.0.1:4444") == "uart"
    assert choose_transport("auto", "stlink", "/dev/ttyACM0") == "uart"
    assert choose_transport("uart", "qemu", "") == "uart"
    with pytest.raises(ParamError, match="semihosting needs the QEMU board"):
        choose_transport("semihost", "stlink", "/dev/ttyACM0")
    with pytest.raises(ParamError, match="evaluate.transport"):
        choose_transport("jtag", "qemu", "")
