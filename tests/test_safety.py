"""Issue 15, "nothing lost, nothing silently wrong": every bad input is one line naming the
bad value and what is allowed, and nothing outside a tool's own outputs changes."""
from __future__ import annotations

import contextlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tinykd.atomic import MARKER, OutputError, atomic_dir, check_output_dir, remove_stale

REPO = Path(__file__).resolve().parents[1]
_BLOB: list[bytes] = []


def tiny_tflite() -> bytes:
    """A 16x16x3 -> conv -> pool -> dense int8 model (built once per test session)."""
    if not _BLOB:
        from support import export_harness as H

        H.quiet_tf()
        import keras

        keras.utils.set_random_seed(0)
        inp = keras.Input((16, 16, 3))
        x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inp)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dense(10)(x)
        calib = np.random.default_rng(0).uniform(0, 1, (4, 16, 16, 3)).astype(np.float32)
        _BLOB.append(H.convert(keras.Model(inp, x), calib))
    return _BLOB[0]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under root -> its bytes (None for folders)."""
    out = {}
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = None if p.is_dir() else p.read_bytes()
    return out


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def cli(argv, capsys) -> tuple[int, str, str]:
    from tinykd.cli import main

    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------ 1. output folders

def user_project(root: Path) -> Path:
    proj = root / "sandbox" / "myproject"
    (proj / "src").mkdir(parents=True)
    (proj / "notes.txt").write_text("my notes\n")
    (proj / "src" / "main.c").write_text("int main(void) { return 0; }\n")
    return proj


def test_export_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    user_project(tmp_path)
    (tmp_path / "m.tflite").write_bytes(b"not even a model")
    before = snapshot(tmp_path)
    rc, _, err = cli(["export", tmp_path / "m.tflite", tmp_path / "sandbox" / "myproject"], capsys)
    line = one_error_line(err)
    assert rc == 1 and "sandbox/myproject" in line and "not written by tinykd" in line and "--force" in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("where", ["file", "dot", "home", "parent", "root"])
def test_export_refuses_files_cwd_home_and_their_ancestors_even_with_force(tmp_path, capsys, monkeypatch, where):
    home = tmp_path / "home" / "me"
    work = home / "projects" / "work"
    work.mkdir(parents=True)
    (home / ".bashrc").write_text("x\n")
    (work / "m.tflite").write_bytes(tiny_tflite())
    (work / "existing.c").write_text("int x;\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    dest, said = {"file": ("existing.c", "is an existing file"), "dot": (".", "is the current folder"),
                  "home": (str(home), "is the home folder"), "parent": ("..", "containing the current folder"),
                  "root": ("/", "is the filesystem root")}[where]
    before = snapshot(tmp_path)
    for force in ([], ["--force"]):
        rc, _, err = cli(["export", "m.tflite", dest, *force], capsys)
        line = one_error_line(err)
        assert rc == 1 and repr(dest) in line and said in line, line
        assert snapshot(tmp_path) == before


def test_export_replaces_its_own_output_and_forced_folders(tmp_path, capsys):
    (tmp_path / "m.tflite").write_bytes(tiny_tflite())
    out = tmp_path / "out"
    rc, text, err = cli(["export", tmp_path / "m.tflite", out], capsys)
    assert rc == 0, err
    assert (out / MARKER).is_file() and (out / "model.c").is_file()
    (out / "model.c").write_text("edited\n")
    assert cli(["export", tmp_path / "m.tflite", out], capsys)[0] == 0  # ours: replaced
    assert (out / "model.c").read_text() != "edited\n"
    proj = user_project(tmp_path)
    assert cli(["export", tmp_path / "m.tflite", proj, "--force"], capsys)[0] == 0
    assert not (proj / "notes.txt").exists() and (proj / "model.c").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli(["export", tmp_path / "m.tflite", empty], capsys)[0] == 0  # nothing in it to lose
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert leftovers == []


def test_mlperf_dataset_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    x = np.zeros((3, 32, 32, 3), np.uint8)
    np.savez(tmp_path / "test.npz", x=x, y=np.array([1, 2, 3]))
    out = tmp_path / "ic01"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    rc, _, err = cli(["mlperf", "dataset", "--dataset", tmp_path / "test.npz", "--out", out], capsys)
    line = one_error_line(err)
    assert rc == 1 and str(out) in line and "--force" in line
    assert snapshot(tmp_path) == before
    assert cli(["mlperf", "dataset", "--dataset", tmp_path / "test.npz", "--out", out, "--force"], capsys)[0] == 0
    assert not (out / "keep.txt").exists() and (out / "y_labels.csv").is_file()
    assert cli(["mlperf", "dataset", "--dataset", tmp_path / "test.npz", "--out", out], capsys)[0] == 0


@pytest.mark.parametrize("mode", ["performance", "accuracy"])
def test_mlperf_results_refuse_a_folder_they_did_not_write(tmp_path, capsys, mode):
    from tinykd.mlperf import runner

    x = np.zeros((2, 32, 32, 3), np.uint8)
    np.savez(tmp_path / "test.npz", x=x, y=np.array([1, 2]))
    out = tmp_path / "results"
    out.mkdir()
    (out / "results.json").write_text("my own results\n")
    before = snapshot(tmp_path)
    # refused before the board is opened: the port below does not exist
    rc, _, err = cli(["mlperf", mode, "--port", "socket://127.0.0.1:1", "--dataset", tmp_path / "test.npz",
                      "--out", out], capsys)
    line = one_error_line(err)
    assert rc == 1 and str(out) in line and "not written by tinykd" in line and "--force" in line, line
    assert snapshot(tmp_path) == before
    result = {"mode": "accuracy", "top1": None, "samples": 0, "median_latency_us": 0, "dataset": "d",
              "device": {"name": "dut", "profile": "p", "model": "ic01", "info": {}}, "clock": {"note": "n"}}
    with pytest.raises(OutputError, match="not written by tinykd"):
        runner.write_results(out, result, ["> x"])
    assert snapshot(tmp_path) == before
    runner.write_results(out, result, ["> x"], force=True)
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "log.txt", "results.json", "results.txt"]
    assert "my own" not in (out / "results.json").read_text()
    runner.write_results(out, result, ["> y"])   # its own folder: replaced without --force
    assert (out / "log.txt").read_text() == "> y\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_atomic_dir_refuses_before_running_the_block_and_keeps_others_siblings(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "a").write_text("a")
    (tmp_path / ".out.old").mkdir()   # the user's, though it looks like an old temporary name
    (tmp_path / ".out.old" / "b").write_text("b")
    before = snapshot(tmp_path)
    ran = []
    with pytest.raises(OutputError, match="exists and was not written by tinykd"):
        with atomic_dir(dest):
            ran.append(1)
    assert not ran and snapshot(tmp_path) == before
    (tmp_path / "link").symlink_to(dest)
    with pytest.raises(OutputError, match="'.*link' is a symbolic link"):
        check_output_dir(tmp_path / "link", force=True)


def test_a_failing_block_leaves_the_previous_output(tmp_path):
    dest = tmp_path / "out"
    with atomic_dir(dest) as tmp:
        (tmp / "v").write_text("1")
    before = snapshot(tmp_path)
    with pytest.raises(RuntimeError):
        with atomic_dir(dest) as tmp:
            (tmp / "v").write_text("2")
            raise RuntimeError("boom")
    assert snapshot(tmp_path) == before


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_of_a_killed_run_are_removed_at_the_next_start(tmp_path):
    live = tmp_path / "dvclive"
    live.mkdir()
    stale = live / ".teacher.abcd1234.tinykd-tmp"
    busy = live / ".teacher.efgh5678.tinykd-tmp"
    user = live / ".teacher.mine.tinykd-tmp"  # no marker: not ours
    for d, pid in ((stale, _dead_pid()), (busy, os.getpid()), (user, None)):
        d.mkdir()
        (d / "metrics.json").write_text("{}")
        if pid is not None:
            (d / MARKER).write_text(f"x\n(temporary, being written by pid {pid})\n")
    with atomic_dir(live / "teacher") as tmp:
        (tmp / "metrics.json").write_text("{}")
    assert not stale.exists() and busy.exists() and user.exists()
    assert sorted(p.name for p in live.iterdir()) == sorted([busy.name, user.name, "teacher"])
    assert remove_stale(live / "teacher") == []


def test_stage_output_written_by_a_dvc_run_is_marked_so_a_manual_rerun_works(tmp_path):
    """DVC deletes a stage's outs before running it; the stage writes the marker with them, so
    running the stage by hand afterwards replaces them instead of refusing."""
    from tinykd.export import export_model

    out = tmp_path / "build" / "model"
    export_model(tiny_tflite(), out)
    first = snapshot(out)
    export_model(tiny_tflite(), out)
    assert snapshot(out) == first and MARKER in first


# ------------------------------------------------------------------ 4. interrupts

STAGE = '''
import os, signal, sys, time
sys.path.insert(0, {stages!r})
from _common import run
from tinykd.atomic import atomic_dir, write_text

out = sys.argv[sys.argv.index("--out") + 1]
how = sys.argv[sys.argv.index("--how") + 1]

def body():
    if how == "check-clean":
        left = sorted(p for p in os.listdir(os.path.dirname(out)) if p.startswith("."))
        print("left:", left)
        return
    if how == "after-one":
        write_text(out + ".json", "{{}}")
    with atomic_dir(out) as tmp:
        (tmp / "half").write_text("x")
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGTERM if how == "term" else signal.SIGINT)
        time.sleep(5)

run(body)
'''


def _stage(tmp_path: Path, name: str, out: Path, how: str, env) -> subprocess.CompletedProcess:
    script = tmp_path / f"{name}.py"
    script.write_text(STAGE.format(stages=str(REPO / "stages")))
    return subprocess.run([sys.executable, str(script), "--out", str(out), "--how", how],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("how, code, word", [("int", 130, "interrupted"), ("term", 143, "terminated")])
def test_ctrl_c_in_a_stage_is_one_line_and_leaves_the_outputs(tmp_path, tool_env, how, code, word):
    live = tmp_path / "dvclive"
    with atomic_dir(live / "teacher") as tmp:
        (tmp / "metrics.json").write_text('{"old": 1}')
    before = snapshot(tmp_path)
    proc = _stage(tmp_path, "teacher", live / "teacher", how, tool_env)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"{word}; outputs of teacher left as before"]
    after = snapshot(tmp_path)
    del after["teacher.py"]
    assert after == before


def test_interrupt_after_one_output_says_which_one_was_written(tmp_path, tool_env):
    proc = _stage(tmp_path, "distill", tmp_path / "live", "after-one", tool_env)
    assert proc.returncode == 130
    assert proc.stderr.strip().splitlines() == [
        f"interrupted; outputs of distill left as before, except {tmp_path / 'live'}.json (already written in full)"]
    assert not (tmp_path / "live").exists()


def test_stale_temporaries_of_a_sigkilled_stage_go_at_its_next_start(tmp_path, tool_env):
    live = tmp_path / "dvclive"
    live.mkdir()
    (live / ".teacher.notes").write_text("user's\n")
    proc = _stage(tmp_path, "teacher", live / "teacher", "kill", tool_env)
    assert proc.returncode == -9
    stale = [p.name for p in live.iterdir() if p.name.endswith(".tinykd-tmp")]
    assert len(stale) == 1
    proc = _stage(tmp_path, "teacher", live / "teacher", "check-clean", tool_env)
    assert proc.returncode == 0, proc.stderr
    assert "left: ['.teacher.notes']" in proc.stdout
    assert proc.stderr.strip().splitlines() == [f"teacher: removed {live / stale[0]}, left by a run that was killed"]


def test_stale_temporary_files_of_dead_writers_are_removed(tmp_path):
    from tinykd.atomic import atomic_path

    dead, alive = _dead_pid(), os.getpid()
    stale = tmp_path / f".m.keras.ab12cd.tinykd-tmp-{dead}.keras"
    busy = tmp_path / f".m.keras.ef34gh.tinykd-tmp-{alive}.keras"
    mine = tmp_path / ".m.keras.backup"
    for p in (stale, busy, mine):
        p.write_text("x")
    assert remove_stale(tmp_path / "m.keras") == [stale]
    with atomic_path(tmp_path / "m.keras") as tmp:
        assert tmp.name.startswith(".m.keras.") and tmp.name.endswith(f".tinykd-tmp-{alive}.keras")
        tmp.write_text("model")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([busy.name, mine.name, "m.keras"])


# ------------------------------------------------------------------ 5. downloads


@contextlib.contextmanager
def http_server(routes: dict[str, tuple[bytes, int | None]]):
    """Serve {path: (body, announced Content-Length or None)}; a short body is a cut connection."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body, length = routes.get(self.path, (None, None))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_truncated_download_is_refused_and_never_cached(tmp_path, monkeypatch):
    from tinykd.data import sources
    from tinykd.errors import DataError

    monkeypatch.setenv("TINYKD_CACHE", str(tmp_path / "cache"))
    with http_server({"/cut.tar.gz": (b"x" * 1000, 5000), "/whole.tar.gz": (b"y" * 10, 10)}) as url:
        with pytest.raises(DataError) as info:
            sources.download(url + "/cut.tar.gz")   # no checksum: the length is the only proof
        assert "truncated" in str(info.value) and "cut.tar.gz" in str(info.value) and "\n" not in str(info.value)
        assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
        path = sources.download(url + "/whole.tar.gz")
        assert path.read_bytes() == b"y" * 10
    assert [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()] == ["whole.tar.gz"]


