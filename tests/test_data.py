"""Tests of gankit.data: toys, the shipped 5k subset, the strict IDX reader, downloading, and image folders."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import math
import os
import shutil
import threading
import tracemalloc
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import DATASET_NAMES, TOY_MODES, Dataset, gaussian1d_params, is_toy, load_dataset
from gankit.data.mnist import (DEFAULT_MIRRORS, PUBLISHED_MD5, PUBLISHED_SIZE, _NoDowngrade, load_idx_dataset,
                               read_idx, read_idx_pair)
from gankit.errors import ConfigError, DataError

TOYS = ("gaussian1d", "ring8", "grid25", "swissroll")
T10K_IMAGES, T10K_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg, msg
    return msg


# ------------------------------------------------------------------------------------------------------- toys
@pytest.mark.parametrize("name,dim,classes", [("gaussian1d", 1, 0), ("ring8", 2, 8), ("grid25", 2, 25),
                                              ("swissroll", 2, 0)])
def test_toy_shapes_and_labels(name: str, dim: int, classes: int) -> None:
    d = load_dataset(name)
    assert is_toy(name) and not d.is_image
    assert len(d) == 50_000 and d.x.shape == (50_000, dim) and d.sample_shape == (dim,)
    assert d.x.dtype == torch.float32 and d.x.is_contiguous() and torch.isfinite(d.x).all()
    assert d.num_classes == classes
    if classes:
        assert d.y.dtype == torch.int64 and set(d.y.unique().tolist()) == set(range(classes))
    else:
        assert d.y is None
    assert load_dataset(name, n=123).x.shape == (123, dim)


@pytest.mark.parametrize("name", TOYS)
def test_toy_determinism(name: str) -> None:
    a, b = load_dataset(name, n=1000, seed=3), load_dataset(name, n=1000, seed=3)
    assert torch.equal(a.x, b.x)
    assert not torch.equal(a.x, load_dataset(name, n=1000, seed=4).x)
    assert not torch.equal(a.x, load_dataset(name, n=1000, seed=3, split="test").x)  # a separate seed stream


def test_ring8_geometry() -> None:
    n = 40_000
    d = load_dataset("ring8", n=n, seed=1)
    centres, std = TOY_MODES["ring8"]
    assert std == 0.02 and centres.shape == (8, 2)
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0))
    r = d.x.norm(dim=1)
    assert ((r - 2.0).abs() < 6 * std).all()
    counts = torch.bincount(d.y, minlength=8).float()
    assert ((counts - n / 8).abs() < 5 * math.sqrt(n / 8)).all(), counts  # multinomial: 5 sigma
    # each point sits at the centre of the mode it is labelled with
    assert ((d.x - centres[d.y]).norm(dim=1) < 6 * std * math.sqrt(2)).all()


def test_grid25_centres_and_labels() -> None:
    centres, std = TOY_MODES["grid25"]
    assert std == 0.05
    grid = {(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert {tuple(c) for c in centres.tolist()} == grid
    d = load_dataset("grid25", n=10_000)
    nearest = torch.cdist(d.x, centres).argmin(dim=1)
    assert torch.equal(nearest, d.y)
    assert torch.bincount(d.y, minlength=25).min() > 250


def test_gaussian1d_moments_and_options() -> None:
    d = load_dataset("gaussian1d", n=50_000)
    assert gaussian1d_params(None) == (4.0, 0.5)
    assert abs(d.x.mean().item() - 4.0) < 0.01 and abs(d.x.std().item() - 0.5) < 0.01
    d = load_dataset("gaussian1d", n=50_000, toy_options={"mu": -1.0, "sigma": 2.0})
    assert abs(d.x.mean().item() + 1.0) < 0.04 and abs(d.x.std().item() - 2.0) < 0.04
    assert gaussian1d_params({"sigma": 3}) == (4.0, 3.0)


def test_swissroll_range() -> None:
    x = load_dataset("swissroll", n=20_000).x
    assert x.abs().max() < 2.3 and x.abs().max() > 1.5  # "roughly [-2, 2]^2", not collapsed


def test_toy_option_errors() -> None:
    with pytest.raises(ConfigError, match="'bogus'") as e:
        load_dataset("gaussian1d", toy_options={"mu": 1.0, "bogus": 2.0})
    assert "mu" in one_line(e) and "sigma" in str(e.value)
    with pytest.raises(ConfigError, match="'radius'"):
        load_dataset("ring8", toy_options={"radius": 3.0})
    with pytest.raises(ConfigError, match="sigma"):
        load_dataset("gaussian1d", toy_options={"sigma": 0.0})
    with pytest.raises(ConfigError, match="toy_options"):
        load_dataset("mnist5k", toy_options={"mu": 1.0})
    with pytest.raises(ConfigError, match="image_size"):
        load_dataset("ring8", image_size=32)


def test_unknown_name_and_bad_arguments() -> None:
    with pytest.raises(ConfigError) as e:
        load_dataset("cifar10")
    msg = one_line(e)
    assert "'cifar10'" in msg and all(name in msg for name in DATASET_NAMES) and "folder:" in msg
    assert "npy:PATH" in msg
    assert not is_toy("cifar10") and not is_toy("mnist")
    with pytest.raises(ConfigError, match="split"):
        load_dataset("ring8", split="valid")
    with pytest.raises(ConfigError, match="n must be"):
        load_dataset("ring8", n=0)


def test_dataset_dataclass() -> None:
    d = Dataset("t", torch.zeros(5, 1, 8, 8, dtype=torch.float64), torch.tensor([0, 1, 0, 1, 0]), 2, ["a", "b"])
    assert d.is_image and d.sample_shape == (1, 8, 8) and len(d) == 5
    assert d.x.dtype == torch.float32 and d.y.dtype == torch.int64
    with pytest.raises(ValueError):
        Dataset("t", torch.zeros(5, 2), torch.zeros(4, dtype=torch.int64), 2)


# ------------------------------------------------------------------------------------------------------- mnist5k
def test_mnist5k() -> None:
    d = load_dataset("mnist5k")
    assert d.name == "mnist5k" and d.is_image
    assert d.x.shape == (5000, 1, 28, 28) and d.x.dtype == torch.float32 and d.x.is_contiguous()
    assert d.x.min() == -1.0 and d.x.max() == 1.0
    assert torch.bincount(d.y).tolist() == [500] * 10
    assert d.num_classes == 10 and d.class_names == [str(i) for i in range(10)]
    # exactly x / 127.5 - 1 of the shipped bytes
    raw = np.load(Path(__import__("gankit").__file__).parent / "assets" / "mnist_5k.npz")
    assert torch.equal(d.x[:, 0], torch.from_numpy(raw["images"]).float() / 127.5 - 1)


@pytest.mark.parametrize("size,channels", [(32, None), (64, None), (28, 3), (32, 3), (16, 1)])
def test_mnist5k_resize_and_channels(size: int, channels: int | None) -> None:
    d = load_dataset("mnist5k", image_size=size, channels=channels, n=200)
    assert d.x.shape == (200, channels or 1, size, size)
    assert d.x.min() >= -1.0 and d.x.max() <= 1.0 and d.x.is_contiguous()
    if channels == 3:
        assert torch.equal(d.x[:, 0], d.x[:, 1]) and torch.equal(d.x[:, 0], d.x[:, 2])
    # resizing keeps the picture: mean brightness barely moves
    ref = load_dataset("mnist5k", n=200).x
    assert abs(d.x.mean().item() - ref.mean().item()) < 0.02


def test_mnist5k_subset_and_errors() -> None:
    a = load_dataset("mnist5k", n=300, seed=7)
    assert len(a) == 300 and torch.equal(a.x, load_dataset("mnist5k", n=300, seed=7).x)
    assert len(a.y.unique()) == 10  # a seeded random subset, not the first 300 (all zeros: the file is sorted)
    with pytest.raises(ConfigError, match="only a train split"):
        load_dataset("mnist5k", split="test")
    with pytest.raises(ConfigError, match="image_size"):
        load_dataset("mnist5k", image_size=4)
    with pytest.raises(ConfigError, match="channels"):
        load_dataset("mnist5k", channels=2)


# ------------------------------------------------------------------------------------------------------- real IDX files
def test_mnist_real_files(shared_data: Path) -> None:
    train = load_dataset("mnist", data_dir=shared_data, download=False)
    test = load_dataset("mnist", split="test", data_dir=shared_data, download=False)
    assert train.x.shape == (60_000, 1, 28, 28) and test.x.shape == (10_000, 1, 28, 28)
    for d in (train, test):
        assert d.y.min() == 0 and d.y.max() == 9 and d.num_classes == 10
        assert d.x.min() == -1.0 and d.x.max() == 1.0
    assert train.y[:5].tolist() == [5, 0, 4, 1, 9] and test.y[:5].tolist() == [7, 2, 1, 0, 4]


def test_fashion_mnist_test_split(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANKIT_DATA", str(shared_data))  # found through the environment, not an argument
    d = load_dataset("fashion-mnist", split="test", download=False)
    assert d.x.shape == (10_000, 1, 28, 28) and torch.bincount(d.y).tolist() == [1000] * 10
    assert d.class_names[0] == "T-shirt/top" and d.class_names[9] == "Ankle boot" and len(d.class_names) == 10
    assert d.y[:5].tolist() == [9, 2, 1, 1, 6]


def _gz(data: bytes, mtime: int = 0) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=mtime)  # level 1: the 7.8 MB image file in well under 1 s


@pytest.fixture
def t10k(shared_data: Path, tmp_path: Path) -> tuple[Path, bytes]:
    """A folder <tmp>/mnist holding the real t10k images, and the raw (decompressed) t10k labels to corrupt."""
    d = tmp_path / "data" / "mnist"
    d.mkdir(parents=True)
    shutil.copy(shared_data / "mnist" / T10K_IMAGES, d / T10K_IMAGES)
    return d, gzip.decompress((shared_data / "mnist" / T10K_LABELS).read_bytes())


def _load_t10k(d: Path) -> Dataset:
    return load_dataset("mnist", split="test", data_dir=d.parent, download=False)


def test_flat_folder_recompressed_and_unpacked_files_load(shared_data: Path, tmp_path: Path) -> None:
    """A flat folder works; re-gzipped (different gzip bytes, same data) and unpacked files verify by content."""
    src = shared_data / "mnist"
    (tmp_path / T10K_IMAGES).write_bytes(_gz(gzip.decompress((src / T10K_IMAGES).read_bytes()), mtime=12345))
    (tmp_path / T10K_LABELS.removesuffix(".gz")).write_bytes(gzip.decompress((src / T10K_LABELS).read_bytes()))
    assert hashlib.md5((tmp_path / T10K_IMAGES).read_bytes()).hexdigest() != PUBLISHED_MD5["mnist"][T10K_IMAGES]
    d = load_dataset("mnist", split="test", data_dir=tmp_path, download=False)
    assert len(d) == 10_000 and d.y[:3].tolist() == [7, 2, 1]


def test_truncated_gzip(t10k: tuple[Path, bytes]) -> None:
    d, labels = t10k
    bad = d / T10K_LABELS
    bad.write_bytes(_gz(labels)[:-200])
    with pytest.raises(DataError, match="truncated or corrupt gzip") as e:
        _load_t10k(d)
    assert str(bad) in one_line(e)


def test_wrong_magic(t10k: tuple[Path, bytes]) -> None:
    d, labels = t10k
    bad = d / T10K_LABELS
    bad.write_bytes(_gz((2051).to_bytes(4, "big") + labels[4:]))
    with pytest.raises(DataError, match="bad magic number") as e:
        _load_t10k(d)
    msg = one_line(e)
    assert str(bad) in msg and "expected 2049" in msg and "found 2051" in msg


def test_checksum_mismatch(t10k: tuple[Path, bytes]) -> None:
    d, labels = t10k
    bad = d / T10K_LABELS
    changed = bytearray(labels)
    changed[8] = (changed[8] + 1) % 10  # still a valid IDX file with digit labels: only the md5 can tell
    bad.write_bytes(_gz(bytes(changed)))
    got = hashlib.md5(bad.read_bytes()).hexdigest()
    with pytest.raises(DataError, match="checksum mismatch") as e:
        _load_t10k(d)
    msg = one_line(e)
    assert str(bad) in msg and f"expected {PUBLISHED_MD5['mnist'][T10K_LABELS]}, got {got}" in msg


def test_fashion_file_under_mnist_name_is_caught(shared_data: Path, tmp_path: Path) -> None:
    for name in (T10K_IMAGES, T10K_LABELS):
        shutil.copy(shared_data / "fashion_mnist" / name, tmp_path / name)
    with pytest.raises(DataError, match="checksum mismatch.*fashion-mnist file") as e:
        load_dataset("mnist", split="test", data_dir=tmp_path, download=False)
    assert str(tmp_path / T10K_IMAGES) in one_line(e)


def test_image_and_label_counts_disagree(t10k: tuple[Path, bytes]) -> None:
    d, labels = t10k
    bad = d / T10K_LABELS
    bad.write_bytes(_gz(labels[:4] + (9999).to_bytes(4, "big") + labels[8:-1]))  # a valid file of 9999 labels
    with pytest.raises(DataError, match="9999 labels") as e:
        _load_t10k(d)
    msg = one_line(e)
    assert str(bad) in msg and "10000 images" in msg


def test_header_count_vs_payload(t10k: tuple[Path, bytes]) -> None:
    d, labels = t10k
    bad = d / T10K_LABELS
    bad.write_bytes(_gz(labels[:-1]))  # header still says 10000
    with pytest.raises(DataError, match="header says 10000") as e:
        _load_t10k(d)
    assert str(bad) in one_line(e)


def test_reader_rejects_wrong_dims_and_garbage(tmp_path: Path) -> None:
    header = (2051).to_bytes(4, "big") + b"".join(v.to_bytes(4, "big") for v in (3, 32, 32))
    wrong_dims = tmp_path / "small-images.gz"
    wrong_dims.write_bytes(_gz(header + bytes(3 * 32 * 32)))
    with pytest.raises(DataError, match="expected 28x28 images, header says 32x32") as e:
        read_idx(wrong_dims, "images")
    assert str(wrong_dims) in one_line(e)
    garbage = tmp_path / "garbage.gz"
    garbage.write_bytes(b"this is not gzip at all")
    with pytest.raises(DataError, match="truncated or corrupt gzip"):
        read_idx(garbage, "labels")
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path, "labels")  # a directory: no raw OSError escapes
    labels = tmp_path / "labels.gz"
    labels.write_bytes(_gz((2049).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes([1, 2, 12])))
    images = tmp_path / "images.gz"
    images.write_bytes(_gz(header[:8] + (28).to_bytes(4, "big") * 2 + bytes(3 * 28 * 28)))
    with pytest.raises(DataError, match="label values must be 0..9, found 12"):
        read_idx_pair(images, labels)


def _deflate_zeros(prefix: bytes, n_zeros: int) -> bytes:
    """A gzip member of `prefix` and `n_zeros` zero bytes, compressed a MiB at a time (deflate packs zeros
    about 1000:1)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    parts, chunk = [z.compress(prefix)], bytes(1 << 20)
    for start in range(0, n_zeros, len(chunk)):
        parts.append(z.compress(chunk[:n_zeros - start]))
    return b"".join(parts) + z.flush()


