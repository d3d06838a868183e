"""The command line: a thin layer that parses flags, builds a config and calls the library. One verb per job.

One convention for every verb: a module with `add_parsers(sub)`, which adds its sub-parser(s) and sets
`func`, the verb's body; `VERBS` lists those modules in the order `gankit --help` shows them. A verb's body lives
with its concern (evaluation, theory, attacks, health) or here in gankit.cli when it is only command-line glue.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import typing
from collections.abc import Sequence

from .. import __version__, progress
from ..errors import GankitError, shown

MAX_ERROR_CHARS = 4000  # past any message gankit writes; a value echoed from a file is cut here

VERBS: tuple[str, ...] = (
    "gankit.cli.train",  # train
    "gankit.cli.generate",  # sample, interpolate
    "gankit.cli.encode",  # encode
    "gankit.cli.translate",  # translate
    "gankit.cli.info",  # info
    "gankit.evaluation.commands",  # evaluate, train-classifier
    "gankit.theory.commands",  # explain
    "gankit.attacks.commands",  # attack
    "gankit.health.doctor",  # doctor
    "gankit.cli.export",  # export
    "gankit.cli.studio",  # studio
)


class Parser(argparse.ArgumentParser):
    """argparse with gankit's error convention: a bad flag is one line on stderr naming it, exit 2 (argparse's
    own prints the whole usage block first, burying the line that matters)."""

    def error(self, message: str) -> typing.NoReturn:
        print(f"gankit: error: {shown(message, limit=MAX_ERROR_CHARS)} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="gankit", description="gankit: train, sample and inspect generative adversarial networks.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'gankit VERB --help' for a verb's options. Quickstart: gankit train --out runs/quickstart\n\n"
               "exit status: 0 success; 1 doctor found a problem; 2 bad input; 3 training diverged (NaN/inf);\n"
               "4 a distributed peer failed; 130/143 training stopped by SIGINT/SIGTERM (checkpoint written)")
    parser.add_argument("--version", action="version", version=f"gankit {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for name in VERBS:
        importlib.import_module(name).add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # the long verbs (progress.add_flag) draw bars on a terminal unless told not to; train draws its own
    bars = getattr(args, "draws_bars", False) and not args.no_progress and progress.on_terminal()
    try:
        with progress.shown(bars):
            return int(args.func(args) or 0)
    except GankitError as e:
        # one line whatever the message holds: a path or key from the command line or a file may carry a newline
        line = shown(e, limit=MAX_ERROR_CHARS)
        print(f"gankit: error: {line}" if e.is_error else f"gankit: {line}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`gankit doctor RUN | head`): stop quietly, as other command-line tools do; point
        # stdout at /dev/null so that the interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
