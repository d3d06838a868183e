"""Keep a result file that a gankit command wrote (`gankit explain`'s NAME.json, `gankit attack`'s attack.json) in
bench/results/, wrapped with the command that made it, its date (the file's) and this machine, so that
bench/render.py can render it like the bench scripts' own files.

    OMP_NUM_THREADS=1 python bench/keep_result.py --key report --command "gankit attack ..." \\
        runs/attack/attack.json bench/results/attack-mnist-pgd-l2.json

Run it on the machine, and with the thread count, that ran the command.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from perf import machine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="the JSON file the command wrote")
    ap.add_argument("dest", help="where to keep it, under bench/results/")
    ap.add_argument("--command", required=True, help="the command that wrote src, as run")
    ap.add_argument("--key", required=True, help="the key the file's content goes under (report, record)")
    args = ap.parse_args()
    src = Path(args.src)
    m = machine()
    m["date"] = datetime.date.fromtimestamp(src.stat().st_mtime).isoformat()
    m.pop("load_avg_1m", None)  # read now, not while the command ran
    kept = {"machine": m, "command": args.command, args.key: json.loads(src.read_text())}
    Path(args.dest).parent.mkdir(parents=True, exist_ok=True)
    Path(args.dest).write_text(json.dumps(kept, indent=2) + "\n")
    print(f"kept {src} as {args.dest}")


if __name__ == "__main__":
    main()
