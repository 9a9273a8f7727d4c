"""Reading and writing the file formats every augkit command accepts.

One module, shared by `augkit transliterate`, `augkit translate` and the corpus readers, so that
every command decodes, reports errors and writes files the same way.

Formats (`FORMATS`): `txt` (one text per line), `jsonl` (one JSON object per line), `csv`, `tsv`
(header row; TSV is plain tab-separated, no quoting), `parquet`, and `conllu` (Universal
Dependencies). `format_from_path` guesses the format from the file name; `-` means stdin/stdout.

Every reader decodes the same way (`read_lines`, `iter_jsonl`, `read_table`, `read_conllu`,
`iter_texts`): UTF-8, with a leading byte-order mark removed; a file that starts with a UTF-16 or
UTF-32 byte-order mark is decoded as such; a file with NUL bytes near its start and no byte-order
mark (UTF-16/32 without one, or not text at all) is refused. Decoding is strict: invalid bytes
raise `EncodingError` naming the file, line, byte offset and encoding. With `errors="replace"` each
invalid byte sequence becomes U+FFFD (exactly as Python's "replace" handler does) and is counted in
a `DecodeStats` you pass in, so callers can report how much changed. A missing, unreadable or
directory input is an `InputError` naming it.

API:
    read_lines(path, errors="strict", stats=None) -> Iterator[str]
        Lines without their terminator (`\\n` or `\\r\\n`); splits on `\\n` only, so U+2028 and
        friends never change the line count.
    write_lines(path, lines) -> int
    read_table(path, fmt, errors="strict", stats=None) -> Table   (jsonl, csv, tsv, parquet)
        `Table.columns` (in file order) and `Table.rows` (list of dicts), all in memory.
    iter_jsonl(path, errors="strict", stats=None) -> Iterator[(line number, dict)]   (streaming)
    iter_texts(path, fmt, column="text", errors="strict", stats=None) -> Iterator[(position, str | None)]
        One text per line (txt), sentence (conllu) or row (the column of a table), for commands
        that only need the texts.
    write_table(path, fmt, table) -> int
    read_conllu(path, errors="strict", stats=None) -> Iterator[ConlluSentence]
    write_conllu(path, sentences) -> int
    check_outputs(inputs, outputs)   refuse an output that is an input (also through a link)
    batched(items, size)   lists of `size` items, for streaming a file in batches
    atomic_output(path, binary=False)   the writers' handle: a temporary file renamed at the end
Writers write to a temporary file beside the target and rename it at the end, so an interrupted
run never leaves a half-written output; the file gets the permissions the umask allows, as with
`open()`; they return the number of lines/rows/sentences written.
"""

from __future__ import annotations

import codecs
import csv
import errno
import json
import os
import secrets
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from augment.errors import AugkitError, EncodingError, InputError

ERRORS = ("strict", "replace")
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
    encoding: str = "utf-8"

    def summary(self, path) -> str:
        """`3 invalid UTF-8 sequence(s) in FILE replaced by U+FFFD (first at byte 120)`."""
        return (f"{self.replacements:,} invalid {self.encoding.upper()} sequence(s) in {_display(path)} replaced "
                f"by U+FFFD (first at byte {self.first_offset})")


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
    except OSError as error:
        raise InputError(path, _reading_problem(error)) from error
    with handle:
        yield handle