def test_a_teacher_url_with_a_query_is_accepted(tmp_path, monkeypatch):
    from tinykd import params as P
    from tinykd.data import sources
    from tinykd.errors import ParamError

    monkeypatch.setenv("TINYKD_CACHE", str(tmp_path / "cache"))
    p = P.validate({}, P.load_schema())
    for ok in ("https://example.org/models/teacher.keras?download=1", "http://h/t.h5?a=b&c=d#frag"):
        p["teacher"]["source"] = ok
        P.check_semantics(p, ["teacher"], tmp_path)
    p["teacher"]["source"] = "https://example.org/t.txt?name=x.keras"
    with pytest.raises(ParamError, match=r"teacher.source = 'https://example.org/t.txt\?name=x.keras'"):
        P.check_semantics(p, ["teacher"], tmp_path)
    with http_server({"/t.keras?download=1": (b"model", 5)}) as url:
        path = sources.download(url + "/t.keras?download=1")
    assert path.name == "t.keras" and path.read_bytes() == b"model"


def _folder(root: Path) -> Path:
    (root / "train" / "cat").mkdir(parents=True)
    (root / "train" / "cat" / "a.png").write_bytes(b"\x89PNG-a")
    (root / "train" / "dog").mkdir()
    (root / "train" / "dog" / "b.png").write_bytes(b"\x89PNG-b")
    (root / "Z.txt").write_text("z")
    return root


