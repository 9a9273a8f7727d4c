"""The corpus builder: `corpora.builder.build.build(recipe, output)` runs a recipe into an output folder.

    accounts.py   in = out + dropped, per shard, group and step (Tally, account)
    plan.py       the steps in runs, their fingerprints and cache folders; the dry-run text
    cache.py      a step's cache folder (StepDir), checked before it is trusted (open_step)
    work.py       the units executors run: run_shard, run_group, stream_global, ShardSink
    executor.py   the interface every executor implements (corpora.executors: local, ray)
    manifest.py   the results: outputs, rejected/, manifest.json, recipe.yaml, the dataset card
    publish.py    the output folder: lock, never a user's file, atomic publication with a journal
    build.py      Build: all of the above, step after step

This file imports nothing: the executors import the modules above, and a package that imported
`build` here would import them back while they load.
"""
