"""Training data for the finetune commands: load records, pick their fields, pack them into blocks.

Inputs (`load_records`): a `.jsonl`, `.parquet`, `.csv`, `.tsv` or `.txt` file (one text per line;
with `txt_unit="paragraph"`, texts are separated by blank lines and keep their inner newlines, as
in the corpus builder's CPT text output),
a Hugging Face `save_to_disk` directory (a Dataset, or a DatasetDict from which `split` is taken,
"train" by default), or a directory of such files (the corpus builder's output: `train.jsonl`,
`dev.jsonl`, ...; with `split` only the files whose name starts with it). `PATH:SPLIT` is
shorthand for `split`, e.g. `out/corpus:dev`.

Record kinds:
- text: a `text` field (or `text_field`), used by CPT and perplexity;
- prompt-response: `prompt` and `response` fields (or `prompt_field` / `response_field`);
- messages: a `messages` list of `{"role", "content"}` dicts (chat), used by SFT.
A record missing the field its command needs is an error naming the file and line, never skipped.

Packing (`pack_blocks`): texts are tokenised into one int32 stream, joined with the end-of-text
token, and cut into blocks of `block_size` on access (`PackedBlocks`); only the last block is
padded, so the non-padding fraction is reported and is normally above 99% (`PackingStats`). `pad_examples` is the un-packed baseline the benchmark
compares against (one text per row, truncated, padded to the longest in its batch).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augment.errors import AugkitError, InputError
from augment.formats import format_from_path, read_lines, read_table

Record = dict[str, Any]
TXT_UNITS = ("line", "paragraph")
_FILE_SUFFIXES = (".jsonl", ".parquet", ".csv", ".tsv", ".txt")
IGNORE_INDEX = -100  # label value the loss skips (PyTorch's cross-entropy default)


@dataclass
class SourcedRecord:
    """A record and where it came from, so errors can name the file and line."""

    record: Record
    path: str
    line: int


def load_records(path: str | Path, split: str | None = None, txt_unit: str = "line") -> list[SourcedRecord]:
    """Every record of a file, a save_to_disk dataset or a directory of files (see the module docstring)."""
    if txt_unit not in TXT_UNITS:
        raise AugkitError(f"unknown text unit {txt_unit!r}; use {' or '.join(TXT_UNITS)}")
    path_text = str(path)
    if split is None and ":" in path_text and not Path(path_text).exists():
        path_text, split = path_text.rsplit(":", 1)
    location = Path(path_text)
    if not location.exists():
        raise AugkitError(f"{path_text}: no such file or directory")
    if location.is_dir():
        if (location / "dataset_info.json").is_file() or (location / "dataset_dict.json").is_file():
            return _load_saved_dataset(location, split)
        files = sorted(
            p for p in location.iterdir()
            if p.is_file() and p.name.endswith(_FILE_SUFFIXES) and (split is None or p.name.startswith(split))
        )
        if not files:
            wanted = f" for split {split!r}" if split else ""
            raise AugkitError(f"{path_text}: no data files{wanted} ({', '.join(_FILE_SUFFIXES)})")
        return [item for file in files for item in _load_file(file, txt_unit)]
    return _load_file(location, txt_unit)


def _load_file(path: Path, txt_unit: str) -> list[SourcedRecord]:
    fmt = format_from_path(path)
    if fmt == "txt" and txt_unit == "paragraph":
        return _paragraphs(path)
    if fmt == "txt":
        return [SourcedRecord({"text": line}, str(path), number)
                for number, line in enumerate(read_lines(path), start=1) if line.strip()]
    if fmt == "jsonl":
        records = []
        for number, line in enumerate(read_lines(path), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(path, f"invalid JSON: {error.msg} (column {error.colno})", line=number) from None
            if not isinstance(row, dict):
                raise InputError(path, f"expected a JSON object, got {type(row).__name__}", line=number)
            records.append(SourcedRecord(row, str(path), number))
        return records
    if fmt in ("csv", "tsv", "parquet"):
        header = 0 if fmt == "parquet" else 1  # csv/tsv line numbers count the header row
        table = read_table(path, fmt)
        return [SourcedRecord(row, str(path), index + 1 + header) for index, row in enumerate(table.rows)]
    raise AugkitError(f"{path}: unsupported data format {fmt!r}; use jsonl, parquet, csv, tsv or txt")


def _paragraphs(path: Path) -> list[SourcedRecord]:
    """Blank-line-separated texts of a .txt file; each record's line is its first line."""
    records, lines, first = [], [], 0
    for number, line in enumerate(read_lines(path), start=1):
        if line.strip():
            first = first or number
            lines.append(line)
        elif lines:
            records.append(SourcedRecord({"text": "\n".join(lines)}, str(path), first))
            lines, first = [], 0
    if lines:
        records.append(SourcedRecord({"text": "\n".join(lines)}, str(path), first))
    return records


