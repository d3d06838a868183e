"""What a studio request may touch: run folders under --runs only, numbers inside fixed bounds.

Every check raises `RequestError` (a 4xx with a one-line message); the server turns it into JSON. Pure functions
of their arguments and the file system (reads only)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ..errors import GankitError, shown

MAX_BODY_BYTES = 256 * 1024  # a request body: drawn points (2,000 pairs) fit with room to spare
MAX_RUNS_LISTED = 500
MAX_RUN_DEPTH = 3  # run folders are looked for at most this deep under --runs


class RequestError(GankitError):
    """A bad studio request: the message says which input and why; `status` is its HTTP code (4xx)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def bounded_float(value: Any, name: str, lo: float, hi: float) -> float:
    """A finite number in [lo, hi] (bools and strings refused: JSON gives numbers as numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RequestError(f"{name} must be a number, got {shown(repr(value), 60)}")
    if not lo <= value <= hi:
        raise RequestError(f"{name} must be in [{lo:g}, {hi:g}], got {value:g}")
    return float(value)


def bounded_int(value: Any, name: str, lo: int, hi: int) -> int:
    """An integer in [lo, hi]; a query string's digits are accepted too."""
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("-").isdigit() or len(text) > 12:
            raise RequestError(f"{name} must be an integer, got {shown(repr(value), 60)}")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"{name} must be an integer, got {shown(repr(value), 60)}")
    if not lo <= value <= hi:
        raise RequestError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise RequestError(f"{name} must be one of {', '.join(allowed)}, got {shown(repr(value), 60)}")
    return value


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def resolve_run(root: Path, name: Any) -> Path:
    """The run folder `name` (a relative path such as "exp/ring8") under `root`, fully resolved.

    Refused (400/404): anything but a plain relative path -- absolute, `..` or `.` parts, backslashes, control
    characters, hidden parts -- and a path whose real location (symbolic links followed) leaves `root`, or that
    holds no config.json. URL-encoded forms (%2e%2e) arrive decoded, so they meet the same checks."""
    if not isinstance(name, str) or not name:
        raise RequestError("run must name a run folder under --runs")
    if len(name) > 500 or not name.isprintable():
        raise RequestError(f"run {shown(name, 80)!r} is not a plain folder name")
    if "\\" in name or name.startswith("/") or os.path.isabs(name) or ":" in name.split("/")[0]:
        raise RequestError(f"run {shown(name, 80)!r}: only paths relative to --runs are served")
    parts = name.split("/")
    if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise RequestError(f"run {shown(name, 80)!r}: '..', '.' and hidden parts are refused")
    real_root = root.resolve()
    path = (real_root / Path(*parts)).resolve()
    if not _inside(path, real_root):
        raise RequestError(f"run {shown(name, 80)!r} points outside --runs", status=403)
    if not (path / "config.json").is_file():
        raise RequestError(f"run {shown(name, 80)!r}: no gankit run there", status=404)
    return path


def file_in_run(run: Path, path: Path) -> Path:
    """A file the studio serves from a run folder: a regular file whose real location stays inside the run."""
    real = path.resolve()
    if not _inside(real, run) or not real.is_file():
        raise RequestError(f"{shown(path.name, 80)} is not a file of this run", status=403)
    return real


def find_runs(root: Path) -> list[str]:
    """Run folders (holding config.json) under `root`, as relative names, at most MAX_RUN_DEPTH deep and
    MAX_RUNS_LISTED of them; linked folders are listed only when they resolve inside `root`."""
    real_root = root.resolve()
    found: list[str] = []

    def walk(folder: Path, depth: int) -> None:
        try:
            entries = sorted(folder.iterdir(), key=lambda p: p.name)
        except OSError:
            return
        for entry in entries:
            if len(found) >= MAX_RUNS_LISTED or entry.name.startswith("."):
                continue
            try:
                real = entry.resolve()
                if not entry.is_dir() or not _inside(real, real_root) or real == real_root:
                    continue
            except OSError:
                continue
            if (entry / "config.json").is_file():
                found.append(entry.relative_to(real_root).as_posix())
            elif depth < MAX_RUN_DEPTH and not entry.is_symlink():
                walk(entry, depth + 1)

    if real_root.is_dir():
        walk(real_root, 1)
    return found
