"""`augkit transliterate`: transliterate a file with a scheme (augment.transliterate)."""

from __future__ import annotations

import sys

from augment.cli import add_errors_option
from augment.errors import AugkitError, InputError

BATCH_LINES = 10_000  # lines per transliterate_many call: large enough to amortise, small enough to stream
# With --num-proc, small batches keep every worker busy (MorphTx on new text: a second or two each):
PARALLEL_BATCH_LINES = 200  # lines, or
PARALLEL_BATCH_CHARS = 20_000  # characters (a line may be a paragraph), whichever comes first


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "transliterate", help="transliterate Arabic text into another orthography (CharTx and baselines)",
        description="Transliterate a file with a scheme. txt: one line in, one line out (line count kept). "
                    "jsonl/csv/tsv/parquet: adds the column <column>_<scheme> beside the source column. "
                    "conllu: rewrites the FORM column token by token, keeping every other column and comment.",
    )
    parser.add_argument("--scheme", "-s", default="chartx",
                        help="a bundled scheme (see `augkit schemes`) or the path of a manifest.yaml (default: chartx)")
    parser.add_argument("--input", "-i", default="-", help="input file ('-': stdin, the default)")
    parser.add_argument("--output", "-o", default="-", help="output file ('-': stdout, the default)")
    parser.add_argument("--format", "-f", default=None, choices=["txt", "jsonl", "csv", "tsv", "parquet", "conllu"],
                        help="input and output format (default: from the input's suffix, else txt)")
    parser.add_argument("--column", "-c", default="text",
                        help="jsonl/csv/tsv/parquet: the column to transliterate (strings: text mode; "
                             "lists of tokens in jsonl: token mode) (default: text)")
    parser.add_argument("--replace", action="store_true",
                        help="jsonl/csv/tsv/parquet: overwrite the source column instead of adding one")
    parser.add_argument("--normalize", choices=["none", "arabic"], default="none",
                        help="normalise the input first (NFC with shadda kept before the vowel, Persian/Urdu "
                             "look-alikes, tatweel); off by default so that chartx matches the published system")
    add_errors_option(parser)
    parser.add_argument("--num-proc", "-j", type=int, default=1,
                        help="worker processes (output identical to one process, in the same order; "
                             "worth it for large files and for morphtx on new text) (default: 1)")
    parser.add_argument("--analysis-cache", default=None, metavar="PATH",
                        help="schemes with an analyzer (morphtx): the SQLite file that keeps every word's "
                             "analysis for later runs and other processes (default: analyses.sqlite in "
                             "$AUGKIT_CACHE or ~/.cache/augkit; 'none': do not keep them)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary on stderr")
    parser.set_defaults(func=run)


def run(args) -> int:
    from augment import formats
    from augment.morphtx import analyzer_summary
    from augment.transliterate import Transliterator

    fmt = args.format or formats.format_from_path(args.input)
    if args.num_proc < 1:
        raise AugkitError("--num-proc must be >= 1")
    formats.check_outputs([args.input], [args.output])
    transliterator = Transliterator(args.scheme, normalize=args.normalize, analysis_cache=args.analysis_cache)
    if not args.quiet:
        for warning in transliterator.scheme.warnings:
            print(f"augkit transliterate: warning: {warning}", file=sys.stderr)
    stats = formats.DecodeStats()
    if fmt == "txt":
        count, unit = _txt(transliterator, args, stats), "lines"
    elif fmt == "conllu":
        count, unit = _conllu(transliterator, args, stats), "sentences"
    elif fmt == "jsonl":
        count, unit = _jsonl(transliterator, args, stats), "rows"
    else:
        count, unit = _table(transliterator, args, fmt, stats), "rows"
    if not args.quiet:
        where = "" if args.output == "-" else f" -> {args.output}"
        print(f"augkit transliterate: {count:,} {unit}{where} [{transliterator.signature}]", file=sys.stderr)
        if transliterator.analyzer is not None:
            for line in analyzer_summary(transliterator.analyzer):
                print(f"augkit transliterate: {line}", file=sys.stderr)
    if stats.replacements:
        print(f"augkit transliterate: {stats.summary(args.input)}", file=sys.stderr)
    return 0


def _progress(args, unit: str):
    from augment.progress import Progress

    return Progress("augkit transliterate", unit, quiet=args.quiet)


def _chars(value) -> int:
    """The characters of a text or of a list of tokens (0 for anything else)."""
    if isinstance(value, str):
        return len(value)
    return sum(len(token) for token in value if isinstance(token, str)) if isinstance(value, list) else 0


