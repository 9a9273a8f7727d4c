"""The local engine: run a recipe in this process (and `num_proc` worker processes), with accounts.

How a build runs
- The read step turns the sources into shards of `shard_size` input items; every later stage maps
  shard i of its input to shard i of its output. A global-view stage (see corpora.stage) reads all
  shards in order and writes fresh ones.
- Each step's output lives in `OUTPUT/cache/NN-stage-FINGERPRINT/`: per shard a parquet file, the
  rejected records (jsonl) and the shard's counters (json, with the row count, size and sha256 of
  both files), each written under a temporary name and renamed; the counters file is written last,
  so it marks the shard complete. `DONE.json` marks the step complete. The fingerprint covers the
  input's fingerprint, the stage's config and selector and the code of the stage's module, so a
  completed step is reused by any later build that would compute the same thing (that is the
  cache), and changing anything upstream recomputes downstream.
- A cache is trusted only after it is checked: before a step is reused, every one of its shards is
  checked against its counters (sizes and checksums); a damaged shard is reported in one line and
  recomputed (the verified ones are kept), and a damaged DONE.json or counters file is treated as
  missing. A step is complete only when all its shards verify.
- `resume=True` also keeps the verified shards of a step that did not finish (a killed run);
  without it such partial work is discarded. Either way nothing is lost or duplicated, because a
  shard is either complete and verified on disk or recomputed.
- Consecutive per-shard steps run shard by shard in a process pool (`num_proc`); results do not depend
  on `num_proc`. A worker that dies (killed, out of memory) ends the build with one line; the
  completed shards stay for `--resume`.
- Accounts: for every step and shard the engine checks that every input came back (kept, dropped,
  or consumed into derived records) and no id came back twice, and that
  `in - consumed + derived = out + dropped`; step after step, a stage's `in` equals the previous
  stage's `out`. Dropped records go to `OUTPUT/rejected/NN-stage.jsonl` with their reason.
- Publishing: the outputs, `rejected/`, `manifest.json`, `recipe.yaml` and the dataset card are
  written into `OUTPUT/.augkit-publish/`; a journal (`PUBLISH.json`) written last commits them, and
  then the old build's entries are set aside and the new ones renamed into place, `manifest.json`
  last (it is absent while the swap runs). A build that dies before the journal leaves the old build
  untouched; one that dies after it is finished by the next `augkit build` into that folder, before
  anything else. A build replaces only entries an earlier build recorded in its manifest, and
  removes only temporaries whose names prove augkit wrote them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import multiprocessing
import os
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from augment import __version__
from augment.errors import AugkitError
from corpora.card import write_card
from corpora.faults import fault_point
from corpora.overlap import NORMALISATION, split_overlap
from corpora.progress import Progress
from corpora.readers import fingerprint_files, read_source
from corpora.recipe import Recipe, Step
from corpora.records import check_record
from corpora.stage import Record, StageOutput
from corpora.writers import (
    check_output_path,
    file_digest,
    file_sha256,
    is_temporary,
    os_problem,
    read_shard,
    rejected_line,
    remove,
    write_lines_atomic,
    write_output,
    write_shard,
    write_text_atomic,
)

READ_LABEL = "00-read"
MANIFEST_VERSION = 2
CACHE_FORMAT = 2  # shards carry row counts and checksums (part of every fingerprint)
STAGING = ".augkit-publish"
JOURNAL = "PUBLISH.json"
SET_ASIDE = ".old"  # inside STAGING: the previous build's entries while the new ones move in
BUILD_FILES = ("rejected", "plots", "README.md", "recipe.yaml")  # written by every build, manifest.json aside
_STEP_FOLDER = re.compile(r"\d{2}-\w+-[0-9a-f]{16}")
_STEP_FILE = re.compile(r"shard-\d{5}\.(parquet|rejected\.jsonl|json)|DONE\.json")
_SHARD_COUNTERS = re.compile(r"shard-(\d{5})\.json")
@dataclass
class Tally:
    """One step's (or one shard's) counters."""

    records_in: int = 0
    out: int = 0
    dropped: Counter = field(default_factory=Counter)
    derived: int = 0
    consumed: int = 0
    passed_through: int = 0

    def add(self, other: Tally) -> None:
        self.records_in += other.records_in
        self.out += other.out
        self.dropped.update(other.dropped)
        self.derived += other.derived
        self.consumed += other.consumed
        self.passed_through += other.passed_through

    def as_dict(self) -> dict[str, Any]:
        return {"in": self.records_in, "out": self.out, "dropped": sum(self.dropped.values()),
                "dropped_by_reason": dict(sorted(self.dropped.items())), "derived": self.derived,
                "consumed": self.consumed, "passed_through": self.passed_through}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tally:
        return cls(data["in"], data["out"], Counter(data["dropped_by_reason"]), data["derived"],
                   data["consumed"], data["passed_through"])

    def balanced(self) -> bool:
        return self.records_in - self.consumed + self.derived == self.out + sum(self.dropped.values())


def account(label: str, inputs: Iterable[str], output: StageOutput, passed_through: int = 0) -> Tally:
    """Check that `output` accounts for every input id exactly once; return the counters."""
    input_ids = set(inputs)
    returned: set[str] = set()
    parents_used: set[str] = set()
    derived = 0
    for record in [*output.kept, *(record for record, _ in output.dropped)]:
        record_id = record.get("id")
        if record_id in returned:
            raise AugkitError(f"stage {label}: record {record_id!r} came back twice")
        returned.add(record_id)
        if record_id not in input_ids:
            parents = (record.get("meta") or {}).get("parents")
            if not parents:
                raise AugkitError(f"stage {label}: record {record_id!r} is not one of its inputs and names no "
                                  "parents in meta['parents']")
            unknown = [parent for parent in parents if parent not in input_ids]
            if unknown:
                raise AugkitError(f"stage {label}: record {record_id!r} names parents that were not its "
                                  f"inputs: {unknown[:3]}")
            parents_used.update(parents)
            derived += 1
    missing = input_ids - returned - parents_used
    if missing:
        raise AugkitError(f"stage {label}: {len(missing)} record(s) neither kept, dropped nor used, "
                          f"e.g. {sorted(missing)[:3]}")
    for record, reason in output.dropped:
        if not isinstance(reason, str) or not reason:
            raise AugkitError(f"stage {label}: record {record.get('id')!r} dropped without a reason code")
    tally = Tally(len(input_ids), len(output.kept), Counter(reason for _, reason in output.dropped), derived,
                  len(parents_used - returned), passed_through)
    if not tally.balanced():
        raise AugkitError(f"stage {label}: counts do not balance: {tally.as_dict()}")
    return tally


def check_output(label: str, output: StageOutput) -> None:
    """Every record a stage returns keeps the record contract (corpora.records.check_record)."""
    if not isinstance(output, StageOutput):
        raise AugkitError(f"stage {label}: process returned {type(output).__name__}, not StageOutput")
    for record in output.kept:
        check_record(record, f"stage {label}")
    for record, _ in output.dropped:
        check_record(record, f"stage {label} (dropped)")


def _hash(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _module_digest(obj: Any) -> str:
    """The code version of a stage: augkit's version and the bytes of the module defining it."""
    source = inspect.getsourcefile(obj if inspect.isclass(obj) or inspect.ismodule(obj) else type(obj))
    return _hash(__version__, file_sha256(Path(source)))


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
        """Whether the shard's counters exist. Trusted only once the build has checked the folder
        (`Build._step_complete` removes every damaged shard first), or for a shard this run wrote."""
        return self.counts(shard).exists()

    def written_shards(self) -> list[int]:
        if not self.path.is_dir():
            return []
        return sorted(int(match.group(1)) for path in self.path.iterdir()
                      if (match := _SHARD_COUNTERS.fullmatch(path.name)))

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
        counters = _load_json(self.counts(shard))
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
        done = _load_json(self.done)
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