def test_gzip_bomb_is_refused_after_the_header(tmp_path: Path) -> None:
    """A 60 KB file whose header announces 10,000 labels but which inflates to 64 MiB: only the announced bytes
    (and one more) are ever decompressed."""
    bomb = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bomb.write_bytes(_deflate_zeros((2049).to_bytes(4, "big") + (10_000).to_bytes(4, "big"), 64 << 20))
    assert bomb.stat().st_size < 80_000
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="header says 10000 labels .* holds more after the header") as e:
            read_idx(bomb, "labels")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(bomb) in one_line(e) and peak < 8 << 20, peak


def test_idx_header_is_checked_before_the_payload_is_inflated(tmp_path: Path) -> None:
    def header(magic: int, *dims: int) -> bytes:
        return b"".join(v.to_bytes(4, "big") for v in (magic, *dims))

    big = tmp_path / "big-images.gz"  # 2.4 GB of zeros in 2.3 MB: wrong dims, refused from the first 16 bytes
    big.write_bytes(_deflate_zeros(header(2051, 1000, 32, 32), 1 << 20) * 2)
    with pytest.raises(DataError, match="expected 28x28 images, header says 32x32"):
        read_idx(big, "images")
    forged = tmp_path / "forged-images.gz"  # a count no IDX file holds
    forged.write_bytes(_gz(header(2051, 50_000_000, 28, 28) + bytes(784)))
    with pytest.raises(DataError, match="header says 50000000 images; gankit reads IDX files of at most"):
        read_idx(forged, "images")
    implausible = tmp_path / "implausible-labels.gz"  # 900 KB announced from a few hundred bytes
    implausible.write_bytes(_gz(header(2049, 900_000)))
    with pytest.raises(DataError, match="more than 100x: not an IDX file") as e:
        read_idx(implausible, "labels")
    assert str(implausible) in one_line(e)
    padded = tmp_path / "padded-labels.gz"  # valid data, then a megabyte of padding gzip would skip byte by byte
    padded.write_bytes(_gz(header(2049, 3) + bytes([1, 2, 3])) + bytes(1 << 20))
    with pytest.raises(DataError, match="bytes of gzip for the 11 bytes of IDX data"):
        read_idx(padded, "labels")
    unpacked = tmp_path / "long-labels"  # an unpacked file longer than its header says: read no further
    unpacked.write_bytes(header(2049, 3) + bytes([1, 2, 3]) + bytes(1000))
    with pytest.raises(DataError, match="header says 3 labels .* holds more after the header"):
        read_idx(unpacked, "labels")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_idx_fifo_is_refused_unread(tmp_path: Path) -> None:
    fifo = tmp_path / "t10k-labels-idx1-ubyte"
    os.mkfifo(fifo)  # opening it to read would block
    with pytest.raises(DataError, match="not a regular file"):
        read_idx(fifo, "labels")


