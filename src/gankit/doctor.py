"""The former home of `gankit doctor`, now gankit.health.doctor; gankit.cli still registers the verb from here."""

from .health.doctor import add_parsers

__all__ = ["add_parsers"]
