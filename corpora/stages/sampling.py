"""`mix`, `split` and `sample`: seeded choices that depend only on the seed and record ids/keys.

Each choice is made by hashing (seed, key) with BLAKE2b, so it is the same on every machine and in
every process, does not depend on the order of records, and a record's fate does not change when
other records are added (except where a stage promises exact counts: `mix`, `sample` with `count`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from augment.errors import AugkitError
from corpora.stage import Record, Stage, StageOutput, register
from corpora.stages.common import (
    KeyedGlobalStage,
    derive,
    natural_order,
    normalised_key,
    record_texts,
    stable_hash,
    unit_interval,
    with_meta,
)
from corpora.unionfind import UnionFind


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, not {seed!r}")


def _check_key(key) -> None:
    if not isinstance(key, str) or not (key in ("doc", "id", "source", "lang") or key.startswith("meta.")):
        raise ValueError(f"key must be doc, id, source, lang or meta.<name>, not {key!r}")


def group_value(record: Record, key: str) -> str:
    """The value of `key` that groups records; a record without a `doc` is its own document."""
    if key == "doc":
        return str(record["doc"]) if record.get("doc") is not None else f"id:{record['id']}"
    if key.startswith("meta."):
        meta = record.get("meta") or {}
        name = key[len("meta."):]
        if name not in meta:
            raise AugkitError(f"record {record.get('id')!r} has no meta[{name!r}] to group by")
        return str(meta[name])
    if record.get(key) is None:
        raise AugkitError(f"record {record.get('id')!r} has no {key!r} to group by")
    return str(record[key])


def apportion(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Integers proportional to `weights` that sum to `total` (largest remainder; ties by name)."""
    weight_sum = sum(weights.values())
    quotas = {name: total * weight / weight_sum for name, weight in weights.items()}
    counts = {name: math.floor(quota) for name, quota in quotas.items()}
    by_remainder = sorted(quotas, key=lambda name: (-(quotas[name] - counts[name]), name))
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


@register
@dataclass(frozen=True)
class Mix(KeyedGlobalStage, Stage):
    """Mix sources in given proportions, down-sampling or up-sampling each source.

    Proportions are exact: the output has `total` records (default: as many as the input), and each
    source contributes its share of it, rounded by the largest-remainder method (ties by source
    name). A source with fewer records than its share is up-sampled: every record appears
    `share // n` times and the first `share % n` records in seeded hash order once more. A record
    that appears once keeps its id; one that appears k > 1 times is replaced by k copies with ids
    `<id>/copy1` ... `<id>/copy<k>` and `meta["parents"] = [id]`. A source with more records keeps
    the first `share` records in seeded hash order and drops the rest. Every source present must be
    listed (a proportion of 0 drops the whole source); a listed source with no records is an error.

    proportions: {source: weight}; weights are normalised to sum to 1.
    total: number of output records, or None for the number of input records.
    seed: decides which records are kept or copied.
    Reasons: `downsampled`.

    For executors: the groups are the sources; `plan_groups(counts)` gives each source's output size
    from the per-source input counts (a group-by count), and `process_group(records, target)` is the
    per-source choice (a group-by map)."""

    name: ClassVar[str] = "mix"
    needs_group_sizes: ClassVar[bool] = True

    proportions: dict[str, float] = field(default_factory=dict)
    total: int | None = None
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.proportions, dict) or not self.proportions:
            raise ValueError("proportions must be a mapping {source: weight} with at least one source")
        for source, weight in self.proportions.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0 or math.isnan(weight):
                raise ValueError(f"proportion of source {source!r} must be a non-negative number, not {weight!r}")
        if sum(self.proportions.values()) <= 0:
            raise ValueError("proportions must not all be 0")
        if self.total is not None and (isinstance(self.total, bool) or not isinstance(self.total, int) or self.total < 0):
            raise ValueError(f"total must be a non-negative integer, not {self.total!r}")
        _check_seed(self.seed)

    def group_key(self, record: Record) -> str | None:
        return record.get("source")

    def plan_groups(self, counts: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(counts) - set(self.proportions))
        if unknown:
            raise AugkitError(
                f"mix: source(s) {unknown} have no proportion; list every source (0 drops a source)"
            )
        total = sum(counts.values()) if self.total is None else self.total
        targets = apportion(total, self.proportions)
        empty = sorted(source for source, target in targets.items() if target and not counts.get(source))
        if empty:
            raise AugkitError(f"mix: source(s) {empty} have a proportion but no records reached this stage")
        return targets

    def process_group(self, records: list[Record], target: Any = None) -> StageOutput:
        order = sorted(records, key=lambda r: (unit_interval("mix", self.seed, r["id"]), natural_order(r["id"]), r["id"]))
        copies, extra = divmod(target, len(records)) if records else (0, 0)
        times = {id(record): copies + (rank < extra) for rank, record in enumerate(order)}
        kept, dropped = [], []
        for record in records:
            count = times[id(record)]
            if count == 0:
                dropped.append((record, "downsampled"))
            elif count == 1:
                kept.append(record)
            else:
                kept.extend(derive(record, f"{record['id']}/copy{k}", [record["id"]]) for k in range(1, count + 1))
        return StageOutput(kept=kept, dropped=dropped)


