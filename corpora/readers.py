"""Readers: a recipe source -> a stream of records, each either accepted or rejected with a reason.

Decoding, table parsing and CoNLL-U parsing are augment.formats' (one format layer for every
command); this module only maps what those return onto records. txt, jsonl and CoNLL-U are streamed;
csv, tsv and parquet files are read whole (one file at a time). A reader yields `(record, None)`
for a good record and `(record, reason)` for one the read step drops, so that every input line is
accounted for in the manifest (`invalid_utf8`, `empty`, `too_long`, `missing_text`, `not_text`,
`empty_side`). Structural problems that make the rest of a file meaningless (a broken CoNLL-U
line, a missing column, bitext files of different lengths) are `InputError`s naming file and line.

Formats: txt, jsonl, csv, tsv, parquet, conllu, bitext (tsv, two aligned files, or jsonl with one
field per language), hf (a `save_to_disk` folder, or a hub dataset name when online).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augment import formats
from augment.errors import AugkitError, InputError
from corpora.records import Record, make_record, normalise_lang
from corpora.writers import file_digest

SOURCE_FORMATS = ("txt", "jsonl", "csv", "tsv", "parquet", "conllu", "bitext", "hf")
ReadItem = tuple[Record, "str | None"]


@dataclass(frozen=True)
class Source:
    """One `sources:` entry of a recipe. Paths are already resolved (see corpora.recipe)."""

    name: str
    format: str
    path: str | None = None
    paths: tuple[str, ...] = ()  # bitext as two aligned plain-text files
    lang: str | None = None
    langs: tuple[str, ...] = ()  # bitext: (language of `text`, language of the other side)
    columns: tuple[str, ...] = ()  # bitext jsonl: the two sides' field names (default: `langs` as written)
    text_field: str = "text"
    tokens_field: str | None = None
    upos_field: str | None = None
    labels_field: str | None = None
    id_field: str | None = None
    doc_field: str | None = None
    lang_field: str | None = None
    content: str = "tokens"  # conllu: "tokens" (tokens + upos + text) or "text"
    dataset: str | None = None  # hf: hub name (online only)
    config_name: str | None = None  # hf: hub configuration
    split: str | None = None  # hf: which split of a DatasetDict / hub dataset
    max_chars: int = 1_000_000
    limit: int | None = None  # read at most this many records (quick trials)
    meta: dict[str, Any] = field(default_factory=dict)  # added to every record's meta
    meta_fields: tuple[str, ...] | None = None  # table columns copied into meta (default: all unused ones)

    def __post_init__(self):
        where = f"source {self.name!r}"
        if not self.name or "#" in self.name or ":" in self.name:
            raise AugkitError(f"{where}: a source name must be non-empty, without '#' or ':'")
        if self.format not in SOURCE_FORMATS:
            raise AugkitError(f"{where}: unknown format {self.format!r}; formats: {', '.join(SOURCE_FORMATS)}")
        if self.format == "bitext":
            if len(self.langs) != 2:
                raise AugkitError(f"{where}: bitext needs `langs: [LANG_OF_TEXT, LANG_OF_OTHER_SIDE]`")
            if bool(self.path) == bool(self.paths) or (self.paths and len(self.paths) != 2):
                raise AugkitError(f"{where}: bitext needs either `path` (tsv or jsonl) or `paths` (two files)")
            if self.columns and len(self.columns) != 2:
                raise AugkitError(f"{where}: bitext `columns` names the two sides' fields")
        elif self.format == "hf":
            if bool(self.path) == bool(self.dataset):
                raise AugkitError(f"{where}: hf needs either `path` (a save_to_disk folder) or `dataset`")
        elif not self.path:
            raise AugkitError(f"{where}: `path` is required")
        if self.content not in ("tokens", "text"):
            raise AugkitError(f"{where}: content must be 'tokens' or 'text', not {self.content!r}")
        if self.lang is None and self.lang_field is None and self.format != "bitext":
            raise AugkitError(f"{where}: give `lang` (or `lang_field` for a per-record language)")

    def files(self) -> list[Path]:
        """The files this source reads (for fingerprints); a folder contributes every file in it."""
        paths = [Path(p) for p in (self.paths or ([self.path] if self.path else []))]
        found: list[Path] = []
        for path in paths:
            if path.is_dir():
                found.extend(sorted(p for p in path.rglob("*") if p.is_file()))
            elif path.is_file():
                found.append(path)
            else:
                raise InputError(path, f"no such file (source {self.name!r})")
        return found


def fingerprint_files(paths: list[Path]) -> list[dict[str, Any]]:
    """Content hashes, so a changed input invalidates every cached stage built on it."""
    return [{"path": str(path), **file_digest(path)} for path in paths]


def read_source(source: Source) -> Iterator[ReadItem]:
    items = _READERS[source.format](source)
    return itertools.islice(items, source.limit) if source.limit is not None else items


# --- helpers ---------------------------------------------------------------------------------


def _screen(record: Record, max_chars: int) -> str | None:
    """The reason the read step drops a well-formed record, or None to keep it."""
    text, tokens = record.get("text"), record.get("tokens")
    if tokens is not None and not tokens:
        return "empty"
    if tokens is None and (text is None or not text.strip()):
        return "empty"
    if text is not None and len(text) > max_chars:
        return "too_long"
    return None


def _meta(source: Source, entries: dict[str, Any]) -> dict[str, Any]:
    return {**source.meta, **{key: value for key, value in entries.items() if value is not None}}


# --- txt -------------------------------------------------------------------------------------


def _read_txt(source: Source) -> Iterator[ReadItem]:
    lang = normalise_lang(source.lang, f"source {source.name!r}")
    stats = formats.DecodeStats()
    for number, text in enumerate(formats.read_lines(source.path, errors="replace", stats=stats), start=1):
        replaced, stats.replacements = stats.replacements, 0
        record = make_record(f"{source.name}:{number}", source.name, lang, text,
                             meta=_meta(source, {"line": number}))
        if replaced:
            record["meta"]["problem"] = f"{replaced} invalid UTF-8 sequence(s), shown as U+FFFD"
            yield record, "invalid_utf8"
        else:
            yield record, _screen(record, source.max_chars)


# --- tables: jsonl / csv / tsv / parquet / hf ------------------------------------------------


def _check_columns(source: Source, columns: list[str], where: str) -> None:
    wanted = [source.tokens_field or source.text_field, source.upos_field, source.labels_field,
              source.id_field, source.doc_field, source.lang_field]
    missing = [name for name in wanted if name is not None and name not in columns]
    if missing:
        raise InputError(where, f"no column(s) {missing} (source {source.name!r}); the columns are {columns}; "
                         "set text_field / tokens_field / id_field / doc_field / lang_field in the recipe")


def _table_records(source: Source, rows, where: str) -> Iterator[ReadItem]:
    lang = normalise_lang(source.lang, f"source {source.name!r}")
    used = {source.text_field, source.tokens_field, source.upos_field, source.labels_field,
            source.id_field, source.doc_field, source.lang_field}
    content_field = source.tokens_field or source.text_field
    for number, row in enumerate(rows, start=1):
        record_id = f"{source.name}:{row[source.id_field] if source.id_field else number}"
        record_lang = normalise_lang(row.get(source.lang_field), f"{where} row {number}") \
            if source.lang_field else lang
        doc = row.get(source.doc_field) if source.doc_field else None
        meta = _meta(source, {**_extra(source, row, used), "row": number})
        value = row.get(content_field)
        if source.tokens_field:
            record = make_record(record_id, source.name, record_lang, None, doc=_str(doc), meta=meta,
                                 tokens=value, upos=row.get(source.upos_field) if source.upos_field else None,
                                 labels=row.get(source.labels_field) if source.labels_field else None)
            good = isinstance(value, list) and all(isinstance(token, str) for token in value)
        else:
            record = make_record(record_id, source.name, record_lang, value, doc=_str(doc), meta=meta)
            good = isinstance(value, str)
        if value is None:
            record["text"] = None
            yield record, "missing_text"
        elif not good:
            record["text"] = str(value)
            record.pop("tokens", None)
            yield record, "not_text"
        else:
            yield record, _screen(record, source.max_chars)


def _extra(source: Source, row: dict[str, Any], used: set) -> dict[str, Any]:
    if source.meta_fields is not None:
        return {name: row.get(name) for name in source.meta_fields}
    return {name: value for name, value in row.items() if name not in used}


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _read_table(source: Source) -> Iterator[ReadItem]:
    if source.format == "jsonl":
        columns, rows = _jsonl_rows(source.path)
    else:
        table = formats.read_table(source.path, source.format)
        columns, rows = table.columns, table.rows
    _check_columns(source, columns, source.path)
    yield from _table_records(source, rows, source.path)


def _jsonl_rows(path: str) -> tuple[list[str], Iterator[dict]]:
    """JSON Lines streamed (files larger than memory); the first object's keys stand for the columns."""
    rows = (row for _, row in formats.iter_jsonl(path))
    first = next(rows, None)
    if first is None:
        return [], iter(())
    return list(first), itertools.chain([first], rows)


