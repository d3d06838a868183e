"""Peak memory (RSS) of gankit: of `gankit train` as a whole, or of the image data path alone.

    python bench/memory.py [--data-dir DATA] [--steps 100] [--out runs/bench-memory.json]
    python bench/memory.py --data-path [--data-dir DATA] [--quick] [--out bench/results/memory.json]

Every row runs in a fresh Python process (so one row's peak does not hide another's) and reports that process's
own peak resident set size (VmHWM from /proc/self/status, else ru_maxrss).

Training rows (the default):
- the default run (`gankit train`: DCGAN on the shipped mnist5k, batch 32), with --steps steps;
- the same at batch 32, 128, 512 and 1024;
- the data set's size: mnist5k, full MNIST (60,000, with --data-dir) and a synthetic 600,000 (MNIST tiled ten
  times, handed to the training loop in place of the loaded data set).

Data-path rows (--data-path): a uint8 .npy of images is written to a temporary folder, loaded the way training
loads data (`load_dataset("npy:PATH", compact=True)`), then 200 random batches of 64 are gathered and converted
with `as_float`, as the training loop does each step. Each set is measured held in memory (budget 64 GiB) and
read from disk through a memory map (budget 0: `$GANKIT_MEMORY_BUDGET`), with the file first dropped from the
page cache (as a set larger than memory would be) and first read into it:
- 600,000 28x28 grey images [N, 28, 28] (MNIST's training split tiled ten times with --data-dir, else random
  pixels), bar 1.5 GiB;
- 100,000 64x64 RGB images [N, 3, 64, 64] (random pixels), bar 2 GiB;
- the same 100,000 stored as [N, 64, 64, 3], which the data path transposes (in memory, or once into a cache
  file that it then maps: one more row, the one that makes it), bar 2 GiB.
Pages of a mapped file count in the RSS (VmHWM included) of every process that maps them, though they are page
cache the kernel may drop at any time; with the file in the page cache, the kernel maps up to 64 KiB around each
page read ("fault-around"), so a few thousand random rows map most of the file. Each row therefore also gives
RssAnon, the memory only that process holds, at the end. --quick
shrinks the sets a hundredfold and the batches to 20 (a smoke test, not a measurement).
Peak RSS does not depend on the machine's load, so this benchmark may share the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
MIB = 1024**2
IN_MEMORY_BUDGET = "64G"
MAPPED_BUDGET = "0"

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
        r = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec), str(BENCH)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"memory run {spec} failed:\n{r.stderr[-2000:]}")
        return json.loads(r.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------ data path
def proc_status() -> dict[str, float]:
    """This process's VmHWM (peak RSS), VmRSS, RssAnon and RssFile in MiB (Linux); elsewhere peak RSS only."""
    out: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) / 1024  # kB
    except OSError:
        import resource

        scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux kB
        out["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MIB
    return out


def mapped_files(*folders: str) -> list[str]:
    """Names of the .npy files under `folders` that this process has memory-mapped."""
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    paths = {line.split(maxsplit=5)[5] for line in lines if len(line.split(maxsplit=5)) == 6}
    return sorted(Path(p).name for p in paths if p.endswith(".npy") and any(p.startswith(f) for f in folders))


def iterate(spec: dict[str, Any]) -> dict[str, Any]:
    """The child's work: load `spec["path"]` as training does, gather `spec["batches"]` random batches of
    `spec["batch_size"]` and convert them to float, and report memory and times."""
    import torch

    from gankit.data import load_dataset, memory_budget
    from gankit.data.transforms import as_float

    t0 = time.perf_counter()
    data = load_dataset(f"npy:{spec['path']}", split="train", seed=0, compact=True)  # as training loads it
    x_all = data.x.to("cpu")  # as training places it
    load_s = time.perf_counter() - t0
    after_load = proc_status()
    size = spec["batch_size"]
    per_epoch = max(1, len(data) // size)
    total = 0.0
    t1 = time.perf_counter()
    for b in range(spec["batches"]):
        epoch, i = divmod(b, per_epoch)
        if i == 0:  # a fresh permutation each epoch, as training samples
            perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(epoch))
        idx = perm[i * size:(i + 1) * size]
        real = as_float(x_all[idx])  # [B, C, H, W] in [-1, 1], what a training step receives
        total += float(real.sum())
    batches_s = time.perf_counter() - t1
    end = proc_status()
    return {"n": len(data), "sample_shape": list(data.sample_shape), "dtype": str(data.x.dtype),
            "budget_bytes": memory_budget(), "mapped": mapped_files(str(Path(spec["path"]).parent), spec["cache"]),
            "peak_rss_mib": end["VmHWM"], "rss_after_load_mib": after_load.get("VmRSS"),
            "rss_anon_end_mib": end.get("RssAnon"), "rss_file_end_mib": end.get("RssFile"),
            "load_s": load_s, "batches_s": batches_s, "checksum": total}


def measure_data_path(path: Path, *, budget: str, batches: int, batch_size: int = 64,
                      cache: Path | None = None) -> dict[str, Any]:
    """Run `iterate` on the .npy at `path` in a fresh process under memory budget `budget`, with its image cache
    in `cache` (default: a folder beside `path`)."""
    cache = cache or path.parent / "cache"
    spec = {"path": str(path), "batches": batches, "batch_size": batch_size, "cache": str(cache)}
    env = {**os.environ, "GANKIT_MEMORY_BUDGET": budget, "GANKIT_CACHE": str(cache)}
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"data-path row {spec} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def baseline() -> dict[str, float]:
    """Peak RSS of a process that only imports torch and gankit: what every row pays before any data."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import gankit.data, torch; "
            "from memory import proc_status; print(json.dumps(proc_status()))")
    r = subprocess.run([sys.executable, "-c", code, str(BENCH)], capture_output=True, text=True, check=True)
    return {"peak_rss_mib": json.loads(r.stdout)["VmHWM"]}


def write_images(path: Path, n: int, shape: tuple[int, ...], *, seed: int = 0,
                 tiles: np.ndarray | None = None) -> Path:
    """A uint8 .npy of `n` images of `shape`, written a window at a time (so the writer's own memory stays small):
    `tiles` [M, *shape] repeated in order, else seeded random pixels."""
    from gankit.data.npyio import NpyWriter

    writer = NpyWriter(path, (n, *shape), np.uint8)
    rng = np.random.default_rng(seed)
    window = max(1, (64 * MIB) // int(np.prod(shape)))
    done = 0
    while done < n:
        k = min(window, n - done)
        if tiles is not None:
            part = tiles[np.arange(done, done + k) % len(tiles)]
        else:
            part = rng.integers(0, 256, (k, *shape), dtype=np.uint8)
        writer.write(part)
        done += k
    return writer.close()


def page_cache(paths: list[Path], *, keep: bool) -> None:
    """Put `paths` in the page cache (`keep`: read them through) or drop them from it (flushed first: the kernel
    drops only clean pages), so each row starts from a known state of the cache."""
    for path in paths:
        with open(path, "rb") as f:
            if keep:
                while f.read(64 * MIB):
                    pass
            elif hasattr(os, "posix_fadvise"):
                os.fsync(f.fileno())
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


MODES = (  # (how the row holds the data, budget, whether its files start in the page cache)
    ("in memory", IN_MEMORY_BUDGET, False),
    ("memory-mapped, file not in the page cache", MAPPED_BUDGET, False),
    ("memory-mapped, file in the page cache", MAPPED_BUDGET, True),
)


def data_path_rows(folder: Path, *, quick: bool, data_dir: str | None,
                   log: Any = print) -> list[dict[str, Any]]:
    """Every data-path row (see the module doc), its files written under `folder`."""
    scale = 100 if quick else 1
    batches = 20 if quick else 200
    digits = None
    if data_dir:
        from gankit.data.mnist import load_idx_dataset

        digits = load_idx_dataset("mnist", "train", data_dir=data_dir, download=False)[0]  # [60000, 28, 28]
    sets = [
        ("28x28 grey [N, 28, 28]", "grey.npy", 600_000 // scale, (28, 28), digits, 1.5),
        ("64x64 RGB [N, 3, 64, 64]", "rgb_nchw.npy", 100_000 // scale, (3, 64, 64), None, 2.0),
        ("64x64 RGB [N, 64, 64, 3]", "rgb_nhwc.npy", 100_000 // scale, (64, 64, 3), None, 2.0),
    ]
    cache = folder / "cache"
    rows: list[dict[str, Any]] = [{"what": "baseline: import torch and gankit", **baseline()}]
    for kind, name, n, shape, tiles, bar_gib in sets:
        path = write_images(folder / name, n, shape, tiles=tiles)
        modes = list(MODES)
        if len(shape) == 3 and shape[2] in (1, 3):  # [N, H, W, C]: the first mapped row makes the cache file
            modes.insert(1, ("memory-mapped, cache file made in this row", MAPPED_BUDGET, False))
        for where, budget, cached in modes:
            page_cache([path, *cache.glob("images/*.npy")], keep=cached)
            got = measure_data_path(path, budget=budget, batches=batches, cache=cache)
            row = {"what": f"{n:,} {kind}, {where}", "budget": budget, "in_page_cache_at_start": cached,
                   "pixels": "MNIST train tiled" if tiles is not None else "random pixels",
                   "file_bytes": path.stat().st_size, "batches": batches, "batch_size": 64,
                   "bar_mib": bar_gib * 1024, "met": got["peak_rss_mib"] < bar_gib * 1024, **got}
            rows.append(row)
            log(f"| {row['what']} | {got['peak_rss_mib']:.0f} MiB | {got['rss_anon_end_mib']:.0f} MiB | "
                f"{got['load_s']:.1f} s | {'met' if row['met'] else 'NOT met'} (< {bar_gib} GiB) |", flush=True)
        path.unlink()
        for f in cache.glob("images/*.npy"):
            f.unlink()
    return rows


def machine_info() -> dict[str, Any]:
    from perf import machine

    from gankit.data.budget import physical_memory

    return {**machine(), "ram_bytes": physical_memory(), "nproc": os.cpu_count()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help="folder with mnist/ IDX files: adds the 60k and 600k training rows; with "
                    "--data-path, MNIST digits fill the 600,000-image set")
    ap.add_argument("--steps", type=int, default=100, help="training rows: steps per run")
    ap.add_argument("--data-path", action="store_true", help="measure the data path alone (see above)")
    ap.add_argument("--quick", action="store_true", help="with --data-path: sets 100x smaller, 20 batches")
    ap.add_argument("--out", help="result JSON (default: runs/bench-memory.json; with --data-path "
                    "bench/results/memory.json, or runs/bench-memory-quick.json with --quick)")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # internal: one data-path row, in its own process
    args = ap.parse_args()
    if args.child:
        print(json.dumps(iterate(json.loads(args.child))))
        return
    if args.data_path:
        out = args.out or ("runs/bench-memory-quick.json" if args.quick else "bench/results/memory.json")
        print("| data set | peak RSS | RssAnon at end | load | bar |\n|---|---|---|---|---|", flush=True)
        with tempfile.TemporaryDirectory(prefix="gankit-mem-data-") as d:
            rows = data_path_rows(Path(d), quick=args.quick, data_dir=args.data_dir)
        from perf import write_json

        write_json(out, {"command": " ".join(["python", "bench/memory.py", *sys.argv[1:]]),
                         "machine": machine_info(), "rows": rows})
        print(f"results -> {out}")
        return

    rows: list[dict[str, Any]] = []
    out = args.out or "runs/bench-memory.json"

    def run(label: str, **spec: Any) -> None:
        got = measure({"steps": args.steps, **spec})
        rows.append({"what": label, **spec, **got})
        print(f"| {label} | {got['peak_rss_mib']:.0f} MiB | {got['seconds']:.0f} s |", flush=True)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(rows, indent=2) + "\n")

    print("| run | peak RSS | wall |\n|---|---|---|")
    run("default run (gankit train), mnist5k, batch 32")
    for b in (128, 512, 1024):
        run(f"mnist5k, batch {b}", batch_size=b)
    if args.data_dir:
        run("MNIST 60,000, batch 32", dataset="mnist", data_dir=args.data_dir)
        run("MNIST tiled to 600,000, batch 32", dataset="mnist", data_dir=args.data_dir, tile=10)


if __name__ == "__main__":
    main()
