"""The theory lab: each argument that explains how GANs learn, as an experiment that writes figures and numbers.

Every experiment is a module here with one entry point,

    run(out: Path, *, quick: bool, seed: int) -> dict

that writes its figures (PNG, GIF where it moves) into `out` and returns its numbers as a JSON-ready dict with
at least `figures` (file names relative to `out`), `claims` (a list of {"claim": str, "value": number or str,
"holds": bool}) and `summary` (a paragraph for the report). `run_experiment` adds the bookkeeping (name, seed,
quick, elapsed seconds) and writes `out/NAME.json`. `--quick` settings keep each one within seconds for tests.
"""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError

# CLI name -> module in this package, in the order the report tells the story
EXPERIMENTS: dict[str, str] = {
    "one-d": "one_d",
    "optimal-d": "optimal_d",
    "saturation": "saturation",
    "lsgan": "lsgan",
    "mode-collapse": "mode_collapse",
    "equilibrium": "equilibrium",
    "tricks": "tricks",
}


def run_experiment(name: str, out: str | Path, *, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Run one experiment by its CLI name; returns (and writes to out/NAME.json) its numbers."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    module = importlib.import_module(f".{EXPERIMENTS[name]}", __name__)
    t0 = time.perf_counter()
    result = module.run(out, quick=quick, seed=seed)
    record = {"name": name, "seed": seed, "quick": quick, "elapsed_s": round(time.perf_counter() - t0, 2), **result}
    (out / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
