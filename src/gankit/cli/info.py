"""The `gankit info` verb: a run's config and training summary.

It reads files anyone may have edited, so each is checked before it is printed: config.json must be a valid
config (read through the bounded config reader), metrics.jsonl a bounded file of JSON objects whose printed
values are numbers. A fault is a one-line error naming the file, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import stat
from pathlib import Path
from typing import Any

from ..config import TrainConfig, one_line, read_json_file
from ..errors import ConfigError

#: metrics.jsonl holds a row per log interval (a few hundred bytes); this is far past any run's log.
MAX_METRICS_BYTES = 256 << 20
#: keys of the last metrics row that `info` prints as numbers
PRINTED_METRICS = ("Loss/D", "Loss/G", "D/real", "D/fake")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("info", help="show a run's config and training summary")
    p.add_argument("run", help="run directory")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)


def run_info(run_dir: str | Path) -> dict[str, Any]:
    """What `gankit info` prints: config, checkpoints, last metrics, sample count; every file checked."""
    from ..checkpoint import list_checkpoints
    from ..rundir import RunDir

    run = RunDir(Path(run_dir))
    config = _read_config(run.config, run.root)  # first: a folder that is not a run is named as such
    rows = _read_metrics(run.metrics)
    return {"run": str(run.root), "config": config,
            "checkpoints": [p.name for _, p in list_checkpoints(run.root)],
            "last_metrics": rows[-1] if rows else None,
            "samples": len(run.sample_files())}


def _read_config(path: Path, root: Path) -> dict[str, Any]:
    """config.json as the dict of a valid TrainConfig, so every key `info` formats is there with its own type."""
    if not path.exists():
        raise ConfigError(f"{root}: not a gankit run directory (no config.json)")
    # wrong keys, types and ranges: one line naming the key; keys the file leaves out show their defaults
    return TrainConfig.from_dict(read_json_file(path), source=str(path)).to_dict()


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    """metrics.jsonl's rows through stats.read_jsonl, bounded in size; a row that is not an object, or whose
    printed values are not numbers, is refused naming the file."""
    from ..stats import read_jsonl

    try:
        st = path.stat()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise ConfigError(f"{path}: cannot read metrics log ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the read
        raise ConfigError(f"{path}: not a regular file, expected a metrics log")
    if st.st_size > MAX_METRICS_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_METRICS_BYTES >> 20} MiB, not a run's metrics log")
    try:
        rows = read_jsonl(path)
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a readable metrics log (not UTF-8 text: {e.reason})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not a readable metrics log (a line is nested too deeply)") from None
    except (OSError, ValueError) as e:  # ValueError: an integer past Python's int-string limit
        raise ConfigError(f"{path}: not a readable metrics log ({one_line(e)})") from None
    for row in rows:
        if not isinstance(row, dict):
            raise ConfigError(f"{path}: a line holds a JSON {type(row).__name__}, not an object (a metrics row)")
    if rows:
        _check_printed(path, rows[-1])
    return rows


def _check_printed(path: Path, row: dict[str, Any]) -> None:
    """The values `info` formats as numbers must be numbers (a bool is not one); the step must be there."""
    step = row.get("step")
    if isinstance(step, bool) or not isinstance(step, int):
        raise ConfigError(f"{path}: the last row's 'step' must be an integer, got {type(step).__name__}")
    for key in ("time_s", *PRINTED_METRICS):
        value = row.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: the last row's {key!r} must be a number, got {type(value).__name__}")


def cmd_info(args: argparse.Namespace) -> int:
    s = run_info(args.run)
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    c = s["config"]
    print(f"run          {s['run']}")
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
