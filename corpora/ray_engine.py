"""The Ray engine: the same recipe, stages and bookkeeping as the local engine, run on a Ray cluster.

`RayBuild` is the local engine's `Build` (corpora.engine) with the two ways of running a step
replaced; reading the sources, fingerprints, the step cache, `--resume`, the accounts, `rejected/`,
`manifest.json`, the outputs and the dataset card are the local engine's code, so both engines give
the same bytes.

- Per-shard steps: the shards of a run of consecutive per-shard steps go through Ray Data's
  `map_batches`, one shard per call, and each call is the local engine's `_run_shard` (read the
  shard, run the stage objects of the recipe, check the accounts, write the shard's data, rejected
  records and counters, each atomically). Model stages (`translate`) run in an actor pool instead of
  tasks: each actor keeps one CTranslate2 translator, on its own GPU (`num_gpus=1`, one actor per GPU)
  or, without GPUs, on CPU threads. A task whose worker died is retried by Ray (3 times by default)
  and a dead actor is restarted by Ray Data (`max_restarts=-1`, `max_task_retries=-1`); the retried
  shard starts again from its last complete step, so no record is lost or duplicated.
- Global steps: each record becomes a row (phase, position, group key, pickled record), the rows are
  grouped with Ray Data's `groupby(...).map_groups(...)` and every group runs the stage's own group
  function (`process_group` of dedup_exact and format_cpt; `process_group` of dedup_near over the
  components of records that share an LSH bucket, found by a `groupby` of the bucket keys;
  `Mix.select` after a `groupby("source").count()` for `Mix.targets`; a stage without a group
  decomposition runs as one group), with the local engine's `account` per group. The outputs are sorted by the position of
  their inputs (a distributed sort) and streamed to the driver one shard at a time, which writes them
  with the local engine's shard writer, so the order of records is the local engine's.

The output folder must be storage that every node reads and writes (a shared file system), and
augkit must be installed on every node. See docs/ray.md.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import time
from dataclasses import dataclass
from typing import Any

from augment.errors import AugkitError
from corpora.engine import Build, StepDir, Tally, _run_shard, _ShardJob, account, check_output
from corpora.recipe import Step
from corpora.stage import Record, StageOutput
from corpora.stages.adapters import Translate
from corpora.stages.common import KeyedGlobalStage
from corpora.stages.dedup import DedupNear
from corpora.stages.formatters import FormatCpt
from corpora.stages.sampling import Mix

INSTALL_HINT = "pip install 'augkit[ray]'"
_BYPASS, _SELECTED = 0, 1  # row phases: records apply_to leaves out come first, as in the local engine
_POSITION_BITS = 32  # position = shard << 32 | index in shard


def import_ray():
    """Ray with Ray Data, or an error that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as error:
        raise AugkitError(f"the Ray engine needs Ray Data ({error}); install it with {INSTALL_HINT}") from None
    return ray


