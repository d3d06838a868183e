"""Write a result file's folders of the machine that ran it as placeholders, so that a command recorded in
bench/results/ reads the same on every machine: the data folder as DATA and scratch folders under the temporary
directory as runs/.

    python bench/portable.py bench/results/zoo-sgan.json [more.json ...] [--data-dir DATA] [--check]

Result files written through perf.write_json are made portable as they are written; this rewrites older ones.

Only strings change (commands, run paths); numbers and keys stay as written. --check changes nothing and exits 1
when a file still holds such a folder.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any


def rewrite(text: str, data_dirs: list[str], tmp: str) -> str:
    """One string with its machine folders replaced: data folders -> DATA, TMP/<scratch>/ -> runs/, a bare
    TMP/<scratch> -> runs/<scratch>."""
    for d in data_dirs:
        text = text.replace(d, "DATA")
    base = re.escape(tmp.rstrip('/'))
    text = re.sub(rf"{base}/[A-Za-z0-9_.-]+/(runs/)?", "runs/", text)
    text = re.sub(rf"{base}/([A-Za-z0-9_.-]+)\b(?!/)", r"runs/\1", text)  # a scratch folder named bare
    return re.sub(r"\bruns/s\d+/", "runs/", text)  # a numbered scratch folder inside runs/


def portable(obj: Any, data_dirs: list[str], tmp: str) -> Any:
    if isinstance(obj, str):
        return rewrite(obj, data_dirs, tmp)
    if isinstance(obj, list):
        return [portable(v, data_dirs, tmp) for v in obj]
    if isinstance(obj, dict):
        return {k: portable(v, data_dirs, tmp) for k, v in obj.items()}
    return obj


def machine_folders(data_dir: str | None) -> list[str]:
    """The spellings of the data folder to replace, longest first (its resolved path and the path as given)."""
    dirs = [str(Path(data_dir).resolve()), data_dir.rstrip("/")] if data_dir else []
    return sorted({d for d in dirs if len(d) > 1}, key=len, reverse=True)


def make_portable(obj: Any, data_dir: str | None = None) -> Any:
    """A result object with this machine's data folder (default: $GANKIT_DATA) and scratch folders replaced."""
    return portable(obj, machine_folders(data_dir or os.environ.get("GANKIT_DATA")), tempfile.gettempdir())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="result JSON files to rewrite in place")
    ap.add_argument("--data-dir", default=os.environ.get("GANKIT_DATA"), help="the data folder the commands used "
                    "(default: $GANKIT_DATA)")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file holds a machine folder")
    args = ap.parse_args()
    stale = []
    for f in map(Path, args.files):
        before = json.loads(f.read_text())
        after = make_portable(before, args.data_dir)
        if after == before:
            continue
        stale.append(str(f))
        if not args.check:
            indent = 1 if f.read_text().startswith("{\n \"") else 2  # keep the file's own indentation
            f.write_text(json.dumps(after, indent=indent, ensure_ascii=False) + "\n")
    if stale:
        print(("holds machine folders: " if args.check else "rewritten: ") + ", ".join(stale))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
