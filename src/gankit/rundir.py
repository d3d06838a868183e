"""The run directory's layout, in one place: what `gankit train` writes and every other verb reads.

    RUN/config.json                 the resolved config
    RUN/metrics.jsonl               one row per log interval
    RUN/checkpoints/step_*.safetensors
    RUN/samples/step_*.png          the fixed-noise snapshots
    RUN/progress.gif, RUN/losses.png
    RUN/tensorboard/                with --tensorboard
    RUN/.lock                       while a process writes the folder (gankit.runlock)

A new run goes only into a missing or empty folder; none of these may be a symbolic link.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from .config import TrainConfig, read_json_file
from .atomic import atomic_write_text
from .errors import ConfigError, shown
from .runlock import LOCK_NAME, RunLock, refuse_if_locked
from .stats import read_jsonl

GIF_FRAMES = 60  # at most this many snapshots go into progress.gif


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / ckpt.CHECKPOINT_DIR

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def gif(self) -> Path:
        return self.root / "progress.gif"

    @property
    def losses_plot(self) -> Path:
        return self.root / "losses.png"

    @property
    def doctor_text(self) -> Path:  # gankit doctor's diagnosis
        return self.root / "doctor.txt"

    @property
    def doctor_plot(self) -> Path:
        return self.root / "doctor.png"

    @property
    def sample_grid(self) -> Path:  # gankit sample's default output
        return self.root / "sample.png"

    @property
    def interpolation(self) -> Path:  # gankit interpolate's default output
        return self.root / "interpolation.png"

    def own_names(self) -> frozenset[str]:
        """The names gankit's verbs write in a run folder (its lock file aside)."""
        return frozenset(p.name for p in (self.config, self.metrics, self.checkpoints, self.samples,
                                          self.tensorboard, self.gif, self.losses_plot, self.doctor_text,
                                          self.doctor_plot, self.sample_grid, self.interpolation))

    def read_config(self) -> dict[str, Any]:
        """config.json as written (a dict), or a one-line error for a folder that is not a run."""
        if not self.config.exists() and not self.config.is_symlink():
            raise ConfigError(f"{self.root}: not a gankit run directory (no config.json)")
        data = read_json_file(self.config)
        if not isinstance(data, dict):
            raise ConfigError(f"{self.config}: expected a JSON object, got {type(data).__name__}")
        return data

    def rows(self) -> list[dict[str, Any]]:
        """metrics.jsonl's rows that carry a step (a half-written last line is skipped)."""
        return [r for r in read_jsonl(self.metrics) if "step" in r]

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / ckpt.checkpoint_name(step)

    def sample(self, step: int) -> Path:
        return self.samples / f"step_{step:07d}.png"

    def sample_files(self) -> list[Path]:
        return sorted(self.samples.glob("step_*.png"))

    # ------------------------------------------------------------------ what a writer may do to the folder
    def check_layout(self) -> None:
        """Refuse a run folder whose own files are symbolic links or of the wrong kind: what gankit writes, and
        the logs it appends to, would land outside the folder (or fail half way through a run)."""
        for path, want_dir in ((self.config, False), (self.metrics, False), (self.checkpoints, True),
                               (self.samples, True), (self.tensorboard, True)):
            if path.is_symlink():
                raise ConfigError(f"{shown(str(path))} is a symbolic link; a run folder's files must be its own "
                                  "(remove the link)")
            if path.exists() and path.is_dir() != want_dir:
                raise ConfigError(f"{shown(str(path))} should be a {'folder' if want_dir else 'file'}, not a "
                                  f"{'file' if want_dir else 'folder'}")

    def check_writable(self) -> None:
        """Before a resume: a sound layout, and no live process writing the folder (reads only)."""
        self.check_layout()
        refuse_if_locked(self.root)

    def check_new(self) -> None:
        """Before a new run: refuse a file, a folder in use, one holding anything but a gankit run, and a run
        (resumable or not); reads only, so a refused folder is left exactly as it was."""
        self.check_writable()
        self._refuse_foreign()
        self._refuse_existing_run()

    def lock(self, *, fresh: bool) -> RunLock:
        """Take the folder's writer lock (gankit.runlock) for a new run (`fresh`, the folder created if missing)
        or a resume; the checks that a concurrent writer could invalidate are repeated under it."""
        self.check_layout()
        if fresh:
            self._refuse_foreign()  # before creating anything in a folder that is not ours
            self.root.mkdir(parents=True, exist_ok=True)
        held = RunLock.acquire(self.root)
        try:
            self.check_layout()
            if fresh:
                self._refuse_existing_run()
        except BaseException:
            held.release()
            raise
        return held

    def write_config(self, text: str) -> None:
        atomic_write_text(self.config, text)

    def _entries(self) -> list[str]:
        """The folder's entries, the lock file aside (sorted; none for a folder that does not exist)."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.name != LOCK_NAME)

    def _refuse_foreign(self) -> None:
        """A folder that holds anything but a gankit run's files is not ours to write into; a run with checkpoints
        is left to _refuse_existing_run, which points at --resume."""
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"--out {shown(str(self.root))} is a file, not a folder")
        if ckpt.list_checkpoints(self.root):
            return
        strangers = [n for n in self._entries() if n not in self.own_names()]
        if strangers:
            listed = ", ".join(shown(n, 40) + ("/" if (self.root / n).is_dir() else "") for n in strangers[:3])
            more = f" and {len(strangers) - 3} more" if len(strangers) > 3 else ""
            raise ConfigError(f"--out {shown(str(self.root))} is not empty and not a gankit run (holds {listed}"
                              f"{more}); choose a new or empty folder")

    def _refuse_existing_run(self) -> None:
        """A run with checkpoints is continued with --resume; one without (killed before its first checkpoint)
        has nothing to continue, and its files are the user's to delete, not ours."""
        if ckpt.list_checkpoints(self.root):
            raise ConfigError(f"{self.root} already holds a run; use --resume {self.root} to continue it or choose "
                              "another --out")
        names = self._entries()
        if names:
            raise ConfigError(f"{shown(str(self.root))} holds a gankit run with no checkpoint to resume from "
                              f"({', '.join(shown(n, 40) for n in names[:4])}{', ...' if len(names) > 4 else ''}); "
                              "delete the folder or choose another --out")

    def finish(self) -> None:
        """losses.png from metrics.jsonl and progress.gif from the sample snapshots (at most GIF_FRAMES frames)."""
        from .viz import plot_losses, save_gif

        rows = read_jsonl(self.metrics)
        if rows:
            plot_losses(rows, self.losses_plot)
        frames = self.sample_files()
        if frames:
            stride = max(1, math.ceil(len(frames) / GIF_FRAMES))
            chosen = frames[::stride]
            if chosen[-1] != frames[-1]:
                chosen.append(frames[-1])
            save_gif(chosen, self.gif, duration_ms=150)


