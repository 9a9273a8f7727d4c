"""Records: the one in-memory form of a corpus item, and its fixed Arrow layout.

A record is a plain dict (see corpora.stage for what each field means):

    {"id": "quran:12", "text": "...", "lang": "arb_Arab", "source": "quran", "doc": None, "meta": {}}
    {"id": "mudt:5", "text": "...", "tokens": [...], "upos": [...], "labels": None, ...}

Parallel text (bitext readers, the translate stage) keeps the other side(s) in
`meta["translations"]`, keyed by FLORES code: `{"eng_Latn": "The house"}`.

Stages may add other top-level keys (an SFT formatter's `messages` or `prompt`/`response`). In Arrow
the core fields are typed columns; `meta` and every other key are stored as JSON strings (`meta`,
`extra`), so that one schema holds every stage's output and a shard written by one stage can always
be read by the next, by the Ray engine, or by `datasets`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from augment.errors import AugkitError
from augment.languages import to_flores

Record = dict[str, Any]

TEXT_FIELDS = ("id", "text", "lang", "source", "doc")
LIST_FIELDS = ("tokens", "labels", "upos")
CORE_FIELDS = (*TEXT_FIELDS, *LIST_FIELDS, "meta")


def arrow_schema():
    import pyarrow as pa

    return pa.schema(
        [(name, pa.string()) for name in TEXT_FIELDS]
        + [(name, pa.list_(pa.string())) for name in LIST_FIELDS]
        + [("meta", pa.string()), ("extra", pa.string())]
    )


def make_record(id: str, source: str, lang: str | None, text: str | None = None, *, doc: str | None = None,
                tokens: list[str] | None = None, upos: list[str] | None = None,
                labels: list[str] | None = None, meta: dict | None = None) -> Record:
    record: Record = {"id": id, "text": text, "lang": lang, "source": source, "doc": doc, "meta": meta or {}}
    for name, value in (("tokens", tokens), ("upos", upos), ("labels", labels)):
        if value is not None:
            record[name] = value
    return record


def check_record(record: Any, where: str) -> None:
    """Raise AugkitError (naming `where`) unless `record` keeps the record contract."""
    if not isinstance(record, dict):
        raise AugkitError(f"{where}: a record must be a dict, got {type(record).__name__}")
    record_id = record.get("id")
    if not isinstance(record_id, str) or not record_id:
        raise AugkitError(f"{where}: record without a string id: {_preview(record)}")
    text, tokens = record.get("text"), record.get("tokens")
    if text is None and tokens is None and not _has_extra(record):
        raise AugkitError(f"{where}: record {record_id!r} has neither text nor tokens")
    if text is not None and not isinstance(text, str):
        raise AugkitError(f"{where}: record {record_id!r}: text must be a str, got {type(text).__name__}")
    if tokens is not None:
        for name in ("upos", "labels"):
            aligned = record.get(name)
            if aligned is not None and len(aligned) != len(tokens):
                raise AugkitError(f"{where}: record {record_id!r} has {len(tokens)} tokens but "
                                  f"{len(aligned)} {name}")
    if not isinstance(record.get("meta", {}), dict):
        raise AugkitError(f"{where}: record {record_id!r}: meta must be a dict")


def normalise_lang(code: str | None, where: str) -> str | None:
    if code is None or code == "":
        return None
    try:
        return to_flores(str(code))
    except AugkitError as error:
        raise AugkitError(f"{where}: {error}") from None


def _has_extra(record: Record) -> bool:
    return any(key not in CORE_FIELDS for key in record)


def _preview(record: dict) -> str:
    text = json.dumps(record, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:200] + "…"


def _dumps(value: Any) -> str:
    # sort_keys: the same record always gives the same bytes, whatever order a stage built meta in.
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def to_row(record: Record) -> dict[str, Any]:
    """A record as one row of `arrow_schema()`."""
    row = {name: record.get(name) for name in TEXT_FIELDS}
    for name in LIST_FIELDS:
        row[name] = record.get(name)
    row["meta"] = _dumps(record.get("meta") or {})
    extra = {key: value for key, value in record.items() if key not in CORE_FIELDS}
    row["extra"] = _dumps(extra) if extra else None
    return row


def from_row(row: dict[str, Any]) -> Record:
    """The inverse of `to_row`; list fields that were never set are left out."""
    record: Record = {name: row.get(name) for name in TEXT_FIELDS}
    for name in LIST_FIELDS:
        if row.get(name) is not None:
            record[name] = row[name]
    record["meta"] = json.loads(row["meta"]) if row.get("meta") else {}
    if row.get("extra"):
        record.update(json.loads(row["extra"]))
    return record


def to_table(records: Iterable[Record]):
    import pyarrow as pa

    return pa.Table.from_pylist([to_row(record) for record in records], schema=arrow_schema())


def from_table(table) -> list[Record]:
    return [from_row(row) for row in table.to_pylist()]


def to_columns(records: list[Record]) -> dict[str, list]:
    """Column-major form (`{"id": [...], "text": [...]}`), the shape Ray's `map_batches` hands out."""
    rows = [to_row(record) for record in records]
    return {name: [row[name] for row in rows] for name in arrow_schema().names}


def from_columns(columns: dict[str, Any]) -> list[Record]:
    names = list(columns)
    size = len(columns[names[0]]) if names else 0
    return [from_row({name: _plain(columns[name][index]) for name in names}) for index in range(size)]


def _plain(value: Any) -> Any:
    # numpy arrays / scalars from a columnar batch back to Python lists and str.
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def output_row(record: Record) -> dict[str, Any]:
    """The record as users see it in written outputs: meta as a nested object, unset fields left out."""
    row = {key: value for key, value in record.items() if value is not None or key in ("text", "doc", "lang")}
    row.setdefault("meta", {})
    return row
