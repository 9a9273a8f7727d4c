"""The `augkit` console script: one entry point, one sub-command per capability.

Each command lives in its own module exposing `register(subparsers)`; the module adds its
parser and sets `func` (called with the parsed arguments, returns an exit code). Modules
import their heavy dependencies (torch, ctranslate2, datasets) inside `func`, so that
`augkit --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from augment import __version__
from augment.errors import AugkitError

COMMAND_MODULES = [
    "augment.commands.schemes",
    "augment.commands.transliterate",
    "augment.commands.transliterate_report",
    "augment.commands.demo",
    "finetune.task_cli",
    "finetune.cli",
    "augment.commands.langid",
    "augment.commands.languages",
    "augment.commands.translate",
    "finetune.seq2seq",
    "finetune.abx",
    "corpora.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="augkit",
        description="Augment low-resource-language data from a high-resource language, and adapt models on it.",
    )
    parser.add_argument("--version", action="version", version=f"augkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AugkitError as error:
        # Expected failures (bad input, unknown scheme, missing file) get one clear line, no traceback.
        print(f"augkit {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"augkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
