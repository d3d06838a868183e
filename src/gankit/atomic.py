"""Whole-file writes that a reader never sees half done: a temporary file beside the target, fsync, then a rename.

A run killed or a disk filled mid-write leaves the previous file as it was (and at worst a stray hidden temporary
file). The rename replaces the directory entry itself, so a symbolic link planted at the target is replaced, never
followed: what is written lands in the target's own folder.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_output", "atomic_write_bytes", "atomic_write_text"]


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary path in `path`'s folder to write to (it keeps `path`'s suffix, so writers that pick
    a format by the name, PIL and matplotlib, still do); on a clean exit it is synced and renamed over `path`, on
    an error removed. Parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(path)
    mode = tmp.stat().st_mode & 0o777  # the umask's permissions, as a plain open gives
    try:
        yield tmp
        if tmp.stat().st_mode & 0o777 != mode:  # writers that replace the file (safetensors) leave it 0600
            os.chmod(tmp, mode)
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _create_temp(path: Path) -> Path:
    """An empty new file `.NAME.RANDOM.tmp.SUFFIX` beside `path`, created exclusively (never an existing file or
    link) with the umask's permissions, as a plain open would give the target."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            os.close(os.open(tmp, flags, 0o666))
            return tmp
        except FileExistsError:
            continue


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; not every platform or file system can sync a folder, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
