"""Experiment A: Maltese UPOS tagging with Arabic PUD augmentation in several transliteration schemes.

    .venv/bin/python bench/experiment_a.py --config docs/experiments/expA/config.yaml [--dry-run]
        [--shared ../shared/data] [--work runs/expA] [--jobs 2]
        [--sizes 100] [--seeds 1 2 3] [--schemes chartx morphtx] [--modes mix] [--models crf]
        [--table docs/experiments/expA/results.md]

Reads top to bottom: prepare the data once (nested Maltese samples; the Arabic PUD tokens in every
scheme, tags unchanged), list the runs of the grid (Maltese-only baseline; Maltese mixed 1:1 with
each scheme; the cascade Arabic -> transliterated Arabic -> Maltese), train each with
`finetune.task.train_task` (tiny-bert from scratch, best epoch chosen on MUDT dev), and write a
Markdown table of MUDT test UPOS accuracy, mean ± standard deviation over the seeds.
Each run's metrics.json is kept under --work; a rerun skips finished runs, so the grid can be grown
(more sizes, schemes or seeds) without redoing what is there. --dry-run validates the config and the
data and prints the runs without training.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from augment.errors import AugkitError

DEFAULT_SHARED = Path(os.environ.get("AUGKIT_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"
CONFIG_KEYS = {"data", "sizes", "sample_seed", "seeds", "schemes", "modes", "model", "tiny", "training",
               "mix_proportions", "crf"}
TRAINING_KEYS = {"learning_rate", "batch_size", "max_length", "warmup_ratio", "threads", "maltese_epochs",
                 "arabic_epochs"}


@dataclass(frozen=True)
class Run:
    model: str  # "tiny-bert" or "crf"
    size: int
    scheme: str  # "-" for the Maltese-only baseline
    mode: str  # "baseline", "mix" or "cascade"
    seed: int

    @property
    def name(self) -> str:
        setting = self.mode if self.mode == "baseline" else f"{self.mode}-{self.scheme}"
        return f"{self.model}/n{self.size}/{setting}/seed{self.seed}"


def load_config(path: Path) -> dict:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    unknown = set(config) - CONFIG_KEYS
    if unknown:
        raise AugkitError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    unknown = set(config["training"]) - TRAINING_KEYS
    if unknown:
        raise AugkitError(f"{path}: unknown training key(s) {', '.join(sorted(unknown))}")
    bad_modes = set(config["modes"]) - {"mix", "cascade", "zero-shot"}
    if bad_modes:
        raise AugkitError(f"{path}: modes are mix, cascade and zero-shot; got {', '.join(sorted(bad_modes))}")
    return config


def prepare_data(config: dict, shared: Path, work: Path) -> dict[str, Path]:
    """Write the Maltese samples and the Arabic sentences in every scheme as jsonl; returns name -> path."""
    from augment.transliterate import Transliterator
    from finetune.task import load_examples

    data = {key: shared / value for key, value in config["data"].items()}
    for key, path in data.items():
        if not path.is_file():
            raise AugkitError(f"{path}: not found (data.{key}; pass --shared to point at the corpora)")
    prepared = work / "data"
    prepared.mkdir(parents=True, exist_ok=True)
    files = {"dev": data["maltese_dev"], "test": data["maltese_test"]}
    maltese = load_examples(data["maltese_train"], "tagging")
    order = list(range(len(maltese)))
    random.Random(config["sample_seed"]).shuffle(order)
    for size in config["sizes"]:
        if size > len(maltese):
            raise AugkitError(f"size {size} exceeds the {len(maltese)} sentences of {data['maltese_train']}")
        # Nested samples: the 100 sentences are the first 100 of the 250, which are the first of the 500.
        files[f"mt{size}"] = _write(prepared / f"mt-train-{size}.jsonl", [maltese[i] for i in order[:size]], None)
    arabic = load_examples(data["arabic"], "tagging")
    for scheme in sorted(set(config["schemes"]) | {"none"}):
        transliterator = Transliterator(scheme)
        files[f"ar-{scheme}"] = _write(prepared / f"ar-{scheme}.jsonl", arabic, transliterator)
    return files


def _write(path: Path, sentences, transliterator) -> Path:
    signature = "none" if transliterator is None else transliterator.signature
    stamp = path.with_suffix(".signature")
    if path.is_file() and stamp.is_file() and stamp.read_text() == signature:
        return path
    with open(path, "w", encoding="utf-8") as handle:
        for sentence in sentences:
            tokens = list(sentence.words) if transliterator is None else transliterator.transliterate_tokens(sentence.words)
            if len(tokens) != len(sentence.words):
                raise AugkitError(f"{signature}: {len(tokens)} tokens out for {len(sentence.words)} in")
            handle.write(json.dumps({"tokens": tokens, "upos": list(sentence.tags)}, ensure_ascii=False) + "\n")
    stamp.write_text(signature)
    return path


def plan(config: dict) -> list[Run]:
    runs = []
    for model in config["models"]:
        # A CRF cannot chain stages; tiny-bert's zero-shot numbers come from its cascades' Arabic stages.
        modes = [mode for mode in config["modes"] if mode == "mix" or mode == ("zero-shot" if model == "crf" else "cascade")]
        if "zero-shot" in modes:  # Arabic only, scored on Maltese: no Maltese size, deterministic
            runs += [Run(model, 0, scheme, "zero-shot", config["seeds"][0]) for scheme in config["schemes"]]
            modes.remove("zero-shot")
        for size in config["sizes"]:
            for seed in config["seeds"]:
                if model != "crf" or seed == config["seeds"][0]:
                    runs.append(Run(model, size, "-", "baseline", seed))  # the CRF on one set is deterministic
                runs += [Run(model, size, scheme, mode, seed) for mode in modes for scheme in config["schemes"]]
    return runs


def train_arguments(run: Run, config: dict, files: dict[str, Path]) -> dict:
    """The arguments of `finetune.task.train_task` for one run (also printed by --dry-run)."""
    training = config["training"]
    maltese = files.get(f"mt{run.size}")
    arguments = {"task": "tagging", "model_name": run.model, "eval_path": files["dev"], "test_path": files["test"],
                 "seed": run.seed}
    epochs = training["maltese_epochs"]
    if run.mode == "baseline":
        arguments["train_paths"] = [maltese]
    elif run.mode == "zero-shot":
        arguments["train_paths"] = [files[f"ar-{run.scheme}"]]
    elif run.mode == "mix":
        total = run.size + config["arabic_sentences"]
        share = config["mix_proportions"][0] / sum(config["mix_proportions"])
        arguments.update(train_paths=[maltese, files[f"ar-{run.scheme}"]], mix=list(config["mix_proportions"]),
                         mix_size=total)
        epochs = max(1, math.ceil(training["maltese_epochs"] * run.size / (share * total)))
    else:
        stages = [files["ar-none"]] + ([files[f"ar-{run.scheme}"]] if run.scheme != "none" else []) + [maltese]
        arguments.update(train_paths=stages, cascade=True)
        epochs = [training["arabic_epochs"]] * (len(stages) - 1) + [training["maltese_epochs"]]
    arguments["epochs"] = epochs
    return arguments


def execute(run: Run, config: dict, files: dict[str, Path], work: Path) -> dict:
    from finetune.task import TaskSettings, train_task

    output = work / "runs" / run.name
    result_file = output / "result.json"
    if result_file.is_file():
        return json.loads(result_file.read_text())
    arguments = train_arguments(run, config, files)
    training = config["training"]
    settings = TaskSettings(
        epochs=arguments.pop("epochs"), batch_size=training["batch_size"], learning_rate=training["learning_rate"],
        warmup_ratio=training["warmup_ratio"], max_length=training["max_length"], select_best=True,
        threads=training["threads"],
    )
    started = time.perf_counter()
    report = train_task(output_dir=output, settings=settings, tiny=config["tiny"] or None, **arguments)
    result = {"run": run.__dict__, "dev_accuracy": report["eval_metrics"]["accuracy"],
              "test_accuracy": report["test_metrics"]["accuracy"], "seconds": round(time.perf_counter() - started, 1),
              "best_epochs": [stage.get("best_epoch") for stage in report.get("stages", [])],
              "stage_dev_accuracy": [stage["eval"]["accuracy"] for stage in report.get("stages", [])]}
    # The model weights are not needed for the table; keep the metrics, drop the bulk.
    for weights in (output / "model").glob("*.safetensors"):
        weights.unlink()
    result_file.write_text(json.dumps(result, indent=1) + "\n")
    return result


def table(results: list[dict], config: dict) -> str:
    """Rows: model × mode × scheme; columns: sizes; cells: mean ± std of test accuracy (%) over seeds."""
    cells: dict[tuple, list[float]] = {}
    for result in results:
        run = result["run"]
        if run["mode"] != "zero-shot":
            cells.setdefault((run["model"], run["mode"], run["scheme"], run["size"]), []).append(result["test_accuracy"])
    sizes = sorted({key[3] for key in cells})
    lines = ["| model | setting | scheme | " + " | ".join(f"n={size}" for size in sizes) + " |",
             "| --- | --- | --- | " + " | ".join("---" for _ in sizes) + " |"]
    order = {"baseline": 0, "mix": 1, "cascade": 2}
    schemes = {scheme: i for i, scheme in enumerate(["-", *config["schemes"]])}
    for model, mode, scheme in sorted({key[:3] for key in cells}, key=lambda k: (k[0] == "crf", order[k[1]], schemes.get(k[2], 99))):
        row = []
        for size in sizes:
            values = cells.get((model, mode, scheme, size))
            if not values:
                row.append("")
            elif len(values) == 1:
                row.append(f"{100 * values[0]:.1f} (1 run)")
            else:
                row.append(f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f} ({len(values)})")
        label = "Maltese only" if mode == "baseline" else mode
        lines.append(f"| {model} | {label} | {scheme} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n" + zero_shot_table(results, config)


def zero_shot_table(results: list[dict], config: dict) -> str:
    """Maltese dev accuracy of each cascade after its Arabic stages, before it has seen any Maltese."""
    network: dict[str, list[float]] = {}
    crf: dict[str, float] = {}
    for result in results:
        run = result["run"]
        if run["mode"] == "cascade" and len(result.get("stage_dev_accuracy", [])) >= 2:
            network.setdefault(run["scheme"], []).append(result["stage_dev_accuracy"][-2])
        if run["mode"] == "zero-shot":
            crf[run["scheme"]] = result["dev_accuracy"]
    if not network and not crf:
        return ""
    lines = ["", "Zero-shot: Maltese dev UPOS accuracy (%) of a tagger that has seen only Arabic (tiny-bert: after "
             "its cascade's Arabic stages, mean ± std (runs); CRF: trained on the Arabic alone):", "",
             "| scheme | tiny-bert | CRF |", "| --- | --- | --- |"]
    for scheme in [s for s in config["schemes"] if s in network or s in crf]:
        values = network.get(scheme, [])
        cell = ""
        if values:
            spread = f" ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else ""
            cell = f"{100 * statistics.mean(values):.1f}{spread} ({len(values)})"
        lines.append(f"| {scheme} | {cell} | {100 * crf[scheme]:.1f} |" if scheme in crf else f"| {scheme} | {cell} | |")
    return "\n".join(lines) + "\n"


def run_grid(runs: list[Run], config: dict, args: argparse.Namespace) -> list[dict]:
    files = prepare_data(config, args.shared, args.work)
    results = []
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [(run, pool.submit(execute, run, config, files, args.work)) for run in runs]
        for done, (run, future) in enumerate(futures, start=1):
            result = future.result()
            results.append(result)
            print(f"[{done}/{len(runs)} {time.perf_counter() - started:.0f}s] {run.name}: dev {result['dev_accuracy']:.4f} "
                  f"test {result['test_accuracy']:.4f} ({result['seconds']}s)", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("docs/experiments/expA/config.yaml"))
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--work", type=Path, default=Path("runs/expA"))
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (each uses training.threads)")
    parser.add_argument("--sizes", type=int, nargs="+", help="override the config's sizes (a reduced grid)")
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--schemes", nargs="+")
    parser.add_argument("--modes", nargs="+")
    parser.add_argument("--models", nargs="+", help="which of the config's model and crf to run (default: both)")
    parser.add_argument("--dry-run", action="store_true", help="validate config and data, print the runs, train nothing")
    parser.add_argument("--collect", action="store_true",
                        help="train nothing: tabulate every finished run under --work (several invocations' runs)")
    parser.add_argument("--table", type=Path, help="write the Markdown table here (it is always printed)")
    args = parser.parse_args(argv)

    config = load_config(args.config)
    from finetune.task import load_examples

    arabic = args.shared / config["data"]["arabic"]
    if not arabic.is_file():
        raise AugkitError(f"{arabic}: not found (pass --shared to point at the corpora)")
    config["arabic_sentences"] = len(load_examples(arabic, "tagging"))
    for key in ("sizes", "seeds", "schemes", "modes"):
        if getattr(args, key):
            config[key] = getattr(args, key)
    config["models"] = args.models or [config["model"]] + (["crf"] if config["crf"] else [])
    runs = plan(config)
    if args.dry_run:
        from augment.schemes import load_scheme

        for scheme in config["schemes"]:
            load_scheme(scheme)
        for path in config["data"].values():
            if not (args.shared / path).is_file():
                raise AugkitError(f"{args.shared / path}: not found")
        files = {"dev": Path("DEV"), "test": Path("TEST"), **{f"mt{n}": Path(f"MT{n}") for n in config["sizes"]},
                 **{f"ar-{s}": Path(f"AR-{s}") for s in {*config["schemes"], "none"}}}
        for run in runs:
            arguments = train_arguments(run, config, files)
            print(run.name, " ".join(str(p) for p in arguments["train_paths"]), "epochs", arguments["epochs"])
        print(f"{len(runs)} runs")
        return 0

    if args.collect:
        results = [json.loads(path.read_text()) for path in sorted((args.work / "runs").glob("**/result.json"))]
        for result, path in zip(results, sorted((args.work / "runs").glob("**/result.json")), strict=True):
            if "stage_dev_accuracy" not in result:  # runs finished before this field existed
                stages = json.loads((path.parent / "metrics.json").read_text()).get("stages", [])
                result["stage_dev_accuracy"] = [stage["eval"]["accuracy"] for stage in stages]
    else:
        results = run_grid(runs, config, args)
    markdown = table(results, config)
    print(markdown)
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(markdown, encoding="utf-8")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AugkitError as error:
        print(f"experiment_a: error: {error}", file=sys.stderr)
        sys.exit(2)
