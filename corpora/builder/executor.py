"""The one interface between the build and whatever runs its work (corpora.executors: local, ray).

The build (corpora.builder.engine) decides what to compute, checks and reuses the cache, keeps the
accounts and publishes the outputs. An executor only decides where the units of work of
corpora.builder.work run. It honours what each stage declares (corpora.stage: `global_view`,
`grouped` with its group keys, `loads_model`) and never looks at a stage's class, so every stage
runs under every executor and gives the same bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from corpora.builder.accounts import Tally
from corpora.builder.work import GlobalJob, ShardJob, ShardSink


class Executor(ABC):
    def session(self, cache: Path) -> AbstractContextManager[None]:
        """Around a whole build (connect to a cluster, report its errors as augkit's). `cache` is
        the build's cache folder, for executors that keep their workers' caches there."""
        return nullcontext()

    @abstractmethod
    def run_shards(self, job: ShardJob, shards: list[int], done: Callable[[int], None]) -> None:
        """Run `run_shard(job, shard)` for every shard, anywhere, in any order, and call `done(shard)`
        on this machine as each one finishes."""

    @abstractmethod
    def run_global(self, job: GlobalJob, sink: ShardSink) -> Tally:
        """Run a global step: add its output to `sink` in the order `stream_global` gives (records
        its `apply_to` leaves out first, then the stage's output), and return its accounts."""
