"""On-device evaluation: test images through the board, compared with the same .tflite on the host.

Two transports carry the same int8 inputs to the same model, kernels and timing code:
`uart` (the tinykd protocol over the board's USART1: a real board, or QEMU at ~0.13 s per
32x32x3 image) and `semihost` (QEMU only: tinykd-semihost.elf reads the images from a host file,
see bulk.py; a few ms per image, several QEMU instances at once).

The host quantizes each test image exactly as the quantize stage does, sends the int8 tensor,
and runs the same tensor through TFLite Micro's reference interpreter, whose arithmetic
tinykd's kernels reproduce bit for bit (LiteRT's kernels, default or reference, round some
int8 ADDs differently).
So "bit-exact" compares the device's whole int8 output vector with the host's for the very
same input bytes.
"""
from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.scaling import quantize_pixels
from ..errors import DataError, DeviceError, ParamError
from . import latency
from .firmware import sha256_file
from .protocol import Hello, Link

TRANSPORTS = ("auto", "uart", "semihost")


def choose_transport(value: str, backend: str, port: str) -> str:
    """evaluate.transport → the one used: auto = semihost on a QEMU board this stage starts
    (backend qemu, no port), else uart. semihost needs exactly that QEMU board."""
    if value not in TRANSPORTS:
        raise ParamError("evaluate.transport", value, " | ".join(TRANSPORTS))
    own_qemu = backend == "qemu" and not port
    if value == "auto":
        return "semihost" if own_qemu else "uart"
    if value == "semihost" and not own_qemu:
        raise ParamError("evaluate.transport", value, "uart or auto: semihosting needs the QEMU board evaluate "
                         f"starts itself (device.backend qemu, device.port empty; now {backend!r}, {port!r})")
    return value


def parse_samples(value, available: int) -> int:
    if value == "all":
        return available
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParamError("evaluate.samples", value, 'a positive integer or "all"')
    return min(value, available)


def choose_samples(n_total: int, n: int, seed: int) -> np.ndarray:
    """`n` test indices, the same for the same seed; in ascending order (all of them for n_total)."""
    if n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).permutation(n_total)[:n])


def load_test(data_dir: Path) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    path = Path(data_dir) / "test.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            x, y = z["x"], z["y"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"cannot read test images from {path} ({exc}): run the fetch stage") from None
    if x.dtype != np.uint8 or x.ndim != 4 or len(x) != len(y):
        raise DataError(f"{path}: expected uint8 x [N, H, W, C] and N labels y; got {x.dtype} {x.shape} / {y.shape}")
    classes = None
    meta = Path(data_dir) / "dataset.json"
    if meta.is_file():
        info = json.loads(meta.read_text())
        names = info.get("classes") or info.get("class_names")
        if isinstance(names, list) and all(isinstance(c, str) for c in names):
            classes = names
    return x, y.astype(np.int64), classes


class HostReference:
    """The .tflite on TFLite Micro's reference interpreter (PyPI `tflite-micro`), one int8
    input at a time: the arithmetic the board's kernels reproduce bit for bit. (LiteRT's own
    reference kernels are not that reference: on residual ADDs they round some outputs 1 LSB
    differently.)"""

    def __init__(self, tflite: str | Path):
        from tflite_micro.python.tflite_micro import runtime

        path = Path(tflite)
        if not path.is_file():
            raise DataError(f"reference model {path} does not exist")
        self.interp = runtime.Interpreter.from_bytes(path.read_bytes())
        self.inp = self._details(self.interp.get_input_details(0))
        self.out = self._details(self.interp.get_output_details(0))
        if self.inp["dtype"] != np.int8 or self.out["dtype"] != np.int8:
            raise DataError(f"{path}: input/output are {np.dtype(self.inp['dtype']).name}/"
                            f"{np.dtype(self.out['dtype']).name}; expected a full-int8 model")
        self.input_scale, self.input_zero_point = self.inp["quantization"]
        self.output_scale, self.output_zero_point = self.out["quantization"]

    @staticmethod
    def _details(d: dict) -> dict:
        q = d["quantization_parameters"]
        scale = float(q["scales"][0]) if len(q["scales"]) else 0.0
        zero = int(q["zero_points"][0]) if len(q["zero_points"]) else 0
        return {"dtype": d["dtype"], "shape": tuple(int(v) for v in d["shape"]), "quantization": (scale, zero)}

    def run(self, x_int8: np.ndarray) -> np.ndarray:
        self.interp.set_input(np.ascontiguousarray(x_int8, dtype=np.int8).reshape(self.inp["shape"]), 0)
        self.interp.invoke()
        return np.asarray(self.interp.get_output(0)).reshape(-1).astype(np.int8, copy=True)


