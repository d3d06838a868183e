"""Checkpoints: safetensors tensors plus JSON metadata, written atomically, never unpickled.

A checkpoint holds the complete training state (G, D, EMA G, both optimizers, RNG states, step, config) so that
a resumed run continues bit for bit. The file format is plain safetensors: tensors under namespaced keys
(`G/...`, `D/...`, `G_ema/...`, `opt_G/state/3/exp_avg`, `rng/...`) and one metadata entry `gankit` holding
JSON (step, config, optimizer hyper-parameters). safetensors parses a fixed header and raw buffers, so loading
a file can never execute code; a pickle (`torch.save`) file is recognised by its first bytes and refused.

A second metadata entry, `gankit_sha256`, records the sha256 of the JSON and of each tensor group (gankit.integrity);
`load` checks them, so flipped bytes or a dropped tensor are an error naming the file and the group, never weights
that load silently. Files written before the record existed load unchecked.
"""

from __future__ import annotations

import json
import math
import re
import struct
import sys
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .atomic import atomic_output
from . import integrity
from .config import one_line, read_json_file
from .errors import CheckpointError, ConfigError, shown

FORMAT = "gankit-checkpoint"
FORMAT_VERSION = 1
CKPT_RE = re.compile(r"^step_(\d{7,})\.safetensors$")
_MAX_HEADER = 100 * 1024 * 1024  # a real header is a few hundred KiB at most
INTEGRITY_KEY = "gankit_sha256"
#: a write's temporary file, `.step_0000020.safetensors.RANDOM.tmp` (or with `.safetensors` after `.tmp`)
TEMP_RE = re.compile(r"^\.step_\d{7,}\.safetensors\.\w+\.tmp(\.safetensors)?$")
CORRUPT_SUFFIX = ".corrupt"


class CorruptCheckpoint(CheckpointError):
    """A damaged file: truncated, bytes changed since it was written, not a regular file, part of the state
    missing or not finite. An older checkpoint of the same run may still be good."""


def checkpoint_name(step: int) -> str:
    return f"step_{step:07d}.safetensors"


