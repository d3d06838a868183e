"""Peak memory (RSS) of `gankit train`, and how it grows with the batch size and the data set's size (issue #6).

    python bench/memory.py [--data-dir DATA] [--steps 100] [--out runs/bench-memory.json]

Each configuration trains in a fresh Python process (so one run's peak does not hide another's) and reports
its own peak resident set size (`resource.getrusage`, ru_maxrss). The rows:
- the default run (`gankit train`: DCGAN on the shipped mnist5k, batch 32), with --steps steps;
- the same at batch 32, 128, 512 and 1024;
- the data set's size: mnist5k, full MNIST (60,000, with --data-dir) and a synthetic 600,000 (MNIST tiled ten
  times, handed to the training loop in place of the loaded data set).
Peak RSS does not depend on the machine's load, so this benchmark may share the machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])  # bench/, for perf.tiled_training_data
import gankit
from perf import tiled_training_data

spec = json.loads(sys.argv[1])
tile = spec.pop("tile", 1)
t0 = time.perf_counter()
with tiled_training_data(tile):
    gankit.train(gankit.TrainConfig(**spec))
print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - t0}))
"""


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gankit-mem-") as d:
        spec = {"progress": False, **spec, "out": d}
        r = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec), str(Path(__file__).resolve().parent)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"memory run {spec} failed:\n{r.stderr[-2000:]}")
        return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="folder with mnist/ IDX files: adds the 60k and 600k rows")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--out", default="runs/bench-memory.json")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []

    def run(label: str, **spec: Any) -> None:
        got = measure({"steps": args.steps, **spec})
        rows.append({"what": label, **spec, **got})
        print(f"| {label} | {got['peak_rss_mib']:.0f} MiB | {got['seconds']:.0f} s |", flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")

    print("| run | peak RSS | wall |\n|---|---|---|")
    run("default run (gankit train), mnist5k, batch 32")
    for b in (128, 512, 1024):
        run(f"mnist5k, batch {b}", batch_size=b)
    if args.data_dir:
        run("MNIST 60,000, batch 32", dataset="mnist", data_dir=args.data_dir)
        run("MNIST tiled to 600,000, batch 32", dataset="mnist", data_dir=args.data_dir, tile=10)


if __name__ == "__main__":
    main()