@dataclass
class Result:
    index: int
    label: int
    device: np.ndarray
    host: np.ndarray
    ticks: int


@dataclass
class Evaluation:
    hello: Hello
    results: list[Result] = field(default_factory=list)
    wall_s: float = 0.0
    link_stats: dict = field(default_factory=dict)
    transport: str = "uart"
    failed: list[int] = field(default_factory=list)  # test indices of images that failed
    sent: int = 0      # images sent to the device by this run (not taken from a journal)
    resumed: int = 0   # images taken from a journal
    journal: object = None  # the .journal.Journal the answers went to (the stage removes it when done)


def check_model(hello: Hello, expected_sha: str, reflash_hint: str) -> None:
    if hello.model_sha256 != expected_sha:
        raise DeviceError(
            f"the board runs a different model (sha256 {hello.model_sha256[:16]}…) than the exported "
            f"one ({expected_sha[:16]}…): reflash with {reflash_hint}")


def run_images(link: Link, hello: Hello, inputs: np.ndarray, expected_sha: str, reflash_hint: str,
               progress: bool = True, on_image=None, done: dict | None = None, on_result=None,
               max_failed: int = 0, on_failure=None, indices=None) -> list[tuple[bytes, int] | None]:
    """Send every int8 input; returns (output bytes, ticks) per image, in order (None for an
    image that failed). A reboot of the device in the middle (reset, crash, power) costs a
    resend, never an image: the link loads the input again, and the model hash is checked again
    after each reboot. `done` (position -> (output, ticks), from a journal) are not sent again;
    `on_result(k, output, ticks)` sees each new answer as it arrives. An image whose retries are
    all used up is passed to `on_failure(k, message)` and skipped; the run stops (DeviceError)
    at the first of them beyond `max_failed`. `indices` name the images in messages."""
    from tqdm import tqdm

    from .protocol import PortError

    done = done or {}
    out: list[tuple[bytes, int] | None] = [done.get(k) for k in range(len(inputs))]
    failed: list[str] = []
    reboots = link.stats.reboots
    restarts_left = link.retries
    bar = tqdm(total=len(inputs), initial=len(done), desc="evaluate on device", unit="img",
               disable=None if progress else True, leave=False)

    def name(k: int) -> str:
        return f"image {k}" + (f" (test index {int(indices[k])})" if indices is not None else "")

    try:
        for i, x in enumerate(inputs):
            if out[i] is not None:
                continue
            if on_image is not None:
                on_image(i, link)
            try:
                try:
                    r = link.infer(x.tobytes())
                except DeviceError:
                    # The device stopped answering (QEMU died, hung, ...): power-cycle it if we
                    # own it, a bounded number of times, and send the same image again.
                    if link.restart is None or restarts_left <= 0:
                        raise
                    restarts_left -= 1
                    link.reattach(link.restart())
                    check_model(link.wait_ready(20.0), expected_sha, reflash_hint)
                    r = link.infer(x.tobytes())
            except PortError:
                raise
            except DeviceError as exc:
                if "refused" in str(exc):
                    raise  # the device cannot run it (model error): every image would fail the same way
                msg = f"{name(i)}: {exc}"
                failed.append(msg)
                if on_failure is not None:
                    on_failure(i, msg)
                if len(failed) > max_failed:
                    raise DeviceError(f"{len(failed)} images failed (device.max_failed_images: {max_failed}); "
                                      f"the last: {msg}") from None
                bar.update(1)
                continue
            if len(r.output) != hello.output_bytes:
                raise DeviceError(f"device answered {len(r.output)} output bytes; the model has {hello.output_bytes}")
            if link.stats.reboots != reboots:
                reboots = link.stats.reboots
                check_model(link.hello(), expected_sha, reflash_hint)
            out[i] = (r.output, r.ticks)
            if on_result is not None:
                on_result(i, r.output, r.ticks)
            bar.update(1)
    finally:
        bar.close()
    return out


