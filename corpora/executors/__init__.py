"""Executors: where a build's work runs (the interface is corpora.builder.executor.Executor).

- corpora.executors.local.LocalExecutor: this machine, in `num_proc` worker processes;
- corpora.executors.ray.RayExecutor: a Ray cluster, through Ray Data (docs/ray.md).
"""
