"""Benchmark of `augkit build` on the maltese-from-arabic recipe (issue 5, §6). Not a test.

Speed: records/s (records read / wall time of the build) with 1 and 2 worker processes, on the
shipped recipe restricted to the first `--limit` records of each source with small shards, so that
there is work to share. Each speed run is cold: a new output folder and an empty MorphTx analysis
cache of its own (the transliterate stage's `analysis_cache`), which the run's workers share.
Goal: >= 1.8x with 2 processes (issue 15).

Memory: peak RSS of the build at 1x and 10x the input (every input file repeated 10 times; CoNLL-U
sentence ids made unique per copy), with `--num-proc 1`. Goal: 10x/1x <= 1.3 (memory must not grow
with the corpus). The repeats are exact copies, so `dedup_exact` (a two-pass streaming stage) removes
them and the stages after it see the 1x corpus: what is measured is that reading, the per-shard
stages, the exact deduplication, the cache and the accounts do not hold the corpus in memory. This
run uses CharTx only in the transliterate step (MorphTx's time, not its memory, is the obstacle:
10x would take hours).

Each build runs in a fresh Python process (no model loaded beforehand).

    .venv/bin/python bench/bench_build.py [--limit 100] [--shard-size 40] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "corpora" / "recipes" / "maltese-from-arabic.yaml"
SHARED = Path(os.environ.get("AUGKIT_SHARED", ROOT.parent / "shared"))

RUNNER = """
import dataclasses, json, resource, sys, time
from corpora.builder.build import build
from corpora.recipe import load_recipe
from corpora.stages.adapters import Transliterate
settings = json.loads(sys.argv[1])
recipe = load_recipe(settings["recipe"])
sources = tuple(dataclasses.replace(source, limit=settings["limit"]) for source in recipe.sources)
steps = recipe.steps
if settings["chartx_only"]:
    steps = tuple(dataclasses.replace(step, stage=Transliterate(schemes="chartx", normalize="arabic"))
                  if step.stage.name == "transliterate" else step for step in steps)
else:  # cold: an empty analysis cache, shared by this build's workers
    steps = tuple(dataclasses.replace(step, stage=dataclasses.replace(step.stage, analysis_cache=settings["analysis_cache"]))
                  if step.stage.name == "transliterate" else step for step in steps)
recipe = dataclasses.replace(recipe, sources=sources, steps=steps, shard_size=settings["shard_size"])
started = time.perf_counter()
manifest = build(recipe, settings["output"], num_proc=settings["num_proc"], log=lambda line: None)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "records_in": manifest["stages"][0]["in"], "records_out": manifest["records"],
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_build(output: Path, *, num_proc: int, limit: int | None, shard_size: int, chartx_only: bool,
              shared: Path) -> dict:
    settings = {"recipe": str(RECIPE), "output": str(output), "num_proc": num_proc, "limit": limit,
                "shard_size": shard_size, "chartx_only": chartx_only,
                "analysis_cache": str(output.parent / f"{output.name}.analyses.sqlite")}
    environment = {**os.environ, "AUGKIT_SHARED": str(shared)}
    result = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(settings)], cwd=ROOT, env=environment,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"build failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def ten_times(shared: Path, target: Path) -> Path:
    """A copy of the recipe's inputs, each file repeated 10 times (sentence ids kept unique)."""
    for relative in ("data/arabic/quran-simple.txt", "data/arabic/alf_layla.txt",
                     "data/arabic/ar_pud-ud-test.conllu", "data/maltese/mt_mudt-ud-train.conllu"):
        text = (shared / relative).read_text(encoding="utf-8")
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        if relative.endswith(".conllu"):
            copies = [re.sub(r"^# sent_id = (.*)$", rf"# sent_id = \1-copy{n}", text, flags=re.M) for n in range(10)]
        else:
            copies = [text] * 10
        out.write_text("".join(copies), encoding="utf-8")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=100, help="records per source for the speed runs")
    parser.add_argument("--shard-size", type=int, default=40, help="shard size for the speed runs")
    parser.add_argument("--repeats", type=int, default=2, help="runs per setting (best is reported)")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    if not (SHARED / "data").is_dir():
        raise SystemExit(f"needs the shared corpora at {SHARED} (set AUGKIT_SHARED)")
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-build-") as scratch:
        scratch = Path(scratch)
        speed = {1: [], 2: []}
        for repeat in range(args.repeats):
            for num_proc in (1, 2):  # alternated, so a change in machine load hits both
                result = run_build(scratch / f"speed-{num_proc}-{repeat}", num_proc=num_proc, limit=args.limit,
                                   shard_size=args.shard_size, chartx_only=False, shared=SHARED)
                result["records_per_s"] = result["records_in"] / result["seconds"]
                speed[num_proc].append(result)
                print(f"speed num_proc={num_proc} run {repeat}: {json.dumps(result)}", flush=True)
        best = {n: max(runs, key=lambda r: r["records_per_s"]) for n, runs in speed.items()}
        print(f"records/s: 1 process {best[1]['records_per_s']:.1f}, 2 processes {best[2]['records_per_s']:.1f}, "
              f"ratio {best[2]['records_per_s'] / best[1]['records_per_s']:.2f}x "
              f"({best[1]['records_in']} records read, limit {args.limit}/source, shard size {args.shard_size})")
        if not args.skip_memory:
            one = run_build(scratch / "memory-1x", num_proc=1, limit=None, shard_size=1000, chartx_only=True,
                            shared=SHARED)
            print(f"memory 1x: {json.dumps(one)}", flush=True)
            tenfold = ten_times(SHARED, scratch / "shared-10x")
            ten = run_build(scratch / "memory-10x", num_proc=1, limit=None, shard_size=1000, chartx_only=True,
                            shared=tenfold)
            print(f"memory 10x: {json.dumps(ten)}", flush=True)
            print(f"peak RSS: 1x {one['peak_rss_mib']:.0f} MiB ({one['records_in']} records read), "
                  f"10x {ten['peak_rss_mib']:.0f} MiB ({ten['records_in']} records read), "
                  f"ratio {ten['peak_rss_mib'] / one['peak_rss_mib']:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
