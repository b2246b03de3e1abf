"""`tinykd live`: the course's live demo. Frames from a camera (OpenCV) or the images of a folder are
cropped to the model's aspect ratio, resized to its input, quantized exactly as in evaluation and
sent to the board over the tinykd UART protocol; each answer is printed as class, confidence and
latency (the board's own timer, not the link's round trip).

Without --port the flashed QEMU image (build/flash/) is started, so the whole demo runs without a
board: `tinykd live --folder some_images/`.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .device.latency import mhz
from .errors import DataError, ParamError, TinykdError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".webp", ".tif", ".tiff")
# TFLite's int8 softmax output quantization: the model already gives probabilities.
SOFTMAX_SCALE, SOFTMAX_ZERO_POINT = 1.0 / 256.0, -128


@dataclass(frozen=True)
class Prediction:
    source: str
    label: int
    name: str
    confidence: float
    ticks: int
    latency: float           # in `unit`
    unit: str                # cycles (board) or instructions (QEMU)
    latency_ms: float        # latency at the board's core clock, core_hz
    round_trip_ms: float     # host-measured, includes the UART transfer
    core_hz: int             # the core clock the board reports in HELLO

    def line(self) -> str:
        return (f"{self.source}: {self.name} ({self.confidence:.1%})  {self.latency:,.0f} {self.unit} = "
                f"{self.latency_ms:.2f} ms at {mhz(self.core_hz)}  [round trip {self.round_trip_ms:.1f} ms]")


# -- frame sources ---------------------------------------------------------------------------

def folder_frames(folder: Path, loop: bool = False) -> Iterator[tuple[str, np.ndarray]]:
    """(file name, RGB or grey uint8 array) for every image in `folder` (sorted; recursive).
    The folder is checked now, the images are read as they are consumed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of images (give --folder DIR with .png/.jpg files)")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    return _read_images(folder, files, loop)


def _read_images(folder: Path, files: list[Path], loop: bool) -> Iterator[tuple[str, np.ndarray]]:
    import warnings

    from PIL import Image, UnidentifiedImageError

    from .data.formats import bomb_message

    while True:
        for path in files:
            try:
                # Past PIL's pixel limit it only warns (up to twice the limit, then it refuses):
                # both are refused here, as a frame for a model of a few thousand pixels that
                # costs seconds and gigabytes to decode is a mistake, not a stream.
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    with Image.open(path) as img:
                        arr = np.asarray(img.convert("L" if img.mode in ("L", "I;16", "1") else "RGB"))
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise DataError(bomb_message(str(path), exc)) from None
            except (UnidentifiedImageError, OSError) as exc:
                raise DataError(f"{path}: cannot read as an image ({exc})") from None
            yield str(path.relative_to(folder)), arr
        if not loop:
            return


def camera_frames(index: int = 0) -> Iterator[tuple[str, np.ndarray]]:
    """RGB frames from an OpenCV camera until it stops delivering (or Ctrl-C)."""
    try:
        import cv2
    except ImportError:
        raise TinykdError("tinykd live --camera needs OpenCV: pip install opencv-python-headless "
                          "(or use --folder DIR to stream images from a folder)") from None
    cap = cv2.VideoCapture(int(index))
    if not cap.isOpened():
        raise DataError(f"camera {index}: cannot open it with OpenCV (try another --camera index)")
    return _read_camera(cv2, cap, index)


def _read_camera(cv2, cap, index: int) -> Iterator[tuple[str, np.ndarray]]:
    try:
        n = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            n += 1
            yield f"camera{index}#{n}", cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def to_model_input(img: np.ndarray, height: int, width: int, channels: int) -> np.ndarray:
    """Centre-crop to the model's aspect ratio, resize (bilinear) and convert to its channels: uint8 HxWxC."""
    from PIL import Image

    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    pil = Image.fromarray(np.ascontiguousarray(img))
    w, h = pil.size
    target = width / height
    if w / h > target:
        new_w = max(1, round(h * target))
        left = (w - new_w) // 2
        pil = pil.crop((left, 0, left + new_w, h))
    elif w / h < target:
        new_h = max(1, round(w / target))
        top = (h - new_h) // 2
        pil = pil.crop((0, top, w, top + new_h))
    pil = pil.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
    arr = np.asarray(pil, dtype=np.uint8)
    return arr[..., None] if channels == 1 else arr


def class_names(dataset_json: Path | None) -> list[str] | None:
    if dataset_json is None or not Path(dataset_json).is_file():
        return None
    info = json.loads(Path(dataset_json).read_text())
    names = info.get("classes") or info.get("class_names")
    return names if isinstance(names, list) and all(isinstance(n, str) for n in names) else None


def scores(output: bytes, scale: float, zero_point: int) -> np.ndarray:
    """Class probabilities from the int8 output: as is for a softmax output, else softmax of the logits."""
    q = np.frombuffer(output, dtype=np.int8).astype(np.float64)
    values = (q - zero_point) * scale
    if abs(scale - SOFTMAX_SCALE) < 1e-9 and zero_point == SOFTMAX_ZERO_POINT:
        total = values.sum()
        return values / total if total > 0 else values
    e = np.exp(values - values.max())
    return e / e.sum()


