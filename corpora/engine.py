"""The local engine: run a recipe in this process (and `num_proc` worker processes), with accounts.

How a build runs
- The read step turns the sources into shards of `shard_size` input items; every later stage maps
  shard i of its input to shard i of its output. A global-view stage (see corpora.stage) reads all
  shards in order and writes fresh ones.
- Each step's output lives in `OUTPUT/cache/NN-stage-FINGERPRINT/`: per shard a parquet file, the
  rejected records (jsonl) and the shard's counters (json), each written under a temporary name and
  renamed; the counters file is written last, so it marks the shard complete. `DONE.json` marks the
  step complete. The fingerprint covers the input's fingerprint, the stage's config and selector and
  the code of the stage's module, so a completed step is reused by any later build that would
  compute the same thing (that is the cache), and changing anything upstream recomputes downstream.
- `resume=True` also keeps the completed shards of a step that did not finish (a killed run);
  without it such partial work is discarded. Either way nothing is lost or duplicated, because a
  shard is either complete on disk or recomputed.
- Consecutive per-shard steps run shard by shard in a process pool (`num_proc`); results do not depend
  on `num_proc`.
- Accounts: for every step and shard the engine checks that every input came back (kept, dropped,
  or consumed into derived records) and no id came back twice, and that
  `in - consumed + derived = out + dropped`; step after step, a stage's `in` equals the previous
  stage's `out`. Dropped records go to `OUTPUT/rejected/NN-stage.jsonl` with their reason.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import multiprocessing
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augment import __version__
from augment.errors import AugkitError
from corpora.card import write_card
from corpora.readers import fingerprint_files, read_source
from corpora.recipe import Recipe, Step
from corpora.records import check_record
from corpora.stage import Record, StageOutput
from corpora.writers import (
    read_shard,
    rejected_line,
    write_lines_atomic,
    write_output,
    write_shard,
    write_text_atomic,
)

READ_LABEL = "00-read"
MANIFEST_VERSION = 1


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
    return _hash(__version__, hashlib.sha256(Path(source).read_bytes()).hexdigest())


class StepDir:
    """A step's cache folder: shard files, per-shard counters, DONE.json."""

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

    def is_done(self) -> bool:
        return self.done.exists()

    def shard_done(self, shard: int) -> bool:
        return self.counts(shard).exists()

    def shards(self) -> int:
        return json.loads(self.done.read_text())["shards"]

    def prepare(self, resume: bool) -> None:
        if self.path.exists() and not resume:
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True, exist_ok=True)

    def write_shard(self, shard: int, step: int, stage: str, output: StageOutput, tally: Tally,
                    seconds: float = 0.0) -> None:
        write_shard(self.data(shard), output.kept)
        write_lines_atomic(self.rejected(shard),
                           (rejected_line(step, stage, record, reason) for record, reason in output.dropped))
        write_text_atomic(self.counts(shard), json.dumps({**tally.as_dict(), "seconds": seconds}, sort_keys=True))

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
        return Tally.from_dict(json.loads(self.done.read_text()))

    def records(self) -> Iterator[list[Record]]:
        for shard in range(self.shards()):
            yield read_shard(self.data(shard))

    def ids(self) -> list[str]:
        import pyarrow.parquet as pq

        return [value for shard in range(self.shards())
                for value in pq.read_table(self.data(shard), columns=["id"]).column("id").to_pylist()]


# --- per-shard work (runs in worker processes) -----------------------------------------------


@dataclass(frozen=True)
class _ShardJob:
    steps: tuple[Step, ...]
    dirs: tuple[StepDir, ...]
    source_dir: StepDir


def _run_shard(job: _ShardJob, shard: int) -> int:
    """Run the segment's steps on one shard, skipping the steps whose shard is already complete."""
    start = len(job.steps)
    while start > 0 and not job.dirs[start - 1].shard_done(shard):
        start -= 1
    if start == len(job.steps):
        return shard
    previous = job.dirs[start - 1] if start > 0 else job.source_dir
    batch = read_shard(previous.data(shard))
    for step, step_dir in zip(job.steps[start:], job.dirs[start:], strict=True):
        started = time.perf_counter()
        output = step.run(batch)
        check_output(f"{step.label} (shard {shard})", output)
        passed = 0 if not step.apply_to else sum(1 for record in batch if not step.selects(record))
        tally = account(f"{step.label} (shard {shard})", (record["id"] for record in batch), output, passed)
        step_dir.write_shard(shard, step.index, step.stage.name, output, tally, time.perf_counter() - started)
        batch = output.kept
    return shard


_WORKER_JOB: _ShardJob | None = None


def _worker_init(job: _ShardJob) -> None:
    global _WORKER_JOB
    _WORKER_JOB = job


def _worker_run(shard: int) -> int:
    return _run_shard(_WORKER_JOB, shard)


# --- the build -------------------------------------------------------------------------------


def _progress(iterable, total: int, description: str):
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=description, unit="shard", file=sys.stderr, leave=False,
                disable=not sys.stderr.isatty())


