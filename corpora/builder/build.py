"""Build: run a recipe with an executor, from the sources to the published outputs, with accounts.

How a build runs
- Under the output folder's lock, it first finishes an interrupted publication and removes the
  temporaries of killed runs (corpora.builder.publish, corpora.builder.cache).
- The plan (corpora.builder.plan) gives every step its cache folder; a step whose cache verifies is
  reused (corpora.builder.cache). `resume=True` also keeps the verified shards of a step that did not
  finish (a killed run); without it such partial work is discarded. Either way nothing is lost or
  duplicated, because a shard is either complete and verified on disk or recomputed.
- The read step runs here; runs of per-shard steps and global steps go to the executor
  (corpora.builder.executor: `run_shards`, `run_global`), which runs the units of corpora.builder.work
  where it chooses; results do not depend on the executor or its number of workers.
- Accounts (corpora.builder.accounts): every shard and group is checked as it is computed, and a
  stage's `in` must equal the previous stage's `out`. Dropped records go to
  `OUTPUT/rejected/NN-stage.jsonl` with their reason.
- The results are written to a staging folder (corpora.builder.manifest) and published at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augment.errors import AugkitError
from corpora.builder.accounts import Tally
from corpora.builder.cache import StepDir, open_step, remove_temporaries, step_folders
from corpora.builder.executor import Executor
from corpora.builder.manifest import write_results
from corpora.builder.plan import READ_LABEL, BuildPlan, describe, plan_build, runs
from corpora.builder.publish import BUILD_FILES, OutputFolder
from corpora.builder.work import GlobalJob, ShardJob, ShardSink, read_sources
from corpora.executors.local import LocalExecutor
from corpora.progress import Progress
from corpora.recipe import Recipe, Step
from corpora.stage import Record
from corpora.writers import os_problem


@dataclass
class Build:
    recipe: Recipe
    output: Path
    executor: Executor = field(default_factory=LocalExecutor)
    resume: bool = False
    log: Callable[[str], None] = print
    show_progress: bool = True  # records done, rate and ETA on stderr while a step runs

    def __post_init__(self):
        self.output = Path(self.output)
        self.cache = self.output / "cache"
        self.folder = OutputFolder(self.output, self.log)

    def plan(self) -> BuildPlan:
        """Step labels and fingerprints, computed without running anything."""
        return plan_build(self.recipe, self.cache)

    def dry_run(self) -> str:
        return describe(self.recipe, self.plan(), self.output)

    def run(self) -> dict[str, Any]:
        try:
            self.output.mkdir(parents=True, exist_ok=True)
            with self.folder.locked(), self.executor.session(self.cache):
                return self._run()
        except OSError as error:
            # A full disk, a refused permission...: one line naming the file, like bad input.
            raise AugkitError(f"{error.filename or self.output}: {os_problem(error)}") from error

    def _run(self) -> dict[str, Any]:
        started = time.perf_counter()
        self.folder.finish(interrupted=True)
        remove_temporaries(step_folders(self.cache))
        self.folder.remove_temporaries(output.path for output in self.recipe.outputs)
        plan = self.plan()
        entries = [*(output.path for output in self.recipe.outputs), *BUILD_FILES]
        self.folder.check_entries(entries)
        steps, dirs = self.recipe.steps, plan.dirs
        tallies = [self._read(dirs[0])]
        for run in runs(steps):
            if steps[run.start].stage.global_view:
                tallies.append(self._global(steps[run.start], dirs[run.start], dirs[run.start + 1]))
            else:
                tallies.extend(self._shards(steps[run.start:run.stop], dirs[run.start], dirs[run.start + 1:run.stop + 1]))
        for previous, current, step in zip(tallies[:-1], tallies[1:], steps, strict=True):
            if current.records_in != previous.out:
                raise AugkitError(f"stage {step.label} received {current.records_in} records but the step "
                                  f"before it produced {previous.out}")
        manifest = write_results(self.folder.staging(), self.recipe, plan, tallies, self.log)
        self.folder.commit(entries)
        remove_temporaries(step_dir.path for step_dir in dirs)  # left by workers a cluster retried
        self.log(f"built {self.recipe.name} in {time.perf_counter() - started:.1f} s -> {self.output}")
        return manifest

    # --- steps -------------------------------------------------------------------------------

    def _report(self, label: str, tally: Tally, seconds: float | None) -> None:
        dropped = ", ".join(f"{reason} {count:,}" for reason, count in sorted(tally.dropped.items()))
        extra = f", derived {tally.derived:,}, consumed {tally.consumed:,}" if tally.derived else ""
        timing = "cached" if seconds is None else f"{seconds:.1f} s"
        self.log(f"  {label:<24} {tally.records_in:>9,} in {tally.out:>9,} out {sum(tally.dropped.values()):>7,} "
                 f"dropped{f' ({dropped})' if dropped else ''}{extra}  [{timing}]")

    def _progress(self, label: str, total: int | None) -> Progress:
        return Progress(label, total, enabled=self.show_progress)

    def _cached(self, step_dir: StepDir, resumable: bool) -> bool:
        return open_step(step_dir, resumable, self.resume, self.log)

    def _read(self, step_dir: StepDir) -> Tally:
        if self._cached(step_dir, resumable=True):
            self._report(READ_LABEL, step_dir.tally(), None)
            return step_dir.tally()
        started = time.perf_counter()
        progress = self._progress(READ_LABEL, None)
        try:
            shards = read_sources(self.recipe, step_dir, progress.advance)
        finally:
            progress.close()
        tally = step_dir.finish(shards)
        self._report(READ_LABEL, tally, time.perf_counter() - started)
        return tally

    def _shards(self, steps: tuple[Step, ...], source_dir: StepDir, dirs: list[StepDir]) -> list[Tally]:
        """A run of per-shard steps: the shards some step has not completed go to the executor."""
        complete = [self._cached(step_dir, resumable=True) for step_dir in dirs]
        shards = source_dir.shards()
        todo = [shard for shard in range(shards) if not all(step_dir.shard_done(shard) for step_dir in dirs)]
        if todo:
            job = ShardJob(tuple(steps), tuple(dirs), source_dir)
            sizes = {shard: source_dir.shard_tally(shard).out for shard in todo}
            progress = self._progress(job.label, sum(sizes.values()))
            try:
                self.executor.run_shards(job, todo, lambda shard: progress.advance(sizes[shard]))
            finally:
                progress.close()
            unfinished = [shard for shard in todo if not all(step_dir.shard_done(shard) for step_dir in dirs)]
            if unfinished:
                raise AugkitError(f"{job.label}: the executor returned without shard(s) {unfinished[:5]}")
        tallies = []
        for step, step_dir, cached in zip(steps, dirs, complete, strict=True):
            tally = step_dir.tally() if cached else step_dir.finish(shards)
            self._report(step.label, tally, None if cached else step_dir.seconds(shards))
            tallies.append(tally)
        return tallies

    def _global(self, step: Step, source_dir: StepDir, step_dir: StepDir) -> Tally:
        if self._cached(step_dir, resumable=False):  # a global stage's partial output cannot be resumed
            self._report(step.label, step_dir.tally(), None)
            return step_dir.tally()
        started = time.perf_counter()
        sink = ShardSink(step, step_dir, self.recipe.shard_size)
        tally = self.executor.run_global(GlobalJob(step, source_dir, self._passes(step, source_dir)), sink)
        tally.check_balanced(step.label)
        sink.close(tally)
        self._report(step.label, tally, time.perf_counter() - started)
        return tally

    def _passes(self, step: Step, source_dir: StepDir) -> Callable[[], Iterator[list[Record]]]:
        """The step's input, read again on every call (a global stage may make several passes),
        with progress per pass."""
        total = source_dir.tally().out
        passes = 0

        def read() -> Iterator[list[Record]]:
            nonlocal passes
            passes += 1
            progress = self._progress(f"{step.label} (pass {passes})", total)
            try:
                for batch in source_dir.records():
                    yield batch
                    progress.advance(len(batch))
            finally:
                progress.close()

        return read


def build(recipe: Recipe, output: Path, num_proc: int = 1, resume: bool = False,
          log: Callable[[str], None] = print, executor: Executor | None = None) -> dict[str, Any]:
    """Build `recipe` into `output`: on this machine with `num_proc` worker processes, or with
    `executor` (e.g. corpora.executors.ray.RayExecutor)."""
    if executor is not None and num_proc != 1:
        raise AugkitError("num_proc is the local executor's setting; give it to LocalExecutor")
    return Build(recipe, Path(output), executor or LocalExecutor(num_proc), resume, log).run()