def _load_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing, empty or not JSON (a damaged cache file)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


# --- per-shard work (runs in worker processes) -----------------------------------------------


@dataclass(frozen=True)
class _ShardJob:
    steps: tuple[Step, ...]
    dirs: tuple[StepDir, ...]
    source_dir: StepDir


def _run_shard(job: _ShardJob, shard: int) -> int:
    """Run the segment's steps on one shard, from the first step whose shard is not complete."""
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


_WORKER_JOB: _ShardJob | None = None


def _worker_init(job: _ShardJob, umask: int) -> None:
    global _WORKER_JOB
    _WORKER_JOB = job
    os.umask(umask)  # the forkserver may have started under another umask


def _worker_run(shard: int) -> int:
    return _run_shard(_WORKER_JOB, shard)


# --- the build -------------------------------------------------------------------------------


@dataclass
class Build:
    recipe: Recipe
    output: Path
    num_proc: int = 1
    resume: bool = False
    log: Callable[[str], None] = print
    show_progress: bool = True  # records done, rate and ETA on stderr while a step runs

    def __post_init__(self):
        if self.num_proc < 1:
            raise AugkitError("--num-proc must be >= 1")
        self.output = Path(self.output)
        self.cache = self.output / "cache"

    # The plan: step labels and fingerprints, computed without running anything.
    def plan(self) -> tuple[list[dict[str, Any]], list[StepDir]]:
        inputs = []
        for source in self.recipe.sources:
            inputs.append({"source": source.name, "files": fingerprint_files(source.files())})
        import corpora.readers
        import corpora.records

        read_fingerprint = _hash("read", CACHE_FORMAT, self.recipe.resolved()["sources"], inputs,
                                 self.recipe.shard_size, _module_digest(corpora.readers),
                                 _module_digest(corpora.records))
        dirs = [StepDir(self.cache, READ_LABEL, read_fingerprint)]
        for step in self.recipe.steps:
            fingerprint = _hash(dirs[-1].fingerprint, step.describe(), self.recipe.shard_size,
                                _module_digest(step.stage))
            dirs.append(StepDir(self.cache, step.label, fingerprint))
        return inputs, dirs

    def dry_run(self) -> str:
        inputs, dirs = self.plan()
        lines = [f"recipe {self.recipe.name} ({self.recipe.path}), seed {self.recipe.seed}, "
                 f"shard_size {self.recipe.shard_size}"]
        for entry in inputs:
            size = sum(item["bytes"] for item in entry["files"])
            lines.append(f"  source {entry['source']}: {len(entry['files'])} file(s), {size:,} bytes")
        for step, step_dir in zip((None, *self.recipe.steps), dirs, strict=True):
            state = "cached" if step_dir.read_done() else "partial" if step_dir.path.exists() else "to run"
            if step is None:
                lines.append(f"  {READ_LABEL:<24} {state}")
                continue
            kind = "global" if step.stage.global_view else "per shard"
            selector = f" apply_to={step.describe()['apply_to']}" if step.apply_to else ""
            lines.append(f"  {step.label:<24} {state:<8} {kind:<9} {json.dumps(step.stage.config())}{selector}")
        for output in self.recipe.outputs:
            lines.append(f"  output {output.format} -> {self.output / output.path}")
        return "\n".join(lines)

    def run(self) -> dict[str, Any]:
        try:
            self.output.mkdir(parents=True, exist_ok=True)
            with _exclusive(self.output):
                return self._run()
        except OSError as error:
            # A full disk, a refused permission...: one line naming the file, like bad input.
            raise AugkitError(f"{error.filename or self.output}: {os_problem(error)}") from error

    def _run(self) -> dict[str, Any]:
        started = time.perf_counter()
        self._finish_publish(interrupted=True)
        self._remove_temporaries()
        inputs, dirs = self.plan()
        self._check_entries()
        tallies = [self._read(dirs[0])]
        index = 0
        steps = self.recipe.steps
        while index < len(steps):
            if steps[index].stage.global_view:
                tallies.append(self._global(steps[index], dirs[index], dirs[index + 1]))
                index += 1
                continue
            end = index
            while end < len(steps) and not steps[end].stage.global_view:
                end += 1
            tallies.extend(self._segment(steps[index:end], dirs[index], dirs[index + 1:end + 1]))
            index = end
        for previous, current, step in zip(tallies[:-1], tallies[1:], steps, strict=True):
            if current.records_in != previous.out:
                raise AugkitError(f"stage {step.label} received {current.records_in} records but the step "
                                  f"before it produced {previous.out}")
        manifest = self._publish(inputs, dirs, tallies)
        self._remove_temporaries(dirs)  # left by workers Ray retried
        self.log(f"built {self.recipe.name} in {time.perf_counter() - started:.1f} s -> {self.output}")
        return manifest

    # --- the cache ---------------------------------------------------------------------------

    def _step_complete(self, step_dir: StepDir, resumable: bool) -> bool:
        """Whether the step's cache is complete and every shard is exactly what was written.

        Otherwise the folder is made ready to (re)compute the step: damaged shards are reported and
        removed; the verified shards stay when the step had finished (only the damage is redone) or,
        with --resume, when a killed run left it unfinished. A global step (`resumable` false)
        always starts over."""
        done = step_dir.read_done()
        if done is None and step_dir.done.exists():
            self.log(f"cache step {step_dir.label}: DONE.json is damaged: recomputing")
            step_dir.done.unlink()
        if done is not None:
            if not self._discard_damaged(step_dir, range(done["shards"])):
                return True
            step_dir.done.unlink()
        keep = resumable and (done is not None or self.resume)
        if keep and done is None:
            self._discard_damaged(step_dir, step_dir.written_shards())
        step_dir.prepare(keep)
        return False

    def _discard_damaged(self, step_dir: StepDir, shards: Iterable[int]) -> int:
        damaged = 0
        for shard in shards:
            problem = step_dir.check_shard(shard)
            if problem:
                self.log(f"cache step {step_dir.label} shard {shard} is damaged ({problem}): recomputing")
                step_dir.discard_shard(shard)
                damaged += 1
        return damaged

    def _remove_temporaries(self, dirs: list[StepDir] | None = None) -> None:
        """Remove the temporaries of killed runs: files whose names prove augkit wrote them, in the
        step folders of the cache and beside the outputs, nothing else."""
        folders = [step_dir.path for step_dir in dirs] if dirs is not None else \
            [path for path in (self.cache.iterdir() if self.cache.is_dir() else ())
             if path.is_dir() and _STEP_FOLDER.fullmatch(path.name)]
        for folder in folders:
            if folder.is_dir():
                for path in folder.iterdir():
                    old_name = path.name[1:].rsplit(".tmp-", 1)[0]
                    if is_temporary(path.name, [old_name] if _STEP_FILE.fullmatch(old_name) else ()):
                        remove(path)
        if dirs is not None:
            return
        beside: dict[Path, set[str]] = {self.output: {"manifest.json", *BUILD_FILES}}
        for output in self.recipe.outputs:
            path = self.output / output.path
            beside.setdefault(path.parent, set()).add(path.name)
        for folder, names in beside.items():
            if folder.is_dir():
                for path in folder.iterdir():
                    if is_temporary(path.name, names):
                        remove(path)

    # --- steps -------------------------------------------------------------------------------

    def _report(self, label: str, tally: Tally, seconds: float | None) -> None:
        dropped = ", ".join(f"{reason} {count:,}" for reason, count in sorted(tally.dropped.items()))
        extra = f", derived {tally.derived:,}, consumed {tally.consumed:,}" if tally.derived else ""
        timing = "cached" if seconds is None else f"{seconds:.1f} s"
        self.log(f"  {label:<24} {tally.records_in:>9,} in {tally.out:>9,} out {sum(tally.dropped.values()):>7,} "
                 f"dropped{f' ({dropped})' if dropped else ''}{extra}  [{timing}]")

    def _progress(self, label: str, total: int | None) -> Progress:
        return Progress(label, total, enabled=self.show_progress)

    def _read(self, step_dir: StepDir) -> Tally:
        if self._step_complete(step_dir, resumable=True):
            self._report(READ_LABEL, step_dir.tally(), None)
            return step_dir.tally()
        started = time.perf_counter()
        progress = self._progress(READ_LABEL, None)
        shard, items, seen = 0, [], set()
        try:
            for item in self._read_items(seen):
                items.append(item)
                if len(items) == self.recipe.shard_size:
                    self._write_read_shard(step_dir, shard, items)
                    progress.advance(len(items))
                    shard, items = shard + 1, []
            if items or shard == 0:
                self._write_read_shard(step_dir, shard, items)
                progress.advance(len(items))
                shard += 1
        finally:
            progress.close()
        tally = step_dir.finish(shard)
        self._report(READ_LABEL, tally, time.perf_counter() - started)
        return tally

    def _read_items(self, seen: set[str]):
        for source in self.recipe.sources:
            for record, reason in read_source(source):
                if record["id"] in seen:
                    raise AugkitError(f"source {source.name!r}: record id {record['id']!r} appears twice "
                                      "(check id_field)")
                seen.add(record["id"])
                yield record, reason

    def _write_read_shard(self, step_dir: StepDir, shard: int, items: list) -> None:
        if step_dir.shard_done(shard):  # kept: verified when the step was opened
            return
        output = StageOutput([record for record, reason in items if reason is None],
                             [(record, reason) for record, reason in items if reason is not None])
        tally = Tally(len(items), len(output.kept), Counter(reason for _, reason in output.dropped))
        step_dir.write_shard(shard, 0, "read", output, tally)

    def _segment(self, steps: tuple[Step, ...], source_dir: StepDir, dirs: list[StepDir]) -> list[Tally]:
        complete = [self._step_complete(step_dir, resumable=True) for step_dir in dirs]
        shards = source_dir.shards()
        todo = [shard for shard in range(shards) if not all(step_dir.shard_done(shard) for step_dir in dirs)]
        if todo:
            self._run_shards(_ShardJob(tuple(steps), tuple(dirs), source_dir), todo)
        tallies = []
        for step, step_dir, cached in zip(steps, dirs, complete, strict=True):
            tally = step_dir.tally() if cached else step_dir.finish(shards)
            self._report(step.label, tally, None if cached else step_dir.seconds(shards))
            tallies.append(tally)
        return tallies

    def _run_shards(self, job: _ShardJob, todo: list[int]) -> None:
        """Run `_run_shard` on the shards `todo` (here or in a process pool); the Ray engine overrides this."""
        sizes = {shard: job.source_dir.shard_tally(shard).out for shard in todo}
        label = job.steps[0].label if len(job.steps) == 1 else f"{job.steps[0].label}..{job.steps[-1].label}"
        progress = self._progress(label, sum(sizes.values()))
        try:
            if self.num_proc == 1 or len(todo) == 1:
                for shard in todo:
                    progress.advance(sizes[_run_shard(job, shard)])
                return
            # Not "fork": workers forked from a parent that has loaded the components (MorphTx's
            # analyser, fastText) ran the same shards 2.6x slower here; fresh workers load their own.
            # Workers do not inherit the output folder's lock either. A worker that dies breaks the
            # pool (concurrent.futures), where multiprocessing.Pool would wait for it forever.
            context = multiprocessing.get_context("forkserver" if sys.platform == "linux" else "spawn")
            umask = os.umask(0o022)
            os.umask(umask)
            with ProcessPoolExecutor(min(self.num_proc, len(todo)), mp_context=context, initializer=_worker_init,
                                     initargs=(job, umask)) as pool:
                futures = [pool.submit(_worker_run, shard) for shard in todo]
                try:
                    for future in as_completed(futures):
                        progress.advance(sizes[future.result()])
                except BrokenProcessPool:
                    raise AugkitError(f"a worker process died while running {label} (killed, or out of memory); "
                                      "the completed shards are kept: rerun with --resume") from None
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
        finally:
            progress.close()

    def _global(self, step: Step, source_dir: StepDir, step_dir: StepDir) -> Tally:
        if self._step_complete(step_dir, resumable=False):  # a global stage's partial output cannot be resumed
            self._report(step.label, step_dir.tally(), None)
            return step_dir.tally()
        return self._run_global(step, source_dir, step_dir)

    def _run_global(self, step: Step, source_dir: StepDir, step_dir: StepDir) -> Tally:
        """A global step on this machine; the Ray engine overrides this."""
        started = time.perf_counter()
        input_ids = source_dir.ids()
        kept: list[Record] = []
        dropped: list[tuple[Record, str]] = []
        shard = 0
        returned = StageOutput([], [])
        for output in step.run_stream(self._passes(step, source_dir)):
            check_output(step.label, output)
            kept.extend(output.kept)
            dropped.extend(output.dropped)
            # Only ids and parents are kept for the account, so memory stays at one shard of records.
            returned.kept.extend(_skeleton(record) for record in output.kept)
            returned.dropped.extend((_skeleton(record), reason) for record, reason in output.dropped)
            while len(kept) + len(dropped) >= self.recipe.shard_size:
                shard = self._flush_global(step, step_dir, shard, kept, dropped)
        if kept or dropped or shard == 0:
            shard = self._flush_global(step, step_dir, shard, kept, dropped)
        passed = sum(1 for batch in source_dir.records() for record in batch if not step.selects(record)) \
            if step.apply_to else 0
        tally = account(step.label, input_ids, returned, passed)
        step_dir.complete(shard, tally)
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

    def _flush_global(self, step: Step, step_dir: StepDir, shard: int, kept: list, dropped: list) -> int:
        size = self.recipe.shard_size
        take_kept = kept[:size]
        take_dropped = dropped[:max(0, size - len(take_kept))]
        del kept[:len(take_kept)]
        del dropped[:len(take_dropped)]
        output = StageOutput(take_kept, take_dropped)
        tally = Tally(0, len(take_kept), Counter(reason for _, reason in take_dropped))
        step_dir.write_shard(shard, step.index, step.stage.name, output, tally)
        return shard + 1

    # --- results -----------------------------------------------------------------------------

    def _final_records(self, step_dir: StepDir) -> Iterator[Record]:
        for batch in step_dir.records():
            yield from batch

    def _entries(self) -> list[str]:
        """What a build of this recipe writes into the output folder (manifest.json aside)."""
        return [*(output.path for output in self.recipe.outputs), *BUILD_FILES]

    def _recorded(self) -> set[str]:
        """The entries the earlier build in the output folder recorded in its manifest (so they may go)."""
        manifest = _load_json(self.output / "manifest.json")
        if not (isinstance(manifest, dict) and isinstance(manifest.get("manifest_version"), int)
                and isinstance(manifest.get("stages"), list) and isinstance(manifest.get("outputs"), list)):
            return set()  # no manifest of augkit build's: nothing here is ours to replace
        recorded = {"manifest.json", *BUILD_FILES}
        for output in manifest["outputs"]:
            try:
                recorded.add(check_output_path(output["path"]))
            except (AugkitError, KeyError, TypeError):
                continue  # not a path augkit would write: never removed
        return recorded

    def _check_entries(self) -> None:
        """Refuse, before any work, to write where a user's file is, or outside the output folder."""
        root = self.output.resolve()
        recorded = self._recorded()
        for entry in [*self._entries(), "manifest.json"]:
            target = self.output / entry
            resolved = target.resolve()
            if resolved == root or root not in resolved.parents:
                raise AugkitError(f"output {entry!r}: {target} resolves to {resolved}, which is not inside the "
                                  f"output folder {root}")
            covered = entry in recorded or any(str(parent) in recorded for parent in PurePosixPath(entry).parents)
            if (target.exists() or target.is_symlink()) and not covered:
                raise AugkitError(f"{target} exists and no earlier build recorded it in "
                                  f"{self.output / 'manifest.json'}; augkit build replaces only what it wrote: "
                                  "move it away or choose another --output")

    def _publish(self, inputs, dirs: list[StepDir], tallies: list[Tally]) -> dict[str, Any]:
        """Write every result into the staging folder, commit it with the journal, and move it in."""
        staging = self.output / STAGING
        remove(staging)
        staging.mkdir()
        outputs = [self._write_output(output, dirs[-1], staging) for output in self.recipe.outputs]
        rejected = self._collect_rejected(dirs, staging)
        text = json.dumps(self._manifest(inputs, dirs, tallies, outputs, rejected, self._split_overlap(dirs)),
                          indent=2, ensure_ascii=False) + "\n"
        manifest = json.loads(text)  # what readers of manifest.json get (lists, not tuples)
        write_text_atomic(staging / "manifest.json", text)
        write_text_atomic(staging / "recipe.yaml", self.recipe.text)
        write_card(staging, manifest, self._final_records(dirs[-1]))
        entries = self._entries()
        retired = sorted(self._recorded() - {*entries, "manifest.json"})
        fault_point("publish-staged")
        write_text_atomic(staging / JOURNAL, json.dumps({"entries": entries, "retired": retired}, indent=2))
        self._finish_publish(interrupted=False)
        return manifest

    def _finish_publish(self, interrupted: bool) -> None:
        """Move a committed staging folder into place (idempotent, so a publish cut short by a kill is
        finished by the next build); an uncommitted one is a killed run's leftover and goes."""
        staging = self.output / STAGING
        if not staging.exists():
            return
        journal = _load_json(staging / JOURNAL)
        if not (isinstance(journal, dict) and isinstance(journal.get("entries"), list)
                and isinstance(journal.get("retired"), list)):
            remove(staging)
            return
        if interrupted:
            self.log(f"{self.output}: finishing the publication of an interrupted build")
        set_aside = staging / SET_ASIDE
        new_manifest = staging / "manifest.json"

        def retire(entry: str) -> None:
            target = self.output / entry
            if target.exists() or target.is_symlink():
                place = set_aside / entry
                remove(place)
                place.parent.mkdir(parents=True, exist_ok=True)
                os.replace(target, place)

        if new_manifest.exists():
            retire("manifest.json")  # first: while entries move, the folder has no manifest
        for entry in journal["retired"]:
            retire(entry)
        for entry in journal["entries"]:
            if (staging / entry).exists():
                retire(entry)
                (self.output / entry).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / entry, self.output / entry)
                fault_point(f"publish-moved/{entry}")
        if new_manifest.exists():
            os.replace(new_manifest, self.output / "manifest.json")
        remove(staging)

    def _write_output(self, output, step_dir: StepDir, root: Path) -> dict[str, Any]:
        files = write_output(output, self._final_records(step_dir), root)
        for entry in files:
            entry["sha256"] = _tree_digest(root / entry["path"])
        return {"format": output.format, "path": output.path, "files": files}

    def _collect_rejected(self, dirs: list[StepDir], root: Path) -> list[dict[str, Any]]:
        folder = root / "rejected"
        folder.mkdir()
        written = []
        for step_dir in dirs:
            tally = step_dir.tally()
            if not tally.dropped:
                continue

            def lines(step_dir=step_dir) -> Iterator[str]:
                for shard in range(step_dir.shards()):
                    with open(step_dir.rejected(shard), encoding="utf-8") as handle:
                        for line in handle:
                            yield line.rstrip("\n")

            path = folder / f"{step_dir.label}.jsonl"
            count = write_lines_atomic(path, lines())["rows"]
            written.append({"stage": step_dir.label, "path": str(path.relative_to(root)), "records": count})
        return written

    def _split_overlap(self, dirs: list[StepDir]) -> dict[str, Any] | None:
        """Texts found in two splits: after the last step that assigns splits, else in the outputs that
        are written by split; None when the build has no splits."""
        assigning = [index for index, step in enumerate(self.recipe.steps, start=1) if step.stage.assigns_split]
        field_name = next((output.split_field for output in self.recipe.outputs if output.split_field), None)
        if assigning:
            step_dir, where, field_name = dirs[assigning[-1]], dirs[assigning[-1]].label, "split"
        elif field_name is not None:
            step_dir, where = dirs[-1], "outputs"
        else:
            return None

        def split_of(record: Record) -> str | None:
            value = record.get(field_name, (record.get("meta") or {}).get(field_name))
            return None if value is None else str(value)

        pairs = split_overlap(self._final_records(step_dir), split_of)
        for pair in pairs:
            if pair["shared_texts"]:
                first, second = pair["splits"]
                self.log(f"warning: {pair['shared_texts']:,} text(s) occur in both {first} and {second} "
                         f"(measured after {where}; see split_overlap in manifest.json)")
        return {"measured_after": where, "normalisation": NORMALISATION, "pairs": pairs}

    def _manifest(self, inputs, dirs, tallies, outputs, rejected, overlap) -> dict[str, Any]:
        stages = []
        for step, step_dir, tally in zip((None, *self.recipe.steps), dirs, tallies, strict=True):
            entry = {"step": 0, "stage": "read"} if step is None else step.describe()
            entry.update({"fingerprint": step_dir.fingerprint, **tally.as_dict(), "balanced": tally.balanced()})
            stages.append(entry)
        return {
            "manifest_version": MANIFEST_VERSION,
            "recipe": self.recipe.name,
            "seed": self.recipe.seed,
            "records": tallies[-1].out,
            "stages": stages,
            "outputs": outputs,
            "rejected": rejected,
            "split_overlap": overlap,
            "inputs": inputs,
            "resolved_config": self.recipe.resolved(),
            "versions": package_versions(),
        }


@contextmanager
def _exclusive(output: Path) -> Iterator[None]:
    """One build per output folder; the lock goes away with the process, even when it is killed."""
    import fcntl

    with open(output / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AugkitError(f"{output}: another augkit build is writing to this folder") from None
        yield


def _skeleton(record: Record) -> Record:
    parents = (record.get("meta") or {}).get("parents")
    return {"id": record["id"], "meta": {"parents": parents} if parents else {}}


def _tree_digest(path: Path) -> str:
    """sha256 of a file, or of a folder's relative paths and file digests."""
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(item.relative_to(path)).encode())
            digest.update(bytes.fromhex(file_sha256(item)))
        return digest.hexdigest()
    return file_sha256(path)


def package_versions() -> dict[str, str]:
    from importlib import metadata

    versions = {"python": sys.version.split()[0], "augkit": __version__}
    for name in ("datasets", "pyarrow", "numpy", "fasttext", "datasketch", "ctranslate2", "regex"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def build(recipe: Recipe, output: Path, num_proc: int = 1, resume: bool = False,
          log: Callable[[str], None] = print) -> dict[str, Any]:
    return Build(recipe, Path(output), num_proc, resume, log).run()
