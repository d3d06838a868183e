"""SIGINT (Ctrl-C) and SIGTERM during training: the step under way finishes, a checkpoint is written, and the run
stops with TrainingInterrupted, which names the checkpoint and how to continue; the CLI exits with 128 + the
signal's number (130, 143), as a shell reports a process the signal ended.

Only a single process in its main thread catches them (Python delivers signals to the main thread only). Under
torchrun each rank keeps the default behaviour: stopping every rank after the same step would take a collective
every step. A second signal acts as it would have before training started: Ctrl-C twice stops at once.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable

from ..errors import GankitError

if TYPE_CHECKING:
    from .hooks import Hook
    from .loop import Run

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(GankitError):
    """SIGINT/SIGTERM stopped training after a step, with a checkpoint of that step written."""

    is_error = False

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class SignalStop:
    """Remembers the signal; the loop looks at `signum` after each step. `restore` puts the old handlers back."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> "SignalStop":
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._caught)
        return self

    def _caught(self, signum: int, frame: FrameType | None) -> None:
        # set a flag only: the step, or a checkpoint write, that the signal lands in runs on to its end
        self.signum = signum
        signal.signal(signum, _handler(self._previous[signum]))  # a second one acts as before training

    def restore(self) -> None:
        for s, previous in self._previous.items():
            signal.signal(s, _handler(previous))
        self._previous.clear()


def _handler(previous: Any) -> Any:
    """A handler installed outside Python reads back as None: the default action is the nearest we can restore."""
    return signal.SIG_DFL if previous is None else previous


def checkpoint_and_stop(run: "Run", hooks: list["Hook"], recover: Callable[[dict[str, Any]], None],
                        signum: int) -> None:
    """Write the checkpoint of the step just finished and raise TrainingInterrupted. A state that is not finite
    is not saved: `recover` rolls back to the last checkpoint (--auto-remedy) or raises TrainingDiverged."""
    from .hooks import Checkpoints
    from .loop import NonFinite

    saver = next(h for h in hooks if isinstance(h, Checkpoints))
    try:
        path: Path | None = saver.save_now(run)
    except NonFinite as e:
        recover(e.row)
        path = run.last_ckpt
    name = signal.Signals(signum).name
    raise TrainingInterrupted(f"{name} received: stopped after step {run.state.step}, checkpoint {path}; continue "
                              f"with: gankit train --resume {run.dir.root}", signum)
