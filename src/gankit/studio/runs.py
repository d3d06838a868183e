"""The Runs pages' data: run folders under --runs, each one's config, metrics curves, sample snapshots, scores
and the doctor's verdict. Reads only: the doctor's `diagnose` (not `doctor`, which writes doctor.txt)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from ..errors import GankitError, shown
from ..health.doctor import diagnose
from ..rundir import RunDir
from ..runlock import RunInUse, refuse_if_locked
from .security import RequestError, file_in_run, find_runs, resolve_run

MAX_CURVE_POINTS = 2000  # a long run's metrics rows are thinned to this many for the page
CONFIG_KEYS = ("dataset", "model", "method", "loss", "steps", "batch_size", "lr_g", "lr_d", "conditional", "seed")
SAMPLE_RE = re.compile(r"step_(\d+)\.png$")


def _running(path: Path) -> bool:
    """A live gankit process holds the run's lock (gankit.runlock): it is still training."""
    try:
        refuse_if_locked(path)
    except RunInUse:
        return True
    return False


def _last_step(path: Path) -> int:
    """The step of metrics.jsonl's last complete row, read from the file's tail (listing stays fast)."""
    metrics = path / "metrics.jsonl"
    try:
        with open(metrics, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 8192))
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return 0
    for line in reversed(lines):
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int):
            return row["step"]
    return 0


def _clean(value: Any) -> Any:
    """A config value as JSON the page can show: strings made printable, non-finite floats as strings."""
    if isinstance(value, str):
        return shown(value, 200)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_clean(v) for v in value[:50]]
    if isinstance(value, dict):
        return {shown(str(k), 80): _clean(v) for k, v in list(value.items())[:200]}
    return value


def list_runs(root: Path) -> list[dict[str, Any]]:
    """One summary per run folder under root (a folder whose config cannot be read is listed with the reason)."""
    out = []
    for name in find_runs(root):
        path = resolve_run(root, name)
        item: dict[str, Any] = {"name": name, "running": _running(path), "step": _last_step(path)}
        try:
            cfg = RunDir(path).read_config()
            item.update({k: _clean(cfg.get(k)) for k in CONFIG_KEYS})
        except GankitError as e:
            item["error"] = shown(str(e), 300)
        item["samples"] = len(RunDir(path).sample_files())
        out.append(item)
    return out


def _curves(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """metrics.jsonl as columns: step and every numeric key (non-finite values as null), thinned evenly."""
    stride = max(1, math.ceil(len(rows) / MAX_CURVE_POINTS))
    kept = rows[::stride]
    if rows and kept[-1] is not rows[-1]:
        kept.append(rows[-1])
    keys = sorted({k for r in kept for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                   and k not in ("step", "epoch")})
    cols: dict[str, list[Any]] = {"step": [r.get("step") for r in kept]}
    for k in keys[:80]:
        col = []
        for r in kept:
            v = r.get(k)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            col.append(v if ok else None)
        cols[shown(k, 80)] = col
    return cols


def run_detail(root: Path, name: str) -> dict[str, Any]:
    """Everything the run page shows, from the files alone."""
    path = resolve_run(root, name)
    run = RunDir(path)
    try:
        cfg = run.read_config()
        rows = run.rows()
    except GankitError as e:
        raise RequestError(f"run {shown(name, 80)!r}: {shown(str(e), 300)}", status=422) from None
    samples = []
    for p in run.sample_files():
        m = SAMPLE_RE.search(p.name)
        if m:
            samples.append(int(m.group(1)))
    scores = {k: v for r in rows for k, v in r.items() if k.startswith("Eval/") and isinstance(v, (int, float))}
    try:
        d = diagnose(path)
        doctor = {"summary": d.summary, "verdict": d.verdict, "first": d.first()[:10], "notes": d.notes,
                  "end_state": d.end_state, "source": d.source}
    except GankitError as e:
        doctor = {"verdict": f"the doctor could not read this run: {shown(str(e), 300)}"}
    return {"name": name, "config": _clean(cfg), "running": _running(path), "step": rows[-1]["step"] if rows else 0,
            "curves": _curves(rows), "samples": samples, "scores": _clean(scores), "doctor": _clean(doctor)}


def sample_path(root: Path, name: str, step: int) -> Path:
    """The sample grid of `step` (samples/step_NNNNNNN.png) of run `name`."""
    path = resolve_run(root, name)
    file = RunDir(path).sample(step)
    if not file.exists():
        raise RequestError(f"run {shown(name, 80)!r} has no sample grid at step {step}", status=404)
    return file_in_run(path, file)
