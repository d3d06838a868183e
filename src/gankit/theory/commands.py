"""The theory lab's verb: `gankit explain NAME --out DIR [--quick] [--seed S]` and `gankit explain --all --out DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import progress
from ..errors import ConfigError
from . import EXPERIMENTS


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("explain", help="run a theory-lab experiment: figures and numbers that explain GANs",
                       description="Run one experiment of the theory lab (or --all of them). Each writes its figures "
                       "(PNG, GIF where it moves) and DIR/NAME.json with its numbers and claims; --all also writes "
                       "DIR/report.html, one self-contained page with every figure embedded. Experiments: "
                       + ", ".join(EXPERIMENTS) + ".")
    p.add_argument("name", nargs="?", choices=list(EXPERIMENTS), metavar="NAME",
                   help="experiment: " + ", ".join(EXPERIMENTS))
    p.add_argument("--all", action="store_true", help="run every available experiment and write DIR/report.html")
    p.add_argument("--out", required=True, help="folder for the figures, NAME.json and report.html")
    p.add_argument("--quick", action="store_true", help="small budget (seconds each, as in the tests)")
    p.add_argument("--seed", type=int, default=0, help="seed of the experiment's networks and data (default: 0)")
    progress.add_flag(p)
    p.set_defaults(func=cmd_explain)


def _line(record: dict[str, Any], out: Path) -> str:
    claims = record.get("claims", [])
    held = sum(bool(c.get("holds")) for c in claims)
    text = (f"gankit: {record['name']}: {held}/{len(claims)} claims hold ({record['elapsed_s']:.1f} s) -> "
            f"{out / (record['name'] + '.json')}")
    failed = [c["claim"] for c in claims if not c.get("holds")]
    if failed:
        text += "\n" + "\n".join(f"gankit:   does not hold: {c}" for c in failed)
    return text


def cmd_explain(args: argparse.Namespace) -> int:
    from . import run_experiment
    from .report import available_experiments, run_all

    out = Path(args.out)
    if args.all and args.name:
        raise ConfigError("give an experiment NAME or --all, not both")
    if args.all:
        names = available_experiments()
        missing = [n for n in EXPERIMENTS if n not in names]
        if missing:
            print(f"gankit: not available yet, skipped: {', '.join(missing)}")
        with progress.bar(len(names), "explain --all", unit="experiment") as bar:
            def done(record: dict[str, Any]) -> None:
                print(_line(record, out), flush=True)
                bar.update(1)

            _, report = run_all(out, quick=args.quick, seed=args.seed, names=names, log=done)
        print(f"gankit: report -> {report}")
        return 0
    if not args.name:
        raise ConfigError("explain needs an experiment NAME (" + ", ".join(EXPERIMENTS) + ") or --all")
    if args.name not in available_experiments():
        raise ConfigError(f"experiment {args.name!r} is not available yet in this version of gankit")
    print(_line(run_experiment(args.name, out, quick=args.quick, seed=args.seed), out))
    return 0