def save(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Write atomically: a temporary file in the same folder, fsync, then rename over the target.

    A run killed mid-write leaves the previous checkpoint untouched and at worst a stray temporary file.
    """
    path = Path(path)
    payload = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    body = json.dumps({"format": FORMAT, "version": FORMAT_VERSION, **meta}, sort_keys=True)
    header = {"gankit": body, INTEGRITY_KEY: _integrity_record(body, payload)}
    with atomic_output(path) as tmp:
        save_file(payload, str(tmp), metadata=header)
    return path


def _integrity_record(body: str, payload: dict[str, torch.Tensor]) -> str:
    return json.dumps({"meta": integrity.text_digest(body), "tensors": integrity.group_digests(payload)},
                      sort_keys=True)


def _check_integrity(path: Path, tensors: dict[str, torch.Tensor], raw_meta: dict[str, str]) -> None:
    """The tensors and the JSON as recorded when the file was written, or a CorruptCheckpoint naming the part."""
    raw = raw_meta.get(INTEGRITY_KEY)
    if raw is None:  # written before gankit recorded digests: nothing to check against
        return
    try:
        record = json.loads(raw)
        meta_digest, groups = record["meta"], dict(record["tensors"])
    except (KeyError, TypeError, ValueError, RecursionError):  # ValueError: bad JSON or an over-long integer
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint (its integrity record is unreadable)") from None
    if meta_digest != integrity.text_digest(raw_meta.get("gankit", "")):
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint: its metadata does not match the sha256 recorded when "
                                "it was written")
    bad = integrity.mismatched_groups(tensors, groups)
    if bad:
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint: the tensors under {', '.join(map(repr, bad))} do not "
                                "match the sha256 recorded when it was written")


def _sniff(path: Path) -> None:
    """Refuse what is not a safetensors file before any parser sees it, with a message that says why."""
    try:
        # safetensors: 8-byte header length, then the JSON header, which opens with "{"
        found = integrity.read_head(path, 16)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read checkpoint ({e.strerror})") from None
    if isinstance(found, str):
        raise CorruptCheckpoint(f"{path}: is {found}, not a checkpoint file (gankit reads only regular files)")
    size, head = found
    # A header length can start with the bytes of a pickle or zip signature (1 file in 256 starts with 0x80),
    # so those signatures count only where the JSON header does not follow.
    if (head[:2] == b"PK" or head[:1] == b"\x80") and head[8:9] != b"{":
        raise CheckpointError(
            f"{path}: refusing to load a pickle-based checkpoint (torch.save/zip format); unpickling can run "
            "arbitrary code. gankit loads only safetensors checkpoints.")
    if len(head) < 8:
        raise CorruptCheckpoint(f"{path}: truncated checkpoint ({size} bytes)")
    (n,) = struct.unpack("<Q", head[:8])
    if n > _MAX_HEADER or 8 + n > size:
        raise CorruptCheckpoint(f"{path}: truncated or corrupt checkpoint (header says {n} bytes, file has {size})")


def load(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read tensors and metadata; every failure is a CheckpointError naming the file."""
    path = Path(path)
    _sniff(path)
    try:
        tensors = load_file(str(path))
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            raw_meta = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CorruptCheckpoint(f"{path}: truncated or corrupt checkpoint ({reason})") from None
    if "gankit" not in raw_meta:
        raise CheckpointError(f"{path}: a safetensors file but not a gankit checkpoint (no 'gankit' metadata)")
    _check_integrity(path, tensors, raw_meta)
    meta = _parse_metadata(path, raw_meta["gankit"])
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown checkpoint format {shown(repr(meta.get('format')), 40)}")
    version = meta.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint metadata (its 'version' is a {type(version).__name__}, "
                                "not an integer)")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {meta.get('version')} is newer than this gankit "
            f"understands ({FORMAT_VERSION}); upgrade gankit")
    return tensors, meta


def _parse_metadata(path: Path, raw: str) -> dict[str, Any]:
    """The JSON object of a checkpoint's metadata; anything else (bad JSON, nesting too deep, an integer past
    Python's int-string limit, not an object) is a CorruptCheckpoint naming the file."""
    try:
        meta = json.loads(raw)
    except RecursionError:
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint metadata (nested too deeply)") from None
    except ValueError as e:  # JSONDecodeError, or an over-long integer
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint metadata ({one_line(e)})") from None
    if not isinstance(meta, dict):
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint metadata (a JSON {type(meta).__name__}, not an object)")
    return meta


#: the bare generator `gankit export --format safetensors` writes: weights plus a JSON spec beside them
BARE_FORMAT = "gankit-generator"
BARE_VERSION = 1
CHECKPOINT_DIR = "checkpoints"  # the folder of a run directory that holds them (gankit.rundir)
#: a check of a loaded checkpoint's contents: (path, tensors, meta), raising CorruptCheckpoint
Verify = Callable[[Path, dict[str, torch.Tensor], dict[str, Any]], None]


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) pairs of a run's checkpoints, oldest first."""
    d = Path(run_dir) / CHECKPOINT_DIR
    if not d.is_dir():
        return []
    found = []
    for p in d.iterdir():
        m = CKPT_RE.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> Path:
    ckpts = list_checkpoints(run_dir)
    if not ckpts:
        raise CheckpointError(f"{run_dir}: no checkpoints found (expected checkpoints/step_*.safetensors)")
    return ckpts[-1][1]