# -- the loop --------------------------------------------------------------------------------

def run(link, frames, names: list[str] | None = None, limit: int = 0, echo=print,
        ready_timeout_s: float = 20.0, scaling=None) -> list[Prediction]:
    """Send frames to the device behind `link` (a tinykd.device.protocol.Link), one at a time;
    `scaling` (tinykd.data.scaling.InputScaling, None = pixels / 255) is how the board's model
    takes its pixels (params student.input)."""
    from .data.scaling import quantize_pixels

    hello = link.wait_ready(ready_timeout_s)
    shape = tuple(hello.input_shape)
    if len(shape) != 4:
        raise TinykdError(f"the device's model takes a rank-{len(shape)} input {shape}; live needs an image (NHWC)")
    _, h, w, c = shape
    if c not in (1, 3):
        raise TinykdError(f"the device's model takes {c}-channel images; live sends grey (1) or RGB (3)")
    if scaling is not None:
        scaling.check_channels(c)
    echo(f"live: {hello.board or 'device'} runs model {hello.model_sha256[:12]}, input {h}x{w}x{c}, "
         f"{hello.output_bytes} classes, latency in {hello.latency_unit}"
         + (" (emulated: instructions, a lower bound for real cycles)" if hello.emulated else ""))
    results = []
    for source, img in frames:
        x = quantize_pixels(to_model_input(img, h, w, c), hello.input_scale, hello.input_zero_point, scaling)
        t0 = time.monotonic()
        r = link.infer(x.tobytes())
        rtt = (time.monotonic() - t0) * 1e3
        if len(r.output) != hello.output_bytes:
            raise TinykdError(f"device answered {len(r.output)} output bytes; its model has {hello.output_bytes}")
        p = scores(r.output, hello.output_scale, hello.output_zero_point)
        label = int(np.argmax(p))
        units = hello.ticks_to_units(r.ticks)
        pred = Prediction(source=source, label=label,
                          name=names[label] if names and label < len(names) else f"class {label}",
                          confidence=float(p[label]), ticks=int(r.ticks), latency=float(units),
                          unit=hello.latency_unit, latency_ms=units / hello.core_hz * 1e3, round_trip_ms=rtt,
                          core_hz=hello.core_hz)
        echo(pred.line())
        results.append(pred)
        if limit and len(results) >= limit:
            break
    if results:
        lat = np.median([r.latency_ms for r in results])
        echo(f"live: {len(results)} frame(s), median on-device latency {lat:.2f} ms at {mhz(hello.core_hz)}")
    return results


def _settings(params_path: Path) -> dict:
    """firmware.baud, device.* and student.input from params.yaml when there is one, else their defaults."""
    from . import params as P

    if params_path.is_file():
        p = P.load(params_path)
    else:
        p = P.validate({}, P.load_schema())
    return {"baud": P.get(p, "firmware.baud", 115200), "backend": P.get(p, "device.backend", "qemu"),
            "port": P.get(p, "device.port", ""), "timeout_s": P.get(p, "device.timeout_s", 10.0),
            "retries": P.get(p, "device.retries", 3), "input": P.get(p, "student.input", None)}


def _cmd(args) -> int:
    from .device.connect import flashed_image, open_device

    if (args.folder is None) == (args.camera is None):
        raise ParamError("source", "both" if args.folder else "none", "exactly one of --folder DIR or --camera [N]")
    from .data.scaling import from_params

    s = _settings(Path(args.params))
    scaling = from_params(s["input"], "student.input")
    port = args.port if args.port is not None else s["port"]
    frames = folder_frames(Path(args.folder), loop=args.loop) if args.folder is not None else camera_frames(args.camera)
    names = class_names(Path(args.dataset)) if args.dataset else None
    with open_device(port=port, image=flashed_image(s["backend"], port, Path(args.flash)),
                     baud=args.baud or s["baud"], timeout_s=s["timeout_s"], retries=s["retries"]) as link:
        try:
            run(link, frames, names, limit=args.limit, scaling=scaling)
        except KeyboardInterrupt:
            print("live: stopped", file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("live",
                       help="stream camera frames or folder images to the board; print class, confidence, latency")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--folder", help="folder of images (.png, .jpg, ...), sent in name order")
    src.add_argument("--camera", type=int, nargs="?", const=0, default=None, help="OpenCV camera index (default 0)")
    p.add_argument("--port", default=None,
                   help="the board's serial port or pyserial URL (socket://host:port); default: params.yaml "
                        "device.port, and if that is empty a QEMU board on the flashed image")
    p.add_argument("--flash", default="build/flash", help="flash stage folder holding the QEMU image")
    p.add_argument("--params", default="params.yaml",
                   help="for firmware.baud, device.* and student.input (the model's pixel scaling) (optional)")
    p.add_argument("--baud", type=int, default=0, help="override firmware.baud")
    p.add_argument("--dataset", default="data/dataset.json", help="class names (optional)")
    p.add_argument("--limit", type=int, default=0, help="stop after N frames (0 = all / until Ctrl-C)")
    p.add_argument("--loop", action="store_true", help="cycle through the folder forever")
    p.set_defaults(func=_cmd)