def test_folder_checksum_is_over_a_defined_file_order(tmp_path):
    import hashlib
    import shutil

    from tinykd.data import sources

    folder = _folder(tmp_path / "imgs")
    lines = "".join(f"{hashlib.sha256((folder / r).read_bytes()).hexdigest()}  {r}\n"
                    for r in ("Z.txt", "train/cat/a.png", "train/dog/b.png"))
    assert sources.folder_digest(folder) == hashlib.sha256(lines.encode()).hexdigest()
    if all(shutil.which(t) for t in ("find", "sort", "xargs", "sha256sum")):
        shell = subprocess.run("find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum",
                               shell=True, cwd=folder, capture_output=True, text=True, check=True).stdout.split()[0]
        assert shell == sources.folder_digest(folder)  # the documented shell recipe agrees


def test_folder_source_checksum_is_verified_or_refused(tmp_path, mnist_dir):
    from tinykd.data import fetch, sources
    from tinykd.errors import DataError

    good = sources.folder_digest(mnist_dir)
    fetch(tmp_path / "ok", "mnist", str(mnist_dir), sha256=good)
    before = snapshot(tmp_path)
    with pytest.raises(DataError, match=rf"sha256 of the folder {mnist_dir} .* is {good}, expected {'0' * 64}"):
        fetch(tmp_path / "ok", "mnist", str(mnist_dir), sha256="0" * 64)
    with pytest.raises(DataError, match="cannot apply to the URL"):
        fetch(tmp_path / "ok", "mnist", "https://example.org/mnist/", sha256=good)
    with pytest.raises(DataError, match="cannot apply to the official mnist download"):
        fetch(tmp_path / "ok", "mnist", "", sha256=good)
    assert snapshot(tmp_path) == before
    folder = _folder(tmp_path / "imgs")
    (folder / "link.png").symlink_to(folder / "Z.txt")
    with pytest.raises(DataError, match="symbolic link"):
        sources.resolve_file(str(folder), "", {}, "1" * 64, None, "dataset.source")


