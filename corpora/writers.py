"""Writers: records -> files, always atomically (temporary name first, renamed when complete).

Two kinds of writing happen in a build:
- shards (`write_shard` / `read_shard`): the engine's cache, one parquet file per stage and shard in
  the fixed `corpora.records.arrow_schema()`, plus the rejected records of that shard as jsonl;
- outputs (`write_output`): what users load, as a recipe's `outputs:` entry describes it — sharded
  `parquet` or `jsonl`, a `save_to_disk` folder, or plain `text` for continual pre-training — with
  one set of files per split when `split_field` is given.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augment.errors import AugkitError
from corpora.records import Record, arrow_schema, from_table, output_row, to_row, to_table

OUTPUT_FORMATS = ("parquet", "jsonl", "text", "save_to_disk")


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_shard(path: Path, records: list[Record]) -> None:
    import pyarrow.parquet as pq

    temporary = _temporary(path)
    pq.write_table(to_table(records), temporary)
    os.replace(temporary, path)


def read_shard(path: Path) -> list[Record]:
    import pyarrow.parquet as pq

    return from_table(pq.read_table(path, schema=arrow_schema()))


def rejected_line(step: int, stage: str, record: Record, reason: str) -> str:
    return json.dumps({"step": step, "stage": stage, "reason": reason, "record": output_row(record)},
                      ensure_ascii=False, sort_keys=True)


def write_lines_atomic(path: Path, lines: Iterable[str]) -> int:
    temporary = _temporary(path)
    count = 0
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        for line in lines:
            handle.write(line)
            handle.write("\n")
            count += 1
    os.replace(temporary, path)
    return count


def write_text_atomic(path: Path, text: str) -> None:
    temporary = _temporary(path)
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@dataclass(frozen=True)
class Output:
    """One `outputs:` entry of a recipe."""

    format: str
    path: str = "data"  # folder inside the build's output directory
    split_field: str | None = None  # a record field or meta key; one file set per value
    fields: tuple[str, ...] = ()  # top-level fields to keep (default: all)
    shard_size: int = 100_000  # records per file (parquet, jsonl)
    text_field: str = "text"  # text: the field written
    separator: str = "\n"  # text: written after each record
    apply_to: dict[str, tuple[str, ...]] = field(default_factory=dict)  # only these records ({source: [..]})

    def selects(self, record: Record) -> bool:
        return all(record.get(key) in values for key, values in self.apply_to.items())

    def __post_init__(self):
        if self.format not in OUTPUT_FORMATS:
            raise AugkitError(f"output {self.path!r}: unknown format {self.format!r}; formats: "
                              f"{', '.join(OUTPUT_FORMATS)}")
        if self.shard_size < 1:
            raise AugkitError(f"output {self.path!r}: shard_size must be >= 1")
        if Path(self.path).is_absolute() or ".." in Path(self.path).parts:
            raise AugkitError(f"output {self.path!r}: the path must stay inside the output directory")


def write_output(output: Output, records: Iterable[Record], root: Path) -> list[dict[str, Any]]:
    """Write `records` as `output` describes under `root`; returns [{path, split, records}] per file.

    Everything is written into a temporary folder that replaces `root / output.path` at the end."""
    final = root / output.path
    staging = _temporary(final)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        files = _WRITERS[output.format](output, _grouped(output, records), staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, final)
    for entry in files:
        entry["path"] = str(Path(output.path) / entry["path"])
    return files


def _split_of(record: Record, field: str | None) -> str:
    if field is None:
        return "all"
    value = record.get(field, (record.get("meta") or {}).get(field))
    if value is None:
        raise AugkitError(f"record {record['id']!r} has no {field!r} (the output's split_field); "
                          "put a split stage before the output")
    return str(value)


def _grouped(output: Output, records: Iterable[Record]) -> Iterator[tuple[str, list[Record]]]:
    """(split, batch) pairs of at most shard_size records, so memory stays at a few shards."""
    buffers: dict[str, list[Record]] = {}
    for record in records:
        if not output.selects(record):
            continue
        split = _split_of(record, output.split_field)
        buffer = buffers.setdefault(split, [])
        buffer.append(record)
        if len(buffer) >= output.shard_size:
            yield split, buffer
            buffers[split] = []
    for split in sorted(buffers):
        if buffers[split]:
            yield split, buffers[split]


def _selected(output: Output, record: Record) -> dict[str, Any]:
    row = output_row(record)
    if output.fields:
        missing = [name for name in output.fields if name not in row]
        if missing:
            raise AugkitError(f"output {output.path!r}: record {record['id']!r} has no field(s) {missing}")
        row = {name: row[name] for name in output.fields}
    return row


def _arrow_batch(output: Output, batch: list[Record], schema):
    import pyarrow as pa

    if not output.fields:
        return pa.Table.from_pylist([to_row(record) for record in batch], schema=arrow_schema())
    rows = []
    for record in batch:
        row = _selected(output, record)
        if "meta" in row:
            row["meta"] = json.dumps(row["meta"], ensure_ascii=False, sort_keys=True)
        rows.append(row)
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise AugkitError(f"output {output.path!r}: records do not share one column layout: {error}") from None


def _write_parquet(output: Output, batches, folder: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    files, counters, schema = [], {}, None
    for split, batch in batches:
        table = _arrow_batch(output, batch, schema)
        schema = table.schema
        index = counters[split] = counters.get(split, -1) + 1
        name = f"{split}-{index:05d}.parquet"
        pq.write_table(table, folder / name)
        files.append({"path": name, "split": split, "records": len(batch)})
    return files


def _write_jsonl(output: Output, batches, folder: Path) -> list[dict[str, Any]]:
    files, counters = [], {}
    for split, batch in batches:
        index = counters[split] = counters.get(split, -1) + 1
        name = f"{split}-{index:05d}.jsonl"
        lines = (json.dumps(_selected(output, record), ensure_ascii=False, sort_keys=True) for record in batch)
        write_lines_atomic(folder / name, lines)
        files.append({"path": name, "split": split, "records": len(batch)})
    return files


def _write_text(output: Output, batches, folder: Path) -> list[dict[str, Any]]:
    handles: dict[str, Any] = {}
    counts: dict[str, int] = {}
    try:
        for split, batch in batches:
            if split not in handles:
                handles[split] = open(folder / f"{split}.txt", "w", encoding="utf-8", newline="")
                counts[split] = 0
            for record in batch:
                value = record.get(output.text_field)
                if not isinstance(value, str):
                    raise AugkitError(f"output {output.path!r}: record {record['id']!r} has no text field "
                                      f"{output.text_field!r}")
                handles[split].write(value + output.separator)
            counts[split] += len(batch)
    finally:
        for handle in handles.values():
            handle.close()
    return [{"path": f"{split}.txt", "split": split, "records": counts[split]} for split in sorted(counts)]


def _write_save_to_disk(output: Output, batches, folder: Path) -> list[dict[str, Any]]:
    import datasets
    import pyarrow as pa

    tables: dict[str, list] = {}
    for split, batch in batches:
        schema = tables[split][0].schema if tables.get(split) else None
        tables.setdefault(split, []).append(_arrow_batch(output, batch, schema))
    splits = {split: datasets.Dataset(pa.concat_tables(parts)) for split, parts in tables.items()}
    datasets.DatasetDict(splits).save_to_disk(str(folder))
    return [{"path": split, "split": split, "records": len(dataset)} for split, dataset in sorted(splits.items())]


_WRITERS = {"parquet": _write_parquet, "jsonl": _write_jsonl, "text": _write_text,
            "save_to_disk": _write_save_to_disk}