def _batches(items, args, size=_chars):
    """Lists of consecutive items: BATCH_LINES with one process, else PARALLEL_BATCH_LINES items or
    PARALLEL_BATCH_CHARS characters (`size` of an item), whichever comes first."""
    parallel = args.num_proc > 1
    max_items = PARALLEL_BATCH_LINES if parallel else BATCH_LINES
    batch, chars = [], 0
    for item in items:
        batch.append(item)
        chars += size(item) if parallel else 0
        if len(batch) == max_items or chars >= PARALLEL_BATCH_CHARS:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def _txt(transliterator, args, stats) -> int:
    from augment import formats
    from augment.transliterate import transliterate_batches

    lines = formats.read_lines(args.input, args.errors, stats)
    with _progress(args, "lines") as bar:
        def outputs():
            for batch in transliterate_batches(transliterator, _batches(lines, args), args.num_proc):
                yield from batch
                bar.update(len(batch))

        return formats.write_lines(args.output, outputs())


def _conllu(transliterator, args, stats) -> int:
    import itertools

    from augment import formats
    from augment.transliterate import transliterate_batches

    sentences, forms = itertools.tee(_batches(formats.read_conllu(args.input, args.errors, stats), args,
                                                  lambda sentence: _chars(sentence.forms)))
    with _progress(args, "sentences") as bar:
        def outputs():
            batches = transliterate_batches(transliterator, ([s.forms for s in batch] for batch in forms), args.num_proc)
            for batch, outputs in zip(sentences, batches, strict=True):
                yield from (sentence.with_forms(output) for sentence, output in zip(batch, outputs, strict=True))
                bar.update(len(batch))

        return formats.write_conllu(args.output, outputs())


def _check_values(path, column: str, values: list, numbers: list[int], lines: bool) -> None:
    """`numbers` are file lines (jsonl) or row numbers (`lines=False`: csv, tsv, parquet)."""
    for number, value in zip(numbers, values, strict=True):
        if value is not None and not isinstance(value, str) and not (
                isinstance(value, list) and all(isinstance(token, str) for token in value)):
            problem = f"column {column!r} holds {type(value).__name__}; expected a string or a list of string tokens"
            raise InputError(path, problem, line=number) if lines else InputError(path, f"row {number}: {problem}")


def _with_column(row: dict, source: str, target: str, value) -> dict:
    """`row` with `target` right after `source` (or replacing it)."""
    if target == source:
        return {**row, source: value}
    result = {}
    for name, cell in row.items():
        if name != target:
            result[name] = cell
        if name == source:
            result[target] = value
    return result


def _jsonl(transliterator, args, stats) -> int:
    """Streams: rows are read, transliterated and written a batch at a time."""
    import itertools
    import json

    from augment import formats
    from augment.transliterate import transliterate_batches

    column = args.column
    target = column if args.replace else f"{column}_{transliterator.scheme.name}"
    def checked_values(batch):
        for number, row in batch:
            if column not in row:
                raise InputError(args.input, f"no column {column!r}; columns: {', '.join(row) or '(none)'}",
                                 line=number)
        values = [row[column] for _, row in batch]
        _check_values(args.input, column, values, [number for number, _ in batch], lines=True)
        return values

    rows, values = itertools.tee(_batches(formats.iter_jsonl(args.input, args.errors, stats), args,
                                             lambda numbered: _chars(numbered[1].get(column))))
    with _progress(args, "rows") as bar:
        def lines():
            batches = transliterate_batches(transliterator, map(checked_values, values), args.num_proc)
            for batch, outputs in zip(rows, batches, strict=True):
                for (_, row), output in zip(batch, outputs, strict=True):
                    yield json.dumps(_with_column(row, column, target, output), ensure_ascii=False)
                bar.update(len(batch))

        return formats.write_lines(args.output, lines())


def _table(transliterator, args, fmt: str, stats) -> int:
    """csv, tsv, parquet: read whole, then written whole."""
    from augment import formats
    from augment.transliterate import transliterate_batches

    table = formats.read_table(args.input, fmt, args.errors, stats)
    column = args.column
    if column not in table.columns:
        raise InputError(args.input, f"no column {column!r}; columns: {', '.join(table.columns) or '(none)'}")
    target = column if args.replace else f"{column}_{transliterator.scheme.name}"
    values = [row.get(column) for row in table.rows]
    _check_values(args.input, column, values, list(range(1, len(values) + 1)), lines=False)
    with _progress(args, "rows") as bar:
        outputs = []
        for batch in transliterate_batches(transliterator, _batches(values, args), args.num_proc):
            outputs += batch
            bar.update(len(batch))
    table.rows = [_with_column(row, column, target, output) for row, output in zip(table.rows, outputs, strict=True)]
    if target not in table.columns:
        table.columns.insert(table.columns.index(column) + 1, target)
    return formats.write_table(args.output, fmt, table)
