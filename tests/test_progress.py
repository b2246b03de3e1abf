"""Progress bars of the data's long steps (tinykd.data.progress): shown on a terminal, silent when
piped or asked to be quiet, and the outputs identical either way."""
from __future__ import annotations

import io
import sys
import tarfile

import pytest

from support import tiny_datasets as td
from support.files import digests
from tinykd.data import fetch, progress, sources


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize("stream, quiet, shown", [(Terminal, False, True), (Terminal, True, False),
                                                   (Pipe, False, False)])
def test_archive_bar_on_a_terminal_only_and_the_same_outputs(stream, quiet, shown, image_folder_tar, tmp_path,
                                                             monkeypatch):
    err = stream()
    monkeypatch.setattr(sys, "stderr", err)
    fetch(tmp_path / "bars", "image_folder", str(image_folder_tar), val_split=0.25, seed=1, progress=not quiet)
    monkeypatch.undo()
    assert ("read and decode images.tar.gz" in err.getvalue()) == shown, err.getvalue()
    if not shown:
        assert err.getvalue() == ""
    fetch(tmp_path / "plain", "image_folder", str(image_folder_tar), val_split=0.25, seed=1, progress=False)
    assert digests(tmp_path / "bars") == digests(tmp_path / "plain")


def test_folder_decode_counts_images(tmp_path, monkeypatch):
    root = td.write_image_folder(tmp_path / "tree")
    n = sum(1 for p in root.rglob("*") if p.is_file())
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    fetch(tmp_path / "d", "image_folder", str(root), val_split=0.0)
    assert "decode tree" in err.getvalue() and f"/{n} " in err.getvalue(), err.getvalue()


def test_archive_bar_ends_at_the_archive_size(cifar10_tarball, monkeypatch):
    """tarfile seeks back while detecting the compression: the bar follows the position, once."""
    monkeypatch.setattr(sys, "stderr", Terminal())
    with progress.open_tracked(cifar10_tarball, "read", True) as fh, tarfile.open(fileobj=fh, mode="r:*") as tar:
        names = []
        for m in tar:
            names.append(m.name)
            if m.isfile():
                tar.extractfile(m).read()
        fh.read()  # the gzip trailer
        assert fh.bar.n == cifar10_tarball.stat().st_size
    assert any("data_batch_" in n for n in names)


def test_download_bar_shows_the_file_and_its_size(cifar10_tarball, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYKD_CACHE", str(tmp_path / "cache"))
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    path = sources.download(cifar10_tarball.as_uri(), {"sha256": sources.file_digest(cifar10_tarball)})
    assert path.read_bytes() == cifar10_tarball.read_bytes()
    assert "download cifar-10-python.tar.gz" in err.getvalue(), err.getvalue()
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    sources.download(cifar10_tarball.as_uri(), name="again.tar.gz", progress=False)
    assert quiet.getvalue() == ""
