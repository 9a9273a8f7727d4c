"""Texts shared between splits: what a build reports so that "held out" can be checked.

A record's texts are its `text` (or tokens), every side in `meta["translations"]`, and for training
examples the `response` or the assistant's turns; each is compared after `normalised_key` (NFKC,
case-folded, whitespace collapsed), exactly. For every pair of splits the report counts the distinct
texts found on both sides; anything above zero means a held-out score may measure memorised text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import combinations
from typing import Any

from corpora.stage import Record
from corpora.stages.common import normalised_key, record_texts, stable_hash

NORMALISATION = "NFKC, case-folded, whitespace collapsed"


def split_overlap(records: Iterable[Record], split_of: Callable[[Record], str | None]) -> list[dict[str, Any]]:
    """[{"splits": [a, b], "shared_texts": n}] for every pair of splits, in name order."""
    keys: dict[str, set[bytes]] = {}
    for record in records:
        split = split_of(record)
        if split is None:
            continue
        bucket = keys.setdefault(str(split), set())
        for text in record_texts(record):
            key = normalised_key(text)
            if key:
                bucket.add(stable_hash(key))
    return [{"splits": [first, second], "shared_texts": len(keys[first] & keys[second])}
            for first, second in combinations(sorted(keys), 2)]
