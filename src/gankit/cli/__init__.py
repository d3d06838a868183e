"""The command line: a thin layer that parses flags, builds a config and calls the library. One verb per job.

One convention for every verb: a module with `add_parsers(sub)`, which adds its sub-parser(s) and sets
`func`, the verb's body; `VERBS` lists those modules in the order `gankit --help` shows them. A verb's body lives
with its concern (evaluation, theory, attacks, health) or here in gankit.cli when it is only command-line glue.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import GankitError, shown

MAX_ERROR_CHARS = 4000  # past any message gankit writes; a value echoed from a file is cut here

VERBS: tuple[str, ...] = (
    "gankit.cli.train",  # train
    "gankit.cli.generate",  # sample, interpolate
    "gankit.cli.encode",  # encode
    "gankit.cli.info",  # info
    "gankit.evaluation.commands",  # evaluate, train-classifier
    "gankit.theory.commands",  # explain
    "gankit.attacks.commands",  # attack
    "gankit.health.doctor",  # doctor
    "gankit.cli.export",  # export
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gankit", description="gankit: train, sample and inspect generative adversarial networks.",
        epilog="Run 'gankit VERB --help' for a verb's options. Quickstart: gankit train --out runs/quickstart")
    parser.add_argument("--version", action="version", version=f"gankit {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for name in VERBS:
        importlib.import_module(name).add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GankitError as e:
        stopped = getattr(e, "exit_code", None)  # training stopped on request (SIGINT/SIGTERM): not an error
        # one line whatever the message holds: a path or key from the command line or a file may carry a newline
        line = shown(e, limit=MAX_ERROR_CHARS)
        print(f"gankit: {line}" if stopped else f"gankit: error: {line}", file=sys.stderr)
        return stopped or 2
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