def _load_saved_dataset(location: Path, split: str | None) -> list[SourcedRecord]:
    import datasets

    loaded = datasets.load_from_disk(str(location))
    if isinstance(loaded, datasets.DatasetDict):
        chosen = split or "train"
        if chosen not in loaded:
            raise AugkitError(f"{location}: no split {chosen!r}; splits: {', '.join(loaded)}")
        loaded = loaded[chosen]
    return [SourcedRecord(row, str(location), index + 1) for index, row in enumerate(loaded)]


def texts_of(records: Sequence[SourcedRecord], field: str = "text") -> list[str]:
    """The `field` of every record (CPT, perplexity); a missing or non-string field is an error."""
    texts = []
    for item in records:
        value = item.record.get(field)
        if not isinstance(value, str):
            raise InputError(item.path, f"record has no text field {field!r} (fields: {', '.join(item.record)})",
                             line=item.line)
        if value.strip():
            texts.append(value)
    if not texts:
        raise AugkitError(f"no non-empty {field!r} texts in the data")
    return texts


def conversations_of(
    records: Sequence[SourcedRecord], prompt_field: str = "prompt", response_field: str = "response",
    messages_field: str = "messages", prompt_template: str = "{prompt}",
) -> list[list[dict[str, str]]]:
    """Each record as chat messages: a `messages` list as is, or prompt/response as user/assistant turns.

    `prompt_template` words a prompt/response record's prompt (`{prompt}` is replaced by its text).
    """
    if "{prompt}" not in prompt_template:
        raise AugkitError(f"prompt template {prompt_template!r} has no {{prompt}} placeholder")
    conversations = []
    for item in records:
        record = item.record
        if messages_field in record:
            messages = record[messages_field]
            if (not isinstance(messages, list) or not messages
                    or not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages)):
                raise InputError(item.path, f"{messages_field!r} must be a list of {{role, content}} objects",
                                 line=item.line)
            if messages[-1]["role"] != "assistant":
                raise InputError(item.path, "the last message must be the assistant's (the trained response)",
                                 line=item.line)
            conversations.append([{"role": str(m["role"]), "content": str(m["content"])} for m in messages])
        elif isinstance(record.get(prompt_field), str) and isinstance(record.get(response_field), str):
            conversations.append([{"role": "user", "content": prompt_template.replace("{prompt}", record[prompt_field])},
                                  {"role": "assistant", "content": record[response_field]}])
        else:
            raise InputError(
                item.path,
                f"record needs {messages_field!r} or {prompt_field!r} + {response_field!r} "
                f"(fields: {', '.join(record)})", line=item.line,
            )
    return conversations


def split_heldout(records: list[SourcedRecord], fraction: float, seed: int,
                  text_fields: Sequence[str] = ("text",)) -> tuple[list, list]:
    """(train, held-out): about `fraction` of the records held out in whole groups, so that no
    document and no text is on both sides.

    A group joins, transitively, the records of one document (`doc`; a record whose `doc` is
    missing or null is a document of its own), the records derived from one record (the corpus
    builder's `meta["parents"]`: its SFT records put the source inside an instruction, and the two
    translation directions of a pair share their parent) and the records that share a text in any
    of `text_fields` (`normalised_texts`), whichever field holds it: the source of one translation
    pair is the target of the pair in the other direction. Groups are shuffled with `seed`, in an order
    that does not depend on the order of the records, and held out one by one while the held-out
    set stays within `fraction` of the records; a group too large to fit is passed over.
    """
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not 0 < fraction < 1:
        raise AugkitError(f"held-out fraction must be between 0 and 1, got {fraction}")
    keys: dict[str, int] = {}  # group key -> its node in the graph, after the records' nodes
    record_nodes, key_nodes = [], []
    for index, item in enumerate(records):
        for key in _group_keys(item.record, text_fields):
            record_nodes.append(index)
            key_nodes.append(keys.setdefault(key, len(records) + len(keys)))
    nodes = len(records) + len(keys)
    graph = coo_matrix((np.ones(len(record_nodes), dtype=np.int8), (record_nodes, key_nodes)), shape=(nodes, nodes))
    _, component = connected_components(graph, directed=False)
    # A group is named by the smallest key among its records (or the record itself when it has none),
    # so the shuffle sees the same groups in the same order whatever order the records came in.
    names: dict[int, str] = {}
    for key, node in keys.items():
        names[component[node]] = min(key, names.get(component[node], key))
    members: dict[str, list[int]] = {}
    for index, item in enumerate(records):
        name = names.get(component[index]) or "record\t" + json.dumps(item.record, sort_keys=True, default=str)
        members.setdefault(name, []).append(index)
    groups = sorted(members)
    random.Random(seed).shuffle(groups)
    target, chosen = max(1, round(len(records) * fraction)), set()
    for name in groups:
        if len(chosen) + len(members[name]) <= target:
            chosen.update(members[name])
    if not chosen or len(chosen) == len(records):
        smallest = min(len(indices) for indices in members.values())
        raise AugkitError(f"cannot hold out {fraction:g} of {len(records)} records: the smallest group of records "
                          f"sharing a document or a text has {smallest}; give --eval-data or a larger fraction")
    train = [item for index, item in enumerate(records) if index not in chosen]
    return train, [item for index, item in enumerate(records) if index in chosen]


