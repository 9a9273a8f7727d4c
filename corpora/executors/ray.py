"""The Ray executor: a build's work on a Ray cluster through Ray Data, with the local executor's bytes.

Only where the work runs changes: the build (corpora.builder.engine) still reads the sources, checks
the cache, keeps the accounts and publishes, and the units of work are corpora.builder.work's, so the
outputs, `manifest.json`, `rejected/` and the card are the local executor's byte for byte.

- Per-shard runs: the shards go through Ray Data's `map_batches`, one shard per call, each call
  `run_shard` (read the shard, run the steps, check the accounts, write every step's shard
  atomically). A step whose stage declares `loads_model` (translate) runs apart, in an actor pool:
  each actor keeps the model loaded for the whole run, on its own GPU (`num_gpus=1`, one actor per
  GPU) or, without GPUs, on CPU threads. A task whose worker died is retried by Ray (3 times by
  default) and a dead actor is restarted by Ray Data (`max_restarts=-1`, `max_task_retries=-1`); a
  retried shard starts again from its last complete step, so no record is lost or duplicated.
- Global steps: each record becomes a row (phase, position, group key, pickled record); the rows
  are grouped with `groupby(...).map_groups(...)` and every group runs `run_group`, accounted like
  a shard. The groups come from the stage's declarations: a `grouped` stage's `group_key` (one group
  per duplicate class, document or source), cut further along shared `link_keys` when it
  `has_link_keys` (dedup_near's LSH buckets, joined into candidate components by a `groupby` of the
  keys), with `plan_groups` of the group sizes when it `needs_group_sizes` (mix); any other global
  stage runs as one group. The outputs are sorted back into the local order (a distributed sort by
  input position) and streamed to the driver one shard at a time, into the build's shard writer.

The output folder must be storage that every node reads and writes (a shared file system), and
augkit must be installed on every node. See docs/ray.md.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from augment.errors import AugkitError
from corpora.builder.accounts import Tally
from corpora.builder.cache import StepDir
from corpora.builder.executor import Executor
from corpora.builder.work import (
    GlobalJob,
    ShardJob,
    ShardSink,
    pass_through,
    run_group,
    run_shard,
    stream_global,
)
from corpora.recipe import Step
from corpora.stage import Record, StageOutput
from corpora.unionfind import UnionFind
from corpora.writers import read_shard

INSTALL_HINT = "pip install 'augkit[ray]'"
_BYPASS, _SELECTED = 0, 1  # row phases: records apply_to leaves out come first, as in the local order
_POSITION_BITS = 32  # position = shard << 32 | index in shard


def import_ray():
    """Ray with Ray Data, or an error that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as error:
        raise AugkitError(f"the Ray executor needs Ray Data ({error}); install it with {INSTALL_HINT}") from None
    return ray


