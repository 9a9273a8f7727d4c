"""The units of work of a build, which executors (corpora.executors) run where they choose.

- `run_shard(job, shard)`: a run of consecutive per-shard steps on one shard, from the first step
  whose shard is not complete; each step's output is checked, accounted and written atomically.
  It may run in any process that sees the output folder, any number of times.
- `run_group(step, records, plan)`: one group of a global step's records (all of them when the stage
  declares no grouping), checked and accounted like a shard; `pass_through` for the records a
  step's `apply_to` leaves out.
- `stream_global(job, sink)`: a whole global step in this process, batch by batch.
- `ShardSink`: where a global step's output goes, in shards of `shard_size` records.
- `read_sources`: the read step (on the machine running the build).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from augment.errors import AugkitError
from corpora.builder.accounts import Tally, account, check_output, skeleton
from corpora.builder.cache import StepDir
from corpora.readers import read_source
from corpora.recipe import Recipe, Step
from corpora.stage import Record, StageOutput
from corpora.writers import os_problem, read_shard


@dataclass(frozen=True)
class ShardJob:
    """Consecutive per-shard steps, their cache folders, and the folder of their input."""

    steps: tuple[Step, ...]
    dirs: tuple[StepDir, ...]
    source_dir: StepDir

    @property
    def label(self) -> str:
        return self.steps[0].label if len(self.steps) == 1 else f"{self.steps[0].label}..{self.steps[-1].label}"


def run_shard(job: ShardJob, shard: int) -> int:
    """Run the job's steps on one shard, from the first step whose shard is not complete."""
    start = 0
    while start < len(job.steps) and job.dirs[start].shard_done(shard):
        start += 1
    if start == len(job.steps):
        return shard
    previous = job.dirs[start - 1] if start > 0 else job.source_dir
    try:
        batch = read_shard(previous.data(shard))
        for step, step_dir in zip(job.steps[start:], job.dirs[start:], strict=True):
            started = time.perf_counter()
            output = step.run(batch)
            check_output(f"{step.label} (shard {shard})", output)
            passed = 0 if not step.apply_to else sum(1 for record in batch if not step.selects(record))
            tally = account(f"{step.label} (shard {shard})", (record["id"] for record in batch), output, passed)
            step_dir.write_shard(shard, step.index, step.stage.name, output, tally, time.perf_counter() - started)
            batch = output.kept
    except AugkitError as error:
        # One plain type, which any process pool or Ray hands back to the driver intact.
        raise AugkitError(str(error)) from error.__cause__
    except OSError as error:
        raise AugkitError(f"{error.filename or previous.path}: {os_problem(error)}") from error
    return shard


@dataclass(frozen=True)
class GlobalJob:
    """A global step and its input. `read` gives the input's batches, read again from disk on every
    call (a stage may make several passes), reporting progress; it runs on this machine only."""

    step: Step
    source_dir: StepDir
    read: Callable[[], Iterator[list[Record]]]


class ShardSink:
    """Writes a global step's output into its cache folder, `shard_size` records (kept first, then
    dropped) per shard, in the order they are added."""

    def __init__(self, step: Step, step_dir: StepDir, shard_size: int):
        self.step, self.step_dir, self.shard_size = step, step_dir, shard_size
        self.kept: list[Record] = []
        self.dropped: list[tuple[Record, str]] = []
        self.shards = 0
        self.written = Tally()

    def add(self, output: StageOutput) -> None:
        self.kept.extend(output.kept)
        self.dropped.extend(output.dropped)
        while len(self.kept) + len(self.dropped) >= self.shard_size:
            self._flush()

    def close(self, tally: Tally) -> int:
        """Write what is left and mark the step complete with `tally`, after checking that the
        shards hold exactly the records it counts; returns the number of shards."""
        if self.kept or self.dropped or self.shards == 0:
            self._flush()
        if (self.written.out, self.written.dropped) != (tally.out, tally.dropped):
            raise AugkitError(f"stage {self.step.label}: {self.written.out} kept and "
                              f"{sum(self.written.dropped.values())} dropped records were written, but its "
                              f"counts say {tally.as_dict()}")
        self.step_dir.complete(self.shards, tally)
        return self.shards

    def _flush(self) -> None:
        take_kept = self.kept[:self.shard_size]
        take_dropped = self.dropped[:max(0, self.shard_size - len(take_kept))]
        del self.kept[:len(take_kept)]
        del self.dropped[:len(take_dropped)]
        tally = Tally(0, len(take_kept), Counter(reason for _, reason in take_dropped))
        self.step_dir.write_shard(self.shards, self.step.index, self.step.stage.name,
                                  StageOutput(take_kept, take_dropped), tally)
        self.written.add(tally)
        self.shards += 1


def stream_global(job: GlobalJob, sink: ShardSink) -> Tally:
    """A global step in this process: the stage streams over the batches (`process_stream`), its
    outputs go to `sink` as they come, and the account keeps only ids and parents, so memory stays
    at one shard of records plus what the stage itself keeps."""
    step = job.step
    input_ids = job.source_dir.ids()
    returned = StageOutput([], [])
    for output in step.run_stream(job.read):
        check_output(step.label, output)
        sink.add(output)
        returned.kept.extend(skeleton(record) for record in output.kept)
        returned.dropped.extend((skeleton(record), reason) for record, reason in output.dropped)
    passed = sum(1 for batch in job.source_dir.records() for record in batch if not step.selects(record)) \
        if step.apply_to else 0
    return account(step.label, input_ids, returned, passed)


def run_group(step: Step, records: list[Record], plan: Any = None) -> tuple[StageOutput, Tally]:
    """One group of the records a global step selects, through `process_group` when the stage is
    `grouped` (with its group's entry of `plan_groups`), else all of them through `process`."""
    stage = step.stage
    output = stage.process_group(records, plan) if stage.grouped else stage.process(records)
    label = f"{step.label} (group of {records[0]['id']!r})"
    check_output(label, output)
    return output, account(label, (record["id"] for record in records), output)


def pass_through(step: Step, records: list[Record]) -> tuple[StageOutput, Tally]:
    """Records a step's `apply_to` leaves out: kept unchanged, counted as passed through."""
    output = StageOutput(records, [])
    return output, account(f"{step.label} (passed through)", (record["id"] for record in records), output,
                           len(records))


def read_sources(recipe: Recipe, step_dir: StepDir, advance: Callable[[int], None]) -> int:
    """The read step: the sources' records, `shard_size` per shard (shards already complete are
    kept), with the reasons the readers drop records for; returns the number of shards."""
    shard, items, seen = 0, [], set()
    for source in recipe.sources:
        for record, reason in read_source(source):
            if record["id"] in seen:
                raise AugkitError(f"source {source.name!r}: record id {record['id']!r} appears twice "
                                  "(check id_field)")
            seen.add(record["id"])
            items.append((record, reason))
            if len(items) == recipe.shard_size:
                _write_read_shard(step_dir, shard, items)
                advance(len(items))
                shard, items = shard + 1, []
    if items or shard == 0:
        _write_read_shard(step_dir, shard, items)
        advance(len(items))
        shard += 1
    return shard


def _write_read_shard(step_dir: StepDir, shard: int, items: list) -> None:
    if step_dir.shard_done(shard):  # kept: verified when the step was opened
        return
    output = StageOutput([record for record, reason in items if reason is None],
                         [(record, reason) for record, reason in items if reason is not None])
    tally = Tally(len(items), len(output.kept), Counter(reason for _, reason in output.dropped))
    step_dir.write_shard(shard, 0, "read", output, tally)
