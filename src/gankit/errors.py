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