def load_newest_good(run_dir: str | Path, verify: Verify | None = None, report: Callable[[str], None] | None = None
                     ) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]]:
    """The newest checkpoint of a run that loads and passes `verify` (which raises CorruptCheckpoint), with its
    tensors and metadata. A damaged newer one is moved aside to NAME.corrupt (out of the rotation, where a
    later save or prune would count it, and kept to look at) and `report`ed in one line; when none is good, the
    newest one's error is raised. Other errors (a pickle, a newer format) are raised as they are. `report`
    defaults to a line on stderr."""
    report = report or (lambda line: print(line, file=sys.stderr))
    ckpts = list_checkpoints(run_dir)
    if not ckpts:
        raise CheckpointError(f"{run_dir}: no checkpoints found (expected checkpoints/step_*.safetensors)")
    skipped: list[tuple[Path, CorruptCheckpoint]] = []
    for _, path in reversed(ckpts):
        try:
            tensors, meta = load(path)
            if verify is not None:
                verify(path, tensors, meta)
        except CorruptCheckpoint as e:
            skipped.append((path, e))
            continue
        for bad, e in skipped:
            aside = bad.with_name(bad.name + CORRUPT_SUFFIX)
            bad.replace(aside)
            report(f"gankit: skipped {bad} ({_reason(e, bad)}); moved it to {aside.name} and resuming from "
                   f"{path.name}")
        return path, tensors, meta
    first = skipped[0][1]
    more = f"; the {len(skipped) - 1} older checkpoint(s) are damaged too" if len(skipped) > 1 else ""
    raise CorruptCheckpoint(f"{first}{more}")


def _reason(e: CheckpointError, path: Path) -> str:
    """An error's message without the leading 'PATH: '."""
    text = str(e)
    return text[len(f"{path}: "):] if text.startswith(f"{path}: ") else text


def stale_temps(run_dir: str | Path) -> list[Path]:
    """Temporary files left in RUN/checkpoints by writes that never finished (the process was killed)."""
    d = Path(run_dir) / CHECKPOINT_DIR
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if TEMP_RE.match(p.name) and p.is_file() and not p.is_symlink())


def remove_stale_temps(run_dir: str | Path) -> list[Path]:
    """Delete them (each is as large as a checkpoint); only the one writer of a run may call this."""
    found = stale_temps(run_dir)
    for p in found:
        p.unlink(missing_ok=True)
    return found


def resolve(path: str | Path) -> Path:
    """A run directory (its newest checkpoint) or a checkpoint file."""
    p = Path(path)
    if p.is_dir():
        return latest_checkpoint(p)
    if not p.exists():
        raise CheckpointError(f"{p}: no such run directory or checkpoint file")
    return p


def prune(run_dir: str | Path, keep: int, protect: Path | None = None) -> None:
    """Delete all but the `keep` newest checkpoints (never `protect`)."""
    ckpts = list_checkpoints(run_dir)
    for _, p in ckpts[: max(0, len(ckpts) - keep)]:
        if protect is None or p.resolve() != protect.resolve():
            p.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- state packing
def pack_module(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}/{k}": v for k, v in module.state_dict().items()}


def unpack_module(prefix: str, module: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    sd = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + "/")}
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0:2]
        raise CheckpointError(f"{path}: weights under {prefix!r} do not fit the model ({' '.join(first)})") from None


def pack_optimizer(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors of the optimizer state go to safetensors; scalars and param groups go to JSON metadata."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in sd["state"].items():
        for key, val in state.items():
            if torch.is_tensor(val):
                tensors[f"{prefix}/state/{idx}/{key}"] = val
            else:
                scalars.setdefault(str(idx), {})[key] = val
    # what state each parameter has, so a load can tell a missing entry from one never created
    entries = {str(idx): sorted(state) for idx, state in sd["state"].items()}
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars, "entries": entries}


def missing_optimizer_state(prefix: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any],
                            step: int = 0) -> list[str]:
    """The optimizer state a checkpoint lacks: entries it records but does not hold; for one written before the
    record existed, all of it when it holds none at a `step` past 0 (a fresh optimizer would be used silently).
    A record of the wrong shape is a CorruptCheckpoint naming the prefix."""
    entries, scalars = _optimizer_record(prefix, meta)
    if entries is None:
        held = scalars or any(k.startswith(prefix + "/state/") for k in tensors)
        return [] if held or step == 0 else [f"{prefix}/state"]
    return [f"{prefix}/state/{idx}/{key}" for idx, keys in sorted(entries.items()) for key in keys
            if f"{prefix}/state/{idx}/{key}" not in tensors and key not in scalars.get(idx, {})]


