"""The local executor: this machine, per-shard work in `num_proc` worker processes.

Shards of a run of per-shard steps go through a process pool (none when `num_proc` is 1 or there
is one shard); a global step streams through its stage in this process (`stream_global`), keeping
memory at one shard of records plus what the stage keeps. A worker that dies (killed, out of
memory) ends the build with one line; the completed shards stay for `--resume`.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from augment.errors import AugkitError
from corpora.builder.accounts import Tally
from corpora.builder.executor import Executor
from corpora.builder.work import GlobalJob, ShardJob, ShardSink, run_shard, stream_global


@dataclass
class LocalExecutor(Executor):
    num_proc: int = 1

    def __post_init__(self):
        if isinstance(self.num_proc, bool) or not isinstance(self.num_proc, int) or self.num_proc < 1:
            raise AugkitError("--num-proc must be >= 1")

    def run_shards(self, job: ShardJob, shards: list[int], done: Callable[[int], None]) -> None:
        if self.num_proc == 1 or len(shards) == 1:
            for shard in shards:
                done(run_shard(job, shard))
            return
        # Not "fork": workers forked from a parent that has loaded the components (MorphTx's
        # analyser, fastText) ran the same shards 2.6x slower here; fresh workers load their own.
        # Workers do not inherit the output folder's lock either. A worker that dies breaks the
        # pool (concurrent.futures), where multiprocessing.Pool would wait for it forever.
        context = multiprocessing.get_context("forkserver" if sys.platform == "linux" else "spawn")
        umask = os.umask(0o022)
        os.umask(umask)
        with ProcessPoolExecutor(min(self.num_proc, len(shards)), mp_context=context, initializer=_worker_init,
                                 initargs=(job, umask)) as pool:
            futures = [pool.submit(_worker_run, shard) for shard in shards]
            try:
                for future in as_completed(futures):
                    done(future.result())
            except BrokenProcessPool:
                raise AugkitError(f"a worker process died while running {job.label} (killed, or out of memory); "
                                  "the completed shards are kept: rerun with --resume") from None
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

    def run_global(self, job: GlobalJob, sink: ShardSink) -> Tally:
        return stream_global(job, sink)


_WORKER_JOB: ShardJob | None = None


def _worker_init(job: ShardJob, umask: int) -> None:
    global _WORKER_JOB
    _WORKER_JOB = job
    os.umask(umask)  # the forkserver may have started under another umask


def _worker_run(shard: int) -> int:
    return run_shard(_WORKER_JOB, shard)