def _prepare(tflite: Path, data_dir: Path, expected_sha: str, samples, seed: int, scaling=None):
    """(host reference, test indices, labels, int8 inputs) after checking the .tflite is the export's."""
    tflite = Path(tflite)
    if not tflite.is_file():
        raise DataError(f"{tflite} does not exist: run the quantize stage")
    tflite_sha = sha256_file(tflite)
    if tflite_sha != expected_sha:
        raise DataError(f"{tflite} (sha256 {tflite_sha[:16]}…) is not the model that was exported "
                        f"({expected_sha[:16]}…): rerun the export stage")
    x, y, _ = load_test(data_dir)
    idx = choose_samples(len(x), parse_samples(samples, len(x)), seed)
    ref = HostReference(tflite)
    want = int(np.prod(ref.inp["shape"]))
    if int(np.prod(x.shape[1:])) != want:
        raise DataError(f"the test images are {'x'.join(map(str, x.shape[1:]))} = {int(np.prod(x.shape[1:]))} "
                        f"values; the model takes {want} ({'x'.join(map(str, ref.inp['shape']))})")
    if scaling is not None:
        scaling.check_channels(int(x.shape[-1]))
    inputs = quantize_pixels(x[idx], ref.input_scale, ref.input_zero_point, scaling)
    return ref, idx, y, inputs


def _check_hello(hello: Hello, inputs: np.ndarray, expected_sha: str, reflash_hint: str) -> None:
    hello.require_model_check()   # the bulk header's HELLO (Link.hello checks its own)
    check_model(hello, expected_sha, reflash_hint)
    if hello.input_bytes != inputs[0].size:
        raise DeviceError(f"the device takes {hello.input_bytes} input bytes; the test images give {inputs[0].size}")


def _collect(ev: Evaluation, idx, y, device, host) -> Evaluation:
    for k, i in enumerate(idx):
        if device[k] is None:
            ev.failed.append(int(i))
            continue
        out, ticks = device[k]
        if len(out) != ev.hello.output_bytes:
            raise DeviceError(f"device answered {len(out)} output bytes; the model has {ev.hello.output_bytes}")
        ev.results.append(Result(index=int(i), label=int(y[i]), device=np.frombuffer(out, dtype=np.int8).copy(),
                                 host=host[k], ticks=int(ticks)))
    return ev


def evaluate(*, link: Link, tflite: Path, data_dir: Path, expected_sha: str, samples, seed: int,
             reflash_hint: str, progress: bool = True, ready_timeout_s: float = 20.0,
             on_image=None, scaling=None, journal: Path | None = None, firmware_sha: str = "",
             max_failed: int = 0, on_failure=None, on_journal=None) -> Evaluation:
    """The UART transport: each image's input loaded over `link` in chunks, then INFER; `scaling`
    (InputScaling, None = pixels / 255) turns the test images into the model's input. With
    `journal`, answers are appended to it as they arrive and a journal left by an earlier run
    for the same model, firmware (`firmware_sha`) and inputs is resumed; up to `max_failed`
    images may fail (each passed to `on_failure(position, message)`) before the run stops;
    `on_journal(journal)` is called once it is open (to say whether it resumes)."""
    ref, idx, y, inputs = _prepare(tflite, data_dir, expected_sha, samples, seed, scaling)
    hello = link.wait_ready(ready_timeout_s)
    _check_hello(hello, inputs, expected_sha, reflash_hint)

    jr = None
    if journal is not None:
        from .journal import Journal, journal_key

        board = f"{hello.board}, {hello.timer.name.lower()}, {hello.core_hz} Hz"
        jr = Journal(journal, journal_key(expected_sha, firmware_sha, inputs, hello.output_bytes, board))
        if on_journal is not None:
            on_journal(jr)
    done = dict(jr.results) if jr is not None else {}
    t0 = time.monotonic()
    try:
        device = run_images(link, hello, inputs, expected_sha, reflash_hint, progress, on_image, done=done,
                            on_result=jr.append if jr is not None else None, max_failed=max_failed,
                            on_failure=on_failure, indices=idx)
    finally:
        if jr is not None:
            jr.close()
    wall = time.monotonic() - t0
    ev = Evaluation(hello=hello, wall_s=wall, link_stats=vars(link.stats).copy(), transport="uart",
                    resumed=len(done), sent=sum(1 for k, d in enumerate(device) if d is not None and k not in done),
                    journal=jr)
    if all(d is None for d in device):
        raise DeviceError(f"all {len(device)} images failed; see the messages above")
    return _collect(ev, idx, y, device, [ref.run(v) for v in inputs])


