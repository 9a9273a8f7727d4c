"""`augkit build RECIPE.yaml`: run a corpus recipe with the local engine or on Ray (`--engine ray`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "build", help="build a corpus from a recipe (YAML): read, clean, augment, mix, split, format",
        description="Run a corpus recipe. Outputs, manifest.json (counts per stage), rejected/ (every "
                    "dropped record with its reason), a dataset card and the stage cache go to --output. "
                    "A build that dies is rerun with the same command (plus --resume to keep the finished "
                    "shards of the step that was running); cached shards are checked before they are reused.")
    parser.add_argument("recipe", type=Path, help="recipe file (see docs/corpora.md)")
    parser.add_argument("--output", type=Path, default=None,
                        help="output directory (default: builds/RECIPE_NAME)")
    parser.add_argument("--num-proc", type=int, default=1, help="worker processes for per-shard stages")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: this machine (default); ray: a Ray cluster through Ray Data (docs/ray.md)")
    parser.add_argument("--address", default=None,
                        help="with --engine ray: `auto` (the cluster of this node) or ray://host:port; "
                             "default: $RAY_ADDRESS, else a Ray instance started for this build")
    parser.add_argument("--resume", action="store_true",
                        help="keep the verified shards of a step an interrupted build left unfinished "
                             "instead of recomputing that step")
    parser.add_argument("--dry-run", action="store_true", help="validate the recipe and print the plan only")
    parser.add_argument("--limit", type=int, default=None,
                        help="read at most N records per source (a quick trial; part of the cache key)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from augment.errors import AugkitError
    from corpora.builder.build import Build
    from corpora.executors.local import LocalExecutor
    from corpora.recipe import load_recipe

    recipe = load_recipe(args.recipe)
    if args.limit is not None:
        if args.limit < 1:
            raise AugkitError("--limit must be >= 1")
        recipe = dataclasses.replace(recipe, sources=tuple(dataclasses.replace(source, limit=args.limit)
                                                           for source in recipe.sources))
    output = args.output or Path("builds") / recipe.name
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    if args.engine == "ray":
        from corpora.executors.ray import RayExecutor

        if args.num_proc != 1:
            raise AugkitError("--num-proc is for the local engine; on Ray the cluster's CPUs are used")
        executor = RayExecutor(address=args.address)
    elif args.address is not None:
        raise AugkitError("--address needs --engine ray")
    else:
        executor = LocalExecutor(args.num_proc)
    build = Build(recipe, output, executor, resume=args.resume, log=log)
    if args.dry_run:
        print(build.dry_run())
        return 0
    manifest = build.run()
    print(summary(manifest, output))
    return 0


def summary(manifest: dict, output: Path) -> str:
    lines = [f"{manifest['recipe']}: {manifest['records']:,} records"]
    for stage in manifest["stages"]:
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in stage["dropped_by_reason"].items())
        made = f"  consumed {stage['consumed']:,} -> derived {stage['derived']:,}" if stage["derived"] else ""
        lines.append(f"  {stage['step']:>2} {stage['stage']:<18} in {stage['in']:>9,}  out {stage['out']:>9,}"
                     f"  dropped {stage['dropped']:>7,}{f' ({reasons})' if reasons else ''}{made}")
    for entry in manifest["outputs"]:
        lines.append(f"  output {entry['format']:<12} {output / entry['path']} ({len(entry['files'])} file(s))")
    overlap = manifest.get("split_overlap")
    if overlap:
        pairs = ", ".join(f"{'/'.join(pair['splits'])} {pair['shared_texts']:,}" for pair in overlap["pairs"])
        lines.append(f"  texts shared between splits (after {overlap['measured_after']}): {pairs or 'one split only'}")
    lines.append(f"  manifest {output / 'manifest.json'}; rejected records in {output / 'rejected'}")
    return "\n".join(lines)
