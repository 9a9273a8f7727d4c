"""Writers: records -> files, always atomically (temporary name first, renamed when complete).

Two kinds of writing happen in a build:
- shards (`write_shard` / `read_shard`): the engine's cache, one parquet file per stage and shard in
  the fixed `corpora.records.arrow_schema()`, plus the rejected records of that shard as jsonl;
- outputs (`write_output`): what users load, as a recipe's `outputs:` entry describes it — sharded
  `parquet` or `jsonl`, a `save_to_disk` folder, or plain `text` for continual pre-training — with
  one set of files per split when `split_field` is given.

Every file is first written under a temporary name, `.NAME.augkit-tmp-PID-RANDOM`, that proves augkit
made it (so a later build may remove one a killed run left behind, and nothing else), and renamed
when complete. Files are created with the mode the umask allows, like any other program's. An
OSError while writing (a full disk, a refused permission) becomes one AugkitError naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from augment.errors import AugkitError
from corpora.faults import fault_point
from corpora.records import Record, arrow_schema, from_table, output_row, to_row, to_table

OUTPUT_FORMATS = ("parquet", "jsonl", "text", "save_to_disk")
# What a build writes beside its outputs; an output may not take one of these names.
BUILD_ENTRIES = ("manifest.json", "recipe.yaml", "README.md", "rejected", "plots", "cache")
_TEMPORARY = re.compile(r"\..+\.augkit-tmp-\d+-[0-9a-f]{8}")
_OLD_TEMPORARY = re.compile(r"\..+\.tmp-\d+")  # the name augkit 0.x gave its temporaries


def temporary_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.augkit-tmp-{os.getpid()}-{secrets.token_hex(4)}")


def is_temporary(name: str, old_names: Iterable[str] = ()) -> bool:
    """Whether `name` is a temporary augkit wrote (or, for `old_names`, an older augkit wrote as
    `.NAME.tmp-PID`); nothing else ever matches, so a user's file is never taken for one."""
    if _TEMPORARY.fullmatch(name):
        return True
    return bool(_OLD_TEMPORARY.fullmatch(name)) and name[1:].rsplit(".tmp-", 1)[0] in set(old_names)


def remove(path: Path) -> None:
    """Remove a file or folder augkit wrote (missing is fine)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def os_problem(error: OSError) -> str:
    return os.strerror(error.errno) if error.errno else str(error)


@contextmanager
def writing(path: Path, temporary: Path | None = None) -> Iterator[None]:
    """Turn an OSError while writing `path` into one AugkitError naming it; remove `temporary`."""
    try:
        yield
    except OSError as error:
        if temporary is not None:
            try:
                remove(temporary)
            except OSError:
                pass
        raise AugkitError(f"{error.filename or path}: cannot write: {os_problem(error)}") from error


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digest(path: Path) -> dict[str, Any]:
    """Size and sha256 of a file: what a cache entry is checked against before it is trusted."""
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


def load_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing, empty or not JSON (a damaged state file)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _commit(temporary: Path, path: Path) -> None:
    fault_point(f"temporary-written/{path.parent.name}/{path.name}", path)
    os.replace(temporary, path)


def write_shard(path: Path, records: list[Record]) -> dict[str, Any]:
    """Write a cache shard; returns its row count, size and sha256."""
    import pyarrow.parquet as pq

    temporary = temporary_path(path)
    with writing(path, temporary):
        pq.write_table(to_table(records), temporary)
        digest = {"rows": len(records), **file_digest(temporary)}
        _commit(temporary, path)
    return digest


def read_shard(path: Path) -> list[Record]:
    import pyarrow.parquet as pq

    return from_table(pq.read_table(path, schema=arrow_schema()))


def rejected_line(step: int, stage: str, record: Record, reason: str) -> str:
    return json.dumps({"step": step, "stage": stage, "reason": reason, "record": output_row(record)},
                      ensure_ascii=False, sort_keys=True)


def write_lines_atomic(path: Path, lines: Iterable[str]) -> dict[str, Any]:
    """Write one line per string; returns the line count (`rows`), size and sha256."""
    temporary = temporary_path(path)
    count = 0
    with writing(path, temporary):
        digest = hashlib.sha256()
        with open(temporary, "w", encoding="utf-8", newline="") as handle:
            for line in lines:
                data = line + "\n"
                handle.write(data)
                digest.update(data.encode("utf-8"))
                count += 1
        result = {"rows": count, "bytes": temporary.stat().st_size, "sha256": digest.hexdigest()}
        _commit(temporary, path)
    return result


def write_text_atomic(path: Path, text: str) -> None:
    temporary = temporary_path(path)
    with writing(path, temporary):
        temporary.write_text(text, encoding="utf-8")
        _commit(temporary, path)


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
        object.__setattr__(self, "path", check_output_path(self.path))


def check_output_path(path: Any) -> str:
    """`path` as a clean relative folder name inside a build's output directory, or AugkitError."""
    parts = PurePosixPath(str(path)).parts
    if not parts or PurePosixPath(str(path)).is_absolute() or ".." in parts:
        raise AugkitError(f"output {path!r}: the path must name a folder inside the output directory "
                          "(not the directory itself, not outside it)")
    if parts[0] in BUILD_ENTRIES or any(part.startswith(".") for part in parts):
        raise AugkitError(f"output {path!r}: the build writes {', '.join(BUILD_ENTRIES)} itself and keeps "
                          "hidden names for its own use; choose another path")
    return "/".join(parts)


def write_output(output: Output, records: Iterable[Record], root: Path) -> list[dict[str, Any]]:
    """Write `records` as `output` describes into the new folder `root / output.path`; returns
    [{path, split, records}] per file. Everything is written into a temporary folder renamed at the
    end; an existing folder is never replaced (the engine publishes a build's outputs itself)."""
    final = root / output.path
    if final.exists() or final.is_symlink():
        raise AugkitError(f"{final} already exists; write_output only creates new folders")
    staging = temporary_path(final)
    with writing(final, staging):
        staging.mkdir(parents=True)
        try:
            files = _WRITERS[output.format](output, _grouped(output, records), staging)
        except BaseException:
            remove(staging)
            raise
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