def _optimizer_record(prefix: str, meta: Any) -> tuple[dict[str, list[str]] | None, dict[str, dict[str, Any]]]:
    """(entries, scalars) of a packed optimizer's metadata, their types checked: per-parameter indices as decimal
    strings, state names as strings, scalar state as finite numbers."""
    def bad(what: str) -> CorruptCheckpoint:
        return CorruptCheckpoint(f"corrupt optimizer state {prefix!r} in the checkpoint metadata ({what})")

    if not isinstance(meta, dict):
        raise bad(f"a JSON {type(meta).__name__}, not an object")
    entries, scalars = meta.get("entries"), meta.get("scalars") or {}
    if entries is not None and not (isinstance(entries, dict) and all(
            _index(k) and isinstance(v, list) and all(isinstance(n, str) for n in v) for k, v in entries.items())):
        raise bad("'entries' must map parameter indices to lists of state names")
    if not (isinstance(scalars, dict) and all(_index(k) and isinstance(v, dict) and all(
            _finite_number(x) for x in v.values()) for k, v in scalars.items())):
        raise bad("'scalars' must map parameter indices to objects of finite numbers")
    return entries, scalars


def _index(key: str) -> bool:
    return key.isdecimal() and len(key) < 10


def _finite_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _same_kind(fresh: Any, saved: Any) -> bool:
    """Whether a saved param-group value can stand where the fresh optimizer has `fresh` (a number, a flag,
    None, or a list of them of the same length)."""
    if isinstance(fresh, bool) or fresh is None:
        return saved is fresh or (isinstance(saved, bool) and isinstance(fresh, bool))
    if isinstance(fresh, (int, float)):
        return _finite_number(saved)
    if isinstance(fresh, (list, tuple)):
        return isinstance(saved, (list, tuple)) and len(saved) == len(fresh) and all(map(_same_kind, fresh, saved))
    return type(saved) is type(fresh)


