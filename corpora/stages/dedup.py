"""`dedup_exact` and `dedup_near`: keep one representative of each class of (near-)duplicates.

Both compare a *key text*: NFKC, case-folded (unless `casefold: false`), optionally without
punctuation and symbols, whitespace collapsed. A parallel record's key covers all its sides (`text`
and every `meta["translations"]` entry), so two pairs that share one side only are not duplicates;
with `sides: text` records compare on their own `text` only (one Tibetan line with two different
English translations is then one text).
Both are global stages keyed by scope (see `KeyedGlobalStage`), and both choose the representative
without looking at the order of records: the record whose `source` comes first in `prefer_sources`
(sources not listed come after all listed ones), then the record with the smallest id in natural
order (`s:9` before `s:10`). Every dropped record names its representative in `meta["duplicate_of"]`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from corpora.stage import Record, Stage, StageOutput, register
from corpora.stages.common import (
    KeyedGlobalStage,
    natural_order,
    normalised_key,
    record_text,
    stable_hash,
    with_meta,
)
from corpora.unionfind import UnionFind

_SCOPES = ("global", "source", "lang")
_SIDES = ("all", "text")


@dataclass(frozen=True)
class _DedupConfig:
    scope: str = "global"
    casefold: bool = True
    ignore_punctuation: bool = False
    prefer_sources: tuple[str, ...] = ()
    sides: str = "all"

    def __post_init__(self):
        if self.scope not in _SCOPES:
            raise ValueError(f"scope must be one of {', '.join(_SCOPES)}, not {self.scope!r}")
        if self.sides not in _SIDES:
            raise ValueError(f"sides must be one of {', '.join(_SIDES)}, not {self.sides!r}")
        for key in ("casefold", "ignore_punctuation"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"{key} must be true or false, not {getattr(self, key)!r}")
        if isinstance(self.prefer_sources, str) or not all(isinstance(s, str) for s in self.prefer_sources):
            raise ValueError(f"prefer_sources must be a list of source names, not {self.prefer_sources!r}")
        object.__setattr__(self, "prefer_sources", tuple(self.prefer_sources))

    def scope_key(self, record: Record) -> str:
        return "" if self.scope == "global" else str(record.get(self.scope))

    def key_text(self, record: Record) -> str:
        """The key text; parallel records compare on all their sides (text, then translations by
        code), or with `sides: text` on their own text only."""
        translations = ((record.get("meta") or {}).get("translations") or {}) if self.sides == "all" else {}
        sides = [record_text(record), *(translations[code] for code in sorted(translations))]
        return "\n".join(normalised_key(side, self.casefold, self.ignore_punctuation) for side in sides)

    def rank(self, record: Record) -> tuple:
        """The representative of a class is the record of smallest rank."""
        preferred = self.prefer_sources.index(record.get("source")) if record.get("source") in self.prefer_sources \
            else len(self.prefer_sources)
        return preferred, natural_order(str(record["id"])), str(record["id"])

    def representative(self, records: list[Record]) -> Record:
        return min(records, key=self.rank)


@register
@dataclass(frozen=True)
class DedupExact(KeyedGlobalStage, _DedupConfig, Stage):
    """Drop records whose key text equals that of another record in the same scope.

    scope: `global` (across sources, the default), `source` (only within each source) or `lang`.
    casefold, ignore_punctuation: how the key text is made (see the module docstring).
    sides: `all` (the default: text and every translation) or `text` (the record's own text only).
    prefer_sources: sources whose records are kept first (e.g. genuine text over augmented text).
    Reasons: `duplicate` (with `meta["duplicate_of"]`)."""

    name: ClassVar[str] = "dedup_exact"

    def group_key(self, record: Record) -> str:
        return stable_hash(self.scope_key(record), self.key_text(record)).hex()

    def process_group(self, records: list[Record], plan: Any = None) -> StageOutput:
        keep = self.representative(records)
        dropped = [(with_meta(r, duplicate_of=keep["id"]), "duplicate") for r in records if r is not keep]
        return StageOutput(kept=[keep], dropped=dropped)

    def process_stream(self, batches: Iterable[list[Record]]) -> Iterator[StageOutput]:
        """With re-iterable `batches`, two passes keep memory flat: the first finds each class's
        representative (a hash and an id per class), the second emits every batch's records. The
        output is `process`'s, batch by batch. A one-shot iterator is collected and processed."""
        if iter(batches) is batches:
            yield from Stage.process_stream(self, batches)
            return
        best: dict[str, tuple] = {}
        for batch in batches:
            for record in batch:
                key, rank = self.group_key(record), self.rank(record)
                if key not in best or rank < best[key]:
                    best[key] = rank
        for batch in batches:
            kept, dropped = [], []
            for record in batch:
                representative = best[self.group_key(record)][-1]
                if record["id"] == representative:
                    kept.append(record)
                else:
                    dropped.append((with_meta(record, duplicate_of=representative), "duplicate"))
            yield StageOutput(kept=kept, dropped=dropped)


@register
@dataclass(frozen=True)
class DedupNear(KeyedGlobalStage, _DedupConfig, Stage):
    """Drop near-duplicates: MinHash (datasketch, seeded) over the CRC-32 hashes of the character
    n-grams of the key text, LSH banding tuned by datasketch for `threshold`, and every candidate
    pair verified by its estimated Jaccard similarity. Near-duplicate pairs are joined transitively (connected
    components); each component keeps one representative.

    threshold: Jaccard similarity in (0, 1] at which two records are near-duplicates (default 0.8).
    ngram: characters per shingle (default 5; works for every script, Tibetan and Chinese included).
    num_perm: MinHash permutations (default 128). seed: MinHash seed.
    scope, casefold, ignore_punctuation, prefer_sources: as for dedup_exact.
    Reasons: `near_duplicate` (with `meta["duplicate_of"]` and the estimated `meta["similarity"]`)."""

    name: ClassVar[str] = "dedup_near"
    has_link_keys: ClassVar[bool] = True  # LSH buckets: near-duplicates always share one

    threshold: float = 0.8
    ngram: int = 5
    num_perm: int = 128
    seed: int = 1

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float) or not (
            0 < self.threshold <= 1
        ):
            raise ValueError(f"threshold must be a number in (0, 1], not {self.threshold!r}")
        for key in ("ngram", "num_perm"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive integer, not {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, not {self.seed!r}")

    def group_key(self, record: Record) -> str:
        return self.scope_key(record)

    def signatures(self, records: list[Record]) -> list:
        """The MinHash of each record's character n-grams (datasketch, sharing one permutation set)."""
        from datasketch import MinHash

        # CRC-32 only has to tell shingles apart; the seeded MinHash permutations supply the
        # randomness, and it is a C call, 1.4-1.7x faster here than datasketch's default SHA-1.
        return MinHash.bulk([self._shingles(self.key_text(record)) for record in records],
                            num_perm=self.num_perm, seed=self.seed, hashfunc=zlib.crc32)

    def _shingles(self, text: str) -> list[bytes]:
        # A MinHash is a minimum, so the (salted) iteration order of the set does not matter.
        return [gram.encode("utf-8") for gram in {text[i : i + self.ngram] for i in range(max(1, len(text) - self.ngram + 1))}]

    def band_keys(self, minhash) -> list[bytes]:
        """LSH bucket keys: records sharing one are candidate near-duplicates (a group-by key)."""
        bands, rows = _banding(self.threshold, self.num_perm)
        values = minhash.hashvalues
        return [bytes([band]) + values[band * rows : (band + 1) * rows].tobytes() for band in range(bands)]

    def link_keys(self, records: list[Record]) -> list[list[str]]:
        """Each record's LSH bucket keys: near-duplicates share one, so a group may be cut into the
        records joined by shared buckets."""
        return [[key.hex() for key in self.band_keys(minhash)] for minhash in self.signatures(records)] \
            if records else []

    def process_group(self, records: list[Record], plan: Any = None) -> StageOutput:
        signatures = self.signatures(records)
        buckets: dict[bytes, list[int]] = {}
        for index, minhash in enumerate(signatures):
            for key in self.band_keys(minhash):
                buckets.setdefault(key, []).append(index)
        components = UnionFind(range(len(records)))
        # Components of the graph "shares a bucket and is similar enough": every pair is checked
        # (unless already connected), so the components do not depend on the order of records.
        for members in buckets.values():
            for position, first in enumerate(members):
                for other in members[position + 1 :]:
                    if not components.connected(first, other) and \
                            signatures[first].jaccard(signatures[other]) >= self.threshold:
                        components.union(first, other)
        kept, dropped = [], []
        for members in components.classes().values():
            keep = self.representative([records[i] for i in members])
            keep_index = next(i for i in members if records[i] is keep)
            kept.append(keep)
            for i in members:
                if i != keep_index:
                    similarity = float(signatures[i].jaccard(signatures[keep_index]))
                    marked = with_meta(records[i], duplicate_of=keep["id"], similarity=similarity)
                    dropped.append((marked, "near_duplicate"))
        return StageOutput(kept=kept, dropped=dropped)


@cache
def _banding(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's (bands, rows) for `threshold`; computed once (it integrates numerically)."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r
