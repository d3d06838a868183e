"""MNIST and Fashion-MNIST from the original IDX gzip files, read strictly, plus the shipped 5k MNIST subset.

Why strict: a truncated download or a mixed-up file otherwise surfaces as a numpy reshape error deep inside training,
or worse, trains silently on the wrong data. Every fault here becomes a one-line `DataError` naming the file.
Structure is checked first (gzip integrity, magic, 28x28 dims, payload length, image/label counts) because those
messages say what is wrong; then the md5 of files with a canonical name is compared with the published value.
A file whose *decompressed* content matches the published data is accepted even if its gzip bytes differ (e.g.
Debian's `dataset-fashion-mnist` package re-compresses the same data).

Files are found in `data_dir`, else `$GANKIT_DATA`, then in the cache (`$GANKIT_CACHE`, default `~/.cache/gankit`);
missing files are downloaded into the cache unless `download=False` or `GANKIT_OFFLINE=1`.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import importlib.resources
import logging
import os
import stat
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import ConfigError, DataError

log = logging.getLogger(__name__)

MNIST_NAMES: tuple[str, ...] = ("mnist", "fashion-mnist")
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049  # 0x00000803: ubyte, 3 dims; 0x00000801: ubyte, 1 dim
ROWS = COLS = 28
#: More items than any IDX file gankit reads holds (MNIST's train split: 60,000); checked in the header, before
#: the payload is decompressed, so a forged count cannot ask for gigabytes
MAX_IDX_ITEMS = 1_000_000
GZIP_SLACK = 64 << 10  # gzip header, trailer and block overhead allowed beyond deflate's 0.1%
MAX_GZIP_RATIO = 100  # real IDX files compress 2x (Fashion-MNIST) to 5x (MNIST)
READ_CHUNK = 1 << 20

#: split -> (images file, labels file), the names used by the original sites and by torchvision.
FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

#: Sub-folders searched inside a data dir before the dir itself: our/shared layout, then torchvision's.
SUBDIRS: dict[str, tuple[str, ...]] = {
    "mnist": ("mnist", "MNIST/raw"),
    "fashion-mnist": ("fashion_mnist", "FashionMNIST/raw"),
}

#: md5 of the .gz files as published by the MNIST site and by zalandoresearch/fashion-mnist.
PUBLISHED_MD5: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}

#: md5 of the decompressed IDX bytes of those same files, so re-compressed or already-unpacked copies verify too.
CONTENT_MD5: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte.gz": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

#: size in bytes of each published .gz file: a download is cut off past it (its md5 could not match anyway)
PUBLISHED_SIZE: dict[str, dict[str, int]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": 9912422,
        "train-labels-idx1-ubyte.gz": 28881,
        "t10k-images-idx3-ubyte.gz": 1648877,
        "t10k-labels-idx1-ubyte.gz": 4542,
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": 26421880,
        "train-labels-idx1-ubyte.gz": 29515,
        "t10k-images-idx3-ubyte.gz": 4422102,
        "t10k-labels-idx1-ubyte.gz": 5148,
    },
}

#: https only: plain http is used only for a mirror the caller names, and a redirect never leaves https
DEFAULT_MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "fashion-mnist": ("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",),
}
MAX_REDIRECTS = 5
MIRROR_ENV = {"mnist": "GANKIT_MNIST_MIRROR", "fashion-mnist": "GANKIT_FASHION_MNIST_MIRROR"}

CLASS_NAMES: dict[str, list[str]] = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}


# ---------------------------------------------------------------------------------------------------- locations
def cache_dir() -> Path:
    """Where downloads go: `$GANKIT_CACHE`, else `~/.cache/gankit`."""
    return Path(os.environ.get("GANKIT_CACHE") or Path.home() / ".cache" / "gankit").expanduser()


def default_download() -> bool:
    """Downloading is on unless `GANKIT_OFFLINE` is set to a true value (1/true/yes)."""
    return os.environ.get("GANKIT_OFFLINE", "").strip().lower() not in ("1", "true", "yes", "on")


def search_dirs(dataset: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for `dataset`'s files, in order: the data dir (arg, else `$GANKIT_DATA`), then the cache."""
    roots: list[Path] = []
    explicit = data_dir if data_dir is not None else (os.environ.get("GANKIT_DATA") or None)
    if explicit is not None:
        root = Path(explicit).expanduser()
        if not root.is_dir():
            origin = "data_dir" if data_dir is not None else "$GANKIT_DATA"
            raise DataError(f"{root}: data directory ({origin}) does not exist or is not a directory")
        roots.append(root)
    roots.append(cache_dir())
    dirs: list[Path] = []
    for root in roots:
        for d in [root / sub for sub in SUBDIRS[dataset]] + [root]:
            if d not in dirs:
                dirs.append(d)
    return dirs


