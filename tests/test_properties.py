"""Property-based tests: random mutations of valid files (byte flips, truncations, insertions, deletions, JSON values
swapped for hostile ones) never make gankit's readers raise anything but gankit's own errors (GankitError). Each
property runs a fixed, derandomized set of about 100 examples in a few seconds."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gankit import checkpoint as ckpt
from gankit.cli import main
from gankit.cli.info import run_info
from gankit.config import TrainConfig
from gankit.data.arrays import load_array_file
from gankit.data.mnist import _parse
from gankit.errors import GankitError
from gankit.stats import read_jsonl

PROPERTY = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------------- mutations
#: one edit of a byte string: positions are taken modulo the length of the region edited
EDIT = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2**31), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 2**31)),
    st.tuples(st.just("insert"), st.integers(0, 2**31), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 2**31), st.integers(1, 16)),
)
EDITS = st.lists(EDIT, min_size=1, max_size=4)

#: JSON text put in place of one value: odd types, non-finite and huge numbers, deep nesting, long strings
HOSTILE_JSON = st.one_of(
    st.sampled_from(["null", "true", "0", "-1", "1e999", "-1e999", "NaN", "Infinity", "9" * 5000, "9" * 400,
                     "18446744073709551616", '""', '"\\u0000"', '"x\\ny"', "[]", "{}", "[" * 5000 + "]" * 5000,
                     '{"a": ' * 3000 + "1" + "}" * 3000, '"' + "x" * 100_000 + '"', "[1, 2, 3]", '{"step": 1}']),
    st.integers(-2**70, 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.text(max_size=12).map(json.dumps),
)


def edit(data: bytes, edits: list[tuple], start: int = 0, stop: int | None = None) -> bytes:
    """`data` with `edits` applied inside data[start:stop] (the whole of it by default)."""
    head, region, tail = data[:start], bytearray(data[start:stop]), data[len(data) if stop is None else stop:]
    for op, *args in edits:
        at = args[0] % (len(region) + 1)
        if op == "flip" and region:
            region[at % len(region)] ^= args[1]
        elif op == "truncate":
            del region[at:]
            tail = b""  # a truncation ends the file
        elif op == "insert":
            region[at:at] = args[1]
        elif op == "delete":
            del region[at:at + args[1]]
    return head + bytes(region) + tail


def swap_value(obj: dict[str, Any], index: int, raw: str) -> str:
    """`obj` as JSON text with the value of its index-th key (modulo their number) replaced by the JSON text
    `raw` (which may be no valid JSON value for Python, such as a 5000-digit integer)."""
    key = sorted(obj)[index % len(obj)]
    marker = "\x00gankit-swap\x00"
    return json.dumps({**obj, key: marker}).replace(json.dumps(marker), raw)


def only_gankit_errors(call: Any) -> None:
    """`call()` may succeed or raise a GankitError; anything else fails the property (with its traceback)."""
    try:
        call()
    except GankitError as e:
        assert "\n" not in str(e), str(e)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


_names = itertools.count()


def fresh(workdir: Path, name: str) -> Path:
    """A new path per example: no reader's cache keyed on path, size and mtime can hand back an earlier file."""
    folder = workdir / f"ex{next(_names)}"
    folder.mkdir()
    return folder / name


# ---------------------------------------------------------------------------------------------------- config
VALID_CONFIG = TrainConfig(dataset="ring8", model="mlp", steps=10, toy_options={}, lsgan_abc=(-1.0, 1.0, 0.0),
                           r1=0.1, ema=0.999).to_json().encode()


@PROPERTY
@given(EDITS)
def test_config_file_with_edited_bytes(workdir: Path, edits: list[tuple]) -> None:
    path = fresh(workdir, "config.json")
    path.write_bytes(edit(VALID_CONFIG, edits))
    only_gankit_errors(lambda: TrainConfig.from_json_file(path))


@PROPERTY
@given(st.integers(0, 100), HOSTILE_JSON)
def test_config_file_with_a_swapped_value(workdir: Path, index: int, raw: str) -> None:
    path = fresh(workdir, "config.json")
    path.write_text(swap_value(json.loads(VALID_CONFIG), index, raw))
    only_gankit_errors(lambda: TrainConfig.from_json_file(path))


