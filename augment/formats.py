"""Reading and writing the file formats every augkit command accepts.

One module, shared by `augkit transliterate`, `augkit translate` and the corpus readers, so that
every command decodes, reports errors and writes files the same way.

Formats (`FORMATS`): `txt` (one text per line), `jsonl` (one JSON object per line), `csv`, `tsv`
(header row; TSV is plain tab-separated, no quoting), `parquet`, and `conllu` (Universal
Dependencies). `format_from_path` guesses the format from the file name; `-` means stdin/stdout.

Decoding is strict UTF-8: invalid bytes raise `InputError` naming the file, line and byte offset.
With `errors="replace"` each invalid byte sequence becomes U+FFFD (exactly as Python's "replace"
handler does) and is counted in a `DecodeStats` you pass in, so callers can report how much changed.

API:
    read_lines(path, errors="strict", stats=None) -> Iterator[str]
        Lines without their terminator (`\\n` or `\\r\\n`); splits on `\\n` only, so U+2028 and
        friends never change the line count.
    write_lines(path, lines) -> int
    read_table(path, fmt, errors="strict", stats=None) -> Table   (jsonl, csv, tsv, parquet)
        `Table.columns` (in file order) and `Table.rows` (list of dicts), all in memory.
    iter_jsonl(path, errors="strict", stats=None) -> Iterator[(line number, dict)]   (streaming)
    write_table(path, fmt, table) -> int
    read_conllu(path, errors="strict", stats=None) -> Iterator[ConlluSentence]
    write_conllu(path, sentences) -> int
Writers write to a temporary file beside the target and rename it at the end, so an interrupted
run never leaves a half-written output; they return the number of lines/rows/sentences written.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from augment.errors import AugkitError, InputError

FORMATS = ("txt", "jsonl", "csv", "tsv", "parquet", "conllu")
TABLE_FORMATS = ("jsonl", "csv", "tsv", "parquet")
STDIO = "-"

_SUFFIXES = {".txt": "txt", ".jsonl": "jsonl", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet",
             ".conllu": "conllu"}


@dataclass
class DecodeStats:
    """How many invalid byte sequences were replaced by U+FFFD while reading (errors="replace")."""

    replacements: int = 0
    first_offset: int | None = None  # byte offset of the first replacement, for the report


@dataclass
class Table:
    """Rows of a jsonl/csv/tsv/parquet file; `columns` keeps the file's column order."""

    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)


def format_from_path(path: str | os.PathLike, default: str = "txt") -> str:
    """`data.conllu` -> `conllu`; unknown suffixes and `-` give `default`."""
    if str(path) == STDIO:
        return default
    return _SUFFIXES.get(Path(path).suffix.lower(), default)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise AugkitError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    return fmt


def _display(path: str | os.PathLike) -> str:
    return "<stdin>" if str(path) == STDIO else str(path)


