"""Where dataset and model files come from: official URLs, local paths, file:// and http(s) URLs.

Downloads land in a checksum-verified cache (TINYKD_CACHE, default ~/.cache/tinykd), written
atomically so an interrupted download is never mistaken for a complete one.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..atomic import atomic_path
from ..errors import DataError
from .progress import bar as progress_bar

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_CHECKSUMS = {
    "md5": "c58f30108f718f92721af3b95e74349a",
    "sha256": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
}

IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

# The original MNIST page no longer serves the files; this is the mirror Keras and TFDS use.
MNIST_BASE_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
MNIST_CHECKSUMS = {
    "train-images-idx3-ubyte.gz": {"md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                                   "sha256": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"},
    "train-labels-idx1-ubyte.gz": {"md5": "d53e105ee54ea40749a09fcbcd1e9432",
                                   "sha256": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"},
    "t10k-images-idx3-ubyte.gz": {"md5": "9fb629c4189551a2d022fa330f9573f3",
                                  "sha256": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"},
    "t10k-labels-idx1-ubyte.gz": {"md5": "ec29112dd5afa0611ce80d1b7f02629c",
                                  "sha256": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
}
FASHION_BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_CHECKSUMS = {
    "train-images-idx3-ubyte.gz": {"md5": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                                   "sha256": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"},
    "train-labels-idx1-ubyte.gz": {"md5": "25c81989df183df01b3e8a0aad5dffbe",
                                   "sha256": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"},
    "t10k-images-idx3-ubyte.gz": {"md5": "bef4ecab320f06d8554ea6380940ec79",
                                  "sha256": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"},
    "t10k-labels-idx1-ubyte.gz": {"md5": "bb300cfdad3c16e7a12a480ee83cd310",
                                  "sha256": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"},
}


def cache_dir() -> Path:
    return Path(os.environ.get("TINYKD_CACHE") or Path.home() / ".cache" / "tinykd")


def file_digest(path: str | os.PathLike, algo: str = "sha256") -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_digest(folder: str | os.PathLike) -> str:
    """sha256 of a folder: of its `sha256sum` listing, one line "<sha256>  <path>\n" per regular
    file below it (recursively), paths relative with "/" and sorted by their bytes. In a shell:
    `cd FOLDER && find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum`.
    A folder holding a symbolic link is refused (DataError): its target would go unchecked."""
    folder = Path(folder)
    rels = []
    for root, dirs, files in os.walk(folder):
        for name in sorted(dirs + files):
            p = Path(root) / name
            if p.is_symlink():
                raise DataError(f"{folder}: cannot checksum a folder holding a symbolic link "
                                f"({p.relative_to(folder)}); copy the files in, or leave sha256 empty")
        rels += [(Path(root) / f).relative_to(folder).as_posix() for f in files]
    listing = "".join(f"{file_digest(folder / r)}  {r}\n" for r in sorted(rels, key=lambda r: r.encode()))
    return hashlib.sha256(listing.encode()).hexdigest()


def verify_folder(folder: Path, sha256: str, what: str) -> None:
    got = folder_digest(folder)
    if got.lower() != sha256.lower():
        raise DataError(f"{what}: sha256 of the folder {folder} (over its files in sorted order, see "
                        f"tinykd.data.sources.folder_digest) is {got}, expected {sha256.lower()}")


def verify(path: Path, checksums: dict[str, str], what: str) -> None:
    """Raise DataError unless every given checksum ({"md5": ..., "sha256": ...}) matches."""
    for algo, want in sorted(checksums.items()):
        if not want:
            continue
        got = file_digest(path, algo)
        if got.lower() != want.lower():
            raise DataError(f"{what}: {algo} is {got}, expected {want.lower()} (corrupt, truncated or a different file)")


def is_remote(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def to_local(source: str, base: Path | None = None) -> Path:
    """A local path or file:// URL; relative paths are taken from `base` (the params file's folder)."""
    if source.startswith("file://"):
        source = unquote(urlparse(source).path)
    path = Path(source).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def download(url: str, checksums: dict[str, str] | None = None, name: str | None = None,
             progress: bool = True) -> Path:
    """Fetch `url` into the cache (reusing a cached copy whose checksum matches) and return its path.
    `progress`: a bar on a terminal (tinykd.data.progress)."""
    checksums = {k: v for k, v in (checksums or {}).items() if v}
    name = name or Path(urlparse(url).path).name or "download"
    key = (checksums.get("sha256") or checksums.get("md5") or hashlib.sha256(url.encode()).hexdigest())[:16]
    dest = cache_dir() / key / name
    if dest.is_file() and checksums:
        try:
            verify(dest, checksums, str(dest))
            return dest
        except DataError:
            dest.unlink()
    try:
        with atomic_path(dest) as tmp:
            req = urllib.request.Request(url, headers={"User-Agent": "tinykd"})
            with urllib.request.urlopen(req, timeout=60) as resp, open(tmp, "wb") as out:
                announced = resp.headers.get("Content-Length") if resp.headers else None
                total = int(announced) if announced is not None and announced.strip().isdigit() else None
                got = 0
                with progress_bar(total, f"download {name}", progress) as shown:
                    for block in iter(lambda: resp.read(1 << 20), b""):
                        out.write(block)
                        got += len(block)
                        shown.update(len(block))
            # Without a checksum the announced length is the only proof the file is whole; a
            # short file raises here, inside atomic_path, so it never lands in the cache.
            if announced is not None and announced.strip().isdigit() and got != int(announced):
                raise DataError(f"download of {url} is truncated: {got} of the announced {int(announced)} "
                                "bytes arrived (nothing was cached; try again)")
            verify(tmp, checksums, url)
    except http.client.IncompleteRead as exc:
        raise DataError(f"download of {url} is truncated: {len(exc.partial)} bytes arrived, "
                        f"{exc.expected} more were announced (nothing was cached; try again)") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as exc:
        raise DataError(f"download of {url} failed: {exc}") from None
    return dest


def resolve_file(source: str, official_url: str, official: dict[str, str], sha256: str,
                 base: Path | None, what: str, progress: bool = True) -> Path:
    """One file: the official download when `source` is empty, else a local path or URL.

    The official checksums apply to the official download; a user's `sha256` applies to theirs.
    """
    if not source:
        return download(official_url, {**official, **({"sha256": sha256} if sha256 else {})}, progress=progress)
    if is_remote(source):
        return download(source, {"sha256": sha256}, progress=progress)
    path = to_local(source, base)
    if not path.exists():
        raise DataError(f"{what}: {path} does not exist")
    if sha256:
        if path.is_dir():
            verify_folder(path, sha256, what)
        else:
            verify(path, {"sha256": sha256}, str(path))
    return path
