"""The `augkit` console script: one entry point, one sub-command per capability.

Each command lives in its own module exposing `register(subparsers)`; the module adds its
parser and sets `func` (called with the parsed arguments, returns an exit code). Modules
import their heavy dependencies (torch, ctranslate2, datasets) inside `func`, so that
`augkit --help` stays fast.

Expected failures end in one line on stderr, `augkit COMMAND: error: FILE[:LINE]: problem`, and exit
status 2, never a traceback: `AugkitError` (bad input, configuration, an unknown model) and the
operating system's errors about a named file that the user can fix (no space left, permission
denied, read-only file system, no such file). `AUGKIT_DEBUG=1` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from augment import __version__
from augment.errors import AugkitError, EncodingError

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
    _name_commands(parser)
    return parser


def _name_commands(parser: argparse.ArgumentParser) -> None:
    """Every (sub-)command knows its full name (`augkit langid predict`) for its messages."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                subparser.set_defaults(command_name=subparser.prog)
                _name_commands(subparser)


def add_errors_option(parser: argparse.ArgumentParser) -> None:
    """`--errors strict|replace`, for every command that reads text (augment.formats decodes it)."""
    parser.add_argument("--errors", choices=["strict", "replace"], default="strict",
                        help="bytes that are invalid in the input's encoding: stop, naming the file, line and byte "
                             "offset (strict, the default), or replace each by U+FFFD and report the count (replace)")


# Operating-system errors the user can act on; any other OSError is a bug worth a traceback.
EXPECTED_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS,
                             errno.ENOENT, errno.ENOTDIR, errno.EISDIR})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # the reader of stdout went away (| head): not a failure
        return 0
    except (AugkitError, OSError) as error:
        message = expected_failure(error, args)
        if message is None or os.environ.get("AUGKIT_DEBUG"):
            raise
        print(f"{args.command_name}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{args.command_name}: interrupted", file=sys.stderr)
        return 130


def expected_failure(error: BaseException, args: argparse.Namespace) -> str | None:
    """The one-line message for an expected failure, or None for a bug (which keeps its traceback)."""
    if isinstance(error, EncodingError) and getattr(args, "errors", None) == "strict":
        # The hint only where the command has the option (and it was not already given).
        message = f"{error}; pass --errors replace to continue"
    elif isinstance(error, AugkitError):
        message = str(error)
    elif isinstance(error, OSError) and error.errno in EXPECTED_ERRNOS:
        message = f"{error.filename}: {error.strerror}" if error.filename else str(error.strerror or error)
    else:
        return None
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