@contextmanager
def _open_binary(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    if str(path) == STDIO:
        yield sys.stdin.buffer
        return
    try:
        handle = open(path, "rb")
    except FileNotFoundError as error:
        raise InputError(path, "no such file") from error
    except IsADirectoryError as error:
        raise InputError(path, "is a directory, expected a file") from error
    with handle:
        yield handle


def _decode(raw: bytes, path, line: int, line_offset: int, errors: str, stats: DecodeStats | None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        if errors != "replace":
            bad = raw[error.start:error.end].hex(" ")
            raise InputError(path, f"invalid UTF-8 (bytes {bad}); pass --errors replace to continue",
                             line=line, offset=line_offset + error.start) from None
    # Same result as raw.decode("utf-8", "replace"), but counting each replaced sequence.
    pieces, start = [], 0
    while True:
        try:
            pieces.append(raw[start:].decode("utf-8"))
            return "".join(pieces)
        except UnicodeDecodeError as error:
            pieces.append(raw[start:start + error.start].decode("utf-8"))
            pieces.append("\ufffd")
            if stats is not None:
                stats.replacements += 1
                if stats.first_offset is None:
                    stats.first_offset = line_offset + start + error.start
            start += error.end


def _raw_lines(path, errors: str, stats: DecodeStats | None, keepends: bool) -> Iterator[tuple[int, str]]:
    """(line number, decoded line) for every `\\n`-terminated line of the file."""
    if errors not in ("strict", "replace"):
        raise AugkitError(f"unknown errors mode {errors!r}; use 'strict' or 'replace'")
    with _open_binary(path) as handle:
        offset = 0
        for number, raw in enumerate(handle, start=1):
            text = _decode(raw, _display(path), number, offset, errors, stats)
            offset += len(raw)
            if not keepends:
                text = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
            yield number, text


def read_lines(path, errors: str = "strict", stats: DecodeStats | None = None) -> Iterator[str]:
    """The file's lines without terminators; an empty line yields ``""``."""
    for _, text in _raw_lines(path, errors, stats, keepends=False):
        yield text


@contextmanager
def _open_output(path: str | os.PathLike, binary: bool = False) -> Iterator[IO]:
    """A handle for `path` (or stdout) that only replaces `path` once writing has succeeded."""
    if str(path) == STDIO:
        if binary:
            yield sys.stdout.buffer
        else:
            yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    if not target.parent.is_dir():
        raise InputError(path, f"output folder {target.parent} does not exist")
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        mode = "wb" if binary else "w"
        with open(descriptor, mode, **({} if binary else {"encoding": "utf-8", "newline": ""})) as handle:
            yield handle
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def write_lines(path, lines: Iterable[str]) -> int:
    """One line per string, each terminated by `\\n`."""
    count = 0
    with _open_output(path) as handle:
        for text in lines:
            handle.write(text)
            handle.write("\n")
            count += 1
    return count


# --- tables: jsonl / csv / tsv / parquet -------------------------------------------------------


def read_table(path, fmt: str, errors: str = "strict", stats: DecodeStats | None = None) -> Table:
    """All rows of a jsonl/csv/tsv/parquet file. Cells are kept as read (str for csv/tsv)."""
    if fmt == "jsonl":
        return _read_jsonl(path, errors, stats)
    if fmt == "csv":
        return _read_csv(path, errors, stats)
    if fmt == "tsv":
        return _read_tsv(path, errors, stats)
    if fmt == "parquet":
        return _read_parquet(path)
    raise AugkitError(f"format {fmt!r} is not a table; table formats: {', '.join(TABLE_FORMATS)}")


def write_table(path, fmt: str, table: Table) -> int:
    if fmt == "jsonl":
        return write_lines(path, (json.dumps(row, ensure_ascii=False) for row in table.rows))
    if fmt == "csv":
        with _open_output(path) as handle:
            writer = csv.DictWriter(handle, fieldnames=table.columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(table.rows)
        return len(table.rows)
    if fmt == "tsv":
        write_lines(path, _tsv_lines(path, table))
        return len(table.rows)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow = pa.table({name: [row.get(name) for row in table.rows] for name in table.columns})
        with _open_output(path, binary=True) as handle:
            pq.write_table(arrow, handle)
        return len(table.rows)
    raise AugkitError(f"format {fmt!r} is not a table; table formats: {', '.join(TABLE_FORMATS)}")


def iter_jsonl(path, errors: str = "strict", stats: DecodeStats | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSON Lines file, streaming."""
    for number, text in _raw_lines(path, errors, stats, keepends=False):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(_display(path), f"invalid JSON: {error.msg} (column {error.colno})", line=number) from None
        if not isinstance(row, dict):
            raise InputError(_display(path), f"expected a JSON object, got {type(row).__name__}", line=number)
        yield number, row


def _read_jsonl(path, errors, stats) -> Table:
    columns: dict[str, None] = {}
    rows = []
    for _, row in iter_jsonl(path, errors, stats):
        columns.update(dict.fromkeys(row))
        rows.append(row)
    return Table(list(columns), rows)


def _read_csv(path, errors, stats) -> Table:
    lines = (text for _, text in _raw_lines(path, errors, stats, keepends=True))
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return Table([], [])
        rows = []
        for cells in reader:
            if not cells:
                continue
            if len(cells) != len(header):
                raise InputError(_display(path), f"{len(cells)} fields, the header has {len(header)}",
                                 line=reader.line_num)
            rows.append(dict(zip(header, cells, strict=True)))
    except csv.Error as error:
        raise InputError(_display(path), f"invalid CSV: {error}", line=reader.line_num) from None
    return Table(header, rows)


def _read_tsv(path, errors, stats) -> Table:
    header = None
    rows = []
    for number, text in _raw_lines(path, errors, stats, keepends=False):
        cells = text.split("\t")
        if header is None:
            header = cells
            continue
        if text == "":
            continue
        if len(cells) != len(header):
            raise InputError(_display(path), f"{len(cells)} fields, the header has {len(header)}", line=number)
        rows.append(dict(zip(header, cells, strict=True)))
    return Table(header or [], rows)


def _tsv_lines(path, table: Table) -> Iterator[str]:
    yield "\t".join(table.columns)
    for number, row in enumerate(table.rows, start=2):
        cells = ["" if row.get(name) is None else str(row[name]) for name in table.columns]
        for cell in cells:
            if "\t" in cell or "\n" in cell:
                raise InputError(path, "a value holds a tab or newline, which plain TSV cannot store; "
                                 "write csv, jsonl or parquet instead", line=number)
        yield "\t".join(cells)


def _read_parquet(path) -> Table:
    import pyarrow.parquet as pq

    if str(path) == STDIO:
        raise AugkitError("parquet cannot be read from stdin; pass --input FILE")
    if not Path(path).is_file():
        raise InputError(path, "no such file")
    try:
        arrow = pq.read_table(path)
    except Exception as error:  # pyarrow raises several unrelated types for a corrupt file
        raise InputError(path, f"not a readable parquet file: {error}") from None
    return Table(list(arrow.column_names), arrow.to_pylist())


# --- CoNLL-U ---------------------------------------------------------------------------------

CONLLU_FIELDS = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")
FORM = 1


@dataclass
class ConlluSentence:
    """One sentence block, kept line for line so that writing it back is lossless.

    `comments` are the `#` lines without the newline; `rows` are the token lines split on tabs
    (ten fields each) in file order: syntactic words, multiword-token ranges (`3-4`) and empty
    nodes (`5.1`). `line` is the file line of the block's first line.
    """

    comments: list[str]
    rows: list[list[str]]
    line: int = 0

    def metadata(self, key: str) -> str | None:
        """The value of a `# key = value` comment (`sent_id`, `text`), or None."""
        prefix = f"# {key} ="
        for comment in self.comments:
            if comment.startswith(prefix):
                return comment[len(prefix):].strip()
        return None

    def words(self) -> list[list[str]]:
        """Rows of syntactic words (integer ID), the ones that carry UPOS and heads."""
        return [row for row in self.rows if row[0].isdigit()]

    @property
    def forms(self) -> list[str]:
        return [row[FORM] for row in self.rows]

    def with_forms(self, forms: list[str]) -> ConlluSentence:
        """A copy whose FORM column is `forms` (one per row); every other column and comment kept."""
        if len(forms) != len(self.rows):
            raise ValueError(f"{len(forms)} forms for {len(self.rows)} rows")
        rows = [[row[0], form, *row[2:]] for row, form in zip(self.rows, forms, strict=True)]
        return ConlluSentence(list(self.comments), rows, self.line)


def read_conllu(path, errors: str = "strict", stats: DecodeStats | None = None) -> Iterator[ConlluSentence]:
    comments: list[str] = []
    rows: list[list[str]] = []
    first = 0
    for number, text in _raw_lines(path, errors, stats, keepends=False):
        if text == "":
            if comments or rows:
                yield ConlluSentence(comments, rows, first)
            comments, rows, first = [], [], 0
            continue
        first = first or number
        if text.startswith("#"):
            if rows:
                raise InputError(_display(path), "comment line inside a sentence's token lines", line=number)
            comments.append(text)
            continue
        cells = text.split("\t")
        if len(cells) != len(CONLLU_FIELDS):
            raise InputError(_display(path), f"a token line needs 10 tab-separated fields, found {len(cells)}",
                             line=number)
        rows.append(cells)
    if comments or rows:
        yield ConlluSentence(comments, rows, first)


def write_conllu(path, sentences: Iterable[ConlluSentence]) -> int:
    count = 0

    def lines() -> Iterator[str]:
        nonlocal count
        for sentence in sentences:
            yield from sentence.comments
            for row in sentence.rows:
                yield "\t".join(row)
            yield ""
            count += 1

    write_lines(path, lines())
    return count
