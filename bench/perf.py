"""Shared pieces of the performance benchmarks (bench/run.py and friends): the machine, its matmul roof, FLOPs of a
training step, gankit's own images/s from a run's metrics.jsonl, and medians with their range."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import gankit
from gankit.stats import read_jsonl


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": datetime.date.today().isoformat(), "cpu": cpu, "cores": os.cpu_count(),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "python": platform.python_version(),
            "load_avg_1m": round(os.getloadavg()[0], 2)}


def write_json(path: str | Path, obj: Any) -> None:
    """A result file, its folder made first, with this machine's data and scratch folders written as DATA and
    runs/ (bench/portable.py); the caller prints where it went."""
    from portable import make_portable

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(make_portable(obj), indent=1) + "\n")


def training_seconds(run: str | Path, step: int) -> float | None:
    """A run's training clock (metrics.jsonl time_s) at its last log row up to `step` (a checkpoint written on a
    stop signal may fall between log rows): training only, no scoring; None without one."""
    rows = [r for r in read_jsonl(Path(run) / "metrics.jsonl") if r.get("step", 1 << 62) <= step and "time_s" in r]
    return float(rows[-1]["time_s"]) if rows else None


def spread(values: list[float]) -> dict[str, float]:
    """Median with min and max: the form every speed figure in docs/speed.md takes."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def fmt(s: dict[str, float], digits: int = 0) -> str:
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def matmul_roof(n: int = 2048, reps: int = 5) -> float:
    """Achieved GFLOP/s of an n x n float32 matmul at the current thread count: the roof the step is set against.
    The best of `reps` timings (the roof is what the machine can do, not what a noisy moment gives)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def train_kwargs(data: str | None, **kw: Any) -> dict[str, Any]:
    """TrainConfig keywords for a timing run on full MNIST (data dir given) or the shipped mnist5k."""
    base = {"dataset": "mnist", "data_dir": data} if data else {"dataset": "mnist5k"}
    return {**base, "model": "dcgan", "progress": False, **kw}


def gankit_images_per_s(kw: dict[str, Any], steps: int, warmup: int) -> dict[str, float]:
    """Train `steps` steps with gankit.train and read its own clock: images/s from step `warmup` to the end
    (data loading, the health probe and logging included), and the whole call's wall time (set-up included)."""
    with tempfile.TemporaryDirectory(prefix="gankit-bench-") as d:
        # metrics rows (and health probes, on by default) every gcd(warmup, steps) steps: one at `warmup`
        cfg = gankit.TrainConfig(**{**kw, "steps": steps, "log_every": math.gcd(warmup, steps), "out": d})
        t0 = time.perf_counter()
        gankit.train(cfg)
        total = time.perf_counter() - t0
        rows = {r["step"]: r["time_s"] for r in read_jsonl(f"{d}/metrics.jsonl")}
    batch = cfg.resolved().batch_size
    return {"images_per_s": (steps - warmup) * batch / (rows[steps] - rows[warmup]), "total_s": total}


def step_flop_counts(kw: dict[str, Any]) -> dict[str, float]:
    """FLOPs of one training step of gankit.train as configured, per counted op ("aten.convolution", "aten.mm",
    ...): the counts of a 3-step run minus a 2-step run (both end with the same sample grid), so set-up and
    snapshots cancel."""
    counts: list[dict[str, float]] = []
    for steps in (2, 3):
        with tempfile.TemporaryDirectory(prefix="gankit-flops-") as d:
            cfg = gankit.TrainConfig(**{**kw, "steps": steps, "out": d, "health": False})
            with FlopCounterMode(display=False) as fc:
                gankit.train(cfg)
            counts.append({str(op): float(n) for op, n in fc.get_flop_counts()["Global"].items()})
    short, long = counts
    return {op: long[op] - short.get(op, 0.0) for op in long if long[op] - short.get(op, 0.0) > 0}


def count_step_flops(kw: dict[str, Any]) -> float:
    """FLOPs of one training step of gankit.train as configured (all counted ops)."""
    return sum(step_flop_counts(kw).values())


def interleaved(variants: dict[str, Callable[[], dict[str, float]]], reps: int, key: str,
                log: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """Run every variant once per round, `reps` rounds, so slow moments of a shared machine hit them alike."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for r in range(reps):
        for name, fn in variants.items():
            runs[name].append(fn())
            log(f"  round {r + 1}/{reps} {name}: {runs[name][-1][key]:.1f}")
    return {name: {"runs": rs, key: spread([x[key] for x in rs])} for name, rs in runs.items()}


def digits(data: str | None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, 28, 28] images and labels: MNIST's training split from `data`, else the shipped mnist5k."""
    from gankit.data.mnist import load_idx_dataset, load_mnist5k

    return load_idx_dataset("mnist", "train", data_dir=data, download=False) if data else load_mnist5k()


@contextmanager
def tiled_training_data(tile: int) -> Iterator[None]:
    """Within the block, gankit.train trains on its data set repeated `tile` times (same labels): a synthetic
    large data set with MNIST's per-step cost. tile 1 leaves the loader as it is."""
    from gankit.data.base import Dataset
    from gankit.training import data as training

    load = training.load_training_data

    def tiled(cfg: Any, data: Dataset | None = None) -> Dataset:
        d = load(cfg, data)
        return Dataset(d.name, d.x.repeat(tile, 1, 1, 1), d.y.repeat(tile) if d.y is not None else None,
                       d.num_classes, d.class_names)

    if tile > 1:
        training.load_training_data = tiled
    try:
        yield
    finally:
        training.load_training_data = load
