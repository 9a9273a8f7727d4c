"""Small stages that exercise the corpus engine's bookkeeping (registered when this module is imported).

They are test fixtures for the engine, not stand-ins for the real stages in corpora/stages."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import ClassVar

from corpora.stage import STAGES, Record, Stage, StageOutput, register


def _register(cls):
    return cls if cls.name in STAGES else register(cls)


@_register
@dataclass(frozen=True)
class DropEveryThird(Stage):
    """Drops records whose line number is divisible by 3 (reason `third`)."""

    name: ClassVar[str] = "fixture_drop_every_third"

    def process(self, batch: list[Record]) -> StageOutput:
        kept = [record for record in batch if record["meta"]["line"] % 3]
        dropped = [(record, "third") for record in batch if not record["meta"]["line"] % 3]
        return StageOutput(kept, dropped)


@_register
@dataclass(frozen=True)
class OneRecordPerWord(Stage):
    """Replaces each record by one derived record per word."""

    name: ClassVar[str] = "fixture_words"

    def process(self, batch: list[Record]) -> StageOutput:
        kept = []
        for record in batch:
            for index, word in enumerate(record["text"].split()):
                kept.append({**record, "id": f"{record['id']}/w{index}", "text": word,
                             "meta": {**record["meta"], "parents": [record["id"]]}})
        return StageOutput(kept, [])


@_register
@dataclass(frozen=True)
class LoseOne(Stage):
    """Broken on purpose: forgets the first record of each batch."""

    name: ClassVar[str] = "fixture_lose_one"

    def process(self, batch: list[Record]) -> StageOutput:
        return StageOutput(batch[1:], [])


@_register
@dataclass(frozen=True)
class Slow(Stage):
    """Sleeps per batch and logs the first id of every batch it processes to `log`, to test resume."""

    name: ClassVar[str] = "fixture_slow"
    seconds: float = 0.2
    log: str = ""

    def process(self, batch: list[Record]) -> StageOutput:
        time.sleep(self.seconds)
        if self.log and batch:
            with open(self.log, "a", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()} {batch[0]['id']}\n")
        return StageOutput([{**record, "meta": {**record["meta"], "slow": True}} for record in batch], [])


@_register
@dataclass(frozen=True)
class CountAll(Stage):
    """Global view: writes the number of records it saw into every record's meta."""

    name: ClassVar[str] = "fixture_count_all"
    global_view: ClassVar[bool] = True

    def process(self, batch: list[Record]) -> StageOutput:
        return StageOutput([{**record, "meta": {**record["meta"], "seen": len(batch)}} for record in batch], [])


@_register
@dataclass(frozen=True)
class CountAllStreaming(Stage):
    """CountAll in two passes over the re-iterable batches, emitting batch by batch."""

    name: ClassVar[str] = "fixture_count_all_streaming"
    global_view: ClassVar[bool] = True

    def process(self, batch: list[Record]) -> StageOutput:
        return StageOutput([{**record, "meta": {**record["meta"], "seen": len(batch)}} for record in batch], [])

    def process_stream(self, batches):
        total = sum(len(batch) for batch in batches)
        for batch in batches:
            yield StageOutput([{**record, "meta": {**record["meta"], "seen": total}} for record in batch], [])


@_register
@dataclass(frozen=True)
class MisalignTags(Stage):
    """Broken on purpose: gives every record one UPOS tag more than it has tokens."""

    name: ClassVar[str] = "fixture_misalign_tags"

    def process(self, batch: list[Record]) -> StageOutput:
        return StageOutput([{**record, "tokens": ["a"], "upos": ["X", "Y"]} for record in batch], [])
