"""The build plan: which steps run, in what order and in which runs, and where each one's cache is.

Computed without running anything (`augkit build --dry-run` prints it). The read step turns the
sources into shards of `shard_size` input items; every later per-shard step maps shard i of its
input to shard i of its output, and consecutive per-shard steps form one run that executors take
shard by shard. A global-view step reads all shards and writes fresh ones.

A step's fingerprint covers its input's fingerprint, the stage's config and selector, the shard
size and the code of the stage's module (augkit's version and the module file's bytes), so changing
anything upstream recomputes downstream; the read step's covers the sources' files, their settings
and the reader code.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import corpora.readers
import corpora.records
from augment import __version__
from corpora.builder.cache import StepDir
from corpora.readers import fingerprint_files
from corpora.recipe import Recipe, Step
from corpora.writers import file_sha256

READ_LABEL = "00-read"
CACHE_FORMAT = 2  # shards carry row counts and checksums (part of every fingerprint)


def content_hash(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def module_digest(obj: Any) -> str:
    """The code version of a stage: augkit's version and the bytes of the module defining it."""
    source = inspect.getsourcefile(obj if inspect.isclass(obj) or inspect.ismodule(obj) else type(obj))
    return content_hash(__version__, file_sha256(Path(source)))


@dataclass
class BuildPlan:
    """The fingerprints of the sources' files (`inputs`, for the manifest) and the cache folder of
    every step: `dirs[0]` for the read step, `dirs[i]` for step i."""

    inputs: list[dict[str, Any]]
    dirs: list[StepDir]


def plan_build(recipe: Recipe, cache: Path) -> BuildPlan:
    inputs = [{"source": source.name, "files": fingerprint_files(source.files())} for source in recipe.sources]
    read_fingerprint = content_hash("read", CACHE_FORMAT, recipe.resolved()["sources"], inputs, recipe.shard_size,
                                    module_digest(corpora.readers), module_digest(corpora.records))
    dirs = [StepDir(cache, READ_LABEL, read_fingerprint)]
    for step in recipe.steps:
        fingerprint = content_hash(dirs[-1].fingerprint, step.describe(), recipe.shard_size, module_digest(step.stage))
        dirs.append(StepDir(cache, step.label, fingerprint))
    return BuildPlan(inputs, dirs)


def runs(steps: tuple[Step, ...]) -> Iterator[range]:
    """The steps' indices in runs: a global-view step alone, or consecutive per-shard steps."""
    start = 0
    while start < len(steps):
        end = start + 1
        if not steps[start].stage.global_view:
            while end < len(steps) and not steps[end].stage.global_view:
                end += 1
        yield range(start, end)
        start = end


def describe(recipe: Recipe, plan: BuildPlan, output: Path) -> str:
    """The plan as `--dry-run` prints it: sources, every step with its cache state, the outputs."""
    lines = [f"recipe {recipe.name} ({recipe.path}), seed {recipe.seed}, shard_size {recipe.shard_size}"]
    for entry in plan.inputs:
        size = sum(item["bytes"] for item in entry["files"])
        lines.append(f"  source {entry['source']}: {len(entry['files'])} file(s), {size:,} bytes")
    for step, step_dir in zip((None, *recipe.steps), plan.dirs, strict=True):
        state = "cached" if step_dir.read_done() else "partial" if step_dir.path.exists() else "to run"
        if step is None:
            lines.append(f"  {READ_LABEL:<24} {state}")
            continue
        kind = "global" if step.stage.global_view else "per shard"
        selector = f" apply_to={step.describe()['apply_to']}" if step.apply_to else ""
        lines.append(f"  {step.label:<24} {state:<8} {kind:<9} {json.dumps(step.stage.config())}{selector}")
    for entry in recipe.outputs:
        lines.append(f"  output {entry.format} -> {output / entry.path}")
    return "\n".join(lines)