#: keys of the last metrics row that `gankit info` prints as numbers
PRINTED_METRICS = ("Loss/D", "Loss/G", "D/real", "D/fake")


def run_summary(run_dir: str | Path) -> dict[str, Any]:
    """What `gankit info` prints: config, checkpoints, last metrics, sample count. It reads files anyone may have
    edited, so each is checked first: config.json must hold a valid config (keys it leaves out show their
    defaults), metrics.jsonl bounded lines of JSON objects whose printed values are numbers; a fault is a
    one-line ConfigError naming the file."""
    run = RunDir(Path(run_dir))
    if not run.config.exists() and not run.config.is_symlink():  # first: a folder that is not a run is named so
        raise ConfigError(f"{run.root}: not a gankit run directory (no config.json)")
    config = TrainConfig.from_dict(read_json_file(run.config), source=str(run.config)).to_dict()
    rows = read_jsonl(run.metrics, strict=True)
    if rows:
        _check_printed(run.metrics, rows[-1])
    return {"run": str(run.root), "config": config,
            "checkpoints": [p.name for _, p in ckpt.list_checkpoints(run.root)],
            "last_metrics": rows[-1] if rows else None,
            "samples": len(run.sample_files())}


def _check_printed(path: Path, row: dict[str, Any]) -> None:
    """The values `info` formats as numbers must be numbers (a bool is not one); the step must be there."""
    if "step" not in row:
        raise ConfigError(f"{path}: the last row has no 'step'")
    for key in ("time_s", *PRINTED_METRICS):
        value = row.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: the last row's {key!r} must be a number, got {type(value).__name__}")
