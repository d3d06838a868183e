"""Error types. Every error a user can cause is a GankitError with a one-line message naming the bad input;
the CLI prints it as `gankit: error: ...` and exits with status 2 instead of showing a traceback."""


class GankitError(Exception):
    """Base class for errors caused by user input (files, configs, flags)."""


class ConfigError(GankitError, ValueError):
    """An unknown, ill-typed or inconsistent configuration value."""


class DataError(GankitError):
    """A data file or folder that cannot be read: names the file and the fault."""


class CheckpointError(GankitError):
    """A checkpoint or run directory that cannot be loaded safely."""


def shown(value: object, limit: int = 120) -> str:
    """`value` as it may appear in a one-line message or a text report: control and other unprintable characters
    (newlines, terminal escapes, bidi overrides) written as escapes, at most `limit` characters. For text that
    comes from a file or folder someone else may have written."""
    text = value if isinstance(value, str) else str(value)
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return out if len(out) <= limit else out[: max(0, limit - 3)] + "..."
