"""Experiment B: two-stage adaptation of a small causal LM to Tibetan (CPT, then SFT), as in the Tibetan study.

    .venv/bin/python bench/experiment_b.py --config docs/experiments/expB/config.yaml [--dry-run]
        [--shared ../shared/data] [--work runs/expB] [--table docs/experiments/expB/results.md]
        [--plots docs/experiments/expB] [--jobs 2]

Reads top to bottom: build the corpus with the Tibetan recipe (`augkit build`, split by document);
write the experiment's files from it (English text of the training documents, Tibetan CPT text,
->bo SFT pairs, held-out Tibetan documents and en->bo / zh->bo test pairs); pre-train the base
`tiny-qwen2` on English (`augkit cpt`); extend its tokenizer with Tibetan pieces (`augkit tokenizer
extend`); then, for the base with and without the extension: CPT on Tibetan, SFT of the CPT model,
SFT of the base (the ablation without CPT); evaluate every model on the held-out documents
(`augkit evaluate`: Tibetan bits per character and token perplexity, en->bo and zh->bo BLEU with
syllable tokenisation and chrF); layer-wise analysis base vs CPT and CPT vs SFT (`augkit layers`);
write the Markdown table. Every step goes through `augment.cli.main`, the code path of the commands
a user types, and is skipped when its output exists (a rerun only redoes what is missing; delete
a step's folder under --work to redo it). --dry-run validates the config, the recipe and the data
and prints the plan without training.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import yaml

from augment.errors import AugkitError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = Path(os.environ.get("AUGKIT_SHARED", ROOT.parent / "shared")) / "data"
CONFIG_KEYS = {"recipe", "limit", "threads", "model", "tiny", "seed", "base", "cpt", "sft", "training",
               "tokenizer_extension", "evaluation"}
STAGE_KEYS = {"max_steps", "learning_rate", "block_size", "batch_size", "warmup_ratio", "eval_every", "eval_limit"}
EVALUATION_KEYS = {"translation_examples", "max_new_tokens", "batch_size"}
DIRECTIONS = {"en": "eng_Latn-bod_Tibt", "zh": "zho_Hant-bod_Tibt"}  # test directions, as format_sft names them
VARIANTS = ("original", "extended")  # the base's English tokenizer, and with Tibetan pieces added


def load_config(path: Path) -> dict:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise AugkitError(f"{path}: a mapping of settings is expected")
    unknown = set(config) - CONFIG_KEYS
    if unknown:
        raise AugkitError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    missing = CONFIG_KEYS - set(config)
    if missing:
        raise AugkitError(f"{path}: missing key(s) {', '.join(sorted(missing))}")
    for section in ("base", "cpt", "sft", "training"):
        unknown = set(config[section]) - STAGE_KEYS
        if unknown:
            raise AugkitError(f"{path}: unknown {section} key(s) {', '.join(sorted(unknown))}")
    unknown = set(config["evaluation"]) - EVALUATION_KEYS
    if unknown:
        raise AugkitError(f"{path}: unknown evaluation key(s) {', '.join(sorted(unknown))}")
    return config


def cli(*argv: str) -> None:
    """One augkit command, in process, exactly as typed on the command line."""
    from augment.cli import main

    print("$ augkit " + " ".join(argv), flush=True)
    code = main(list(argv))
    if code != 0:
        raise AugkitError(f"augkit {argv[0]} failed with exit code {code}")


# --- 1. data --------------------------------------------------------------------------------------

def build_corpus(config: dict, shared: Path, work: Path) -> Path:
    output = work / "build"
    if not (output / "manifest.json").is_file():
        os.environ["AUGKIT_SHARED"] = str(shared.parent)
        cli("build", str(ROOT / config["recipe"]), "--output", str(output), "--limit", str(config["limit"]))
    return output


def prepare_data(config: dict, shared: Path, build: Path, work: Path) -> dict[str, Path]:
    """The experiment's files, all derived from the build (so its document split holds everywhere)."""
    data = work / "data"
    files = {"en_train": data / "en-train.jsonl", "bo_train": build / "cpt" / "train.txt",
             "bo_dev": build / "cpt" / "dev.txt", "bo_test": data / "bo-test.jsonl",
             "sft_train": data / "sft-train.jsonl", "sft_dev": data / "sft-dev.jsonl",
             **{f"mt_{side}": data / f"mt-test-{side}-bo.jsonl" for side in DIRECTIONS}}
    if all(path.is_file() for path in files.values()):
        return files
    data.mkdir(parents=True, exist_ok=True)
    sft = {split: [json.loads(line) for line in open(next((build / "sft").glob(f"{split}-*.jsonl")), encoding="utf-8")]
           for split in ("train", "dev", "test")}
    to_tibetan = set(DIRECTIONS.values())
    for split in ("train", "dev"):
        _write_jsonl(files[f"sft_{split}"], ({"messages": r["messages"], "direction": r["meta"]["direction"]}
                                             for r in sft[split] if r["meta"]["direction"] in to_tibetan))
    limit = config["evaluation"]["translation_examples"]
    for side, direction in DIRECTIONS.items():
        pairs = [{"source": r["messages"][0]["content"], "target": r["messages"][1]["content"]}
                 for r in sft["test"] if r["meta"]["direction"] == direction]
        _write_jsonl(files[f"mt_{side}"], pairs[:limit])
    # English pre-training text: the `en` side of the bo_en lines whose documents are in train
    # (meta.row is the 1-based line of bo_en.jsonl; checked against the record's `line`).
    lines = (shared / "tibetan" / "bo_en.jsonl").read_text(encoding="utf-8").splitlines()
    english = []
    for record in sft["train"]:
        if record["meta"]["direction"] == DIRECTIONS["en"]:
            line = json.loads(lines[record["meta"]["row"] - 1])
            if line["line"] != record["meta"]["line"]:
                raise AugkitError(f"bo_en.jsonl line {record['meta']['row']}: English text does not match "
                                  f"the SFT record {record['id']} built from it")
            english.append({"text": line["en"], "doc": line["doc"]})
    _write_jsonl(files["en_train"], english)
    documents = (build / "cpt" / "test.txt").read_text(encoding="utf-8").split("\n\n")
    _write_jsonl(files["bo_test"], ({"text": text} for text in documents if text.strip()))
    return files


