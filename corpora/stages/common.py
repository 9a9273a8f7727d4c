"""What several stages share: seeded hashing, record text, derived records, keyed global stages."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

import regex

from augment.errors import AugkitError
from augment.languages import script as language_script
from corpora.stage import Record, StageOutput

_PUNCTUATION = regex.compile(r"[\p{P}\p{S}]+")


def stable_hash(*parts: Any) -> bytes:
    """A digest of `parts` that is the same in every process and on every machine.

    Python's `hash()` is salted per process, so it must never decide anything a stage outputs."""
    text = "\x1f".join(str(part) for part in parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def unit_interval(*parts: Any) -> float:
    """A uniform-looking number in [0, 1) determined by `parts` (e.g. seed and record id)."""
    return int.from_bytes(stable_hash(*parts)[:8], "big") / 2**64


def natural_order(identifier: str) -> list:
    """Sort key that puts `s:9` before `s:10` (digits compare as numbers)."""
    parts = re.split(r"(\d+)", identifier)
    return [int(part) if index % 2 else part for index, part in enumerate(parts)]


def record_text(record: Record) -> str:
    """The record's text; a token record reads as its tokens joined by single spaces."""
    if record.get("text") is not None:
        return record["text"]
    if record.get("tokens") is not None:
        return " ".join(record["tokens"])
    raise AugkitError(f"record {record.get('id')!r} has neither 'text' nor 'tokens'")


def record_texts(record: Record) -> list[str]:
    """Every text a record holds: its text (or tokens), each side in `meta["translations"]`, and a
    training example's `response` or assistant turns."""
    texts = []
    if record.get("text") is not None:
        texts.append(record["text"])
    elif record.get("tokens") is not None:
        texts.append(" ".join(record["tokens"]))
    texts.extend(str(value) for value in ((record.get("meta") or {}).get("translations") or {}).values())
    if isinstance(record.get("response"), str):
        texts.append(record["response"])
    for message in record.get("messages") or ():
        if isinstance(message, dict) and message.get("role") == "assistant":
            texts.append(str(message.get("content")))
    return texts


def normalised_key(text: str, casefold: bool = True, ignore_punctuation: bool = False) -> str:
    """The text two records are compared on (deduplication, split grouping, split overlap): NFKC,
    case-folded (unless `casefold` is false), optionally without punctuation and symbols,
    whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    if casefold:
        text = text.casefold()
    if ignore_punctuation:
        text = _PUNCTUATION.sub(" ", text)
    return " ".join(text.split())  # str.split's whitespace is exactly re's \s, and 4x faster


def record_script(record: Record, script: str | None) -> str:
    """The ISO 15924 script a stage should assume: its own `script` setting, else the record's `lang`."""
    if script is not None:
        return script
    if not record.get("lang"):
        raise AugkitError(
            f"record {record.get('id')!r} has no 'lang'; give the stage an explicit 'script' (e.g. Latn)"
        )
    return language_script(record["lang"])


def check_script(script: str | None) -> None:
    """ValueError unless `script` is None (take it from `lang`) or looks like an ISO 15924 code."""
    if script is not None and not (isinstance(script, str) and re.fullmatch(r"[A-Z][a-z]{3}", script)):
        raise ValueError(f"script must be an ISO 15924 code such as Latn, Arab or Tibt, not {script!r}")


def derive(record: Record, new_id: str, parents: list[str], meta: dict | None = None, **fields: Any) -> Record:
    """A new record made from `record`: a copy with `new_id`, the given fields and `meta["parents"]`."""
    merged_meta = {**(record.get("meta") or {}), **(meta or {}), "parents": parents}
    return {**record, **fields, "id": new_id, "meta": merged_meta}


def with_meta(record: Record, **entries: Any) -> Record:
    """A copy of `record` with `entries` added to its `meta` (records are never changed in place)."""
    return {**record, "meta": {**(record.get("meta") or {}), **entries}}


def batch_order(batch: list[Record]):
    """Sort key that puts output records in the order of `batch`; a derived record (a copy, a packed
    document) stands where the first of its parents stood."""
    position = {record["id"]: index for index, record in enumerate(batch)}

    def where(record: Record) -> int:
        index = position.get(record["id"])
        return index if index is not None else min(position[parent] for parent in record["meta"]["parents"])

    return where


def in_batch_order(batch: list[Record], outputs: list[StageOutput]) -> StageOutput:
    """The kept and the dropped records of `outputs` (made from `batch`), each in batch order."""
    where = batch_order(batch)
    kept = sorted((record for output in outputs for record in output.kept), key=where)
    dropped = sorted((pair for output in outputs for pair in output.dropped), key=lambda pair: where(pair[0]))
    return StageOutput(kept=kept, dropped=dropped)


class KeyedGlobalStage:
    """A global stage that needs every record sharing a key at once (duplicates, a source, a document).

    `process` is exactly: group the batch by `group_key`, run `process_group` on each group, and
    return the kept and the dropped records in batch order. `process_group` must not depend on the
    order of records inside its group, so an executor may group with a shuffle and get the same
    output (the stage declares `grouped`; one whose grouping depends on its configuration makes
    `grouped` a property, and an executor then runs it as one group through `process`).

    Two optional declarations refine the groups:
    - `needs_group_sizes`: every group needs something that depends on the size of all groups
      (`mix`: each source's share of the total). `plan_groups({key: size})` gives it, per key, and
      `process_group(records, plan)` receives its group's entry.
    - `has_link_keys`: a group may be cut further. `link_keys(records)` gives each record's link
      keys; within a group, `process_group` over each set of records joined (transitively) by a
      shared link key equals `process_group` over the whole group (`dedup_near`: LSH buckets).
    """

    global_view = True
    grouped = True
    needs_group_sizes = False
    has_link_keys = False

    def group_key(self, record: Record) -> Any:
        """The group of a record: a hashable value that JSON represents (usually a str)."""
        raise NotImplementedError

    def process_group(self, records: list[Record], plan: Any = None) -> StageOutput:
        raise NotImplementedError

    def plan_groups(self, sizes: dict[Any, int]) -> dict[Any, Any]:
        raise NotImplementedError

    def link_keys(self, records: list[Record]) -> list[list[str]]:
        raise NotImplementedError

    def process(self, batch: list[Record]) -> StageOutput:
        groups: dict[Any, list[Record]] = {}
        for record in batch:
            groups.setdefault(self.group_key(record), []).append(record)
        plan = self.plan_groups({key: len(records) for key, records in groups.items()}) \
            if self.needs_group_sizes else {}
        return in_batch_order(batch, [self.process_group(records, plan.get(key)) for key, records in groups.items()])