@dataclass
class Build:
    recipe: Recipe
    output: Path
    num_proc: int = 1
    resume: bool = False
    log: Callable[[str], None] = print

    def __post_init__(self):
        if self.num_proc < 1:
            raise AugkitError("--num-proc must be >= 1")
        self.cache = self.output / "cache"

    # The plan: step labels and fingerprints, computed without running anything.
    def plan(self) -> tuple[list[dict[str, Any]], list[StepDir]]:
        inputs = []
        for source in self.recipe.sources:
            inputs.append({"source": source.name, "files": fingerprint_files(source.files())})
        import corpora.readers
        import corpora.records

        read_fingerprint = _hash("read", self.recipe.resolved()["sources"], inputs, self.recipe.shard_size,
                                 _module_digest(corpora.readers), _module_digest(corpora.records))
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
            state = "cached" if step_dir.is_done() else "partial" if step_dir.path.exists() else "to run"
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
        self.output.mkdir(parents=True, exist_ok=True)
        with _exclusive(self.output):
            return self._run()

    def _run(self) -> dict[str, Any]:
        started = time.perf_counter()
        inputs, dirs = self.plan()
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
        outputs = [self._write_output(output, dirs[-1]) for output in self.recipe.outputs]
        rejected = self._collect_rejected(dirs)
        manifest = self._manifest(inputs, dirs, tallies, outputs, rejected)
        write_text_atomic(self.output / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        write_text_atomic(self.output / "recipe.yaml", self.recipe.text)
        write_card(self.output, manifest, self._final_records(dirs[-1]))
        self.log(f"built {self.recipe.name} in {time.perf_counter() - started:.1f} s -> {self.output}")
        return manifest

    # --- steps -------------------------------------------------------------------------------

    def _report(self, label: str, tally: Tally, seconds: float | None) -> None:
        dropped = ", ".join(f"{reason} {count:,}" for reason, count in sorted(tally.dropped.items()))
        extra = f", derived {tally.derived:,}, consumed {tally.consumed:,}" if tally.derived else ""
        timing = "cached" if seconds is None else f"{seconds:.1f} s"
        self.log(f"  {label:<24} {tally.records_in:>9,} in {tally.out:>9,} out {sum(tally.dropped.values()):>7,} "
                 f"dropped{f' ({dropped})' if dropped else ''}{extra}  [{timing}]")

    def _read(self, step_dir: StepDir) -> Tally:
        if step_dir.is_done():
            self._report(READ_LABEL, step_dir.tally(), None)
            return step_dir.tally()
        started = time.perf_counter()
        step_dir.prepare(self.resume)
        shard, items, seen = 0, [], set()
        for item in self._read_items(seen):
            items.append(item)
            if len(items) == self.recipe.shard_size:
                self._write_read_shard(step_dir, shard, items)
                shard, items = shard + 1, []
        if items or shard == 0:
            self._write_read_shard(step_dir, shard, items)
            shard += 1
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
        if self.resume and step_dir.shard_done(shard):
            return
        output = StageOutput([record for record, reason in items if reason is None],
                             [(record, reason) for record, reason in items if reason is not None])
        tally = Tally(len(items), len(output.kept), Counter(reason for _, reason in output.dropped))
        step_dir.write_shard(shard, 0, "read", output, tally)

    def _segment(self, steps: tuple[Step, ...], source_dir: StepDir, dirs: list[StepDir]) -> list[Tally]:
        if all(step_dir.is_done() for step_dir in dirs):
            tallies = [step_dir.tally() for step_dir in dirs]
            for step, tally in zip(steps, tallies, strict=True):
                self._report(step.label, tally, None)
            return tallies
        shards = source_dir.shards()
        for step_dir in dirs:
            if not step_dir.is_done():
                step_dir.prepare(self.resume)
        self._run_shards(_ShardJob(tuple(steps), tuple(dirs), source_dir), shards)
        tallies = []
        for step, step_dir in zip(steps, dirs, strict=True):
            cached = step_dir.is_done()
            tally = step_dir.tally() if cached else step_dir.finish(shards)
            self._report(step.label, tally, None if cached else step_dir.seconds(shards))
            tallies.append(tally)
        return tallies

    def _run_shards(self, job: _ShardJob, shards: int) -> None:
        """Run `_run_shard` on every shard (here or in a process pool); the Ray engine overrides this."""
        label = ", ".join(step.label for step in job.steps)
        if self.num_proc == 1 or shards == 1:
            for shard in _progress(range(shards), shards, label):
                _run_shard(job, shard)
        else:
            # Not "fork": workers forked from a parent that has loaded the components (MorphTx's
            # analyser, fastText) ran the same shards 2.6x slower here; fresh workers load their own.
            # Workers do not inherit the output folder's lock either.
            context = multiprocessing.get_context("forkserver" if sys.platform == "linux" else "spawn")
            with context.Pool(min(self.num_proc, shards), initializer=_worker_init, initargs=(job,)) as pool:
                for _ in _progress(pool.imap_unordered(_worker_run, range(shards)), shards, label):
                    pass

    def _global(self, step: Step, source_dir: StepDir, step_dir: StepDir) -> Tally:
        if step_dir.is_done():
            self._report(step.label, step_dir.tally(), None)
            return step_dir.tally()
        started = time.perf_counter()
        step_dir.prepare(resume=False)  # a global stage's partial output cannot be resumed
        input_ids = source_dir.ids()
        kept: list[Record] = []
        dropped: list[tuple[Record, str]] = []
        shard = 0
        returned = StageOutput([], [])
        for output in step.run_stream(source_dir.records):
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

    def _write_output(self, output, step_dir: StepDir) -> dict[str, Any]:
        files = write_output(output, self._final_records(step_dir), self.output)
        for entry in files:
            entry["sha256"] = _file_digest(self.output / entry["path"])
        return {"format": output.format, "path": output.path, "files": files}

    def _collect_rejected(self, dirs: list[StepDir]) -> list[dict[str, Any]]:
        folder = self.output / "rejected"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
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
            count = write_lines_atomic(path, lines())
            written.append({"stage": step_dir.label, "path": str(path.relative_to(self.output)), "records": count})
        return written

    def _manifest(self, inputs, dirs, tallies, outputs, rejected) -> dict[str, Any]:
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


def _file_digest(path: Path) -> str:
    if path.is_dir():
        digest = hashlib.sha256()
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(item.relative_to(path)).encode())
            digest.update(hashlib.sha256(item.read_bytes()).digest())
        return digest.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