# ------------------------------------------------------------------ 6. sentences, not tracebacks

def _tar_cut_at_a_member_boundary(folder: Path, dest: Path, keep_files: int) -> Path:
    """An uncompressed tar of `folder`, cut right after its first `keep_files` files."""
    import tarfile

    whole = dest.with_suffix(".whole.tar")
    with tarfile.open(whole, "w") as tar:
        tar.add(folder, arcname="images")
    with tarfile.open(whole) as tar:
        files = [m for m in tar.getmembers() if m.isfile()]
        cut = files[keep_files].offset       # the header of the next file: a member boundary
    dest.write_bytes(whole.read_bytes()[:cut])
    whole.unlink()
    return dest


def test_truncated_plain_tar_is_refused_not_partly_loaded(tmp_path):
    import tarfile

    from support import tiny_datasets as td
    from tinykd.data import fetch
    from tinykd.data.formats import read_image_folder
    from tinykd.errors import DataError

    root = td.write_image_folder(tmp_path / "tree", n_train=12, n_test=8)
    with tarfile.open(tmp_path / "ok.tar", "w") as tar:
        tar.add(root, arcname="images")
    (xtr, _), (xte, _), _ = read_image_folder(tmp_path / "ok.tar")
    assert len(xtr) + len(xte) == 20
    cut = _tar_cut_at_a_member_boundary(root, tmp_path / "cut.tar", 15)
    before = snapshot(tmp_path)
    with pytest.raises(DataError) as info:
        fetch(tmp_path / "data", "image_folder", str(cut))
    msg = str(info.value)
    assert msg.startswith(f"{cut}: truncated archive") and "end-of-archive" in msg and "\n" not in msg
    assert snapshot(tmp_path) == before