def _read_hf(source: Source) -> Iterator[ReadItem]:
    import datasets

    if source.path:
        try:
            loaded = datasets.load_from_disk(source.path)
        except FileNotFoundError as error:
            raise InputError(source.path, f"not a save_to_disk dataset folder: {error}") from None
    else:
        try:
            loaded = datasets.load_dataset(source.dataset, source.config_name, split=source.split, streaming=True)
        except Exception as error:  # the hub client raises many types (offline, missing, gated)
            raise AugkitError(f"source {source.name!r}: cannot load hub dataset {source.dataset!r}: {error}") from None
    if isinstance(loaded, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        if source.split not in loaded:
            raise AugkitError(f"source {source.name!r}: give `split`, one of {sorted(loaded)}")
        loaded = loaded[source.split]
    where = source.path or source.dataset
    if loaded.column_names is not None:  # a streamed hub dataset may not know its columns before reading
        _check_columns(source, list(loaded.column_names), where)
    yield from _table_records(source, iter(loaded), where)


# --- CoNLL-U ---------------------------------------------------------------------------------


def _read_conllu(source: Source) -> Iterator[ReadItem]:
    lang = normalise_lang(source.lang, f"source {source.name!r}")
    doc = None
    seen: set[str] = set()
    for number, sentence in enumerate(formats.read_conllu(source.path), start=1):
        for comment in sentence.comments:
            if comment.startswith("# newdoc"):
                _, _, value = comment.partition("=")
                doc = value.strip() or f"{source.name}:doc{number}"
        sent_id = sentence.metadata("sent_id")
        if sent_id is not None:
            if sent_id in seen:
                raise InputError(source.path, f"sent_id {sent_id!r} appears twice", line=sentence.line)
            seen.add(sent_id)
        words = sentence.words()
        surface = [row for row in sentence.rows if "." not in row[0] and not _inside_range(row, sentence.rows)]
        text = sentence.metadata("text") or " ".join(row[1] for row in surface)
        meta = _meta(source, {"line": sentence.line, "sent_id": sent_id})
        record_id = f"{source.name}:{sent_id if sent_id is not None else number}"
        if source.content == "text":
            record = make_record(record_id, source.name, lang, text, doc=doc, meta=meta)
        else:
            record = make_record(record_id, source.name, lang, text, doc=doc, meta=meta,
                                 tokens=[row[1] for row in words], upos=[row[3] for row in words])
        yield record, _screen(record, source.max_chars)


def _inside_range(row: list[str], rows: list[list[str]]) -> bool:
    """True for a syntactic word covered by a multiword token (`3-4`), which the surface text omits."""
    if not row[0].isdigit():
        return False
    index = int(row[0])
    for other in rows:
        first, dash, last = other[0].partition("-")
        if dash and int(first) <= index <= int(last):
            return True
    return False


# --- bitext ----------------------------------------------------------------------------------


def _read_bitext(source: Source) -> Iterator[ReadItem]:
    where = f"source {source.name!r}"
    lang, other = (normalise_lang(code, where) for code in source.langs)
    if source.paths:
        yield from _bitext_pairs(source, lang, other, _aligned_files(source))
    elif formats.format_from_path(source.path) == "jsonl":
        columns, table_rows = _jsonl_rows(source.path)
        fields = list(source.columns or source.langs)
        _check_columns(Source(source.name, "jsonl", source.path, lang="und", text_field=fields[0],
                              id_field=source.id_field, doc_field=source.doc_field), columns, source.path)
        if fields[1] not in columns:
            raise InputError(source.path, f"no column {fields[1]!r} (source {source.name!r}); the columns are "
                             f"{columns}")
        rows = ((number, row.get(fields[0]), row.get(fields[1]), row) for number, row in
                enumerate(table_rows, start=1))
        yield from _bitext_pairs(source, lang, other, rows)
    else:
        yield from _bitext_pairs(source, lang, other, _tsv_pairs(source))


def _aligned_files(source: Source):
    first, second = source.paths
    counts = [sum(1 for _ in formats.read_lines(path)) for path in source.paths]
    if counts[0] != counts[1]:
        raise AugkitError(f"source {source.name!r}: bitext files are not aligned: {first} has {counts[0]} lines, "
                          f"{second} has {counts[1]}")
    pairs = zip(formats.read_lines(first), formats.read_lines(second), strict=True)
    for number, (left, right) in enumerate(pairs, start=1):
        yield number, left, right, {}


def _tsv_pairs(source: Source):
    for number, line in enumerate(formats.read_lines(source.path), start=1):
        cells = line.split("\t")
        if len(cells) != 2:
            raise InputError(source.path, f"a bitext tsv line needs 2 tab-separated fields, found {len(cells)}",
                             line=number)
        yield number, cells[0], cells[1], {}


def _bitext_pairs(source: Source, lang: str, other: str, rows) -> Iterator[ReadItem]:
    used = {*(source.columns or source.langs), source.id_field, source.doc_field}
    for number, left, right, row in rows:
        key = row.get(source.id_field) if source.id_field else number
        meta = _meta(source, {**_extra(source, row, used), "row": number, "translations": {other: right}})
        doc = _str(row.get(source.doc_field)) if source.doc_field else None
        record = make_record(f"{source.name}:{key}", source.name, lang, left, doc=doc, meta=meta)
        if not isinstance(left, str) or not isinstance(right, str):
            yield record, "missing_text"
        elif not left.strip() or not right.strip():
            yield record, "empty_side"
        else:
            yield record, _screen(record, source.max_chars)


_READERS = {"txt": _read_txt, "jsonl": _read_table, "csv": _read_table, "tsv": _read_table,
            "parquet": _read_table, "conllu": _read_conllu, "bitext": _read_bitext, "hf": _read_hf}
