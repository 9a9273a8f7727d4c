"""The stage contract: one small job over a batch of records, with a reason for every drop.

A record is a plain dict: `id` (str, unique within a run), `text` (str) or `tokens` (list[str]) with
aligned `labels`/`upos` (list[str]), `lang` (FLORES code, see augment.languages), `source` (name of
the recipe source), `doc` (document id or None) and `meta` (dict of anything a stage adds: language
scores, the kept representative of a duplicate, a scheme signature). Parallel text keeps the other
side(s) in `meta["translations"]` keyed by FLORES code (see corpora.records).

A stage is a frozen dataclass: its fields are its configuration (the YAML parameters of a recipe
step), `name` is the key recipes use, and `process` is a pure function of (config, batch). Counting,
rejected-record writing, caching, fingerprints and parallelism live once, in the engine; a stage never
does its own bookkeeping. A stage with `global_view = True` (deduplication across the whole run, for
instance) receives every record of the run at once, in the engine's canonical order.

Rules the engine relies on (it checks them and fails the run, naming the stage, when one is broken):
- Every input record comes back: kept (same `id`), dropped with a reason code, or used to make
  new records. A record made from inputs (a sentence of a document, an up-sampled copy, one SFT
  example per direction, a packed document) has a new `id` and lists its inputs' ids in
  `meta["parents"]` (corpora.stages.common.derive does this). The engine counts inputs used that way
  as `consumed` and the new records as `derived`, and checks, per stage,
  `in - consumed + derived = out + dropped` (for 1:1 stages simply `in = out + dropped`), that no input
  went missing, and that no record came back twice.
- A stage with a field named `seed` that the recipe step leaves unset gets the recipe's seed.
- Stages are picklable (they run in worker processes, and later under Ray Data's `map_batches`).
  Load heavy models lazily, in a cache keyed by the stage's config, never in `__init__`.
- `process_stream` (optional, global-view stages only): see every record batch by batch in
  canonical order, and yield outputs as you go, keeping only the state you need (hashes, MinHash
  signatures) so memory does not grow with the corpus. The engine passes a re-iterable: each
  `for batch in batches` reads the batches again, so a stage may make two passes (find each
  duplicate class's representative, then emit). The outputs, concatenated, must equal what
  `process` returns for all records at once. The default collects the batches and calls `process`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from augment.errors import AugkitError

Record = dict[str, Any]


@dataclass
class StageOutput:
    kept: list[Record]
    dropped: list[tuple[Record, str]]  # (record, reason code such as "too_short")


class Stage:
    name: ClassVar[str]
    global_view: ClassVar[bool] = False
    # Writes meta["split"]: the engine then reports the texts its splits share (corpora.overlap).
    assigns_split: ClassVar[bool] = False

    def process(self, batch: list[Record]) -> StageOutput:
        raise NotImplementedError

    def process_stream(self, batches: Iterable[list[Record]]) -> Iterator[StageOutput]:
        """Global-view stages: all records, batch by batch (re-iterable); override to keep memory flat."""
        records = [record for batch in batches for record in batch]
        yield self.process(records)

    def config(self) -> dict[str, Any]:
        """The parameters that determine this stage's output (recorded in the manifest, fingerprinted)."""
        return dataclasses.asdict(self)


STAGES: dict[str, type[Stage]] = {}


def register(cls: type[Stage]) -> type[Stage]:
    if cls.name in STAGES:
        raise ValueError(f"stage {cls.name!r} registered twice")
    STAGES[cls.name] = cls
    return cls


def load_stage_modules() -> None:
    """Import every module of corpora.stages, which registers the stages they define."""
    import importlib
    import pkgutil

    import corpora.stages

    for module in pkgutil.iter_modules(corpora.stages.__path__):
        importlib.import_module(f"corpora.stages.{module.name}")


def build_stage(spec: dict[str, Any], where: str = "recipe", seed: int | None = None) -> Stage:
    """`{"stage": "filter_length", "min_chars": 5}` -> a configured stage; unknown names or keys are errors."""
    load_stage_modules()
    params = dict(spec)
    name = params.pop("stage", None)
    if name not in STAGES:
        raise AugkitError(f"{where}: unknown stage {name!r}; known stages: {', '.join(sorted(STAGES))}")
    cls = STAGES[name]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise AugkitError(f"{where}: stage {name!r} has no parameter(s) {unknown}; it takes {sorted(known)}")
    if seed is not None and "seed" in known and "seed" not in params:
        params["seed"] = seed
    try:
        return cls(**params)
    except (TypeError, ValueError) as error:
        raise AugkitError(f"{where}: stage {name!r}: {error}") from error