@register
@dataclass(frozen=True)
class Split(Stage):
    """Assign every record to a split (train/dev/test) by hashing its group key with the seed, so that
    no text is on both sides of a split.

    All records of a group (by default the document, `doc`) land in the same split; a record without
    a `doc` is its own group. A group's split depends only on (seed, group value). With
    `group_duplicates` (the default), records that share a text (any of `text`, tokens or a side in
    `meta["translations"]`, compared after `normalised_key`: NFKC, case-folded, whitespace collapsed)
    are also kept together, transitively: all of them go to the split that comes first in
    `fractions` among their groups' splits (usually train), and the other records of their groups
    stay where their group is. So a document whose line recurs in a training document gives up that
    line to train, and no text is on both sides. This needs every record at once (`global_view`).
    The fractions are expected fractions of groups, not exact counts (with few documents a split can
    be empty). The split is written to `meta["split"]`. Drops nothing.

    fractions: {split name: fraction}, summing to 1, in the order the unit interval is cut.
    key: doc (default), id, source, lang or meta.<name>.
    group_duplicates: keep records sharing a text in one split (default true).
    seed: decides the assignment."""

    name: ClassVar[str] = "split"
    assigns_split: ClassVar[bool] = True

    fractions: dict[str, float] = field(default_factory=lambda: {"train": 0.8, "dev": 0.1, "test": 0.1})
    key: str = "doc"
    group_duplicates: bool = True
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.fractions, dict) or not self.fractions:
            raise ValueError("fractions must be a mapping {split name: fraction}, e.g. {train: 0.9, test: 0.1}")
        for split, fraction in self.fractions.items():
            if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction <= 1:
                raise ValueError(f"fraction of split {split!r} must be a number between 0 and 1, not {fraction!r}")
        if not math.isclose(sum(self.fractions.values()), 1.0, abs_tol=1e-9):
            raise ValueError(f"fractions must sum to 1, not {sum(self.fractions.values())}")
        if not isinstance(self.group_duplicates, bool):
            raise ValueError(f"group_duplicates must be true or false, not {self.group_duplicates!r}")
        _check_key(self.key)
        _check_seed(self.seed)

    @property
    def global_view(self) -> bool:
        return self.group_duplicates

    def assign(self, group: str) -> str:
        point = unit_interval("split", self.seed, group)
        bound = 0.0
        for split, fraction in self.fractions.items():
            bound += fraction
            if point < bound:
                return split
        return next(split for split, fraction in reversed(self.fractions.items()) if fraction > 0)

    def process(self, batch: list[Record]) -> StageOutput:
        return next(iter(self.process_stream([batch])))

    def process_stream(self, batches: Iterable[list[Record]]) -> Iterator[StageOutput]:
        """Two passes over re-iterable `batches`: join the records' texts into classes (union-find
        over text hashes, with each class's earliest split), then label every batch. A one-shot
        iterator is collected first."""
        if iter(batches) is batches:
            batches = list(batches)
        order = {split: rank for rank, split in enumerate(self.fractions)}
        classes = _TextClasses()
        if self.group_duplicates:
            for batch in batches:
                for record in batch:
                    classes.add(_text_keys(record), order[self.assign(group_value(record, self.key))])
        splits = list(self.fractions)
        for batch in batches:
            kept = []
            for record in batch:
                rank = classes.rank(_text_keys(record)) if self.group_duplicates else None
                split = splits[rank] if rank is not None else self.assign(group_value(record, self.key))
                kept.append(with_meta(record, split=split))
            yield StageOutput(kept=kept, dropped=[])


