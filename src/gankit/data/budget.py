"""How many bytes of images a data set may hold in memory before it is read from disk instead.

`$GANKIT_MEMORY_BUDGET` sets it: a byte count, or one with a binary suffix (512M, 2G, 1.5GiB); 0 sends every
image set that can be memory-mapped to disk. Unset, it is a quarter of physical memory (4 GiB where that cannot
be read), leaving the rest to the model, the batches and everything else on the machine.
"""

from __future__ import annotations

import os
import re

from ..errors import ConfigError

BUDGET_ENV = "GANKIT_MEMORY_BUDGET"
FALLBACK_BUDGET = 4 * 1024**3
RAM_FRACTION = 4  # the default budget is physical memory / RAM_FRACTION
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'1500000', '512M', '2G', '1.5GiB', '64kb' -> bytes (suffixes are powers of 1024)."""
    m = _SIZE.fullmatch(text.strip())
    if not m:
        raise ConfigError(f"{BUDGET_ENV}={text!r}: expected a byte count such as 4000000000, 512M or 2G")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def physical_memory() -> int | None:
    """Bytes of RAM, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def memory_budget() -> int:
    """The budget in bytes: $GANKIT_MEMORY_BUDGET if set, else physical memory / 4, else 4 GiB."""
    env = os.environ.get(BUDGET_ENV, "").strip()
    if env:
        return parse_size(env)
    ram = physical_memory()
    return ram // RAM_FRACTION if ram else FALLBACK_BUDGET
