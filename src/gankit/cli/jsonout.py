"""Where a verb's output goes. `--json` means one thing on every verb: `--json PATH` writes the verb's result as JSON to PATH (through a
temporary file and a rename, never half written), `--json -` or a bare `--json` prints it to stdout instead of
the human summary, which then goes to stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, shown

STDOUT = "-"


def add_json_flag(parser: Any, what: str) -> None:
    parser.add_argument("--json", nargs="?", const=STDOUT, metavar="PATH",
                        help=f"write {what} as JSON to PATH ('-' or no PATH: to stdout, the summary to stderr)")


def check_file_target(flag: str, path: str | None) -> None:
    """A file to write may be new or a file, never a folder: checked before any work (minutes of scoring or
    training), so nothing is written."""
    if path is not None and Path(path).is_dir():
        raise ConfigError(f"{flag} {shown(path)}: is a folder; name a file to write")


def check_json_target(path: str | None) -> None:
    """check_file_target for --json, where '-' means stdout."""
    if path != STDOUT:
        check_file_target("--json", path)


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