# ------------------------------------------------------------------------------------------------------- download
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path, handler: type[http.server.SimpleHTTPRequestHandler] = _QuietHandler) -> Iterator[str]:
    """Serve `directory` over HTTP on 127.0.0.1 (through `handler`) and yield its base URL; always shut down."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def offline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh empty cache, no $GANKIT_DATA, no proxy for the local server; returns the cache dir."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GANKIT_CACHE", str(cache))
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    monkeypatch.delenv("GANKIT_OFFLINE", raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return cache


def test_download_into_cache(shared_data: Path, tmp_path: Path, offline_env: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    served = tmp_path / "served"
    shutil.copytree(shared_data / "mnist", served)
    with serve(served) as url:
        monkeypatch.setenv("GANKIT_MNIST_MIRROR", url)
        test = load_dataset("mnist", split="test")  # download defaults to on when GANKIT_OFFLINE is unset
        train = load_dataset("mnist", split="train")
    assert len(train) == 60_000 and len(test) == 10_000 and test.y[:3].tolist() == [7, 2, 1]
    landed = sorted(p.name for p in (offline_env / "mnist").iterdir())
    assert landed == sorted(PUBLISHED_MD5["mnist"])  # the four files, no temp leftovers
    for name in landed:
        assert hashlib.md5((offline_env / "mnist" / name).read_bytes()).hexdigest() == PUBLISHED_MD5["mnist"][name]
    # now served from the cache with the network off
    assert torch.equal(load_dataset("mnist", split="test", download=False).x, test.x)


def test_download_falls_back_to_next_mirror(shared_data: Path, tmp_path: Path, offline_env: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    for name in (T10K_IMAGES, T10K_LABELS):
        shutil.copy(shared_data / "mnist" / name, served / name)
    with serve(served) as url:
        images, labels = load_idx_dataset("mnist", "test", download=True, mirrors=[url + "missing/", url])
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)


def test_download_checksum_mismatch_leaves_nothing(shared_data: Path, tmp_path: Path, offline_env: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(shared_data / "mnist" / T10K_IMAGES, served / T10K_IMAGES)
    blob = bytearray((shared_data / "mnist" / T10K_LABELS).read_bytes())
    blob[100] ^= 0xFF
    (served / T10K_LABELS).write_bytes(bytes(blob))
    with serve(served) as url:
        monkeypatch.setenv("GANKIT_MNIST_MIRROR", url)
        with pytest.raises(DataError, match="checksum mismatch") as e:
            load_dataset("mnist", split="test", download=True)
    msg = one_line(e)
    assert url + T10K_LABELS in msg and "--data-dir" in msg and "GANKIT_DATA" in msg
    assert not (offline_env / "mnist" / T10K_LABELS).exists()
    assert [p.name for p in (offline_env / "mnist").iterdir()] == [T10K_IMAGES]  # the good file only, no .part


def test_download_all_mirrors_unreachable(tmp_path: Path, offline_env: Path) -> None:
    with serve(tmp_path) as url:
        pass  # the server is now closed: connection refused
    with pytest.raises(DataError, match="could not download") as e:
        load_idx_dataset("mnist", "test", download=True, mirrors=[url])
    assert url + T10K_IMAGES in one_line(e) and "--data-dir" in str(e.value)


class _NoLengthHandler(_QuietHandler):
    """Serves files as a stream without Content-Length (HTTP/1.0, ended by closing the connection)."""

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(path.read_bytes())


class _RedirectHandler(_QuietHandler):
    """/to-file/NAME redirects to a file:// URL, /loop/NAME to itself; anything else is served as files."""

    def do_GET(self) -> None:
        if self.path.startswith(("/to-file/", "/loop/")):
            target = "file:///etc/passwd" if self.path.startswith("/to-file/") else self.path
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


