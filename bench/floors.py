"""The floor for generators: each data set's real test split scored against its real training split, in the
same features and protocol as `gankit evaluate RUN`.

    python bench/floors.py --data-dir DATA [--datasets mnist fashion-mnist] [--seed 0] [--out bench/results/floors.json]

Writes every score with its protocol, the command, the date and the machine to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import gankit
from perf import machine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True, help="folder with mnist/ and fashion_mnist/ IDX files")
    ap.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/results/floors.json")
    args = ap.parse_args()
    result = {"machine": machine(), "command": "python bench/floors.py " + " ".join(sys.argv[1:]), "rows": {}}
    for dataset in args.datasets:
        result["rows"][dataset] = gankit.evaluate_real(dataset, data_dir=args.data_dir, seed=args.seed)
        print(dataset, {k: v for k, v in result["rows"][dataset].items() if isinstance(v, float)}, flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
