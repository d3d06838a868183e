"""Error types. Every error a user can cause is a GankitError with a one-line message naming the bad input;
the CLI prints it as `gankit: error: ...` and exits with its `exit_code` (2: bad input) instead of showing a
traceback.

Exit statuses of the command line: 0 success; 1 `gankit doctor` found a problem in the run; 2 bad input (a flag,
file, folder or checkpoint); 3 training diverged (NaN/inf; the last good checkpoint is kept); 4 a peer of a
distributed run failed or timed out; 130 / 143 training stopped by SIGINT / SIGTERM after writing a checkpoint.
"""

#: `gankit doctor`'s status when its diagnosis holds a finding
EXIT_FINDINGS = 1


class GankitError(Exception):
    """Base class for errors caused by user input (files, configs, flags)."""

    #: the command line's exit status for this error
    exit_code: int = 2
    #: False for a requested stop (printed as `gankit: ...`, not `gankit: error: ...`)
    is_error: bool = True


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