def test_truncated_plain_cifar_tar_is_refused(tmp_path, cifar10_tarball):
    import gzip
    import tarfile

    from tinykd.data.formats import read_cifar10
    from tinykd.errors import DataError

    plain = tmp_path / "cifar.tar"
    plain.write_bytes(gzip.decompress(cifar10_tarball.read_bytes()))
    read_cifar10(plain)
    with tarfile.open(plain) as tar:
        last = [m for m in tar.getmembers() if m.isfile()][-1]
    cut = tmp_path / "cut.tar"
    cut.write_bytes(plain.read_bytes()[:last.offset])   # the last batch is gone, nothing else
    with pytest.raises(DataError, match="truncated archive"):
        read_cifar10(cut)


def test_odd_size_images_are_named(tmp_path):
    from PIL import Image

    from support import tiny_datasets as td
    from tinykd.data.formats import read_image_folder
    from tinykd.errors import DataError

    root = td.write_image_folder(tmp_path / "tree", n_train=8, n_test=4)
    odd = root / "train" / "dog" / "odd.png"
    Image.new("RGB", (20, 12)).save(odd)
    with pytest.raises(DataError) as info:
        read_image_folder(root)
    msg = str(info.value)
    assert f"{odd} is 20 x 12" in msg and "the others 16 x 16" in msg and "\n" not in msg, msg


