"""`tinykd live`: frame preparation and output decoding on fakes, then a folder of images streamed to
the QEMU board of the tiny trained project, each answer checked against the host int8 reference."""
from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

from support import tiny_project as tp
from tinykd import live
from tinykd.errors import DataError, TinykdError


def test_to_model_input_crops_resizes_and_converts():
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, 10:30] = 255  # the centre square is white, the sides black
    out = live.to_model_input(wide, 8, 8, 1)
    assert out.shape == (8, 8, 1) and out.dtype == np.uint8
    assert out.min() == 255  # the centre crop kept only the white part
    grey = np.full((5, 7), 100, np.uint8)
    rgb = live.to_model_input(grey, 32, 32, 3)
    assert rgb.shape == (32, 32, 3) and (rgb == 100).all()


def test_scores_softmax_and_probability_outputs():
    logits = np.array([10, -20, 30], np.int8)
    p = live.scores(logits.tobytes(), 0.1, 0)
    assert p.argmax() == 2 and p.sum() == pytest.approx(1.0)
    probs = np.array([-128 + 64, -128 + 192, -128], np.int8)  # 0.25, 0.75, 0 on a softmax output
    p = live.scores(probs.tobytes(), 1 / 256, -128)
    assert p == pytest.approx([0.25, 0.75, 0.0])


def test_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        live.folder_frames(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no images"):
        live.folder_frames(tmp_path)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="bad.png"):
        list(live.folder_frames(tmp_path))


class FakeLink:
    """Answers like a device running a 4x4x1 model whose output is the input's mean brightness class."""

    def __init__(self):
        self.sent = []

    def wait_ready(self, timeout_s):
        return SimpleNamespace(input_shape=(1, 4, 4, 1), output_bytes=3, input_scale=1 / 255, input_zero_point=-128,
                               output_scale=0.1, output_zero_point=0, board="fake", model_sha256="ab" * 32,
                               latency_unit="cycles", emulated=False, ticks_to_units=lambda t: float(t),
                               core_hz=80_000_000)

    def infer(self, data):
        self.sent.append(data)
        x = np.frombuffer(data, np.int8).astype(int) + 128
        out = np.full(3, -50, np.int8)
        out[min(2, int(x.mean()) // 86)] = 50
        return SimpleNamespace(ticks=8000 * len(self.sent), output=out.tobytes())


def test_run_against_a_fake_device(tmp_path):
    from PIL import Image

    for name, value in (("a_dark.png", 10), ("b_mid.png", 128), ("c_bright.png", 250)):
        Image.fromarray(np.full((9, 12, 3), value, np.uint8)).save(tmp_path / name)
    lines = []
    link = FakeLink()
    preds = live.run(link, live.folder_frames(tmp_path), ["dark", "mid", "bright"], echo=lines.append)
    assert [p.name for p in preds] == ["dark", "mid", "bright"]
    assert [len(d) for d in link.sent] == [16, 16, 16]
    assert preds[1].ticks == 16000 and preds[1].latency_ms == pytest.approx(16000 / 80e6 * 1e3)
    assert preds[0].confidence == pytest.approx(np.exp(5) / (np.exp(5) + 2 * np.exp(-5)))
    assert lines[1].startswith("a_dark.png: dark (") and "cycles" in lines[1]
    assert lines[-1].startswith("live: 3 frame(s)")
    assert len(live.run(FakeLink(), live.folder_frames(tmp_path, loop=True), limit=5, echo=lambda s: None)) == 5


def test_camera_without_opencv_is_a_clear_error(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_cv2(name, *a, **k):
        if name == "cv2":
            raise ImportError("no cv2")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_cv2)
    with pytest.raises(TinykdError, match="opencv-python-headless"):
        live.camera_frames(0)


@pytest.mark.slow
@pytest.mark.skipif(not tp.have_device_tools(), reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_live_folder_on_the_qemu_board(trained_project, tool_env, tmp_path):
    from PIL import Image

    from tinykd.data.scaling import quantize_pixels
    from tinykd.device.evaluate import HostReference

    proj = trained_project
    with np.load(proj / "data" / "test.npz") as test:
        x = test["x"]
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(5):
        img = x[i][..., 0] if x[i].ndim == 3 and x[i].shape[2] == 1 else x[i]
        # Upscaled RGB JPEG-free PNGs: live must resize and convert them back to the model's input.
        Image.fromarray(img).convert("RGB").resize((56, 56), Image.NEAREST).save(folder / f"img{i}.png")
    out = tp.run(["tinykd", "live", "--folder", str(folder), "--flash", "build/flash"], proj, tool_env,
                 timeout=300).stdout
    lines = [line for line in out.splitlines() if line.startswith("img")]
    assert len(lines) == 5, out
    ref = HostReference(proj / "models" / "student_int8.tflite")
    classes = live.class_names(proj / "data" / "dataset.json")
    pattern = re.compile(r"^(img\d)\.png: (.+) \((\d+\.\d)%\)  ([\d,]+) instructions = (\d+\.\d\d) ms at 80 MHz")
    for i, line in enumerate(lines):
        m = pattern.match(line)
        assert m, line
        frame = live.to_model_input(np.asarray(Image.open(folder / f"img{i}.png").convert("RGB")), 28, 28, 1)
        host = ref.run(quantize_pixels(frame, ref.input_scale, ref.input_zero_point))
        label = int(np.argmax(live.scores(host.tobytes(), *ref.out["quantization"])))
        assert m[2] == (classes[label] if classes else f"class {label}"), line
        assert int(m[4].replace(",", "")) > 1000
    assert "live: 5 frame(s), median on-device latency" in out
