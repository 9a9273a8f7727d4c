"""Stages that kill their worker process once, to test that the Ray engine loses and duplicates nothing.

Each takes a `marker` file and an `at_id`: the first process that sees the record `at_id` while the
marker is absent writes the marker and exits at once (as a killed worker would); every later run
passes the records through (or, for the translate variant, translates them). Imported by
tests/test_ray_engine.py, and by Ray's workers (the tests put this folder on their PYTHONPATH)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from corpora.stage import STAGES, Record, Stage, StageOutput, register
from corpora.stages.adapters import Translate


def _register(cls):
    return cls if cls.name in STAGES else register(cls)


def _die_once(batch: list[Record], marker: str, at_id: str) -> None:
    if any(record["id"] == at_id for record in batch) and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)


@_register
@dataclass(frozen=True)
class CrashOnce(Stage):
    """Passes records through; kills its process the first time it meets `at_id`."""

    name: ClassVar[str] = "fixture_crash_once"
    marker: str = ""
    at_id: str = ""

    def process(self, batch: list[Record]) -> StageOutput:
        _die_once(batch, self.marker, self.at_id)
        return StageOutput(list(batch), [])


@_register
@dataclass(frozen=True)
class TranslateCrashOnce(Translate):
    """The real translate stage, whose process (a Ray actor) dies the first time it meets `at_id`."""

    name: ClassVar[str] = "fixture_translate_crash_once"
    marker: str = ""
    at_id: str = ""

    def process(self, batch: list[Record]) -> StageOutput:
        _die_once(batch, self.marker, self.at_id)
        return super().process(batch)