@PROPERTY
@given(st.integers(0, 100), st.one_of(st.none(), st.booleans(), st.integers(-2**80, 2**80), st.floats(),
                                      st.text(max_size=8), st.lists(st.floats(), max_size=4),
                                      st.dictionaries(st.text(max_size=4), st.floats(), max_size=3)))
def test_config_dict_with_a_swapped_value(index: int, value: Any) -> None:
    data = json.loads(VALID_CONFIG)
    data[sorted(data)[index % len(data)]] = value
    only_gankit_errors(lambda: TrainConfig.from_dict(data, source="test"))


# ---------------------------------------------------------------------------------------------------- IDX files
def _idx(magic: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return b"".join(v.to_bytes(4, "big") for v in (magic, *dims)) + payload


VALID_LABELS = _idx(2049, (50,), bytes(i % 10 for i in range(50)))
VALID_IMAGES = _idx(2051, (3, 28, 28), bytes(range(256)) * 9 + bytes(3 * 784 - 256 * 9))


@PROPERTY
@given(st.sampled_from(["labels", "images"]), st.booleans(), EDITS)
def test_idx_with_edited_bytes(workdir: Path, kind: str, compressed_edit: bool, edits: list[tuple]) -> None:
    """Edits of the gzip bytes (integrity, framing) or of the IDX content before compression (header, sizes)."""
    raw = VALID_LABELS if kind == "labels" else VALID_IMAGES
    blob = edit(gzip.compress(raw, mtime=0), edits) if compressed_edit else gzip.compress(edit(raw, edits), mtime=0)
    path = fresh(workdir, f"{kind}.gz")
    path.write_bytes(blob)
    only_gankit_errors(lambda: _parse(path, kind))


@PROPERTY
@given(st.sampled_from(["labels", "images"]), st.integers(0, 3), st.integers(0, 2**32 - 1))
def test_idx_with_a_forged_header_field(workdir: Path, kind: str, field: int, value: int) -> None:
    raw = bytearray(VALID_LABELS if kind == "labels" else VALID_IMAGES)
    fields = 2 if kind == "labels" else 4
    at = 4 * (field % fields)
    raw[at:at + 4] = value.to_bytes(4, "big")
    for name, blob in (("x.gz", gzip.compress(bytes(raw), mtime=0)), ("x", bytes(raw))):
        path = fresh(workdir, name)
        path.write_bytes(blob)
        only_gankit_errors(lambda: _parse(path, kind))


# ---------------------------------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def run_dir(workdir: Path) -> Path:
    """A small finished ring8 run (config.json, metrics.jsonl, one checkpoint)."""
    out = workdir / "run"
    assert main(["train", "--dataset", "ring8", "--model", "mlp", "--steps", "2", "--batch-size", "16",
                 "--width", "8", "--log-every", "1", "--no-progress", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def checkpoints(run_dir: Path, workdir: Path) -> dict[str, Path]:
    """The run's checkpoint as written (with its integrity record) and as an older gankit wrote it (without one,
    so edited metadata reaches the parser instead of failing the digest)."""
    (path,) = (run_dir / "checkpoints").glob("*.safetensors")
    blob = path.read_bytes()
    header = json.loads(blob[8:_header_end(blob)])
    header["__metadata__"].pop(ckpt.INTEGRITY_KEY)
    bare = workdir / "no-digests.safetensors"
    bare.write_bytes(_with_header(header, blob))
    return {"digests": path, "no digests": bare}


def _header_end(blob: bytes) -> int:
    return 8 + struct.unpack("<Q", blob[:8])[0]


def _with_header(header: dict[str, Any], blob: bytes) -> bytes:
    """`blob` (a safetensors file) with its JSON header replaced by `header`."""
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # safetensors pads its header to 8 bytes
    return struct.pack("<Q", len(text)) + text + blob[_header_end(blob):]


@PROPERTY
@given(st.sampled_from(["digests", "no digests"]), EDITS)
def test_checkpoint_with_edited_header(workdir: Path, checkpoints: dict[str, Path], which: str,
                                       edits: list[tuple]) -> None:
    blob = checkpoints[which].read_bytes()
    path = fresh(workdir, "step.safetensors")
    path.write_bytes(edit(blob, edits, 0, _header_end(blob)))
    only_gankit_errors(lambda: ckpt.load(path))


def _swap_metadata(workdir: Path, source: Path, index: int, raw: str) -> Path:
    """A copy of `source` with one value of its gankit metadata (format, version, step, config, ...) replaced by
    the JSON text `raw`, or with the whole metadata replaced when `index` is negative."""
    blob = source.read_bytes()
    header = json.loads(blob[8:_header_end(blob)])
    meta = header["__metadata__"]
    meta["gankit"] = raw if index < 0 else swap_value(json.loads(meta["gankit"]), index, raw)
    path = fresh(workdir, "step.safetensors")
    path.write_bytes(_with_header(header, blob))
    return path


@PROPERTY
@given(st.integers(-1, 100), HOSTILE_JSON)
def test_checkpoint_with_a_swapped_metadata_value(workdir: Path, checkpoints: dict[str, Path], index: int,
                                                  raw: str) -> None:
    """With its integrity record, a checkpoint whose metadata was changed is refused as corrupt."""
    only_gankit_errors(lambda: ckpt.load(_swap_metadata(workdir, checkpoints["digests"], index, raw)))


@PROPERTY
@given(st.integers(-1, 100), HOSTILE_JSON)
def test_checkpoint_without_digests_with_a_swapped_metadata_value(workdir: Path, checkpoints: dict[str, Path],
                                                                  index: int, raw: str) -> None:
    only_gankit_errors(lambda: ckpt.load(_swap_metadata(workdir, checkpoints["no digests"], index, raw)))


# ---------------------------------------------------------------------------------------------------- metrics
@PROPERTY
@given(EDITS)
def test_info_on_edited_metrics(workdir: Path, run_dir: Path, edits: list[tuple]) -> None:
    """`gankit info` reads metrics.jsonl through stats.read_jsonl: whatever the bytes, a summary or one error."""
    run = fresh(workdir, "run")
    shutil.copytree(run_dir, run)
    metrics = run / "metrics.jsonl"
    metrics.write_bytes(edit(metrics.read_bytes(), edits))
    only_gankit_errors(lambda: run_info(run))


@PROPERTY
@given(st.integers(0, 100), HOSTILE_JSON)
def test_info_on_a_swapped_metrics_value(workdir: Path, run_dir: Path, index: int, raw: str) -> None:
    run = fresh(workdir, "run")
    shutil.copytree(run_dir, run)
    metrics = run / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    lines[-1] = swap_value(json.loads(lines[-1]), index, raw)
    metrics.write_text("\n".join(lines) + "\n")
    only_gankit_errors(lambda: run_info(run))


@PROPERTY
@given(st.one_of(EDITS.map(lambda e: ("edit", e)), HOSTILE_JSON.map(lambda r: ("line", r))))
def test_read_jsonl_on_mutated_metrics(workdir: Path, run_dir: Path, mutation: tuple[str, Any]) -> None:
    valid = (run_dir / "metrics.jsonl").read_bytes()
    kind, what = mutation
    path = fresh(workdir, "metrics.jsonl")
    path.write_bytes(edit(valid, what) if kind == "edit" else valid + what.encode() + b"\n")
    only_gankit_errors(lambda: read_jsonl(path))


# ---------------------------------------------------------------------------------------------------- npy: data
def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _npz(array: np.ndarray, labels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, images=array, labels=labels)
    return buf.getvalue()


VALID_NPY = _npy(np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8))
VALID_NPZ = _npz(np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8), np.arange(4))


@PROPERTY
@given(st.sampled_from(["x.npy", "x.npz"]), EDITS)
def test_npy_data_with_edited_bytes(workdir: Path, name: str, edits: list[tuple]) -> None:
    valid = VALID_NPY if name == "x.npy" else VALID_NPZ
    path = fresh(workdir, name)
    path.write_bytes(edit(valid, edits, 0, 128 if name == "x.npy" else None))  # a .npy's header is its first 128
    only_gankit_errors(lambda: load_array_file(path))
