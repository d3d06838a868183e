"""The `gankit export` verb: a thin layer over gankit.export.export_generator."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..export import FORMATS


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("export", help="export a run's generator to ONNX or bare safetensors",
                       description="Export a run's (EMA) generator. --format onnx writes an ONNX graph with input "
                       "z [batch, z_dim] (and labels [batch] int64 for conditional runs; a pix2pix run's translator: images "
                       "[batch, C, H, W] at its task's input size), output samples, the batch axis dynamic; it is checked once against PyTorch in onnxruntime when that is installed "
                       "(pip install 'gankit[onnx]'). --format safetensors writes the bare generator weights and a "
                       "JSON config beside them (OUT with suffix .json), which gankit.load also reads.")
    p.add_argument("run", help="run directory or checkpoint file")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="onnx (a graph for any ONNX runtime) or safetensors (bare weights gankit.load reads) (default: onnx)")
    p.add_argument("--out", help="file to write (default: RUN/generator.onnx or RUN/generator.safetensors)")
    p.add_argument("--no-ema", action="store_true", help="export the raw G instead of its EMA copy")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime comparison after an ONNX export")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from ..export import export_generator

    run = Path(args.run)
    out = Path(args.out) if args.out else (run if run.is_dir() else run.parent.parent) / f"generator.{args.format}"
    path = export_generator(run, format=args.format, out=out, ema=not args.no_ema, check=not args.no_check)
    extra = f" + {path.with_suffix('.json')}" if args.format == "safetensors" else ""
    print(f"gankit: {args.format} generator from {run} -> {path}{extra}")
    return 0