@pytest.mark.parametrize("handler", [_QuietHandler, _NoLengthHandler], ids=["content-length", "streamed"])
def test_download_bigger_than_the_published_file_is_cut_off(handler: type, tmp_path: Path, offline_env: Path,
                                                            shared_data: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(shared_data / "mnist" / T10K_IMAGES, served / T10K_IMAGES)
    (served / T10K_LABELS).write_bytes(bytes(PUBLISHED_SIZE["mnist"][T10K_LABELS] + 1000))
    with serve(served, handler) as url:
        with pytest.raises(DataError, match=f"more than the published {PUBLISHED_SIZE['mnist'][T10K_LABELS]}") as e:
            load_idx_dataset("mnist", "test", download=True, mirrors=[url])
    assert url + T10K_LABELS in one_line(e)
    assert sorted(p.name for p in (offline_env / "mnist").iterdir()) == [T10K_IMAGES]  # no partial file left


def test_download_redirects_are_bounded_and_stay_on_http(tmp_path: Path, offline_env: Path) -> None:
    with serve(tmp_path, _RedirectHandler) as url:
        with pytest.raises(DataError) as e:
            load_idx_dataset("mnist", "test", download=True, mirrors=[url + "to-file/", url + "loop/"])
    to_file, loop = one_line(e).split("; ")[:2]
    assert url + "to-file/" in to_file and "file:///etc/passwd' is not allowed" in to_file
    assert url + "loop/" in loop and "infinite loop" in loop


def test_download_never_leaves_https() -> None:
    assert all(base.startswith("https://") for bases in DEFAULT_MIRRORS.values() for base in bases)
    handler = _NoDowngrade()
    req = urllib.request.Request("https://example.org/mnist/" + T10K_LABELS)
    for target in ("http://example.org/" + T10K_LABELS, "ftp://example.org/" + T10K_LABELS):
        with pytest.raises(urllib.error.URLError, match="refused redirect from https://"):
            handler.redirect_request(req, None, 302, "Found", {}, target)
    assert handler.redirect_request(req, None, 302, "Found", {}, "https://mirror.example/" + T10K_LABELS)


def test_download_mirror_that_is_not_http_is_refused(offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANKIT_MNIST_MIRROR", "file:///etc/")
    with pytest.raises(DataError, match="not an http"):
        load_dataset("mnist", split="test", download=True)


def test_missing_files_without_download(offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match="not found") as e:
        load_dataset("mnist", split="test", download=False)
    msg = one_line(e)
    assert T10K_IMAGES in msg and str(offline_env) in msg and "GANKIT_DATA" in msg
    monkeypatch.setenv("GANKIT_OFFLINE", "1")  # download=None follows the environment
    with pytest.raises(DataError, match="downloading is off"):
        load_dataset("fashion-mnist")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("mnist", data_dir=offline_env / "nowhere", download=False)


# ------------------------------------------------------------------------------------------------------- folders
def _save(path: Path, size: tuple[int, int], mode: str = "RGB", color: object = (200, 30, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def test_folder_unlabelled_mixed_sizes_and_modes(tmp_path: Path) -> None:
    _save(tmp_path / "a.png", (40, 30))
    _save(tmp_path / "b.png", (20, 50), "L", 128)
    _save(tmp_path / "c.jpg", (100, 80), "RGB", (10, 200, 10))
    _save(tmp_path / "d.PNG", (33, 33), "RGBA", (0, 0, 255, 255))
    (tmp_path / "notes.txt").write_text("not an image")
    d = load_dataset(f"folder:{tmp_path}", image_size=16)
    assert d.name == f"folder:{tmp_path}" and d.y is None and d.num_classes == 0
    assert d.x.shape == (4, 3, 16, 16) and d.x.dtype == torch.float32
    assert d.x.min() >= -1 and d.x.max() <= 1
    red = torch.tensor([200, 30, 30]) / 127.5 - 1
    assert torch.allclose(d.x[0].mean(dim=(1, 2)), red, atol=1e-5)  # sorted order: a.png first, colour kept
    assert torch.allclose(d.x[1], torch.full((3, 16, 16), 128 / 127.5 - 1), atol=1e-6)  # grey -> equal RGB
    grey = load_dataset(f"folder:{tmp_path}", image_size=12, channels=1)
    assert grey.x.shape == (4, 1, 12, 12)
    assert load_dataset(f"folder:{tmp_path}").x.shape == (4, 3, 64, 64)  # defaults: 64 x 64 RGB


def test_folder_resizes_shorter_side_and_centre_crops(tmp_path: Path) -> None:
    arr = np.zeros((20, 60), dtype=np.uint8)  # a wide image: black, with a white centre square
    arr[:, 20:40] = 255
    Image.fromarray(arr, "L").save(tmp_path / "wide.png")
    x = load_dataset(f"folder:{tmp_path}", image_size=10, channels=1).x  # 60x20 -> 30x10 -> centre 10x10
    assert x.shape == (1, 1, 10, 10)
    assert x[0, 0, :, 2:8].min() > 0.9  # the white square survives; the black sides are cropped away
    assert x.mean() > 0.5


def test_folder_subfolders_are_classes(tmp_path: Path) -> None:
    for i in range(2):
        _save(tmp_path / "dogs" / f"{i}.png", (30 + i, 20))
    for i in range(3):
        _save(tmp_path / "cats" / "nested" / f"{i}.jpg", (24, 24 + i))
    _save(tmp_path / ".hidden" / "x.png", (8, 8))  # hidden folders are not classes
    d = load_dataset(f"folder:{tmp_path}", image_size=8)
    assert d.class_names == ["cats", "dogs"] and d.num_classes == 2
    assert d.y.tolist() == [0, 0, 0, 1, 1] and d.x.shape == (5, 3, 8, 8)
    assert len(load_dataset(f"folder:{tmp_path}", image_size=8, n=3)) == 3
    _save(tmp_path / "stray.png", (8, 8))
    with pytest.raises(DataError, match="sub-folders"):
        load_dataset(f"folder:{tmp_path}", image_size=8)


def test_folder_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no images") as e:
        load_dataset(f"folder:{empty}")
    assert str(empty) in one_line(e)
    with pytest.raises(DataError, match="no such directory"):
        load_dataset(f"folder:{tmp_path / 'missing'}")
    garbage = tmp_path / "bad" / "garbage.png"
    garbage.parent.mkdir()
    garbage.write_bytes(b"\x89PNG definitely not a png")
    with pytest.raises(DataError) as e:
        load_dataset(f"folder:{garbage.parent}")
    assert str(garbage) in one_line(e) and "cannot read image" in str(e.value)
    with pytest.raises(DataError, match="not a directory"):
        load_dataset(f"folder:{garbage}")
    truncated = tmp_path / "trunc" / "t.png"
    truncated.parent.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:2000])
    with pytest.raises(DataError) as e:
        load_dataset(f"folder:{truncated.parent}")
    assert str(truncated) in one_line(e)
    with pytest.raises(ConfigError, match="needs a path"):
        load_dataset("folder:")


def test_unreadable_class_folder_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A class sub-folder that cannot be listed used to be skipped silently: the run trained on fewer classes."""
    for name in ("cats", "dogs", "owls"):
        _save(tmp_path / name / "a.png", (8, 8))
    locked = tmp_path / "dogs"
    if os.geteuid() == 0:  # root reads through chmod 000: make listing that one folder fail instead
        real_scandir = os.scandir

        def scandir(path: object = ".") -> object:
            if Path(os.fsdecode(path)) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)
    else:
        locked.chmod(0)
    try:
        with pytest.raises(DataError, match="cannot list folder") as e:
            load_dataset(f"folder:{tmp_path}", image_size=8)
    finally:
        locked.chmod(0o755)
    assert str(locked) in one_line(e)


def test_hidden_folders_are_skipped_unlisted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _save(tmp_path / "cats" / "a.png", (8, 8))
    _save(tmp_path / ".cache" / "b.png", (8, 8))
    real_scandir = os.scandir
    listed: list[str] = []
    monkeypatch.setattr(os, "scandir", lambda path=".": listed.append(os.fsdecode(path)) or real_scandir(path))
    d = load_dataset(f"folder:{tmp_path}", image_size=8)
    assert len(d) == 1 and d.class_names == ["cats"] and not any(".cache" in p for p in listed)


def test_too_many_class_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gankit.data.folder as folder

    monkeypatch.setattr(folder, "MAX_CLASSES", 2)
    for name in ("a", "b", "c"):
        _save(tmp_path / name / "x.png", (8, 8))
    with pytest.raises(DataError, match="3 class sub-folders; gankit trains on at most 2 classes"):
        load_dataset(f"folder:{tmp_path}", image_size=8)


def test_compact_images_are_the_float_images_in_a_quarter_of_the_memory() -> None:
    from gankit.data.transforms import as_float

    full = load_dataset("mnist5k")
    small = load_dataset("mnist5k", compact=True)
    assert small.x.dtype == torch.uint8 and small.x.shape == full.x.shape == (5000, 1, 28, 28)
    assert small.x.element_size() * 4 == full.x.element_size()
    assert torch.equal(as_float(small.x), full.x)  # the very same float values, not merely close
    assert torch.equal(as_float(full.x), full.x)  # float batches pass through
    assert small.sample_shape == full.sample_shape and torch.equal(small.y, full.y)
    # resized or recoloured images cannot be kept as the original pixels: those stay float
    assert load_dataset("mnist5k", compact=True, image_size=32).x.dtype == torch.float32
    assert load_dataset("mnist5k", compact=True, channels=3).x.dtype == torch.float32
    assert load_dataset("ring8", compact=True, n=10).x.dtype == torch.float32


def test_conditional_run_on_more_classes_than_the_grid_holds(tmp_path: Path) -> None:
    """With 300 class folders and a 16-sample grid, the snapshots show one sample of each of the first 16
    classes in a square grid (a column of 300 rows, or an image past GIF's 65,535-pixel limit, before)."""
    from gankit.cli import main

    for k in range(300):
        _save(tmp_path / "data" / f"c{k:03d}" / "a.png", (8, 8), "L", k % 256)
    out = tmp_path / "run"
    assert main(["train", "--dataset", f"folder:{tmp_path / 'data'}", "--image-size", "28", "--channels", "1",
                 "--conditional", "--steps", "2", "--batch-size", "8", "--n-samples", "16", "--sample-every", "1",
                 "--no-progress", "--out", str(out)]) == 0
    with Image.open(out / "samples" / "step_0000002.png") as grid, Image.open(out / "progress.gif") as gif:
        assert grid.size == gif.size and grid.size[0] == grid.size[1] < 300  # 4 x 4