@dataclass
class RayBuild(Build):
    """`Build` on Ray. `address`: None (a running cluster named by RAY_ADDRESS, else a local Ray),
    `auto` (the cluster this node belongs to) or `ray://host:port` (Ray Client).
    `translate_actors`: actors per translate step (default: one per GPU, else one per 4 CPUs)."""

    address: str | None = None
    translate_actors: int | None = None

    def run(self) -> dict[str, Any]:
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
        try:
            return super().run()
        except ray.exceptions.RayError as error:
            # A stage's or the accounts' error inside a worker: report it as the local engine would.
            cause = _augkit_error(error)
            if cause is None:
                raise
            raise cause from None

    # --- per-shard steps ---------------------------------------------------------------------

    def _run_shards(self, job: _ShardJob, todo: list[int]) -> None:
        ray = import_ray()
        sizes = {shard: job.source_dir.shard_tally(shard).out for shard in todo}
        dataset = ray.data.from_items([{"shard": shard} for shard in todo], override_num_blocks=len(todo))
        for part in _parts(job):
            if any(isinstance(step.stage, Translate) for step in part.steps):
                dataset = dataset.map_batches(_ModelShards, fn_constructor_args=(part,), batch_size=1,
                                              **self._actor_resources())
            else:
                dataset = dataset.map_batches(_run_shard_batch, fn_args=(part,), batch_size=1, num_cpus=1)
        progress = self._progress(f"{job.steps[0].label}..{job.steps[-1].label}", sum(sizes.values()))
        finished = []
        try:
            for row in dataset.iter_rows():  # streamed as shards finish
                finished.append(int(row["shard"]))
                progress.advance(sizes[finished[-1]])
        finally:
            progress.close()
        if sorted(finished) != todo:
            raise AugkitError(f"Ray returned shards {sorted(finished)[:5]}... for {len(todo)} shards to run")

    def _actor_resources(self) -> dict[str, Any]:
        """One translator per GPU when the cluster has GPUs, else CPU actors; the translation cache
        (and converted models) in the output folder, so a restarted job answers from it."""
        ray = import_ray()
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        actors = self.translate_actors or (gpus if gpus else max(1, cpus // 4))
        env = {"AUGKIT_CACHE": str((self.cache / "augkit").resolve())}
        placement = {"num_gpus": 1} if gpus else {"num_cpus": 1}
        return {"concurrency": actors, "runtime_env": {"env_vars": env}, **placement}

    # --- global steps ------------------------------------------------------------------------

    def _run_global(self, step: Step, source_dir: StepDir, step_dir: StepDir) -> Tally:
        if source_dir.tally().out == 0:
            return super()._run_global(step, source_dir, step_dir)  # nothing to distribute
        ray = import_ray()
        started = time.perf_counter()
        shards = source_dir.shards()
        rows = ray.data.from_items([{"shard": shard} for shard in range(shards)], override_num_blocks=shards)
        components = _candidate_components(rows, source_dir, step) if isinstance(step.stage, DedupNear) else None
        rows = rows.map_batches(_keyed_rows, fn_args=(source_dir, step, components), batch_size=1)
        targets = None
        if isinstance(step.stage, Mix):
            selected = rows.filter(expr=f"phase == {_SELECTED}")
            counts = {json.loads(row["key"]): row["count()"] for row in selected.groupby("key").count().iter_rows()}
            targets = step.stage.targets(counts)
        results = rows.groupby("key").map_groups(_run_group, fn_args=(step, targets), batch_format="pyarrow")
        ordered = results.sort(["phase", "position", "order"])
        tally, shard = Tally(), 0
        kept: list[Record] = []
        dropped: list[tuple[Record, str]] = []
        for batch in ordered.iter_batches(batch_size=self.recipe.shard_size, batch_format="pyarrow"):
            for row in batch.select(["reason", "record", "tally"]).to_pylist():
                if row["tally"]:
                    tally.add(Tally.from_dict(json.loads(row["tally"])))
                record = pickle.loads(row["record"])
                (dropped.append((record, row["reason"])) if row["reason"] else kept.append(record))
            while len(kept) + len(dropped) >= self.recipe.shard_size:
                shard = self._flush_global(step, step_dir, shard, kept, dropped)
        if kept or dropped or shard == 0:
            shard = self._flush_global(step, step_dir, shard, kept, dropped)
        if not tally.balanced():
            raise AugkitError(f"stage {step.label}: counts do not balance: {tally.as_dict()}")
        step_dir.complete(shard, tally)
        self._report(step.label, tally, time.perf_counter() - started)
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


def _parts(job: _ShardJob) -> list[_ShardJob]:
    """`job` cut so that every translate step is a part of its own (it runs in the actor pool)."""
    parts, start, previous = [], 0, job.source_dir
    for index, step in enumerate(job.steps):
        if isinstance(step.stage, Translate):
            cuts = [(start, index), (index, index + 1)] if index > start else [(index, index + 1)]
            for begin, end in cuts:
                parts.append(_ShardJob(job.steps[begin:end], job.dirs[begin:end], previous))
                previous = job.dirs[end - 1]
            start = index + 1
    if start < len(job.steps):
        parts.append(_ShardJob(job.steps[start:], job.dirs[start:], previous))
    return parts


def _run_shard_batch(batch: dict, job: _ShardJob) -> dict:
    return {"shard": [_run_shard(job, int(shard)) for shard in batch["shard"]]}


class _ModelShards:
    """An actor of the pool: runs shards through a model stage. The stage loads its model once per
    process (augment's translator cache), so each actor holds exactly one translator."""

    def __init__(self, job: _ShardJob):
        self.job = job

    def __call__(self, batch: dict) -> dict:
        return _run_shard_batch(batch, self.job)


def _group_key(step: Step, record: Record, components: dict[str, str] | None) -> str:
    stage = step.stage
    if isinstance(stage, Mix):
        return json.dumps(record.get("source"))
    if components is not None:  # dedup_near: its scope, then the candidate component
        return f"{stage.group_key(record)}\x1f{components.get(record['id'], record['id'])}"
    if _keyed(stage):
        return stage.group_key(record)
    return ""  # one group: the stage sees every record at once, in order


def _keyed(stage) -> bool:
    """Whether the stage's output is exactly its `process_group` over the groups of `group_key`."""
    if not isinstance(stage, KeyedGlobalStage):
        return False
    if isinstance(stage, FormatCpt):
        return stage.pack_chars is None  # packing joins documents in order: one group
    return type(stage).process is KeyedGlobalStage.process


def _keyed_rows(batch: dict, source_dir: StepDir, step: Step, components: dict[str, str] | None):
    """The rows of a global step for the shards in `batch`."""
    import pyarrow as pa

    from corpora.writers import read_shard

    phases, positions, keys, blobs = [], [], [], []
    for shard in batch["shard"]:
        for index, record in enumerate(read_shard(source_dir.data(int(shard)))):
            selected = step.selects(record)
            phases.append(_SELECTED if selected else _BYPASS)
            positions.append(int(shard) << _POSITION_BITS | index)
            keys.append(_group_key(step, record, components) if selected else f"bypass:{record['id']}")
            blobs.append(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))
    return pa.table({"phase": pa.array(phases, pa.int8()), "position": pa.array(positions, pa.int64()),
                     "key": pa.array(keys, pa.string()), "record": pa.array(blobs, pa.binary())})


def _candidate_components(shards, source_dir: StepDir, step: Step) -> dict[str, str]:
    """dedup_near: the connected components of "shares an LSH bucket" (Ray groupby by bucket key),
    as {record id: component id} for the records that share a bucket with another.

    Near-duplicates (a shared bucket and enough similarity) always lie in one such component, so
    `process_group` over each component gives exactly its output over the whole scope. Only the ids
    of records that share buckets come to the driver, never the records."""
    shared = shards.map_batches(_bucket_rows, fn_args=(source_dir, step), batch_size=1)
    shared = shared.groupby("bucket").map_groups(_shared_bucket, batch_format="pyarrow")
    parent: dict[str, str] = {}

    def root(record_id: str) -> str:
        while parent.setdefault(record_id, record_id) != record_id:
            parent[record_id] = parent[parent[record_id]]
            record_id = parent[record_id]
        return record_id

    for row in shared.iter_rows():
        first, *others = json.loads(row["ids"])
        for other in others:
            parent[root(other)] = root(first)
    return {record_id: root(record_id) for record_id in list(parent)}


def _bucket_rows(batch: dict, source_dir: StepDir, step: Step):
    """(bucket, id) for every LSH band of every selected record of the shards in `batch`."""
    import pyarrow as pa

    from corpora.writers import read_shard

    stage = step.stage
    buckets, ids = [], []
    for shard in batch["shard"]:
        records = [record for record in read_shard(source_dir.data(int(shard))) if step.selects(record)]
        for record, minhash in zip(records, stage.signatures(records) if records else [], strict=True):
            for key in stage.band_keys(minhash):
                buckets.append(f"{stage.group_key(record)}\x1f{key.hex()}")
                ids.append(record["id"])
    return pa.table({"bucket": pa.array(buckets, pa.string()), "id": pa.array(ids, pa.string())})


def _shared_bucket(table):
    import pyarrow as pa

    ids = table.column("id").to_pylist()
    return pa.table({"ids": pa.array([json.dumps(ids)] if len(ids) > 1 else [], pa.string())})


def _run_group(table, step: Step, targets: dict | None):
    """One group through the stage, accounted like a local shard; rows sorted back by input position."""
    import pyarrow as pa

    table = table.sort_by("position")
    records = [pickle.loads(blob) for blob in table.column("record").to_pylist()]
    positions = dict(zip((record["id"] for record in records), table.column("position").to_pylist(), strict=True))
    phase = table.column("phase")[0].as_py()
    stage = step.stage
    if phase == _BYPASS:
        output, passed = StageOutput(records, []), len(records)
    elif isinstance(stage, Mix):
        output, passed = stage.select(records, targets[records[0].get("source")]), 0
    elif _keyed(stage):
        output, passed = stage.process_group(records), 0
    else:
        output, passed = stage.process(records), 0
    label = f"{step.label} (group of {records[0]['id']!r})"
    check_output(label, output)
    tally = account(label, positions, output, passed)
    rows = [*((record, "") for record in output.kept), *output.dropped]
    columns: dict[str, list] = {"phase": [], "position": [], "order": [], "reason": [], "record": [], "tally": []}
    # A stage run as one group gave its output in its own order (format_cpt packs split by split).
    keep_order = phase == _SELECTED and not isinstance(stage, Mix) and not _keyed(stage)
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
    """Where the local engine puts an output record: at its input, or a derived one at its first parent."""
    if record["id"] in positions:
        return positions[record["id"]]
    return min(positions[parent] for parent in record["meta"]["parents"])

