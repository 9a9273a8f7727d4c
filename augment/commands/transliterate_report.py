"""`augkit transliterate-report`: compare transliteration schemes on a corpus (augment.report)."""

from __future__ import annotations

import sys
from pathlib import Path

from augment.cli import add_errors_option


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "transliterate-report", help="score every scheme's output for Maltese-likeness on your corpus",
        description="Transliterate an Arabic file with each scheme and score the outputs against a Maltese "
                    "reference: character 5-gram cross-entropy, reference-vocabulary coverage, sentencepiece "
                    "fertility, share labelled Maltese by language ID, throughput and analyzer fallbacks. "
                    "Prints a Markdown table and writes PREFIX.json and PREFIX.md.",
    )
    parser.add_argument("--input", "-i", required=True, type=Path, help="Arabic text: .txt (one text per line) or .conllu")
    parser.add_argument("--reference", "-r", required=True, type=Path, help="Maltese text: .txt or .conllu")
    parser.add_argument("--schemes", nargs="+", default=None, metavar="SCHEME",
                        help="scheme names or manifest paths (default: every bundled scheme that reads Arabic)")
    parser.add_argument("--output", "-o", default="transliterate_report", metavar="PREFIX",
                        help="write PREFIX.json and PREFIX.md (default: %(default)s)")
    parser.add_argument("--max-lines", type=int, default=None, help="use only the first N input texts")
    parser.add_argument("--normalize", choices=["arabic"], default=None, help="normalise the Arabic input first")
    parser.add_argument("--no-langid", dest="langid", action="store_false", help="leave out the language-ID column")
    add_errors_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from augment.errors import AugkitError
    from augment.formats import check_outputs, write_text
    from augment.report import build_report

    if args.max_lines is not None and args.max_lines < 1:
        raise AugkitError(f"--max-lines must be at least 1, got {args.max_lines}")
    outputs = [Path(f"{args.output}.json"), Path(f"{args.output}.md")]
    check_outputs([args.input, args.reference], outputs)
    for output in outputs:  # fail before the schemes run, not after
        if not output.parent.is_dir():
            raise AugkitError(f"{output}: output folder {output.parent} does not exist")
    report = build_report(args.input, args.reference, args.schemes, max_lines=args.max_lines,
                          normalize=args.normalize, use_langid=args.langid, errors=args.errors)
    markdown = report.to_markdown()
    write_text(outputs[0], report.to_json())
    write_text(outputs[1], markdown)
    sys.stdout.write(markdown)
    for note in report.notes:
        print(f"augkit transliterate-report: {note}", file=sys.stderr)
    print(f"wrote {args.output}.json and {args.output}.md", file=sys.stderr)
    return 0
