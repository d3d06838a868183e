"""One writer per run folder: an exclusive lock on RUN/.lock, held for the whole of a training run or a resume.

The lock is flock(2) on the open file, so the OS drops it when its process ends, however it ends (SIGKILL
included): a dead run never leaves a stale lock, only a stale file, which the next writer simply locks again. The
file names its holder (pid and host) for the error a second writer gets. It is taken without waiting: a second
`gankit train` into a live run folder fails at once instead of queueing behind it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from .errors import ConfigError, shown

try:
    import fcntl
except ImportError:  # not on Windows: there the folder goes unlocked
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
_HOLDER_MAX = 200  # bytes of the holder's line shown in an error


class RunInUse(ConfigError):
    """The run folder is locked by another live process."""


class RunLock:
    """Held from `acquire` until `release` (or the process's end)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    @classmethod
    def acquire(cls, root: str | Path) -> "RunLock":
        """Lock `root` (an existing folder) or raise RunInUse naming the process that holds it."""
        path = Path(root) / LOCK_NAME
        while True:
            fd = _open(path)
            if fcntl is None:
                return cls(path, fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise _in_use(root, holder) from None
            if _is_current(fd, path):
                _write_holder(fd)
                return cls(path, fd)
            # the holder released it and removed the file between our open and our lock: lock the new one
            os.close(fd)

    def release(self) -> None:
        """Remove the lock file, then drop the lock (in that order, so a waiter that opened the old file sees it
        gone and retries on a new one). Releasing twice is harmless."""
        if self._fd < 0:
            return
        try:
            if _is_current(self._fd, self.path):
                self.path.unlink()
        except OSError:
            pass
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def refuse_if_locked(root: str | Path) -> None:
    """Raise RunInUse when a live process holds `root`'s lock; reads only (creates nothing), for the checks made
    before a run commits to a folder."""
    path = Path(root) / LOCK_NAME
    if fcntl is None:
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:  # no lock file (or not one we can read): nothing holds it that we could name
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # shared: conflicts only with a holder's exclusive lock
    except BlockingIOError:
        raise _in_use(root, _holder(fd)) from None
    finally:
        os.close(fd)


def _in_use(root: str | Path, holder: str) -> RunInUse:
    return RunInUse(f"{shown(str(root))} is in use by another gankit process ({holder}); wait for it to end or stop "
                    "it, or choose another folder")


def _open(path: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags, 0o644)
    except OSError as e:
        raise ConfigError(f"{path}: cannot open the run folder's lock file ({e.strerror})") from None


def _is_current(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open as `fd`."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _write_holder(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)


def _holder(fd: int) -> str:
    """The holder's line, printable and short (the file is in a folder anyone may have written to)."""
    try:
        raw = os.pread(fd, _HOLDER_MAX, 0).decode("utf-8", "replace")
    except OSError:
        raw = ""
    return shown(raw.strip(), _HOLDER_MAX) or "pid unknown"
