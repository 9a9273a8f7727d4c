"""The step cache: each step's output in `OUTPUT/cache/NN-stage-FINGERPRINT/`, checked before it is trusted.

Per shard a step folder holds the data (parquet), the rejected records (jsonl) and the shard's
counters (json, with the row count, size and sha256 of both files), each written under a temporary
name and renamed; the counters file is written last, so it marks the shard complete. `DONE.json`
marks the step complete. The fingerprint in the folder's name (corpora.builder.plan) covers
everything that decides the step's output, so a completed step is reused by any build that would
compute the same thing.

A cache is a claim, not a fact: `open_step` checks every shard against its counters before a step
is reused; a damaged shard is reported in one line and recomputed (the verified ones are kept), and
a damaged DONE.json or counters file is treated as missing.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from corpora.builder.accounts import Tally
from corpora.faults import fault_point
from corpora.stage import Record, StageOutput
from corpora.writers import (
    file_digest,
    is_temporary,
    load_json,
    read_shard,
    rejected_line,
    remove,
    write_lines_atomic,
    write_shard,
    write_text_atomic,
)

STEP_FOLDER = re.compile(r"\d{2}-\w+-[0-9a-f]{16}")
STEP_FILE = re.compile(r"shard-\d{5}\.(parquet|rejected\.jsonl|json)|DONE\.json")
SHARD_COUNTERS = re.compile(r"shard-(\d{5})\.json")


class StepDir:
    """A step's cache folder: per shard its data, rejected records and counters (which hold the row
    count, size and sha256 of both files), and DONE.json once every shard is there."""

    def __init__(self, root: Path, label: str, fingerprint: str):
        self.label, self.fingerprint = label, fingerprint
        self.path = root / f"{label}-{fingerprint[:16]}"

    def data(self, shard: int) -> Path:
        return self.path / f"shard-{shard:05d}.parquet"

    def rejected(self, shard: int) -> Path:
        return self.path / f"shard-{shard:05d}.rejected.jsonl"

    def counts(self, shard: int) -> Path:
        return self.path / f"shard-{shard:05d}.json"

    @property
    def done(self) -> Path:
        return self.path / "DONE.json"

    def shard_done(self, shard: int) -> bool:
        """Whether the shard's counters exist. Trusted only once `open_step` has checked the folder
        (it removes every damaged shard first), or for a shard this run wrote."""
        return self.counts(shard).exists()

    def written_shards(self) -> list[int]:
        if not self.path.is_dir():
            return []
        return sorted(int(match.group(1)) for path in self.path.iterdir()
                      if (match := SHARD_COUNTERS.fullmatch(path.name)))

    def prepare(self, keep: bool) -> None:
        if self.path.exists() and not keep:
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)

    def write_shard(self, shard: int, step: int, stage: str, output: StageOutput, tally: Tally,
                    seconds: float = 0.0) -> None:
        files = {"data": write_shard(self.data(shard), output.kept),
                 "rejected": write_lines_atomic(self.rejected(shard), (rejected_line(step, stage, record, reason)
                                                                       for record, reason in output.dropped))}
        counters = {**tally.as_dict(), "seconds": seconds, "files": files}
        write_text_atomic(self.counts(shard), json.dumps(counters, sort_keys=True))
        fault_point(f"shard-written/{self.label}/{shard:05d}")

    def check_shard(self, shard: int) -> str | None:
        """What is wrong with the shard on disk, or None when both files are exactly what was written."""
        counters = load_json(self.counts(shard))
        if counters is None:
            return f"{self.counts(shard).name} is missing or unreadable"
        try:
            tally = Tally.from_dict(counters)
            for kind, path, rows in (("data", self.data(shard), tally.out),
                                     ("rejected", self.rejected(shard), sum(tally.dropped.values()))):
                written = counters["files"][kind]
                if written["rows"] != rows:
                    return f"{self.counts(shard).name} is inconsistent"
                if not path.is_file():
                    return f"{path.name} is missing"
                found = file_digest(path)
                if found["bytes"] != written["bytes"]:
                    return f"{path.name} has {found['bytes']:,} bytes, {written['bytes']:,} were written"
                if found["sha256"] != written["sha256"]:
                    return f"{path.name} does not match its checksum"
        except (KeyError, TypeError, ValueError, AttributeError):
            return f"{self.counts(shard).name} is incomplete"
        return None

    def discard_shard(self, shard: int) -> None:
        for path in (self.counts(shard), self.data(shard), self.rejected(shard)):  # counters first
            path.unlink(missing_ok=True)

    def read_done(self) -> dict[str, Any] | None:
        """DONE.json when it is there and well formed, else None."""
        done = load_json(self.done)
        try:
            Tally.from_dict(done)
            return done if isinstance(done["shards"], int) and done["shards"] >= 1 else None
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def shards(self) -> int:
        return self.read_done()["shards"]

    def seconds(self, shards: int) -> float:
        """Time the stage spent on its shards (summed over workers; cached shards count 0)."""
        return sum(json.loads(self.counts(shard).read_text()).get("seconds", 0.0) for shard in range(shards))

    def shard_tally(self, shard: int) -> Tally:
        return Tally.from_dict(json.loads(self.counts(shard).read_text()))

    def finish(self, shards: int) -> Tally:
        total = Tally()
        for shard in range(shards):
            total.add(self.shard_tally(shard))
        self.complete(shards, total)
        return total

    def complete(self, shards: int, tally: Tally) -> None:
        """Mark the step complete: DONE.json with its shard count and counters."""
        write_text_atomic(self.done, json.dumps({"shards": shards, **tally.as_dict()}, sort_keys=True))

    def tally(self) -> Tally:
        return Tally.from_dict(self.read_done())

    def records(self) -> Iterator[list[Record]]:
        for shard in range(self.shards()):
            yield read_shard(self.data(shard))

    def ids(self) -> list[str]:
        import pyarrow.parquet as pq

        return [value for shard in range(self.shards())
                for value in pq.read_table(self.data(shard), columns=["id"]).column("id").to_pylist()]

    def rejected_lines(self) -> Iterator[str]:
        """The rejected records of every shard, in order, one JSON line each (without newline)."""
        for shard in range(self.shards()):
            with open(self.rejected(shard), encoding="utf-8") as handle:
                for line in handle:
                    yield line.rstrip("\n")


def open_step(step_dir: StepDir, resumable: bool, resume: bool, log: Callable[[str], None]) -> bool:
    """Whether the step's cache is complete and every shard is exactly what was written.

    Otherwise the folder is made ready to (re)compute the step: damaged shards are reported and
    removed; the verified shards stay when the step had finished (only the damage is redone) or,
    with `resume`, when a killed run left it unfinished. A global step (`resumable` false) always
    starts over."""
    done = step_dir.read_done()
    if done is None and step_dir.done.exists():
        log(f"cache step {step_dir.label}: DONE.json is damaged: recomputing")
        step_dir.done.unlink()
    if done is not None:
        if not _discard_damaged(step_dir, range(done["shards"]), log):
            return True
        step_dir.done.unlink()
    keep = resumable and (done is not None or resume)
    if keep and done is None:
        _discard_damaged(step_dir, step_dir.written_shards(), log)
    step_dir.prepare(keep)
    return False


def _discard_damaged(step_dir: StepDir, shards: Iterable[int], log: Callable[[str], None]) -> int:
    damaged = 0
    for shard in shards:
        problem = step_dir.check_shard(shard)
        if problem:
            log(f"cache step {step_dir.label} shard {shard} is damaged ({problem}): recomputing")
            step_dir.discard_shard(shard)
            damaged += 1
    return damaged


def step_folders(cache: Path) -> list[Path]:
    """The step folders of a cache (names that prove augkit made them)."""
    return [path for path in (cache.iterdir() if cache.is_dir() else ())
            if path.is_dir() and STEP_FOLDER.fullmatch(path.name)]


def remove_temporaries(folders: Iterable[Path]) -> None:
    """Remove the temporaries killed runs (or workers Ray retried) left in step folders: files whose
    names prove augkit wrote them, nothing else."""
    for folder in folders:
        if folder.is_dir():
            for path in folder.iterdir():
                old_name = path.name[1:].rsplit(".tmp-", 1)[0]
                if is_temporary(path.name, [old_name] if STEP_FILE.fullmatch(old_name) else ()):
                    remove(path)
