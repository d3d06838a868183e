"""One stats channel: namespaced scalars (`Loss/D`, `D/real`) reduced per log interval, written as JSON lines.

Model and loss code never import this; only the training loop reports into it. Values stay tensors until the
interval is reduced, so a step costs no host synchronisation on an accelerator.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, TextIO

import torch

from .atomic import atomic_write_text
from .config import one_line, read_bounded
from .errors import ConfigError


class Stats:
    """Accumulates per-step scalars and reduces them to means on `reduce()`."""

    def __init__(self) -> None:
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    def add(self, name: str, value: torch.Tensor | float) -> None:
        v = value.detach().float() if torch.is_tensor(value) else torch.tensor(float(value))
        if name in self._sums:
            self._sums[name] = self._sums[name] + v
            self._counts[name] += 1
        else:
            self._sums[name] = v
            self._counts[name] = 1

    def reduce(self) -> dict[str, float]:
        """Means since the last reduce, as Python floats (the one sync point), then reset."""
        if not self._sums:
            return {}
        names = list(self._sums)
        values = torch.stack([self._sums[n].reshape(()) for n in names]).cpu().tolist()
        out = {n: v / self._counts[n] for n, v in zip(names, values)}
        self._sums.clear()
        self._counts.clear()
        return out


def all_finite(row: dict[str, Any]) -> bool:
    return all(math.isfinite(v) for v in row.values() if isinstance(v, float))


class JsonlWriter:
    """Appends one JSON object per line; flushed per line so a killed run keeps what it logged.

    A symbolic link at `path` is refused rather than followed (a run folder's log stays inside it), and the rows
    past `truncate_after_step` are dropped by rewriting the file atomically, so a kill mid-way keeps the old log."""

    def __init__(self, path: str | Path, truncate_after_step: int | None = None) -> None:
        self.path = Path(path)
        if self.path.is_symlink():
            raise ConfigError(f"{self.path}: is a symbolic link; refusing to write a log through it (remove it)")
        if truncate_after_step is not None and self.path.exists():
            # After a crash the log may run past the checkpoint we resume from: drop those rows.
            kept = [line for line in read_jsonl(self.path) if line.get("step", 0) <= truncate_after_step]
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        self._fh: TextIO = _open_append(self.path)

    def write(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def _open_append(path: Path) -> TextIO:
    """`path` opened to append text, created if missing; O_NOFOLLOW closes the gap between the check for a link
    above and the open."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as e:
        raise ConfigError(f"{path}: cannot open the log to append ({e.strerror})") from None
    return open(fd, "a")


#: metrics.jsonl holds a row per log interval (a few hundred bytes); this is far past any run's log.
MAX_METRICS_BYTES = 256 << 20


def read_jsonl(path: str | Path, *, strict: bool = False) -> list[dict[str, Any]]:
    """The rows of a metrics log: JSON objects, one per line, whose "step" (where present) is an integer.

    A half-written last line (a run killed mid-write) is always skipped. Any other line that is not such a row
    (not UTF-8, not JSON, nested too deeply, an integer past Python's int-string limit, not an object, a step
    that is not an integer) is skipped too, or with `strict=True` refused with a ConfigError naming the file and
    the line. A missing file has no rows; a folder, FIFO or a file past MAX_METRICS_BYTES is a ConfigError."""
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        return []
    lines = read_bounded(p, "metrics log", MAX_METRICS_BYTES).split(b"\n")
    complete = len(lines) - 1  # the text after the last newline is a line still being written
    rows = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            row, fault = json.loads(raw.decode("utf-8")), None
        except UnicodeDecodeError as e:
            fault = f"not UTF-8 text: {e.reason}"
        except RecursionError:
            fault = "nested too deeply"
        except ValueError as e:  # JSONDecodeError, or an integer past Python's int-string limit
            fault = one_line(e)
        if fault is None:
            step = row.get("step", 0) if isinstance(row, dict) else None
            if not isinstance(row, dict):
                fault = f"a JSON {type(row).__name__}, not an object"
            elif isinstance(step, bool) or not isinstance(step, int):
                fault = f"its 'step' is a {type(step).__name__}, not an integer"
        if fault is None:
            rows.append(row)
        elif strict and number <= complete:
            raise ConfigError(f"{p}: line {number} is not a metrics row ({fault})")
    return rows