def _write_jsonl(path: Path, records) -> None:
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    temporary.rename(path)


# --- 2. training ----------------------------------------------------------------------------------

def training_options(config: dict, stage: str) -> list[str]:
    settings = {**config["training"], **config[stage]}
    options = {"max_steps": "--max-steps", "learning_rate": "--lr", "block_size": "--block-size",
               "batch_size": "--batch-size", "warmup_ratio": "--warmup-ratio", "eval_every": "--eval-every",
               "eval_limit": "--eval-limit"}
    argv = ["--seed", str(config["seed"]), "--threads", str(config["threads"]), "--schedule", "cosine"]
    for key, value in settings.items():
        argv += [options[key], str(value)]
    return argv


def train(config: dict, files: dict[str, Path], work: Path, jobs: int) -> dict[str, Path]:
    """Every model of the experiment; returns name -> directory."""
    models = {"base": work / "base", "base-ext": work / "base-ext"}
    if not (models["base"] / "report.json").is_file():
        tiny = [item for key, value in config["tiny"].items() for item in ("--tiny", f"{key}={value}")]
        cli("cpt", "--model", config["model"], *tiny, "--data", str(files["en_train"]), "--heldout-fraction", "0.02",
            "--output", str(models["base"]), *training_options(config, "base"))
    if not (models["base-ext"] / "extend_report.json").is_file():
        cli("tokenizer", "extend", "--model", str(models["base"]), "--data", str(files["bo_train"]),
            "--output", str(models["base-ext"]), "--new-pieces", str(config["tokenizer_extension"]["new_pieces"]),
            "--seed", str(config["seed"]))
    for variant_models in _parallel(jobs, train_variant, [(config, files, work, v) for v in VARIANTS]):
        models.update(variant_models)
    return models


def train_variant(config: dict, files: dict[str, Path], work: Path, variant: str) -> dict[str, Path]:
    """CPT of the base, SFT of the CPT model, and SFT of the base (the ablation without CPT)."""
    suffix = "-ext" if variant == "extended" else ""
    base = work / f"base{suffix}"
    cpt, sft, sft_only = work / f"cpt{suffix}", work / f"cpt-sft{suffix}", work / f"sft-only{suffix}"
    if not (cpt / "report.json").is_file():
        cli("cpt", "--model", str(base), "--data", str(files["bo_train"]), "--eval-data", str(files["bo_dev"]),
            "--output", str(cpt), *training_options(config, "cpt"))
    for start, output in ((cpt, sft), (base, sft_only)):
        if not (output / "report.json").is_file():
            cli("sft", "--model", str(start), "--data", str(files["sft_train"]),
                "--eval-data", str(files["sft_dev"]), "--output", str(output), *training_options(config, "sft"))
    return {f"cpt{suffix}": cpt, f"cpt-sft{suffix}": sft, f"sft-only{suffix}": sft_only}


