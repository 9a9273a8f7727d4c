"""The stage contract: one small job over a batch of records, with a reason for every drop.

A record is a plain dict: `id` (str, unique within a run), `text` (str) or `tokens` (list[str]) with
aligned `labels`/`upos` (list[str]), `lang` (FLORES code, see augment.languages), `source` (name of
the recipe source), `doc` (document id or None) and `meta` (dict of anything a stage adds: language
scores, the kept representative of a duplicate, a scheme signature). Parallel text keeps the other
side(s) in `meta["translations"]` keyed by FLORES code (see corpora.records).

A stage is a frozen dataclass: its fields are its configuration (the YAML parameters of a recipe
step), `name` is the key recipes use, and `process` is a pure function of (config, batch). Counting,
rejected-record writing, caching, fingerprints and parallelism live once, in the builder
(corpora.builder) and its executors; a stage never does its own bookkeeping. A stage with `global_view = True` (deduplication across the whole run, for
instance) receives every record of the run at once, in the engine's canonical order.

Rules the builder relies on (it checks them and fails the run, naming the stage, when one is broken):
- Every input record comes back: kept (same `id`), dropped with a reason code, or used to make
  new records. A record made from inputs (a sentence of a document, an up-sampled copy, one SFT
  example per direction, a packed document) has a new `id` and lists its inputs' ids in
  `meta["parents"]` (corpora.stages.common.derive does this). The engine counts inputs used that way
  as `consumed` and the new records as `derived`, and checks, per stage,
  `in - consumed + derived = out + dropped` (for 1:1 stages simply `in = out + dropped`), that no input
  went missing, and that no record came back twice.
- A stage with a field named `seed` that the recipe step leaves unset gets the recipe's seed.
- Stages are picklable (they travel to worker processes and to Ray workers).
  Load heavy models lazily, in a cache keyed by the stage's config, never in `__init__`.
- `process_stream` (optional, global-view stages only): see every record batch by batch in
  canonical order, and yield outputs as you go, keeping only the state you need (hashes, MinHash
  signatures) so memory does not grow with the corpus. The engine passes a re-iterable: each
  `for batch in batches` reads the batches again, so a stage may make two passes (find each
  duplicate class's representative, then emit). The outputs, concatenated, must equal what
  `process` returns for all records at once. The default collects the batches and calls `process`.

What a stage needs from whatever runs it, it declares; executors (corpora.executors) read these
declarations and never look at a stage's class:
- `global_view`: every record at once (a class attribute, or a property of the configuration).
- `grouped`: a global stage whose output is exactly `process_group` over the groups of records that
  share a `group_key`, so an executor may run the groups anywhere, in any order
  (corpora.stages.common.KeyedGlobalStage implements the contract and says what
  `needs_group_sizes`/`plan_groups` and `has_link_keys`/`link_keys` add).
- `loads_model`: the stage keeps a heavy model (a translator) loaded in its process: an executor
  runs it in long-lived workers that load it once each, one per accelerator when there are any.
- `assigns_split`: the stage writes `meta["split"]` (the build then reports texts shared by splits).

The registry: `@register` adds a stage class under its `name`; corpora.stages.registry imports every
stage module and builds stages from recipe steps (`build_stage`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

Record = dict[str, Any]


@dataclass
class StageOutput:
    kept: list[Record]
    dropped: list[tuple[Record, str]]  # (record, reason code such as "too_short")


class Stage:
    name: ClassVar[str]
    # Declarations (see the module docstring); defaults for a per-record stage.
    global_view: ClassVar[bool] = False
    grouped: ClassVar[bool] = False
    loads_model: ClassVar[bool] = False
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


STAGES: dict[str, type[Stage]] = {}  # every stage registered so far (corpora.stages.registry loads them all)


def register(cls: type[Stage]) -> type[Stage]:
    if cls.name in STAGES:
        raise ValueError(f"stage {cls.name!r} registered twice")
    STAGES[cls.name] = cls
    return cls