def evaluate_bulk(*, image: Path, tflite: Path, data_dir: Path, expected_sha: str, samples, seed: int,
                  reflash_hint: str, progress: bool = True, jobs: int | None = None,
                  log: Path | None = None, timeout_s: float | None = 120.0, on_started=None,
                  scaling=None, board: str | None = None) -> Evaluation:
    """The semihosting transport (QEMU only): every image through `image` (tinykd-semihost.elf) on
    `jobs` QEMU instances (the machine of `board`, None = the default), while this process runs
    the host reference on the same inputs."""
    from . import bulk

    ref, idx, y, inputs = _prepare(tflite, data_dir, expected_sha, samples, seed, scaling)
    host, work = bulk.reference_worker(ref, inputs)

    t0 = time.monotonic()
    hello, device = bulk.run(image, inputs, jobs=jobs, progress=progress, log=log, work=work,
                             timeout_s=timeout_s, on_started=on_started, board=board,
                             on_hello=lambda h: _check_hello(h, inputs, expected_sha, reflash_hint))
    wall = time.monotonic() - t0
    while work():
        pass
    ev = Evaluation(hello=hello, wall_s=wall, transport="semihost")
    return _collect(ev, idx, y, device, host)


def metrics(ev: Evaluation, backend: str, firmware_sha: str, model_sha: str) -> dict:
    h = ev.hello
    n = len(ev.results)
    dev_top1 = np.array([int(np.argmax(r.device)) for r in ev.results])
    host_top1 = np.array([int(np.argmax(r.host)) for r in ev.results])
    labels = np.array([r.label for r in ev.results])
    exact = np.array([np.array_equal(r.device, r.host) for r in ev.results])
    units = np.array([h.ticks_to_units(r.ticks) for r in ev.results], dtype=np.float64)
    median, p95 = float(np.median(units)), float(np.percentile(units, 95))
    unit = h.latency_unit
    # latency_ms: the count as if one per cycle of the board's core clock (its board.yaml
    # core_hz, which the firmware reports in HELLO; recorded beside it). Cycles on the board;
    # under QEMU, instructions, which makes it a lower bound for the real chip.
    return {
        "samples": n,
        "accuracy": round(float(np.mean(dev_top1 == labels)), 6),
        "host_accuracy": round(float(np.mean(host_top1 == labels)), 6),
        "bit_exact": round(float(np.mean(exact)), 6),
        "bit_exact_images": int(exact.sum()),
        "top1_agreement": round(float(np.mean(dev_top1 == host_top1)), 6),
        "latency_unit": unit,
        f"latency_{unit}_median": round(median, 1),
        f"latency_{unit}_p95": round(p95, 1),
        "latency_ticks_median": int(np.median([r.ticks for r in ev.results])),
        "timer": h.timer.name.lower(),
        **latency.fields(median, h.core_hz),
        "board": h.board,
        "macs": h.macs,
        f"macs_per_{unit[:-1]}": round(h.macs / median, 4) if median else None,
        "arena_bytes": h.arena_bytes,
        "backend": backend,
        "transport": ev.transport,
        "emulated": h.emulated,
        "firmware_sha256": firmware_sha,
        "model_sha256": model_sha,
        "protocol_version": h.protocol_version,
        "failed_images": len(ev.failed),
        "failed_indices": list(ev.failed),
    }


def per_image_csv(ev: Evaluation, classes: list[str] | None) -> str:
    h = ev.hello
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["index", "label", "device_top1", "host_top1", "bit_exact", "ticks", h.latency_unit,
                "device_output"])
    for r in ev.results:
        w.writerow([r.index, r.label, int(np.argmax(r.device)), int(np.argmax(r.host)),
                    int(np.array_equal(r.device, r.host)), r.ticks, f"{h.ticks_to_units(r.ticks):.1f}",
                    " ".join(str(int(v)) for v in r.device)])
    return buf.getvalue()


def confusion_csv(ev: Evaluation, classes: list[str] | None) -> str:
    """One row per image (actual, predicted) for `dvc plots` with the confusion template."""
    def name(c: int) -> str:
        return classes[c] if classes and 0 <= c < len(classes) else str(c)

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["actual", "predicted"])
    for r in ev.results:
        w.writerow([name(r.label), name(int(np.argmax(r.device)))])
    return buf.getvalue()
