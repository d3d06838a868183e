"""`--json` means one thing on every verb: `--json PATH` writes the verb's result as JSON to PATH (through a
temporary file and a rename, never half written), `--json -` or a bare `--json` prints it to stdout instead of
the human summary, which then goes to stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError

STDOUT = "-"


def add_json_flag(parser: Any, what: str) -> None:
    parser.add_argument("--json", nargs="?", const=STDOUT, metavar="PATH",
                        help=f"write {what} as JSON to PATH ('-' or no PATH: to stdout, the summary to stderr)")


def check_json_target(path: str | None) -> None:
    """Refuse a --json that names a folder before minutes of work, not after."""
    if path not in (None, STDOUT) and Path(path).is_dir():
        raise ConfigError(f"--json {path}: is a folder; give a file name")


def human(text: str, json_target: str | None) -> None:
    """Print the human summary: to stdout, or to stderr when stdout carries the JSON."""
    print(text, file=sys.stderr if json_target == STDOUT else sys.stdout, end="" if text.endswith("\n") else "\n")


def emit_json(path: str | None, data: dict[str, Any]) -> None:
    """Write `data` where --json says (nothing when it was not given)."""
    if path is None:
        return
    text = json.dumps(data, indent=2) + "\n"
    if path == STDOUT:
        sys.stdout.write(text)
        return
    from ..atomic import atomic_write_text

    try:
        atomic_write_text(path, text)
    except OSError as e:
        raise ConfigError(f"--json {path}: cannot write ({e.strerror or e})") from None
    print(f"gankit: JSON -> {path}")