def _reading_problem(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "is a directory, expected a file"
    if isinstance(error, PermissionError):
        return "cannot read: permission denied"
    return f"cannot read: {error.strerror or error}"


# Byte-order marks, longest first: UTF-32-LE's begins with UTF-16-LE's.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_SNIFF_BYTES = 4096


def _encoding(path, head: bytes, handle) -> tuple[str, int]:
    """(encoding, length of its byte-order mark) from the first bytes of the file."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    # Without a byte-order mark, UTF-16/32 text is full of NUL bytes (the high bytes of ASCII and of
    # most other letters) yet often valid UTF-8 byte for byte: decoding it would give garbage.
    peek = getattr(handle, "peek", None)
    if b"\x00" in head + (peek(_SNIFF_BYTES)[:_SNIFF_BYTES] if peek else b""):
        raise InputError(_display(path), "holds NUL bytes: UTF-16 or UTF-32 without a byte-order mark, or not a "
                                         "text file; convert it to UTF-8 (e.g. iconv -f UTF-16LE -t UTF-8)")
    return "utf-8", 0


def _decode(raw: bytes, encoding: str, path, line: int, line_offset: int, errors: str,
            stats: DecodeStats | None) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        if errors != "replace":
            bad = raw[error.start:error.end].hex(" ")
            raise EncodingError(path, f"invalid {encoding.upper()} (bytes {bad})",
                                line=line, offset=line_offset + error.start) from None
    # Same result as raw.decode(encoding, "replace"), but counting each replaced sequence.
    pieces, start = [], 0
    while True:
        try:
            pieces.append(raw[start:].decode(encoding))
            return "".join(pieces)
        except UnicodeDecodeError as error:
            pieces.append(raw[start:start + error.start].decode(encoding))
            pieces.append("\ufffd")
            if stats is not None:
                stats.replacements += 1
                stats.encoding = encoding
                if stats.first_offset is None:
                    stats.first_offset = line_offset + start + error.start
            start += error.end


def _utf8_lines(prefix: bytes, handle) -> Iterator[bytes]:
    """The file's `\\n`-terminated lines, `prefix` being bytes already read from its start."""
    *complete, pending = prefix.split(b"\n")
    for piece in complete:
        yield piece + b"\n"
    first = pending + handle.readline()
    if first:
        yield first
    yield from handle


def _unit_lines(prefix: bytes, handle, newline: bytes) -> Iterator[bytes]:
    """Lines of a UTF-16/32 file: split where the newline code unit starts at a code-unit boundary
    (a newline unit never occurs inside a surrogate pair)."""
    unit, buffer, scan = len(newline), prefix, 0
    while True:
        start, position = 0, buffer.find(newline, scan)
        while position != -1:
            if position % unit == 0:
                yield buffer[start:position + unit]
                start = position + unit
                position = buffer.find(newline, start)
            else:
                position = buffer.find(newline, position + 1)
        buffer = buffer[start:]
        scan = max(0, len(buffer) - unit)
        chunk = handle.read(1 << 16)
        if not chunk:
            break
        buffer += chunk
    if buffer:
        yield buffer


def _raw_lines(path, errors: str, stats: DecodeStats | None, keepends: bool) -> Iterator[tuple[int, str]]:
    """(line number, decoded line) for every `\\n`-terminated line of the file."""
    if errors not in ERRORS:
        raise AugkitError(f"unknown errors mode {errors!r}; use 'strict' or 'replace'")
    with _open_binary(path) as handle:
        try:
            head = handle.read(4)
        except OSError as error:  # a directory given as stdin, a device that cannot be read
            raise InputError(_display(path), _reading_problem(error)) from error
        encoding, offset = _encoding(path, head, handle)
        if encoding == "utf-8":
            lines = _utf8_lines(head[offset:], handle)
        else:
            lines = _unit_lines(head[offset:], handle, "\n".encode(encoding))
        for number, raw in enumerate(lines, start=1):
            text = _decode(raw, encoding, _display(path), number, offset, errors, stats)
            offset += len(raw)
            if not keepends:
                text = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
            yield number, text


def read_lines(path, errors: str = "strict", stats: DecodeStats | None = None) -> Iterator[str]:
    """The file's lines without terminators; an empty line yields ``""``."""
    for _, text in _raw_lines(path, errors, stats, keepends=False):
        yield text


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of `size` items (the last one shorter), for commands that stream a file in batches
    (itertools.batched, which needs Python 3.12)."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- writing -----------------------------------------------------------------------------------

# Write failures that say nothing about the input; reported against the output file.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


@contextmanager
def atomic_output(path: str | os.PathLike, binary: bool = False) -> Iterator[IO]:
    """A handle for `path` (or stdout) that only replaces `path` once writing has succeeded.

    The temporary file `.NAME.XXXXXXXX.tmp` beside the target is created with mode 0666 less the
    umask, as `open()` would create the target itself."""
    if str(path) == STDIO:
        try:
            yield sys.stdout.buffer if binary else sys.stdout
            sys.stdout.flush()
        except OSError as error:
            if error.errno in _WRITE_ERRNOS and error.filename is None:
                raise OSError(error.errno, error.strerror, "<stdout>") from error
            raise
        return
    target = Path(path)
    if target.is_dir():
        raise InputError(path, "is a directory; give a file name for the output")
    if not target.parent.is_dir():
        raise InputError(path, f"output folder {target.parent} does not exist")
    descriptor, temporary = _create_temporary(target)
    try:
        mode = "wb" if binary else "w"
        with open(descriptor, mode, **({} if binary else {"encoding": "utf-8", "newline": ""})) as handle:
            yield handle
        os.replace(temporary, target)
    except BaseException as error:
        os.unlink(temporary)
        if isinstance(error, OSError) and error.errno in _WRITE_ERRNOS and error.filename is None:
            raise OSError(error.errno, error.strerror, str(target)) from error
        raise


def _create_temporary(target: Path) -> tuple[int, Path]:
    for _ in range(100):
        temporary = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temporary
        except FileExistsError:
            continue
        except PermissionError as error:
            raise InputError(target, f"cannot write in {target.parent}: permission denied") from error
        except OSError as error:
            raise InputError(target, f"cannot write: {error.strerror or error}") from error
    raise InputError(target, f"cannot create a temporary file in {target.parent}")


def write_lines(path, lines: Iterable[str]) -> int:
    """One line per string, each terminated by `\\n`."""
    count = 0
    with atomic_output(path) as handle:
        for text in lines:
            handle.write(text)
            handle.write("\n")
            count += 1
    return count


def write_text(path, text: str) -> None:
    """`text` as the whole file, written atomically."""
    with atomic_output(path) as handle:
        handle.write(text)


def check_outputs(inputs: Iterable, outputs: Iterable) -> None:
    """Refuse, before anything is read or written, an output that is one of the inputs (the same
    path, a symbolic link to it or a hard link of it), or two outputs that are the same file.
    `-` (stdin/stdout) and None are skipped; inputs that do not exist cannot be overwritten."""
    existing = []
    for item in inputs:
        if item is None or str(item) == STDIO:
            continue
        try:
            existing.append((item, os.stat(item)))
        except OSError:
            continue
    seen: dict[str, object] = {}
    for output in outputs:
        if output is None or str(output) == STDIO:
            continue
        real = os.path.realpath(output)
        if real in seen:
            raise InputError(output, f"given twice as an output (also as {seen[real]}); write to different files")
        seen[real] = output
        try:
            status = os.stat(output)
        except OSError:
            continue
        for item, item_status in existing:
            if os.path.samestat(status, item_status):
                same = "" if os.path.abspath(item) == os.path.abspath(output) else f" (the same file as {item})"
                raise InputError(output, f"is an input{same}; refusing to overwrite it, write to another file")


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
        with atomic_output(path) as handle:
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
        with atomic_output(path, binary=True) as handle:
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


def iter_texts(path, fmt: str, column: str = "text", errors: str = "strict",
               stats: DecodeStats | None = None) -> Iterator[tuple[str, str | None]]:
    """(position, text) for each text of a file, for commands that need only the texts.

    txt: every line (position `line N`); conllu: every sentence, its `# text` or else its words
    joined by spaces (`line N`, the sentence's first line); jsonl: the `column` of every row
    (`line N`, streaming); csv/tsv/parquet: the `column` of every row (`row N`). A null cell gives
    None. A missing column or a value that is not a string is an `InputError` naming the place.
    """
    check_format(fmt)
    if fmt == "txt":
        for number, text in _raw_lines(path, errors, stats, keepends=False):
            yield f"line {number}", text
    elif fmt == "conllu":
        for sentence in read_conllu(path, errors, stats):
            yield f"line {sentence.line}", sentence.metadata("text") or " ".join(row[FORM] for row in sentence.words())
    elif fmt == "jsonl":
        for number, row in iter_jsonl(path, errors, stats):
            yield f"line {number}", _cell(path, row, column, line=number)
    else:
        table = read_table(path, fmt, errors, stats)
        if column not in table.columns:
            raise InputError(_display(path), f"no column {column!r}; columns: {', '.join(table.columns) or '(none)'}")
        for number, row in enumerate(table.rows, start=1):
            yield f"row {number}", _cell(path, row, column, row_number=number)


def _cell(path, row: dict, column: str, line: int | None = None, row_number: int | None = None) -> str | None:
    """The row's text in `column` (None for null); `line` or `row_number` says where, for errors."""
    prefix = f"row {row_number}: " if row_number is not None else ""
    if column not in row:
        raise InputError(_display(path), f"{prefix}no column {column!r}; columns: {', '.join(row) or '(none)'}",
                         line=line)
    value = row[column]
    if value is not None and not isinstance(value, str):
        raise InputError(_display(path), f"{prefix}column {column!r} holds {type(value).__name__}, expected a string",
                         line=line)
    return value


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
    if Path(path).is_dir():
        raise InputError(path, "is a directory, expected a file")
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
