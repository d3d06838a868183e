"""The `gankit info` verb: a run's config and training summary (gankit.rundir.run_summary checks every file it
reads, so a fault is a one-line error naming the file, never a traceback)."""

from __future__ import annotations

import argparse
from typing import Any

from ..rundir import PRINTED_METRICS, run_summary
from .jsonout import STDOUT, add_json_flag, check_json_target, emit_json

#: `gankit info`'s summary of a run, every file it reads checked (gankit.rundir.run_summary)
run_info = run_summary


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("info", help="show a run's config and training summary")
    p.add_argument("run", help="run directory")
    add_json_flag(p, "the summary")
    p.set_defaults(func=cmd_info)


def cmd_info(args: argparse.Namespace) -> int:
    check_json_target(args.json)
    s = run_info(args.run)
    emit_json(args.json, s)
    if args.json == STDOUT:
        return 0
    c = s["config"]
    print(f"run          {s['run']}")
    if c.get("task"):  # an image-to-image network: it takes images, not z
        print(f"task         {c['task']} (--method {c['method']}), adv_weight {c.get('adv_weight')}, "
              f"recon_weight {c.get('recon_weight')}, width {c['width']} / D {c['d_width']}")
    else:
        print(f"model        {c['model']} ({'conditional, ' + c['cond_d'] + ' D' if c['conditional'] else 'unconditional'})"
              f", z_dim {c['z_dim'] or 'default'} ({c['prior']} prior)")
    print(f"data         {c['dataset']}" + (f", image size {c['image_size']}" if c.get("image_size") else ""))
    print(f"objective    {c['loss']}, d_steps {c['d_steps']}, lr G {c['lr_g']} / D {c['lr_d']}, "
          f"batch {c['batch_size']}, seed {c['seed']}")
    tricks = [f"{k}={c[k]}" for k in ("label_smoothing", "instance_noise", "grad_clip", "ema") if c.get(k)]
    print(f"tricks       {', '.join(tricks) or 'none'}")
    last = s["last_metrics"]
    if last:
        keys = [k for k in PRINTED_METRICS if k in last]
        print(f"trained      {last['step']} / {c['steps']} steps in {last.get('time_s', 0):.0f} s; last: "
              + ", ".join(f"{k} {last[k]:.3f}" for k in keys))
    else:
        print(f"trained      0 / {c['steps']} steps")
    print(f"checkpoints  {', '.join(s['checkpoints']) or 'none'}")
    print(f"samples      {s['samples']} grids in samples/")
    return 0