def find_file(filename: str, dirs: Sequence[Path]) -> Path | None:
    """First `filename` (or its unpacked twin without `.gz`) in `dirs`."""
    for d in dirs:
        for name in (filename, filename.removesuffix(".gz")):
            if (d / name).is_file():
                return d / name
    return None


# ---------------------------------------------------------------------------------------------------- IDX reader
@dataclass(frozen=True)
class _Parsed:
    array: np.ndarray  # read-only uint8: [N, 28, 28] images or [N] labels
    file_md5: str  # of the bytes on disk
    content_md5: str  # of the decompressed IDX bytes


def _one_line(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return " ".join(text.split())


def _parse(path: Path, kind: str) -> _Parsed:
    """Read and structurally check one IDX file; no checksum policy here.

    The header is read from the first decompressed bytes and checked before anything else is inflated, and the
    decompressed size is bounded by what the header says: a small gzip bomb cannot expand to gigabytes first."""
    expected_magic, ndim = (IMAGE_MAGIC, 3) if kind == "images" else (LABEL_MAGIC, 1)
    try:
        with open(path, "rb") as fh:
            stream: BinaryIO = gzip.GzipFile(fileobj=fh) if path.name.endswith(".gz") else fh
            try:
                raw = _read_idx_stream(path, stream, kind, expected_magic, ndim)
            except (OSError, EOFError, zlib.error) as e:
                if stream is fh:
                    raise
                raise DataError(f"{path}: truncated or corrupt gzip ({_one_line(e)})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read file ({e.strerror or _one_line(e)})") from None
    content_md5 = hashlib.md5(raw).hexdigest()
    file_md5 = _file_md5(path) if path.name.endswith(".gz") else content_md5
    header_len = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims)
    array.flags.writeable = False  # shared through the parse cache
    return _Parsed(array, file_md5, content_md5)


