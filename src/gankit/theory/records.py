"""How the theory lab writes its numbers into NAME.json."""

from __future__ import annotations

import math

__all__ = ["rounded"]


def rounded(value: float, digits: int = 6) -> float:
    """A float for JSON: rounded to `digits` significant digits (keeps tiny gradients readable)."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(f"{value:.{digits}g}")
