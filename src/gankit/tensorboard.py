"""TensorBoard mirror of the stats channel (`--tensorboard`, `pip install 'gankit[tensorboard]'`).

metrics.jsonl stays the source of truth: the training loop hands this writer the very rows it writes there, and
every numeric key (`Loss/D`, `D/real`, `lr/G`, `Eval/FID`, ...) becomes a scalar of the same name, plus the
sample grids as images. Event files go to RUN/tensorboard/ (`tensorboard --logdir RUN/tensorboard`). Models and
losses never import this module.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

from .errors import ConfigError

INSTALL_HINT = "pip install 'gankit[tensorboard]'"


def require() -> None:
    """A one-line ConfigError (exit 2 from the CLI) when the tensorboard package is missing."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(f"--tensorboard needs the tensorboard package, which is not installed: {INSTALL_HINT}")


class TensorBoardWriter:
    """Scalars and images into `log_dir` through torch.utils.tensorboard.

    `purge_step` (a resumed run's step) makes TensorBoard drop events a killed run wrote past its last
    checkpoint, as metrics.jsonl drops those rows."""

    def __init__(self, log_dir: str | Path, purge_step: int | None = None) -> None:
        require()
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = Path(log_dir)
        self._w = SummaryWriter(log_dir=str(self.log_dir), purge_step=purge_step)

    def scalars(self, row: dict[str, Any], step: int) -> None:
        for key, value in row.items():
            if key == "step" or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue  # events (lists), None grad norms and flags are not scalars
            if math.isfinite(value):
                self._w.add_scalar(key, value, global_step=step)
        self._w.flush()

    def image_file(self, tag: str, path: str | Path, step: int) -> None:
        """A PNG the run wrote (a sample grid or a toy scatter plot) as an image event."""
        import numpy as np
        from PIL import Image

        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))  # [H, W, 3] uint8
        self._w.add_image(tag, arr, global_step=step, dataformats="HWC")
        self._w.flush()

    def close(self) -> None:
        self._w.close()
