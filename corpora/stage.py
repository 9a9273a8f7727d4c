"""The stage contract: one small job over a batch of records, with a reason for every drop.

A record is a plain dict: `id` (str, unique within a run), `text` (str) or `tokens` (list[str]) with
aligned `labels`/`upos` (list[str]), `lang` (FLORES code, see augment.languages), `source` (name of
the recipe source), `doc` (document id or None) and `meta` (dict of anything a stage adds: language
scores, the kept representative of a duplicate, a scheme signature).

A stage is a frozen dataclass: its fields are its configuration (the YAML parameters of a recipe
step), `name` is the key recipes use, and `process` is a pure function of (config, batch). Counting,
rejected-record writing, caching, fingerprints and parallelism live once, in the engine; a stage never
does its own bookkeeping. A stage with `global_view = True` (deduplication across the whole run, for
instance) receives every record of the run at once, in the engine's canonical order.
"""

from __future__ import annotations

import dataclasses
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

    def process(self, batch: list[Record]) -> StageOutput:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The parameters that determine this stage's output (recorded in the manifest, fingerprinted)."""
        return dataclasses.asdict(self)


STAGES: dict[str, type[Stage]] = {}


def register(cls: type[Stage]) -> type[Stage]:
    if cls.name in STAGES:
        raise ValueError(f"stage {cls.name!r} registered twice")
    STAGES[cls.name] = cls
    return cls


def build_stage(spec: dict[str, Any], where: str = "recipe") -> Stage:
    """`{"stage": "filter_length", "min_chars": 5}` -> a configured stage; unknown names or keys are errors."""
    params = dict(spec)
    name = params.pop("stage", None)
    if name not in STAGES:
        raise AugkitError(f"{where}: unknown stage {name!r}; known stages: {', '.join(sorted(STAGES))}")
    cls = STAGES[name]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise AugkitError(f"{where}: stage {name!r} has no parameter(s) {unknown}; it takes {sorted(known)}")
    try:
        return cls(**params)
    except (TypeError, ValueError) as error:
        raise AugkitError(f"{where}: stage {name!r}: {error}") from error