def _parallel(jobs: int, function, argument_lists: list[tuple]) -> list:
    """function(*arguments) for each, in order; in `jobs` fresh processes (spawned: torch does not survive fork)."""
    if jobs <= 1:
        return [function(*arguments) for arguments in argument_lists]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        return [future.result() for future in [pool.submit(function, *arguments) for arguments in argument_lists]]


# --- 3. evaluation --------------------------------------------------------------------------------

def evaluate(config: dict, files: dict[str, Path], models: dict[str, Path], work: Path, jobs: int) -> dict[str, dict]:
    """name -> {bpc, ppl, en_bleu, en_chrf, zh_bleu, zh_chrf}."""
    rows = _parallel(jobs, evaluate_model, [(config, files, path, work / "eval" / name) for name, path in models.items()])
    return dict(zip(models, rows, strict=True))


def evaluate_model(config: dict, files: dict[str, Path], path: Path, target: Path) -> dict[str, float]:
    settings = config["evaluation"]
    lm, translations = target / "lm", {side: target / f"{side}-bo" for side in DIRECTIONS}
    if not (lm / "evaluation.json").is_file():
        cli("evaluate", "--model", str(path), "--data", str(files["bo_test"]), "--metrics", "ppl,bpc",
            "--output", str(lm), "--threads", str(config["threads"]))
    for side, output in translations.items():
        if not (output / "evaluation.json").is_file():
            cli("evaluate", "--model", str(path), "--data", str(files[f"mt_{side}"]), "--metrics", "bleu,chrf",
                "--target-lang", "bo", "--max-new-tokens", str(settings["max_new_tokens"]),
                "--batch-size", str(settings["batch_size"]), "--output", str(output), "--threads", str(config["threads"]))
    language_model = _scores(lm)["language_model"]
    row = {"bpc": language_model["bpc"], "ppl": language_model["ppl"]}
    for side, output in translations.items():
        translation = _scores(output)["translation"]
        row[f"{side}_bleu"], row[f"{side}_chrf"] = translation["bleu"]["score"], translation["chrf"]["score"]
    return row


def _scores(output: Path) -> dict:
    return json.loads((output / "evaluation.json").read_text(encoding="utf-8"))["models"]["model"]


def layers(models: dict[str, Path], work: Path, plots: Path | None) -> dict[str, str]:
    """Layer-wise change base -> CPT and CPT -> SFT (both tokenizers); returns comparison -> summary."""
    summaries = {}
    for suffix in ("", "-ext"):
        for before, after in ((f"base{suffix}", f"cpt{suffix}"), (f"cpt{suffix}", f"cpt-sft{suffix}")):
            output = work / "layers" / f"{before}--{after}"
            if not (output / "layers_summary.txt").is_file():
                cli("layers", "--base", str(models[before]), "--adapted", str(models[after]), "--output", str(output))
            summaries[f"{before} -> {after}"] = (output / "layers_summary.txt").read_text(encoding="utf-8").strip()
            if plots is not None:
                plots.mkdir(parents=True, exist_ok=True)
                for image in output.glob("*.png"):
                    shutil.copyfile(image, plots / f"{before}--{after}_{image.name}")
    return summaries


# --- 4. the table ---------------------------------------------------------------------------------

