"""Networks recorded as importable factories, "package.module:function", imported only on the caller's word.

A run directory is data; importing a module runs its code. So a factory named in a run's config is imported only
when the caller says so (`trust_code=True`, `--trust-code`); naming one explicitly as an argument is that word.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from .errors import ConfigError

_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


def is_factory_path(text: object) -> bool:
    return isinstance(text, str) and bool(_PATH.match(text))


def import_factory(path: str, role: str) -> Callable[..., Any]:
    """The callable at "package.module:function", or a ConfigError naming the path and what went wrong."""
    if not is_factory_path(path):
        raise ConfigError(f"{role} factory must be written package.module:function, got {path!r}")
    module_name, _, attr = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as e:  # ImportError, or anything the module raised while importing
        raise ConfigError(f"{role} factory {path!r}: cannot import {module_name!r} ({type(e).__name__}: {e})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{role} factory {path!r}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"{role} factory {path!r} is not callable")
    return obj