def unpack_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                     meta: dict[str, Any], path: Path) -> None:
    try:
        missing = missing_optimizer_state(prefix, tensors, meta)
    except CorruptCheckpoint as e:
        raise CorruptCheckpoint(f"{path}: {e}") from None
    if missing:
        raise CorruptCheckpoint(f"{path}: incomplete optimizer state {prefix!r} (no {missing[0]}"
                                f"{f' and {len(missing) - 1} more' if len(missing) > 1 else ''})")
    groups, fresh = meta.get("param_groups"), opt.state_dict()["param_groups"]
    if not (isinstance(groups, list) and len(groups) == len(fresh) and all(
            isinstance(g, dict) and "params" in g and all(_same_kind(f[k], g[k]) for k in f.keys() & g.keys())
            for f, g in zip(fresh, groups))):  # keys one torch version has and another lacks take their defaults
        raise CorruptCheckpoint(f"{path}: optimizer state {prefix!r} does not fit the model (its param_groups "
                                "differ in number or kinds of value from this optimizer's)")
    state: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith(prefix + "/state/"):
            _, _, idx, key = k.split("/", 3)
            if not _index(idx):
                raise CorruptCheckpoint(f"{path}: optimizer state {prefix!r} holds a tensor {shown(k, 80)!r} "
                                        "that names no parameter")
            state.setdefault(int(idx), {})[key] = v
    for idx, vals in (meta.get("scalars") or {}).items():
        state.setdefault(int(idx), {}).update(vals)
    try:
        opt.load_state_dict({"state": state, "param_groups": groups})
    except (KeyError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: optimizer state {prefix!r} does not fit the model ({e})") from None


def check_run_meta(path: Path, meta: dict[str, Any]) -> None:
    """Refuse, as a CorruptCheckpoint naming the key, a training checkpoint whose metadata holds a value of the
    wrong kind where gankit reads one (a crafted or damaged file whose integrity record was rewritten to match)."""
    def fail(key: str, want: str) -> None:
        got = shown(repr(meta[key]), 40) if key in meta else "nothing"
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint metadata ({key!r} must be {want}, got {got})")

    def natural(v: Any, top: int) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= top

    if not natural(meta.get("step"), 1 << 62):
        fail("step", "an integer >= 0")
    if not isinstance(meta.get("config"), dict):
        fail("config", "an object")
    shape = meta.get("data_shape")
    if not (isinstance(shape, list) and 1 <= len(shape) <= 3 and all(natural(d, 1 << 16) and d for d in shape)):
        fail("data_shape", "a list of 1 to 3 positive integers")
    if not natural(meta.get("num_classes", 0), 1 << 20):
        fail("num_classes", "an integer >= 0")
    names = meta.get("class_names")
    if not (names is None or (isinstance(names, list) and all(isinstance(n, str) for n in names))):
        fail("class_names", "a list of strings or null")
    if "elapsed_s" in meta and not (_finite_number(meta["elapsed_s"]) and meta["elapsed_s"] >= 0):
        fail("elapsed_s", "a finite number >= 0")
    rng = meta.get("rng", [])
    if not (isinstance(rng, list) and all(isinstance(k, str) for k in rng)):
        fail("rng", "a list of tensor names")


def read_bare_generator(path: str | Path) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]] | None:
    """For `gankit.load`: (file, tensors, checkpoint-like meta) when `path` is an exported .safetensors with its
    .json beside it, or that .json; None for anything else (run directories, training checkpoints)."""
    p = Path(path)
    if p.suffix == ".json" and p.is_file():
        cfg_path = p
    elif p.suffix == ".safetensors" and p.is_file() and p.with_suffix(".json").is_file():
        cfg_path = p.with_suffix(".json")
    else:
        return None
    try:
        spec = read_json_file(cfg_path, "exported-generator config")
    except ConfigError as e:
        if p.suffix == ".json":
            raise CheckpointError(str(e)) from None
        return None
    if not isinstance(spec, dict) or spec.get("format") != BARE_FORMAT:
        if p.suffix == ".json":
            raise CheckpointError(f"{cfg_path}: not a gankit exported-generator config (format "
                                  f"{spec.get('format') if isinstance(spec, dict) else None!r})")
        return None
    version = spec.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{cfg_path}: exported-generator 'version' must be an integer, got "
                              f"{type(version).__name__}")
    if version > BARE_VERSION:
        raise CheckpointError(f"{cfg_path}: exported-generator version {spec.get('version')} is newer than this "
                              f"gankit understands ({BARE_VERSION}); upgrade gankit")
    weights = cfg_path.parent / _weights_name(spec.get("weights"), cfg_path)
    _sniff(weights)  # refuses pickles, FIFOs and truncated files with a message naming the file
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CorruptCheckpoint(f"{weights}: unreadable safetensors file ({str(e).splitlines()[0]})") from None
    recorded = spec.get("sha256")
    if recorded is not None and recorded != integrity.digest(tensors):  # exported before the record: unchecked
        raise CorruptCheckpoint(f"{weights}: corrupt weights: they do not match the sha256 recorded in "
                                f"{cfg_path.name}")
    prefix = "G_ema" if spec.get("ema") else "G"
    meta = {"config": spec.get("config"), "data_shape": spec.get("data_shape"),
            "num_classes": spec.get("num_classes", 0), "class_names": spec.get("class_names"),
            "step": spec.get("step", 0)}
    if meta["config"] is None:
        raise CheckpointError(f"{cfg_path}: exported-generator config lacks 'config'")
    check_run_meta(cfg_path, meta)
    return weights, {f"{prefix}/{k}": v for k, v in tensors.items()}, meta


def _weights_name(name: Any, cfg_path: Path) -> str:
    """The weights beside an exported config: a plain file name, never a path that leads out of its folder."""
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise CheckpointError(f"{cfg_path}: 'weights' must name a file in the same folder as the config, got "
                              f"{name!r}")
    return name