def report(config: dict, files: dict[str, Path], models: dict[str, Path], scores: dict[str, dict],
           summaries: dict[str, str], seconds: float) -> str:
    def trained(name: str) -> dict:
        return json.loads((models[name] / "report.json").read_text(encoding="utf-8"))

    extension = json.loads((models["base-ext"] / "extend_report.json").read_text(encoding="utf-8"))
    lines = ["| model | tokenizer | Tibetan bits/char | Tibetan token ppl | en→bo BLEU | en→bo chrF | "
             "zh→bo BLEU | zh→bo chrF |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for suffix, label in (("", "English (original)"), ("-ext", "extended with Tibetan")):
        for stage in ("base", "cpt", "sft-only", "cpt-sft"):
            row = scores[stage + suffix]
            lines.append(f"| {stage}{suffix} | {label} | {row['bpc']:.3f} | {row['ppl']:.2f} | {row['en_bleu']:.2f} | "
                         f"{row['en_chrf']:.2f} | {row['zh_bleu']:.2f} | {row['zh_chrf']:.2f} |")
    before, after = extension["fertility_before"], extension["fertility_after"]
    lines += ["", "Fertility on the Tibetan CPT training text (words = tsheg-separated syllables):", "",
              "| tokenizer | vocabulary | pieces/syllable | pieces/character | byte-fallback pieces |",
              "| --- | --- | --- | --- | --- |",
              f"| English (original) | {extension['old_vocab']} | {before['pieces_per_word']:.2f} | "
              f"{before['pieces_per_character']:.2f} | {before['byte_fallback_rate']:.1%} |",
              f"| extended (+{extension['added']} pieces) | {extension['new_vocab']} | {after['pieces_per_word']:.2f} | "
              f"{after['pieces_per_character']:.2f} | {after['byte_fallback_rate']:.1%} |"]
    lines += ["", "Training runs (tokens = steps × batch × block; SFT: response tokens per epoch):", "",
              "| run | parameters | steps | tokens | held-out loss before → after | seconds |",
              "| --- | --- | --- | --- | --- | --- |"]
    for name in ("base", "cpt", "sft-only", "cpt-sft", "cpt-ext", "sft-only-ext", "cpt-sft-ext"):
        run = trained(name)
        tokens = run.get("tokens_trained", run.get("response_tokens_per_epoch"))
        loss_before = "-" if run["eval_loss_before"] is None else f"{run['eval_loss_before']:.3f}"
        lines.append(f"| {name} | {_parameters(run['parameters'])} | {run['steps']} | {tokens:,} | "
                     f"{loss_before} → {run['eval_loss_after']:.3f} | {run['train_seconds']:.0f} |")
    bo_test = sum(len(json.loads(line)["text"]) for line in open(files["bo_test"], encoding="utf-8"))
    pairs = {side: sum(1 for _ in open(files[f"mt_{side}"], encoding="utf-8")) for side in DIRECTIONS}
    lines += ["", f"Held-out Tibetan: {bo_test:,} characters; translation: {pairs['en']} en→bo and {pairs['zh']} "
              f"zh→bo pairs of the test documents (at most {config['evaluation']['translation_examples']} each), "
              f"greedy, at most {config['evaluation']['max_new_tokens']} new tokens. This invocation took "
              f"{seconds / 60:.0f} min (steps finished earlier are skipped).", "", "Layer-wise change:", ""]
    lines += [f"- **{comparison}**: " + " ".join(summary.split()) for comparison, summary in summaries.items()]
    return "\n".join(lines) + "\n"


def _parameters(count: int) -> str:
    return f"{count / 1e6:.2f} M"


def dry_run(config: dict, shared: Path, work: Path) -> None:
    from corpora.builder.build import Build
    from corpora.recipe import load_recipe

    os.environ.setdefault("AUGKIT_SHARED", str(shared.parent))
    recipe = load_recipe(ROOT / config["recipe"])
    print(Build(recipe, work / "build").dry_run())
    print(f"(augkit build --limit {config['limit']}: at most {config['limit']:,} records per source)")
    for stage in ("base", "cpt", "sft"):
        print(f"{stage}: augkit {'cpt' if stage != 'sft' else 'sft'} " + " ".join(training_options(config, stage)))
    print(f"variants: {', '.join(VARIANTS)}; models: base, base-ext, cpt, cpt-sft, sft-only (x2)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "docs/experiments/expB/config.yaml")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--work", type=Path, default=Path("runs/expB"))
    parser.add_argument("--table", type=Path, help="write the Markdown results here (they are always printed)")
    parser.add_argument("--plots", type=Path, help="copy the layer-analysis plots into this folder")
    parser.add_argument("--jobs", type=int, default=2, help="processes: the two tokenizer variants, the evaluations")
    parser.add_argument("--dry-run", action="store_true", help="validate config, recipe and data; train nothing")
    args = parser.parse_args(argv)

    config = load_config(args.config)
    for name in ("bo_en.jsonl", "bo_zh.jsonl"):
        if not (args.shared / "tibetan" / name).is_file():
            raise AugkitError(f"{args.shared / 'tibetan' / name}: not found (pass --shared to point at the corpora)")
    if args.dry_run:
        dry_run(config, args.shared, args.work)
        return 0
    started = time.perf_counter()
    build = build_corpus(config, args.shared, args.work)
    files = prepare_data(config, args.shared, build, args.work)
    models = train(config, files, args.work, args.jobs)
    scores = evaluate(config, files, models, args.work, args.jobs)
    summaries = layers(models, args.work, args.plots)
    markdown = report(config, files, models, scores, summaries, time.perf_counter() - started)
    print(markdown)
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(markdown, encoding="utf-8")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AugkitError as error:
        print(f"experiment_b: error: {error}", file=sys.stderr)
        sys.exit(2)