def _text_keys(record: Record) -> set[bytes]:
    return {stable_hash(key) for key in map(normalised_key, record_texts(record)) if key}


class _TextClasses:
    """Classes of texts joined by the records that hold them (union-find), each with its earliest
    split rank and how many records hold its texts."""

    def __init__(self):
        self.texts = UnionFind()
        self.records: dict[bytes, int] = {}  # per root
        self.best: dict[bytes, int] = {}  # per root

    def add(self, keys: set[bytes], rank: int) -> None:
        if not keys:
            return
        roots = {self.texts.find(key) for key in keys}
        first = min(roots)  # any choice would do; min keeps it independent of set order
        records, best = 1, rank
        for other in roots:
            records += self.records.pop(other, 0)
            best = min(best, self.best.pop(other, rank))
            self.texts.union(first, other)
        self.records[first], self.best[first] = records, best

    def rank(self, keys: set[bytes]) -> int | None:
        """The class's split rank when the record shares a text with another record, else None."""
        if not keys:
            return None
        root = self.texts.find(next(iter(keys)))
        return self.best[root] if self.records[root] > 1 else None


@register
@dataclass(frozen=True)
class Sample(Stage):
    """Keep a seeded sample of records, whole groups at a time.

    fraction: keep each group with this probability (an expected fraction; streaming; a record's
      fate never changes when records are added).
    count: keep exactly this many records (all of them when there are fewer): the records of the
      groups with the smallest seeded hashes, the last group possibly in part (by natural id order).
      Needs every record at once (`global_view`).
    Give exactly one of fraction and count.
    key: id (default), doc, source, lang or meta.<name>. seed: decides the sample.
    Reasons: `not_sampled`."""

    name: ClassVar[str] = "sample"

    fraction: float | None = None
    count: int | None = None
    key: str = "id"
    seed: int = 0

    def __post_init__(self):
        if (self.fraction is None) == (self.count is None):
            raise ValueError("give exactly one of fraction and count")
        if self.fraction is not None and (
            isinstance(self.fraction, bool) or not isinstance(self.fraction, int | float) or not 0 <= self.fraction <= 1
        ):
            raise ValueError(f"fraction must be a number between 0 and 1, not {self.fraction!r}")
        if self.count is not None and (isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 0):
            raise ValueError(f"count must be a non-negative integer, not {self.count!r}")
        _check_key(self.key)
        _check_seed(self.seed)

    @property
    def global_view(self) -> bool:
        return self.count is not None

    def _rank(self, record: Record) -> tuple:
        group = group_value(record, self.key)
        return unit_interval("sample", self.seed, group), group, natural_order(record["id"]), record["id"]

    def process(self, batch: list[Record]) -> StageOutput:
        if self.count is not None:
            chosen = {id(record) for record in sorted(batch, key=self._rank)[: self.count]}
            keep = [id(record) in chosen for record in batch]
        else:
            keep = [self._rank(record)[0] < self.fraction for record in batch]
        kept = [record for record, taken in zip(batch, keep, strict=True) if taken]
        dropped = [(record, "not_sampled") for record, taken in zip(batch, keep, strict=True) if not taken]
        return StageOutput(kept=kept, dropped=dropped)