def test_decompression_bomb_is_one_line_naming_the_file(tmp_path, monkeypatch, capsys):
    from PIL import Image

    from support import tiny_datasets as td
    from tinykd.data.formats import read_image_folder
    from tinykd.errors import DataError
    from tinykd.mlperf.datasets import load_samples

    root = td.write_image_folder(tmp_path / "tree", n_train=4, n_test=4)
    big = root / "train" / "cat" / "big.png"
    Image.new("RGB", (64, 64)).save(big)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)   # 64 x 64 > 2 x 1000: a "bomb"
    with pytest.raises(DataError) as info:
        read_image_folder(root)
    msg = str(info.value)
    assert msg.startswith(f"{big}: image too large to decode safely") and "\n" not in msg, msg
    folder = tmp_path / "ic"
    (folder / "cat").mkdir(parents=True)
    Image.new("RGB", (64, 64)).save(folder / "cat" / "a.png")
    with pytest.raises(DataError, match=r"a.png: image too large to decode safely"):
        load_samples(folder)


@pytest.mark.parametrize("limit", [1000, 3000])   # 64 x 64 = 4096 pixels: PIL's error, then its warning
def test_live_decompression_bomb_is_one_line_naming_the_file(tmp_path, monkeypatch, limit):
    import warnings

    from PIL import Image

    from tinykd import live
    from tinykd.errors import DataError

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    Image.new("RGB", (64, 64)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    frames = live.folder_frames(tmp_path)
    assert next(frames)[0] == "a.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # the warning must not also be printed
        with pytest.raises(DataError) as info:
            next(frames)
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path / 'big.png'}: image too large to decode safely") and "\n" not in msg, msg


def test_yaml_syntax_error_keeps_its_line_number(tmp_path):
    from tinykd import params as P
    from tinykd.errors import ParamError

    bad = tmp_path / "params.yaml"
    bad.write_text("seed: 1\nkd:\n  alpha: 0.4\n  temperature: [3\nquantize: {}\n")
    with pytest.raises(ParamError) as info:
        P.load(bad)
    msg = str(info.value)
    assert "line 5, column" in msg and "\n" not in msg, msg
    dup = tmp_path / "dup.yaml"
    dup.write_text("seed: 1\nkd:\n  alpha: 0.4\nkd:\n  alpha: 0.9\n")
    with pytest.raises(ParamError) as info:
        P.load(dup)
    assert "line 4, column 1: key 'kd' appears twice (first on line 2)" in str(info.value)


def _yaml_project(root: Path) -> Path:
    import shutil

    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    (root / "presets").mkdir()
    (root / "workflow" / "schemas").mkdir(parents=True)
    shutil.copy(REPO / "workflow" / "schemas" / "params.schema.yaml", root / "workflow" / "schemas")
    return root