def _group_keys(record: Record, text_fields: Sequence[str]) -> list[str]:
    """What joins a record to others in `split_heldout`: its document, its parents, its texts."""
    meta = record.get("meta")
    parents = (meta.get("parents") or []) if isinstance(meta, dict) else []
    return ([f"doc\t{record['doc']}"] if record.get("doc") is not None else []) \
        + [f"parent\t{parent}" for parent in parents] \
        + [f"text\t{text}" for text in sorted(normalised_texts(record, text_fields))]


TEXT_NORMALISATION = "NFKC, case-folded, whitespace collapsed"


def normalised_texts(record: Record, fields: Sequence[str]) -> set[str]:
    """The texts of a record's `fields`, normalised as dedup's key (`TEXT_NORMALISATION`); a
    `messages` list gives its user and assistant turns (a system prompt shared by every record
    would join them all in `split_heldout`)."""
    from corpora.stages.common import normalised_key

    texts = []
    for field in fields:
        value = record.get(field)
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list):
            texts += [m["content"] for m in value if isinstance(m, dict) and isinstance(m.get("content"), str)
                      and m.get("role") != "system"]
    return {key for key in (normalised_key(text) for text in texts) if key}


@dataclass
class PackingStats:
    texts: int
    tokens: int  # real tokens, end-of-text separators included
    blocks: int
    block_size: int

    @property
    def non_padding_fraction(self) -> float:
        return self.tokens / (self.blocks * self.block_size) if self.blocks else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"texts": self.texts, "tokens": self.tokens, "blocks": self.blocks, "block_size": self.block_size,
                "non_padding_fraction": round(self.non_padding_fraction, 6)}


class PackedBlocks:
    """Fixed-length causal-LM examples over one token stream (int32, 4 bytes a token), built on access.

    A sequence of dicts (input_ids, attention_mask, labels as lists), so the Trainer, a DataLoader
    or a plain loop can use it; only the last block has padding (label -100, attention 0).
    """

    def __init__(self, stream, block_size: int, pad_token_id: int):
        self.stream, self.block_size, self.pad_token_id = stream, block_size, pad_token_id

    def __len__(self) -> int:
        return -(-len(self.stream) // self.block_size)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        chunk = self.stream[index * self.block_size:(index + 1) * self.block_size].tolist()
        padding = self.block_size - len(chunk)
        return {
            "input_ids": chunk + [self.pad_token_id] * padding,
            "attention_mask": [1] * len(chunk) + [0] * padding,
            "labels": chunk + [IGNORE_INDEX] * padding,
        }


def pack_blocks(tokenizer, texts: Sequence[str], block_size: int, batch: int = 2000) -> tuple[PackedBlocks, PackingStats]:
    """Causal-LM examples: texts joined by end-of-text and cut into `block_size` blocks.

    Attention crosses text boundaries inside a block, as in standard pre-training packing; the
    end-of-text token tells the model where a text stops. Texts are tokenised `batch` at a time
    into an int32 stream, so a corpus of tens of millions of tokens stays small in memory.
    """
    import numpy as np

    if block_size < 2:
        raise AugkitError(f"block size must be at least 2, got {block_size}")
    separator = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    parts = []
    for start in range(0, len(texts), batch):
        encoded = tokenizer(list(texts[start:start + batch]), add_special_tokens=False)["input_ids"]
        parts.append(np.fromiter((t for ids in encoded for t in (*ids, separator)), dtype=np.int32))
    stream = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    blocks = PackedBlocks(stream, block_size, tokenizer.pad_token_id)
    return blocks, PackingStats(len(texts), len(stream), len(blocks), block_size)


def evenly(items: Sequence, limit: int | None) -> Sequence:
    """At most `limit` items spread evenly over `items` (`items` itself when limit is None)."""
    if limit is None or len(items) <= limit:
        return items
    if limit < 1:
        raise AugkitError(f"evaluation limit must be at least 1, got {limit}")
    return [items[i * len(items) // limit] for i in range(limit)]


def pad_examples(tokenizer, texts: Sequence[str], block_size: int) -> list[dict[str, list[int]]]:
    """The un-packed baseline: one text per example, truncated to `block_size` (padding is left to the collator)."""
    separator = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    examples = []
    for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        ids = (ids + [separator])[:block_size]
        examples.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": list(ids)})
    return examples


def pad_batch(examples: Sequence[dict[str, list[int]]], pad_token_id: int) -> dict[str, Any]:
    """Right-pad a batch to its longest example; padded labels are -100 so the loss skips them."""
    import torch

    width = max(len(example["input_ids"]) for example in examples)
    batch: dict[str, list[list[int]]] = {"input_ids": [], "attention_mask": [], "labels": []}
    for example in examples:
        padding = width - len(example["input_ids"])
        batch["input_ids"].append(list(example["input_ids"]) + [pad_token_id] * padding)
        batch["attention_mask"].append(list(example["attention_mask"]) + [0] * padding)
        batch["labels"].append(list(example["labels"]) + [IGNORE_INDEX] * padding)
    return {key: torch.tensor(value) for key, value in batch.items()}
