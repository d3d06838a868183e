"""What makes a stored tensor file trustworthy before anything is built from it.

- A sha256 per tensor group (the first component of a key: `G`, `D`, `G_ema`, `opt_G`, `rng`, ...), recorded
  when the file is written and checked when it is read, so flipped bytes, a dropped tensor or a tensor grafted in
  from elsewhere are caught and named by group.
- Finite values: weights or optimizer moments holding NaN/inf are no state to resume from or sample with.
- A regular file: a FIFO or a device in place of a checkpoint would block a reader or never end.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

import torch


def group_of(key: str) -> str:
    return key.split("/", 1)[0]


def digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """sha256 over each tensor's name, dtype, shape and bytes, in sorted name order: equal digests mean equal
    tensors under equal names (names and shapes are hashed too, so bytes moved between tensors show)."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().contiguous().cpu()
        h.update(f"{key}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())  # raw bytes, whatever the dtype (bfloat16 included)
    return h.hexdigest()


def group_digests(tensors: Mapping[str, torch.Tensor]) -> dict[str, str]:
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        groups.setdefault(group_of(key), {})[key] = t
    return {name: digest(members) for name, members in sorted(groups.items())}


def mismatched_groups(tensors: Mapping[str, torch.Tensor], recorded: Mapping[str, str]) -> list[str]:
    """The groups whose tensors differ from the recorded digests (a group missing on either side differs)."""
    found = group_digests(tensors)
    return [g for g in sorted(set(found) | set(recorded)) if found.get(g) != recorded.get(g)]


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def non_finite(tensors: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """The first tensor holding NaN or inf in each group, with one such value; {} when all are finite."""
    bad: dict[str, float] = {}
    seen: set[str] = set()
    for key in sorted(tensors):
        t = tensors[key]
        if group_of(key) in seen or not t.is_floating_point():
            continue
        finite = torch.isfinite(t)
        if not bool(finite.all()):
            bad[key] = float(t[~finite].reshape(-1)[0])
            seen.add(group_of(key))
    return bad


def file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def read_head(path: Path, n: int) -> tuple[int, bytes] | str:
    """(size, first n bytes) of a regular file, or what else `path` is ("a FIFO", "a directory", ...).

    Opened without blocking and checked on the open descriptor: opening a FIFO for reading would otherwise wait
    for a writer forever, and checking the name before opening would leave a window to swap the file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return file_kind(st.st_mode)
        return st.st_size, os.pread(fd, n, 0)
    finally:
        os.close(fd)
