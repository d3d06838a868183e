"""Training throughput against the reference run as it is: pytorch/examples' `dcgan/main.py`, unmodified, in a
virtual environment of its own (it needs torchvision, which does not load beside gankit's torch 2.13.0+cpu;
torch 2.14.1 with torchvision 0.29.1 does), against `gankit.train` on the same data, architecture, image size and
batch: MNIST at main.py's defaults (64x64, batch 64, ngf = ndf = 64, Adam 2e-4, 2 loader workers).

    python -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch==2.14.1 torchvision==0.29.1
    python bench/reference_main.py --main EXAMPLES/dcgan/main.py --python /tmp/tvenv/bin/python --data-dir DATA

main.py is timed from its own per-iteration lines (read unbuffered, stamped as they arrive) between iteration
`--warmup` and iteration `--iters`, then stopped; it reads MNIST from a torchvision-layout folder made from
DATA's IDX files (no download: the files are already there). gankit is timed by its own clock over the same steps
(bench/perf.py), in the default configuration and with its speed flags. The variants alternate round by round.
main.py's code is not part of gankit: pass the path of your own checkout of pytorch/examples.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script from anywhere: bench/ siblings

from perf import fmt, gankit_images_per_s, interleaved, machine, spread, train_kwargs  # noqa: E402

IMAGE_SIZE, BATCH, WIDTH = 64, 64, 64  # main.py's defaults (--imageSize, --batchSize, --ngf/--ndf)
ITER_LINE = re.compile(r"^\[\d+/\d+\]\[(\d+)/\d+\] Loss_D")
GANKIT_VARIANTS = {"default": {}, "fast": {"channels_last": True, "reuse_fake": True}}
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")


def torchvision_root(data_dir: Path, root: Path) -> Path:
    """root/MNIST/raw/<the four IDX files, uncompressed>: where torchvision's MNIST looks before it downloads."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        src = data_dir / "mnist" / f"{name}.gz"
        if not src.exists():
            raise SystemExit(f"reference_main: {src} is missing (--data-dir must hold mnist/*.gz)")
        with gzip.open(src) as f, open(raw / name, "wb") as out:
            shutil.copyfileobj(f, out)
    return root


def time_main(python: str, main: Path, root: Path, iters: int, warmup: int) -> dict[str, float]:
    """Run main.py until it prints iteration `iters`; images/s between iterations `warmup` and `iters`."""
    with tempfile.TemporaryDirectory(prefix="gankit-ref-") as outf:
        cmd = [python, str(main), "--dataset", "mnist", "--dataroot", str(root), "--niter", "1", "--outf", outf,
               "--manualSeed", "0"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                cwd=outf)
        stamps: dict[int, float] = {}
        tail: list[str] = []
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                tail = (tail + [line])[-20:]
                m = ITER_LINE.match(line)
                if m:
                    stamps[int(m.group(1))] = time.perf_counter()
                    if int(m.group(1)) >= iters:
                        break
        finally:
            proc.kill()
            proc.wait()
    if warmup not in stamps or iters not in stamps:
        raise SystemExit("reference_main: main.py stopped before iteration "
                         f"{iters}; its last lines:\n{''.join(tail)}")
    return {"images_per_s": (iters - warmup) * BATCH / (stamps[iters] - stamps[warmup]),
            "first_iteration_s": stamps[min(stamps)] - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--main", required=True, type=Path, help="pytorch/examples' dcgan/main.py")
    ap.add_argument("--python", required=True, help="a Python with torch and torchvision for main.py")
    ap.add_argument("--data-dir", required=True, type=Path, help="folder with mnist/*-idx*-ubyte.gz")
    ap.add_argument("--iters", type=int, default=20, help="last timed iteration (main.py counts from 0)")
    ap.add_argument("--warmup", type=int, default=5, help="iterations before the clock starts")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("runs/bench-reference-main.json"))
    args = ap.parse_args()
    if not 0 <= args.warmup < args.iters:
        raise SystemExit("reference_main: need 0 <= --warmup < --iters")
    info = machine()
    print(f"reference_main: {info}", flush=True)
    with tempfile.TemporaryDirectory(prefix="gankit-tv-") as tmp:
        root = torchvision_root(args.data_dir, Path(tmp))
        variants: dict[str, Any] = {
            "reference": lambda: time_main(args.python, args.main, root, args.iters, args.warmup)}
        for name, flags in GANKIT_VARIANTS.items():
            # gankit counts steps from 1: steps warmup+1 .. iters+1 are the same number of iterations timed
            kw = train_kwargs(str(args.data_dir), image_size=IMAGE_SIZE, width=WIDTH, d_width=WIDTH,
                              batch_size=BATCH, **flags)
            variants[f"gankit-{name}"] = (lambda kw=kw: gankit_images_per_s(kw, args.iters + 1, args.warmup + 1))
        res = interleaved(variants, args.reps, "images_per_s")
    ref = res["reference"]
    out: dict[str, Any] = {"machine": info, "iters": args.iters, "warmup": args.warmup, "batch": BATCH,
                           "image_size": IMAGE_SIZE, "width": WIDTH, "variants": GANKIT_VARIANTS, **res}
    print(f"\nreference (main.py as is): {fmt(ref['images_per_s'])} images/s")
    for name in GANKIT_VARIANTS:
        r = res[f"gankit-{name}"]
        ratios = [g["images_per_s"] / f["images_per_s"] for g, f in zip(r["runs"], ref["runs"])]
        r["speedup_vs_reference"] = spread(ratios)
        print(f"gankit-{name}: {fmt(r['images_per_s'])} images/s, x{fmt(r['speedup_vs_reference'], 2)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
