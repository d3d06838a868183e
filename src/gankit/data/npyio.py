"""Reading and writing `.npy` files a window of rows at a time, and mapping one into a tensor without reading it.

Rows are read with plain file reads rather than through a memory map: pages touched through a map count towards
the process's resident memory until it is unmapped, so one pass over a large file through a map would look (and,
under pressure, act) like holding all of it.
"""

from __future__ import annotations

import mmap
import os
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError


@dataclass(frozen=True)
class NpyInfo:
    """Where an array's data lies in a .npy file: C-ordered rows of `row_bytes` bytes from byte `offset`."""

    path: Path
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int
    fortran_order: bool

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize


#: what numpy's readers raise for a damaged file: its header is parsed with tokenize and ast (TokenError,
#: SyntaxError), a .npz is a zip (BadZipFile; zlib.error for damaged deflate data; NotImplementedError for an
#: unknown compression method; RuntimeError for an encrypted member)
READ_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, EOFError, SyntaxError, tokenize.TokenError,
                                                zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)


def _one_line(e: BaseException) -> str:
    return " ".join((str(e) or type(e).__name__).split())


def npy_info(path: Path) -> NpyInfo:
    """The header of a .npy file (its data is not read). Arrays of Python objects, which only pickle can read,
    are refused, as is anything that is not a complete .npy file."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            version = fmt.read_magic(f)  # a ValueError unless the file starts as a .npy does
            if version not in ((1, 0), (2, 0)):
                raise DataError(f"{path}: .npy format version {version[0]}.{version[1]} is not supported")
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran_order, dtype = read(f)
            offset = f.tell()
    except DataError:
        raise
    except READ_ERRORS as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else _one_line(e)
        raise DataError(f"{path}: not a readable .npy array ({reason})") from None
    if dtype.hasobject:
        raise DataError(f"{path}: holds Python objects (pickled); store a numeric array")
    info = NpyInfo(path, tuple(shape), dtype, offset, bool(fortran_order and len(shape) > 1))
    need = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if os.path.getsize(path) < need:
        raise DataError(f"{path}: truncated: the header promises {need} bytes, the file has "
                        f"{os.path.getsize(path)}")
    return info


def read_rows(info: NpyInfo, start: int, stop: int) -> np.ndarray:
    """Rows [start, stop) of a C-ordered .npy file, read from disk into a new array."""
    count = (stop - start) * info.row_bytes // info.dtype.itemsize
    flat = np.fromfile(info.path, dtype=info.dtype, count=count, offset=info.offset + start * info.row_bytes)
    return flat.reshape((stop - start, *info.shape[1:]))


def map_tensor(path: Path) -> torch.Tensor:
    """A C-ordered .npy file as a CPU tensor over a copy-on-write memory map: nothing is read until indexed, the
    page cache is shared with other processes, and a write would change this process's pages, never the file
    (a read-only map would do as well, but torch warns on every non-writable array it wraps). Readahead is off:
    training gathers random rows, so the neighbours a sequential reader would want are wasted reads."""
    info = npy_info(path)
    if info.fortran_order:
        raise DataError(f"{path}: stored in Fortran order, which cannot be read as rows in place")
    count = int(np.prod(info.shape, dtype=np.int64))
    try:
        with open(path, "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)  # the map outlives the descriptor
    except (ValueError, OSError) as e:
        raise DataError(f"{path}: cannot memory-map ({_one_line(e)})") from None
    if hasattr(mm, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        mm.madvise(mmap.MADV_RANDOM)
    arr = np.frombuffer(mm, dtype=info.dtype, count=count, offset=info.offset).reshape(info.shape)
    return torch.from_numpy(arr)  # holds `arr`, which holds the map


class NpyWriter:
    """Writes a .npy file of known shape and dtype row window by row window, then moves it into place in one
    step, so a reader never sees a partial file, even if the process dies mid-way (a stale .tmp remains)."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: Any) -> None:
        self.path, self.shape, self.dtype = path, tuple(shape), np.dtype(dtype)
        self.tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        self.rows = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(self.tmp, "wb")
        except OSError as e:
            raise DataError(f"{path.parent}: cannot write the image cache ({e.strerror or _one_line(e)})") from None
        np.lib.format.write_array_header_1_0(
            self._f, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape})

    def write(self, rows: np.ndarray) -> None:
        if rows.shape[1:] != self.shape[1:] or rows.dtype != self.dtype:
            raise ValueError(f"rows {rows.shape} {rows.dtype} do not fit {self.shape} {self.dtype}")
        try:
            self._f.write(np.ascontiguousarray(rows).data)
        except OSError as e:  # a full disk, most likely
            self.abort()
            raise DataError(f"{self.path}: cannot write the image cache ({e.strerror or _one_line(e)})") from None
        self.rows += len(rows)

    def close(self) -> Path:
        self._f.close()
        if self.rows != self.shape[0]:
            self.abort()
            raise ValueError(f"{self.path}: wrote {self.rows} rows of {self.shape[0]}")
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        self._f.close()
        self.tmp.unlink(missing_ok=True)