def _read_idx_stream(path: Path, stream: BinaryIO, kind: str, expected_magic: int, ndim: int) -> bytearray:
    """The whole decompressed IDX content of `stream`: its header checked first, then exactly the payload the
    header announces, refusing a stream that holds less or more."""
    header_len = 4 + 4 * ndim
    header = _read_upto(stream, header_len)
    if len(header) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(header)} bytes)")
    magic = int.from_bytes(header[:4], "big")
    if magic != expected_magic:
        hint = {IMAGE_MAGIC: " (an IDX images file)", LABEL_MAGIC: " (an IDX labels file)"}.get(magic, "")
        raise DataError(f"{path}: bad magic number: expected {expected_magic} (IDX {kind}), found {magic}{hint}")
    if len(header) < header_len:
        raise DataError(f"{path}: truncated IDX header ({len(header)} bytes, need {header_len})")
    dims = tuple(int.from_bytes(header[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if kind == "images" and dims[1:] != (ROWS, COLS):
        raise DataError(f"{path}: expected {ROWS}x{COLS} images, header says {dims[1]}x{dims[2]}")
    if dims[0] == 0:
        raise DataError(f"{path}: header says the file holds no {kind}")
    if dims[0] > MAX_IDX_ITEMS:
        raise DataError(f"{path}: header says {dims[0]} {kind}; gankit reads IDX files of at most "
                        f"{MAX_IDX_ITEMS:,} (MNIST's training split holds 60,000)")
    expected_len = int(np.prod(dims))
    if path.name.endswith(".gz"):
        _check_gzip_size(path, header_len + expected_len)
    raw = _read_upto(stream, expected_len, into=header)  # grows only as far as the data really inflates
    if len(raw) < header_len + expected_len or stream.read(1):  # reading on also makes gzip check its CRC
        held = f"{len(raw) - header_len} bytes" if len(raw) < header_len + expected_len else "more"
        raise DataError(f"{path}: header says {dims[0]} {kind} ({expected_len} bytes of data) "
                        f"but the file holds {held} after the header")
    return raw


def _check_gzip_size(path: Path, content_len: int) -> None:
    """The size of a .gz file against the content its header announces: deflate adds at most ~0.1%, so a much
    bigger file (zero padding, a huge gzip header field) is refused unread; and image data does not shrink a
    hundredfold, so a header that claims far more than the file could plausibly hold is refused too."""
    size = path.stat().st_size
    if size > content_len + content_len // 1000 + GZIP_SLACK:
        raise DataError(f"{path}: {size} bytes of gzip for the {content_len} bytes of IDX data its header "
                        "announces: not an IDX file")
    if content_len > MAX_GZIP_RATIO * size + GZIP_SLACK:
        raise DataError(f"{path}: its header announces {content_len} bytes of IDX data from {size} bytes of gzip, "
                        f"more than {MAX_GZIP_RATIO}x: not an IDX file")


def _read_upto(stream: BinaryIO, n: int, into: bytearray | None = None) -> bytearray:
    """`into` (else a new buffer) extended by up to `n` bytes of `stream`, fewer only at its end; read in
    bounded chunks so memory follows the bytes that actually arrive."""
    buf = into if into is not None else bytearray()
    end = len(buf) + n
    while len(buf) < end:
        part = stream.read(min(READ_CHUNK, end - len(buf)))
        if not part:
            break
        buf += part
    return buf


def _file_md5(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(READ_CHUNK):
            md5.update(chunk)
    return md5.hexdigest()


@functools.lru_cache(maxsize=16)
def _parse_cached(path: str, mtime_ns: int, size: int, kind: str) -> _Parsed:
    # keyed on mtime and size as well, so a file replaced on disk is read again
    return _parse(Path(path), kind)


def _parse_file(path: Path, kind: str) -> _Parsed:
    try:
        st = path.stat()
    except OSError as e:
        raise DataError(f"{path}: cannot read file ({e.strerror or _one_line(e)})") from None
    if not stat.S_ISREG(st.st_mode):  # a folder, or a FIFO whose read would block
        raise DataError(f"{path}: cannot read file (not a regular file)")
    return _parse_cached(str(path.resolve()), st.st_mtime_ns, st.st_size, kind)


def _check_md5(path: Path, parsed: _Parsed, dataset: str | None) -> None:
    """Compare a canonically named file with the published checksum of `dataset`; other names are not checked."""
    if dataset is None:
        return
    gz_name = path.name if path.name.endswith(".gz") else path.name + ".gz"
    if gz_name not in PUBLISHED_MD5[dataset]:
        return
    if parsed.file_md5 == PUBLISHED_MD5[dataset][gz_name] or parsed.content_md5 == CONTENT_MD5[dataset][gz_name]:
        return
    if path.name.endswith(".gz"):
        expected, got, table = PUBLISHED_MD5[dataset][gz_name], parsed.file_md5, PUBLISHED_MD5
    else:
        expected, got, table = CONTENT_MD5[dataset][gz_name], parsed.content_md5, CONTENT_MD5
    other = [d for d in MNIST_NAMES if d != dataset and table[d][gz_name] == got]
    hint = f" (this is the {other[0]} file, not {dataset})" if other else ""
    raise DataError(f"{path}: checksum mismatch: expected {expected}, got {got}{hint}")


def read_idx(path: str | os.PathLike, kind: str, *, dataset: str | None = None) -> np.ndarray:
    """One IDX file as a read-only uint8 array: [N, 28, 28] for kind="images", [N] for kind="labels".

    With `dataset` ("mnist" or "fashion-mnist") a canonically named file is also checked against its published md5.
    """
    if kind not in ("images", "labels"):
        raise ValueError(f"kind must be 'images' or 'labels', got {kind!r}")
    path = Path(path)
    parsed = _parse_file(path, kind)
    _check_md5(path, parsed, dataset)
    return parsed.array


def read_idx_pair(images_path: str | os.PathLike, labels_path: str | os.PathLike, *,
                  dataset: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images [N, 28, 28] and labels [N] (uint8, read-only), checked to agree in count and to be digits 0..9."""
    images_path, labels_path = Path(images_path), Path(labels_path)
    images, labels = _parse_file(images_path, "images"), _parse_file(labels_path, "labels")
    n_img, n_lab = len(images.array), len(labels.array)
    if n_img != n_lab:
        raise DataError(f"{labels_path}: holds {n_lab} labels but {images_path} holds {n_img} images")
    top = int(labels.array.max())
    if top > 9:
        raise DataError(f"{labels_path}: label values must be 0..9, found {top}")
    _check_md5(images_path, images, dataset)
    _check_md5(labels_path, labels, dataset)
    return images.array, labels.array


# ---------------------------------------------------------------------------------------------------- download
def mirrors_for(dataset: str) -> tuple[str, ...]:
    """Base URLs to try: `$GANKIT_MNIST_MIRROR` / `$GANKIT_FASHION_MNIST_MIRROR` if set, else the canonical ones."""
    env = os.environ.get(MIRROR_ENV[dataset], "").strip()
    return (env,) if env else DEFAULT_MIRRORS[dataset]


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):  # a redirect loop's reason spans lines
        return f"HTTP {e.code} {' '.join(str(e.reason).split())}"
    if isinstance(e, urllib.error.URLError):
        return _one_line(e.reason) if isinstance(e.reason, BaseException) else str(e.reason)
    return f"{type(e).__name__}: {_one_line(e)}"


class _NoDowngrade(urllib.request.HTTPRedirectHandler):
    """Follows at most MAX_REDIRECTS redirects, never from https to anything else and never to another scheme."""

    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        old, new = urllib.parse.urlsplit(req.full_url).scheme, urllib.parse.urlsplit(newurl).scheme
        if new not in ("http", "https") or (old == "https" and new != "https"):
            raise urllib.error.URLError(f"refused redirect from {old}:// to {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_NoDowngrade)


class _TooLarge(Exception):
    """A download that is bigger than the published file."""


def _fetch(url: str, out: BinaryIO, limit: int, timeout: float) -> str:
    """Stream `url` into `out`, at most `limit` bytes (a longer answer is refused as soon as it shows); its md5."""
    md5, got = hashlib.md5(), 0
    with _OPENER.open(url, timeout=timeout) as resp:
        announced = resp.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > limit:
            raise _TooLarge(f"announces {announced} bytes, more than the published {limit}")
        while chunk := resp.read(min(READ_CHUNK, limit + 1 - got)):
            got += len(chunk)
            if got > limit:
                raise _TooLarge(f"sent more than the published {limit} bytes")
            md5.update(chunk)
            out.write(chunk)
    return md5.hexdigest()


def download_file(dataset: str, filename: str, dest_dir: Path, *, mirrors: Sequence[str] | None = None,
                  timeout: float = 60.0) -> Path:
    """Fetch `filename` into `dest_dir`, trying each mirror in turn.

    The bytes stream into a temp file next to the destination, at most the published file's size, and are
    md5-checked before an atomic rename, so the cache never holds a partial or wrong file, even if the process is
    killed mid-download. Redirects stay on https (see _NoDowngrade).
    """
    expected, limit = PUBLISHED_MD5[dataset][filename], PUBLISHED_SIZE[dataset][filename]
    mirrors = tuple(mirrors) if mirrors is not None else mirrors_for(dataset)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{dest_dir}: cannot create cache directory ({e.strerror or _one_line(e)})") from None
    dest = dest_dir / filename
    tried: list[str] = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            tried.append(f"{url} (not an http(s) URL)")
            continue
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=f".{filename}.", suffix=".part")
            log.info("downloading %s", url)
            with os.fdopen(fd, "wb") as out:
                got = _fetch(url, out, limit, timeout)
            if got != expected:
                tried.append(f"{url} (checksum mismatch: expected {expected}, got {got})")
                continue
            os.replace(tmp, dest)
            tmp = None
            return dest
        except _TooLarge as e:
            tried.append(f"{url} ({e})")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            tried.append(f"{url} ({_reason(e)})")
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
    raise DataError(f"could not download {dataset} file {filename} into {dest_dir}: tried {'; '.join(tried)}; "
                    f"to use local copies, put the IDX .gz files in a folder and pass --data-dir DIR "
                    f"or set GANKIT_DATA=DIR")


# ---------------------------------------------------------------------------------------------------- loaders
def load_idx_dataset(dataset: str, split: str = "train", *, data_dir: str | os.PathLike | None = None,
                     download: bool | None = None, mirrors: Sequence[str] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images [N, 28, 28] and labels [N] of MNIST or Fashion-MNIST, found locally or downloaded to the cache."""
    if dataset not in MNIST_NAMES:
        raise ConfigError(f"unknown IDX data set {dataset!r}; choose one of {', '.join(MNIST_NAMES)}")
    if split not in FILES:
        raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
    if download is None:
        download = default_download()
    dirs = search_dirs(dataset, data_dir)
    paths: list[Path] = []
    for filename in FILES[split]:
        path = find_file(filename, dirs)
        if path is None:
            if not download:
                where = ", ".join(str(d) for d in dirs)
                raise DataError(f"{dataset} {split} file {filename} not found (looked in {where}) and downloading is "
                                f"off (download=False or GANKIT_OFFLINE=1); pass --data-dir DIR or set GANKIT_DATA=DIR "
                                f"to a folder holding the IDX files")
            path = download_file(dataset, filename, cache_dir() / SUBDIRS[dataset][0], mirrors=mirrors)
        paths.append(path)
    return read_idx_pair(paths[0], paths[1], dataset=dataset)


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000-digit MNIST subset shipped inside the package (500 per class), so the quickstart needs no network."""
    res = importlib.resources.files("gankit").joinpath("assets/mnist_5k.npz")
    try:
        with res.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"]
    except (OSError, KeyError, ValueError, EOFError) as e:
        raise DataError(f"gankit/assets/mnist_5k.npz: missing or damaged ({_one_line(e)}); reinstall gankit") from None
    if images.shape[1:] != (ROWS, COLS) or images.dtype != np.uint8 or labels.shape != images.shape[:1]:
        raise DataError(f"gankit/assets/mnist_5k.npz: unexpected contents (images {images.shape} {images.dtype}, "
                        f"labels {labels.shape}); reinstall gankit")
    return images, labels
