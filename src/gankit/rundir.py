"""The run directory's layout, in one place: what `gankit train` writes and every other verb reads.

    RUN/config.json                 the resolved config
    RUN/metrics.jsonl               one row per log interval
    RUN/checkpoints/step_*.safetensors
    RUN/samples/step_*.png          the fixed-noise snapshots
    RUN/progress.gif, RUN/losses.png
    RUN/tensorboard/                with --tensorboard
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import checkpoint as ckpt
from .errors import ConfigError
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

    def read_config(self) -> dict[str, Any]:
        """config.json as written (a dict), or a one-line error for a folder that is not a run."""
        if not self.config.is_file():
            raise ConfigError(f"{self.root}: not a gankit run directory (no config.json)")
        try:
            data = json.loads(self.config.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"{self.config}: not a readable JSON config ({e})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.config}: expected a JSON object, got {type(data).__name__}")
        return data

    def rows(self) -> list[dict[str, Any]]:
        """metrics.jsonl's rows that carry a step (a half-written last line is skipped)."""
        return [r for r in read_jsonl(self.metrics) if isinstance(r.get("step"), int)]

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / ckpt.checkpoint_name(step)

    def sample(self, step: int) -> Path:
        return self.samples / f"step_{step:07d}.png"

    def sample_files(self) -> list[Path]:
        return sorted(self.samples.glob("step_*.png"))

    def prepare_fresh(self) -> None:
        """Make the folder for a new run: refuse one that already holds a run, drop stale logs and snapshots."""
        if ckpt.list_checkpoints(self.root):
            raise ConfigError(f"{self.root} already holds a run; use --resume {self.root} to continue it or choose "
                              "another --out")
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in [self.metrics, *self.sample_files()]:
            stale.unlink(missing_ok=True)

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


def run_summary(run_dir: str | Path) -> dict[str, Any]:
    """What `gankit info` prints: config, checkpoints, last metrics."""
    run = RunDir(Path(run_dir))
    cfg = run.read_config()
    rows = read_jsonl(run.metrics)
    return {"run": str(run.root), "config": cfg,
            "checkpoints": [p.name for _, p in ckpt.list_checkpoints(run.root)],
            "last_metrics": rows[-1] if rows else None,
            "samples": len(run.sample_files())}
