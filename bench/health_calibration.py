"""Calibrate and check the health monitor (gankit.health) on real runs, healthy and broken.

Trains each named configuration (or reuses a finished run with --reuse), then prints, per run, the ranges of the
signals the monitor reads (D(x), D(G(z)), gradient norms, fixed-noise diversity, class entropy) and the findings
the monitor raises over its metrics.jsonl, with the first step of each. The thresholds in gankit.health.Thresholds
were set from this table: no finding on the healthy runs, d_domination early on the broken ones.

    python bench/health_calibration.py --runs /tmp/hcal ring8-s0 mnist5k-s0 broken-minimax
    python bench/health_calibration.py --runs /tmp/hcal --list
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import gankit
from gankit.health import monitor_for, replay
from gankit.stats import read_jsonl

IMG = {"dataset": "mnist5k", "model": "dcgan"}
RING = {"dataset": "ring8", "model": "mlp"}
#: name -> TrainConfig keywords. "broken" = D's learning rate 10x G's.
RUNS: dict[str, dict[str, Any]] = {
    **{f"ring8-s{s}": {**RING, "seed": s, "steps": 2000} for s in range(4)},
    **{f"grid25-s{s}": {"dataset": "grid25", "model": "mlp", "seed": s, "steps": 2000} for s in range(2)},
    **{f"mnist5k-s{s}": {**IMG, "seed": s, "steps": 1500} for s in range(3)},
    "mnist5k-minimax-s0": {**IMG, "loss": "minimax", "steps": 1500},
    "mnist5k-lsgan-s0": {**IMG, "loss": "lsgan", "steps": 1000},
    "mnist5k-hinge-s0": {**IMG, "loss": "hinge", "steps": 1000},
    "mnist5k-classic-s0": {**IMG, "model": "classic", "steps": 1500},
    "mnist5k-mlp-s0": {**IMG, "model": "mlp", "steps": 1500},  # the MLP GAN collapses with the image recipe
    "broken-minimax": {**IMG, "loss": "minimax", "lr_g": 2e-4, "lr_d": 2e-3, "steps": 600},
    "broken-nonsat": {**IMG, "loss": "nonsaturating", "lr_g": 2e-4, "lr_d": 2e-3, "steps": 600},
    "broken-ring8": {**RING, "loss": "minimax", "lr_g": 5e-4, "lr_d": 5e-3, "r1": 0.0, "steps": 1000},
    "broken-minimax-long": {**IMG, "loss": "minimax", "lr_g": 2e-4, "lr_d": 2e-3, "steps": 1500, "eval_every": 250},
    "broken-minimax-long-remedy": {**IMG, "loss": "minimax", "lr_g": 2e-4, "lr_d": 2e-3, "steps": 1500,
                                   "eval_every": 250, "auto_remedy": True},
}


def summarise(out: Path) -> dict[str, Any]:
    rows = read_jsonl(out / "metrics.jsonl")
    cfg = json.loads((out / "config.json").read_text())
    late = [r for r in rows if r["step"] >= 200]

    def rng(key: str, rs: list[dict[str, Any]] = late) -> str:
        v = [r[key] for r in rs if isinstance(r.get(key), float)]
        return f"{min(v):.3g}..{max(v):.3g}" if v else "-"

    findings = replay(rows, monitor_for(cfg))
    recorded = [e for r in rows for e in r.get("events", [])]
    evals = [(r["step"], round(r[k], 2)) for r in rows for k in ("Eval/FID", "Eval/modes") if k in r]
    return {"run": out.name, "steps": rows[-1]["step"] if rows else 0,
            "D/real": rng("D/real"), "D/fake": rng("D/fake"), "Score/real": rng("Score/real"),
            "Score/fake": rng("Score/fake"), "GradNorm/D": rng("GradNorm/D"), "GradNorm/G": rng("GradNorm/G"),
            "diversity(all)": rng("Health/diversity", rows), "diversity(>=200)": rng("Health/diversity"),
            "classes(>=200)": rng("Health/classes"),
            "findings": [(f.step, f.name) for f in findings],
            "recorded": [(e["step"], e["event"], e.get("finding", "")) for e in recorded], "eval": evals}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="runs to train/summarise (default: all)")
    ap.add_argument("--runs", default="runs/health", help="folder of run directories")
    ap.add_argument("--reuse", action="store_true", help="summarise finished runs instead of training again")
    ap.add_argument("--list", action="store_true", help="list the configurations")
    args = ap.parse_args()
    if args.list:
        for k, v in RUNS.items():
            print(k, v)
        return 0
    for name in args.names or list(RUNS):
        if name not in RUNS:
            print(f"unknown run {name!r}; see --list", file=sys.stderr)
            return 2
        out = Path(args.runs) / name
        if not (args.reuse and (out / "metrics.jsonl").exists()):
            gankit.train(gankit.TrainConfig(**RUNS[name], out=str(out), progress=False, log_every=50))
        print(json.dumps(summarise(out)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
