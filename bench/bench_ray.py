"""Benchmark of the Ray engine against the local engine on the maltese-from-arabic recipe (issue 8). Not a test.

Records/s = records read / wall time of the build, for the same recipe and shards under
- the local engine with `--num-proc P` (P = `--cpus`), and
- the Ray engine on a local Ray instance started with `num_cpus=P` (ray.init is timed apart and not
  counted: a user's cluster is already running; the build's own Ray work, the workers' start and their
  model loading are counted).
Ratio = Ray's records/s / local records/s; goal: Ray's overhead on one node below 30% (ratio >= 0.77).
The recipe runs restricted to the first `--limit` records of each source (MorphTx costs ~1 ms per
Arabic character, the whole recipe takes hours here). The two builds' outputs are checked to be
identical (manifest `outputs`, with their sha256). Each build runs in a fresh Python process with an
empty output folder, local first, then Ray, `--repeats` times.

Identical outputs need stages whose output depends only on each record. MorphTx (augment/morphtx.py,
offline analyzer) does not, yet: mishkal vocalises a word in its sentence and the result is memoised
per word for the rest of the process (`أوله` is `awliu` alone, `awwelu` after the Quran's first 72
verses), and it depends on the hash seed. With one CPU both engines see the shards in the same order
in one process and agree; with two, the shards' split between processes differs and a few words can
too, which the summary line reports.

    .venv/bin/python bench/bench_ray.py [--limit 40] [--shard-size 10] [--cpus 2] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "corpora" / "recipes" / "maltese-from-arabic.yaml"
SHARED = Path(os.environ.get("AUGKIT_SHARED", ROOT.parent / "shared"))

RUNNER = """
import dataclasses, json, logging, sys, time
from pathlib import Path
from corpora.builder.build import Build
from corpora.executors.local import LocalExecutor
from corpora.recipe import load_recipe
settings = json.loads(sys.argv[1])
recipe = load_recipe(settings["recipe"])
sources = tuple(dataclasses.replace(source, limit=settings["limit"]) for source in recipe.sources)
recipe = dataclasses.replace(recipe, sources=sources, shard_size=settings["shard_size"])
startup = 0.0
if settings["engine"] == "ray":
    import ray
    from corpora.executors.ray import RayExecutor
    started = time.perf_counter()
    ray.init(num_cpus=settings["cpus"], include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    startup = time.perf_counter() - started
    build = Build(recipe, Path(settings["output"]), RayExecutor(), log=lambda line: None)
else:
    build = Build(recipe, Path(settings["output"]), LocalExecutor(settings["cpus"]), log=lambda line: None)
started = time.perf_counter()
manifest = build.run()
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "startup": startup, "records_in": manifest["stages"][0]["in"],
                  "records_out": manifest["records"], "outputs": manifest["outputs"]}))
"""


def run_build(engine: str, output: Path, *, cpus: int, limit: int, shard_size: int) -> dict:
    settings = {"engine": engine, "recipe": str(RECIPE), "output": str(output), "cpus": cpus, "limit": limit,
                "shard_size": shard_size}
    env = {**os.environ, "AUGKIT_SHARED": str(SHARED)}
    result = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(settings)], capture_output=True, text=True,
                            env=env, cwd=ROOT, check=False)
    if result.returncode:
        raise SystemExit(f"{engine} build failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40, help="records read from each source")
    parser.add_argument("--shard-size", type=int, default=10)
    parser.add_argument("--cpus", type=int, default=2, help="local --num-proc, and Ray's num_cpus")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    if not (SHARED / "data").is_dir():
        raise SystemExit(f"needs the shared corpora at {SHARED}/data (set AUGKIT_SHARED)")
    print(f"maltese-from-arabic, first {args.limit} records per source, shard size {args.shard_size}, "
          f"{args.cpus} CPU(s)")
    print("| run | engine | seconds | records/s | Ray start (not counted) |")
    print("|---|---|---:|---:|---:|")
    ratios, same = [], []
    for repeat in range(1, args.repeats + 1):
        results = {}
        for engine in ("local", "ray"):
            with tempfile.TemporaryDirectory(prefix=f"bench-ray-{engine}-") as folder:
                results[engine] = run_build(engine, Path(folder) / "out", cpus=args.cpus, limit=args.limit,
                                            shard_size=args.shard_size)
            result = results[engine]
            rate = result["records_in"] / result["seconds"]
            startup = f"{result['startup']:.1f} s" if engine == "ray" else "-"
            print(f"| {repeat} | {engine} | {result['seconds']:.1f} | {rate:.2f} | {startup} |", flush=True)
        same.append(results["ray"]["outputs"] == results["local"]["outputs"])
        ratios.append(results["local"]["seconds"] / results["ray"]["seconds"])
    records = results["local"]["records_in"]
    identical = "identical" if all(same) else f"DIFFERENT in {same.count(False)} run(s) (see the module docstring)"
    print(f"records read {records:,}, written {results['local']['records_out']:,}; outputs {identical}; "
          f"Ray records/s / local records/s: {', '.join(f'{ratio:.2f}x' for ratio in ratios)} "
          f"(goal >= 0.77x, i.e. overhead < 30%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