def test_preset_yaml_errors_keep_their_line_numbers(tmp_path):
    from tinykd.errors import ParamError
    from tinykd.experiments import presets

    proj = _yaml_project(tmp_path)
    broken = proj / "presets" / "broken.yaml"
    broken.write_text("# a preset\nkd:\n  alpha: 0.5\n  temperature: [3\nseed: 1\n")
    before = snapshot(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "tinykd.cli", "preset", "--root", str(proj), "apply", "broken",
                           "--params", str(proj / "params.yaml")], capture_output=True, text=True, cwd=proj)
    line = one_error_line(proc.stderr)
    assert proc.returncode == 1 and f"preset broken file = '{broken}'" in line and "line 5, column" in line, line
    assert snapshot(tmp_path) == before
    broken.write_text("kd:\n  alpha: 0.5\nkd:\n  alpha: 0.9\n")   # YAML alone would keep the last
    with pytest.raises(ParamError, match=r"line 3, column 1: key 'kd' appears twice \(first on line 1\)"):
        presets.load("broken", proj)
    broken.write_text("kd:\n  alpha: 0.5\n")
    (proj / "params.yaml").write_text("seed: 1\nkd: {alpha: 0.4\n")
    with pytest.raises(ParamError) as info:
        presets.merged_params("broken", proj / "params.yaml", proj)
    msg = str(info.value)
    assert f"params file = '{proj / 'params.yaml'}'" in msg and "line 3, column 1" in msg and "\n" not in msg, msg


def test_sweep_yaml_errors_keep_their_line_numbers(tmp_path):
    from tinykd.errors import ParamError
    from tinykd.experiments.collect import rows_from_point_dirs
    from tinykd.experiments.derive import derive_params

    proj = _yaml_project(tmp_path)
    params = proj / "params.yaml"
    good = params.read_text()
    params.write_text(good + "kd:\n  alpha: 0.9\n")   # a second kd: section at the end
    kd_line = 1 + good.splitlines().index("kd:")
    with pytest.raises(ParamError) as info:
        derive_params(params, ["kd.alpha=0.5"], proj / "point" / "params.yaml")
    msg = str(info.value)
    assert f"line {len(good.splitlines()) + 1}, column 1: key 'kd' appears twice (first on line {kd_line})" in msg
    params.write_text(good)
    with pytest.raises(ParamError) as info:
        derive_params(params, ["kd.temperature=[3"], proj / "point" / "params.yaml")
    msg = str(info.value)
    assert msg.startswith("params: --set = 'kd.temperature=[3' is not allowed") and "column" in msg, msg
    assert "\n" not in msg and not (proj / "point").exists()
    point = proj / "grid" / "T4-a0.5"
    point.mkdir(parents=True)
    (point / "params.yaml").write_text("kd:\n  temperature: 4\n  alpha: [0.5\n")
    with pytest.raises(ParamError) as info:
        rows_from_point_dirs(proj / "grid")
    msg = str(info.value)
    assert f"'{point / 'params.yaml'}'" in msg and "line 4, column 1" in msg and "\n" not in msg, msg


def test_truncated_keras_teacher_is_named_not_file_not_found(tmp_path):
    import zipfile

    from tinykd import params as P
    from tinykd.errors import ParamError

    whole = tmp_path / "teacher.keras"
    with zipfile.ZipFile(whole, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", "{}" * 2000)
        zf.writestr("model.weights.h5", bytes(range(256)) * 40)
    p = P.validate({"teacher": {"source": "teacher.keras"}}, P.load_schema())
    P.check_semantics(p, ["teacher"], tmp_path)
    cut = tmp_path / "cut.keras"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    p["teacher"]["source"] = "cut.keras"
    with pytest.raises(ParamError) as info:
        P.check_semantics(p, ["teacher"], tmp_path)
    msg = str(info.value)
    assert msg.startswith("params: teacher.source = 'cut.keras' is not allowed; expected a complete .keras file")
    assert "truncated or damaged" in msg and "\n" not in msg and "not found" not in msg.lower()
