"""Progress bars with the time left, for the long verbs (evaluate, attack, explain, train-classifier).

Library code marks its long loops with `bar(total, desc)`; whether a bar is drawn is the caller's choice, made
once around a whole command with `shown(True)`: the CLI turns bars on unless `--no-progress` is given or stderr is
not a terminal (a log file or a pipe gets no carriage-return clutter). Called from Python, gankit draws no bars
unless asked, so a notebook or a script stays quiet. tqdm draws them: elapsed and remaining time, rate.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_SHOWN: ContextVar[bool] = ContextVar("gankit_progress_shown", default=False)


def on_terminal() -> bool:
    """Whether stderr, where bars are drawn, is an interactive terminal."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


@contextmanager
def shown(on: bool) -> Iterator[None]:
    """Draw the bars of the code run inside this block (on=True) or none (False)."""
    token = _SHOWN.set(bool(on))
    try:
        yield
    finally:
        _SHOWN.reset(token)


def enabled() -> bool:
    return _SHOWN.get()


class _Silent:
    """The bar's interface when no bar is drawn."""

    def update(self, n: int = 1) -> None:
        pass

    def set_description_str(self, desc: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "_Silent":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def silent() -> Any:
    """A stand-in with a bar's interface that draws nothing: the default of functions that take a bar argument."""
    return _Silent()


def bar(total: int, desc: str, unit: str = "it") -> Any:
    """A progress bar over `total` units (use it as a context manager; call `update(n)`), or a silent stand-in
    when bars are off."""
    if not enabled():
        return _Silent()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True, file=sys.stderr)


def add_flag(parser: Any) -> None:
    """Mark a long verb as one whose library code may draw bars, with its --no-progress flag (gankit.cli.main
    reads both: `draws_bars` set here, `no_progress` given by the user)."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (none is drawn anyway when "
                        "stderr is not a terminal)")
    parser.set_defaults(draws_bars=True)