@dataclass
class RayExecutor(Executor):
    """`address`: None (a running cluster named by RAY_ADDRESS, else a local Ray), `auto` (the cluster
    this node belongs to) or `ray://host:port` (Ray Client). `model_actors`: actors per step of a
    stage that `loads_model` (default: one per GPU, else one per 4 CPUs)."""

    address: str | None = None
    model_actors: int | None = None

    @contextmanager
    def session(self, cache: Path) -> Iterator[None]:
        ray = import_ray()
        if not ray.is_initialized():
            ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        context.raise_original_map_exception = True  # an AugkitError from a stage reaches the driver
        if "RAY_DATA_DEFAULT_SHUFFLE_STRATEGY" not in os.environ:
            # Ray's default hash shuffle starts aggregator actors: on a 2-CPU node a groupby of a
            # few hundred rows took 10-40 s with it and under 1 s with the sort-based shuffle.
            context.shuffle_strategy = ray.data.context.ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        self.cache = cache
        try:
            yield
        except ray.exceptions.RayError as error:
            # A stage's or the accounts' error inside a worker: report it as the local executor would.
            cause = _augkit_error(error)
            if cause is None:
                raise
            raise cause from None

    # --- per-shard runs ----------------------------------------------------------------------

    def run_shards(self, job: ShardJob, shards: list[int], done: Callable[[int], None]) -> None:
        ray = import_ray()
        dataset = ray.data.from_items([{"shard": shard} for shard in shards], override_num_blocks=len(shards))
        for part in _parts(job):
            if any(step.stage.loads_model for step in part.steps):
                dataset = dataset.map_batches(_ModelWorker, fn_constructor_args=(part,), batch_size=1,
                                              **self._actor_resources())
            else:
                dataset = dataset.map_batches(_run_shard_batch, fn_args=(part,), batch_size=1, num_cpus=1)
        for row in dataset.iter_rows():  # streamed as shards finish
            done(int(row["shard"]))

    def _actor_resources(self) -> dict[str, Any]:
        """One model per GPU when the cluster has GPUs, else CPU actors; augkit's cache (the
        translation cache, converted models) in the build's cache folder, so a restarted job
        answers from it."""
        ray = import_ray()
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        actors = self.model_actors or (gpus if gpus else max(1, cpus // 4))
        env = {"AUGKIT_CACHE": str((self.cache / "augkit").resolve())}
        placement = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        return {"concurrency": actors, "runtime_env": {"env_vars": env}, **placement}

    # --- global steps ------------------------------------------------------------------------

    def run_global(self, job: GlobalJob, sink: ShardSink) -> Tally:
        step, source_dir, stage = job.step, job.source_dir, job.step.stage
        if source_dir.tally().out == 0:
            return stream_global(job, sink)  # nothing to distribute
        ray = import_ray()
        shards = source_dir.shards()
        rows = ray.data.from_items([{"shard": shard} for shard in range(shards)], override_num_blocks=shards)
        components = _link_components(rows, source_dir, step) if stage.grouped and stage.has_link_keys else None
        rows = rows.map_batches(_keyed_rows, fn_args=(source_dir, step, components), batch_size=1)
        plan = None
        if stage.grouped and stage.needs_group_sizes:
            sizes: dict[Any, int] = {}
            for row in rows.filter(expr=f"phase == {_SELECTED}").groupby("key").count().iter_rows():
                group = json.loads(row["key"])[1]
                sizes[group] = sizes.get(group, 0) + row["count()"]
            plan = stage.plan_groups(sizes)
        results = rows.groupby("key").map_groups(_run_group, fn_args=(step, plan), batch_format="pyarrow")
        tally = Tally()
        for batch in results.sort(["phase", "position", "order"]).iter_batches(batch_size=sink.shard_size,
                                                                                  batch_format="pyarrow"):
            kept: list[Record] = []
            dropped: list[tuple[Record, str]] = []
            for row in batch.select(["reason", "record", "tally"]).to_pylist():
                if row["tally"]:
                    tally.add(Tally.from_dict(json.loads(row["tally"])))
                record = pickle.loads(row["record"])
                (dropped.append((record, row["reason"])) if row["reason"] else kept.append(record))
            sink.add(StageOutput(kept, dropped))
        return tally


def _augkit_error(error: BaseException | None) -> AugkitError | None:
    """The AugkitError a Ray error was caused by, if any (Ray wraps a worker's exceptions)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, AugkitError) and type(error).__module__.startswith("augment"):
            return error
        error = getattr(error, "cause", None) or error.__cause__ or error.__context__
    return None


def _parts(job: ShardJob) -> list[ShardJob]:
    """`job` cut so that every step of a stage that loads a model is a part of its own (it runs in
    the actor pool)."""
    parts, start, previous = [], 0, job.source_dir
    for index, step in enumerate(job.steps):
        if step.stage.loads_model:
            cuts = [(start, index), (index, index + 1)] if index > start else [(index, index + 1)]
            for begin, end in cuts:
                parts.append(ShardJob(job.steps[begin:end], job.dirs[begin:end], previous))
                previous = job.dirs[end - 1]
            start = index + 1
    if start < len(job.steps):
        parts.append(ShardJob(job.steps[start:], job.dirs[start:], previous))
    return parts


def _run_shard_batch(batch: dict, job: ShardJob) -> dict:
    return {"shard": [run_shard(job, int(shard)) for shard in batch["shard"]]}


class _ModelWorker:
    """An actor of the pool: runs shards through a stage that loads a model. The stage keeps its
    model per process (e.g. augment's translator cache), so each actor holds exactly one."""

    def __init__(self, job: ShardJob):
        self.job = job

    def __call__(self, batch: dict) -> dict:
        return _run_shard_batch(batch, self.job)


def _keyed_rows(batch: dict, source_dir: StepDir, step: Step, components: dict[str, str] | None):
    """The rows of a global step for the shards in `batch`. A row's `key` names its group: one per
    record for the records `apply_to` leaves out, the stage's group (and link component) for a
    grouped stage, one group for any other stage."""
    import pyarrow as pa

    stage = step.stage
    phases, positions, keys, blobs = [], [], [], []
    for shard in batch["shard"]:
        for index, record in enumerate(read_shard(source_dir.data(int(shard)))):
            if not step.selects(record):
                phases.append(_BYPASS)
                keys.append(json.dumps([_BYPASS, record["id"]]))
            else:
                phases.append(_SELECTED)
                group = stage.group_key(record) if stage.grouped else None
                component = components.get(record["id"], record["id"]) if components is not None else None
                keys.append(json.dumps([_SELECTED, group, component]))
            positions.append(int(shard) << _POSITION_BITS | index)
            blobs.append(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))
    return pa.table({"phase": pa.array(phases, pa.int8()), "position": pa.array(positions, pa.int64()),
                     "key": pa.array(keys, pa.string()), "record": pa.array(blobs, pa.binary())})


def _link_components(shards, source_dir: StepDir, step: Step) -> dict[str, str]:
    """The components of "shares a link key within a group" (a groupby of the keys), as {record id:
    component id} for the records that share a key with another.

    The stage's `process_group` over each component gives exactly its output over the whole group,
    so the groups may be cut along them. Only the ids of records that share keys come to the
    driver, never the records."""
    links = shards.map_batches(_link_rows, fn_args=(source_dir, step), batch_size=1)
    shared = links.groupby("link").map_groups(_shared_link, batch_format="pyarrow")
    components = UnionFind()
    for row in shared.iter_rows():
        first, *others = json.loads(row["ids"])
        for other in others:
            components.union(first, other)
    return {record_id: components.find(record_id) for record_id in list(components)}


def _link_rows(batch: dict, source_dir: StepDir, step: Step):
    """(link, id) for every link key of every selected record of the shards in `batch`."""
    import pyarrow as pa

    stage = step.stage
    links, ids = [], []
    for shard in batch["shard"]:
        records = [record for record in read_shard(source_dir.data(int(shard))) if step.selects(record)]
        for record, keys in zip(records, stage.link_keys(records), strict=True):
            group = stage.group_key(record)
            for key in keys:
                links.append(json.dumps([group, key]))
                ids.append(record["id"])
    return pa.table({"link": pa.array(links, pa.string()), "id": pa.array(ids, pa.string())})


def _shared_link(table):
    import pyarrow as pa

    ids = table.column("id").to_pylist()
    return pa.table({"ids": pa.array([json.dumps(ids)] if len(ids) > 1 else [], pa.string())})


def _run_group(table, step: Step, plan: dict | None):
    """One group through `run_group` (or `pass_through`), accounted like a local shard; each output
    row carries the input position it sorts back to."""
    import pyarrow as pa

    table = table.sort_by("position")
    records = [pickle.loads(blob) for blob in table.column("record").to_pylist()]
    positions = dict(zip((record["id"] for record in records), table.column("position").to_pylist(), strict=True))
    phase = table.column("phase")[0].as_py()
    stage = step.stage
    if phase == _BYPASS:
        output, tally = pass_through(step, records)
    else:
        output, tally = run_group(step, records, plan.get(stage.group_key(records[0])) if plan is not None else None)
    rows = [*((record, "") for record in output.kept), *output.dropped]
    columns: dict[str, list] = {"phase": [], "position": [], "order": [], "reason": [], "record": [], "tally": []}
    # A stage run as one group gave its output in its own order (format_cpt packs split by split).
    keep_order = phase == _SELECTED and not stage.grouped
    for order, (record, reason) in enumerate(rows):
        columns["phase"].append(phase)
        columns["position"].append(0 if keep_order else _position(record, positions))
        columns["order"].append(order)
        columns["reason"].append(reason)
        columns["record"].append(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))
        columns["tally"].append(json.dumps(tally.as_dict()) if order == 0 else "")
    types = {"phase": pa.int8(), "position": pa.int64(), "order": pa.int64(), "reason": pa.string(),
             "record": pa.binary(), "tally": pa.string()}
    return pa.table({name: pa.array(values, types[name]) for name, values in columns.items()})


def _position(record: Record, positions: dict[str, int]) -> int:
    """Where the local order puts an output record: at its input, or a derived one at its first parent."""
    if record["id"] in positions:
        return positions[record["id"]]
    return min(positions[parent] for parent in record["meta"]["parents"])
