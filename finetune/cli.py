"""`augkit tokenizer|cpt|sft|adapt|evaluate|layers`: thin command-line layers over finetune's Python API."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from finetune.data import TXT_UNITS  # light: the heavy libraries are imported when a command runs


def register(subparsers) -> None:
    _register_training(subparsers)
    _register_evaluate(subparsers)
    _register_layers(subparsers)
    _register_tokenizer(subparsers)


# --- cpt, sft, adapt -----------------------------------------------------------------------------

def _training_options(parser: argparse.ArgumentParser, command: str) -> None:
    parser.add_argument("--config", help="YAML config (keys as in finetune/configs/*.yaml); options override it")
    parser.add_argument("--model", help="tiny-qwen2, a Hugging Face id or a local model directory")
    if command == "adapt":
        parser.add_argument("--cpt-data", help="CPT text data (overrides cpt.data of the config)")
        parser.add_argument("--sft-data", help="SFT prompt/response or messages data (overrides sft.data)")
    else:
        parser.add_argument("--data", help="training data: jsonl/parquet/csv/tsv/txt, a save_to_disk dir, PATH:SPLIT")
    parser.add_argument("--eval-data", help="held-out data (default: hold out --heldout-fraction of the records, whole "
                        "documents, no text on both sides)")
    parser.add_argument("--heldout-fraction", type=float)
    parser.add_argument("--output", "-o", help="output directory (model, checkpoints/, report.json)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--tokenizer", help="tiny models: use this tokenizer directory instead of training one")
    parser.add_argument("--tiny", action="append", metavar="KEY=VALUE",
                        help="tiny architecture override, e.g. --tiny hidden_size=128 (repeatable)")
    parser.add_argument("--block-size", type=int, help="CPT: packed block length; SFT: maximum example length")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--grad-accum", type=int, dest="gradient_accumulation")
    parser.add_argument("--lr", type=float, dest="learning_rate")
    parser.add_argument("--schedule", choices=["cosine", "linear", "constant"])
    parser.add_argument("--warmup-ratio", type=float)
    parser.add_argument("--max-steps", type=int, help="-1: train for --epochs")
    parser.add_argument("--epochs", type=float)
    parser.add_argument("--eval-every", type=int, help="held-out evaluation (and checkpoint) every N steps")
    parser.add_argument("--eval-limit", type=int,
                        help="evaluate on at most N held-out blocks/examples, spread evenly (CPU budgets)")
    parser.add_argument("--early-stopping", type=int, dest="early_stopping_patience", metavar="PATIENCE")
    parser.add_argument("--gradient-checkpointing", action="store_const", const=True)
    parser.add_argument("--resume", action="store_const", const=True, help="continue from the last checkpoint")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16", "auto"])
    parser.add_argument("--lora", action="store_true", help="train LoRA adapters (merged into the saved model)")
    parser.add_argument("--lora-r", type=int, default=8)
    parser.add_argument("--lora-alpha", type=int, default=16)
    parser.add_argument("--lora-targets", default="all-linear",
                        help='"all-linear" or comma-separated module names, e.g. q_proj,v_proj')
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    if command in ("cpt", "adapt"):
        parser.add_argument("--text-field", help="CPT text field (default: text)")
        parser.add_argument("--txt-unit", choices=TXT_UNITS,
                            help=".txt data: a text per line (default) or per blank-line-separated paragraph")
    if command in ("sft", "adapt"):
        parser.add_argument("--prompt-field", help="SFT prompt field (default: prompt)")
        parser.add_argument("--response-field", help="SFT response field (default: response)")
        parser.add_argument("--prompt-template",
                            help='SFT prompt wording, e.g. "Translate to Tibetan: {prompt}" (default: {prompt})')
        parser.add_argument("--no-packing", dest="packing", action="store_const", const=False,
                            help="SFT: pad batches instead of padding-free packing")


def _register_training(subparsers) -> None:
    descriptions = {
        "cpt": "continual pre-training: causal-LM training on text with sequence packing",
        "sft": "supervised fine-tuning on prompt/response or chat records; loss on responses only",
        "adapt": "CPT then SFT from one config (sections cpt: and sft:), as in the Tibetan study",
    }
    for command, description in descriptions.items():
        parser = subparsers.add_parser(command, help=description, description=description)
        _training_options(parser, command)
        parser.set_defaults(func=_run_training)


def _overrides(args) -> dict:
    from finetune.models import parse_overrides

    keys = ("model", "data", "eval_data", "heldout_fraction", "output", "seed", "tokenizer", "block_size",
            "batch_size", "gradient_accumulation", "learning_rate", "schedule", "warmup_ratio", "max_steps",
            "epochs", "eval_every", "eval_limit", "early_stopping_patience", "gradient_checkpointing", "resume", "dtype",
            "text_field", "txt_unit", "prompt_field", "response_field", "prompt_template", "packing")
    values = {key: getattr(args, key, None) for key in keys}
    if args.tiny:
        values["tiny"] = parse_overrides(args.tiny)
    if args.lora:
        targets = args.lora_targets if args.lora_targets == "all-linear" else args.lora_targets.split(",")
        values["lora"] = {"r": args.lora_r, "alpha": args.lora_alpha, "target_modules": targets}
    return values


def _run_training(args) -> int:
    import torch

    from finetune import cpt, sft
    from finetune.recipe import TrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = _overrides(args)
    if args.command == "cpt":
        print(cpt.summary(cpt.run(TrainConfig.load(args.config, overrides, section="cpt"))))
    elif args.command == "sft":
        print(sft.summary(sft.run(TrainConfig.load(args.config, overrides, section="sft"))))
    else:
        # adapt: the SFT stage starts from the CPT stage's saved model (and its tokenizer).
        output = Path(overrides.pop("output", None) or _adapt_output(args.config))
        cpt_config = TrainConfig.load(
            args.config, {**overrides, "data": args.cpt_data, "output": str(output / "cpt")}, section="cpt")
        print(cpt.summary(cpt.run(cpt_config)))
        sft_config = TrainConfig.load(
            args.config, {**overrides, "data": args.sft_data, "output": str(output / "sft")}, section="sft")
        sft_config = dataclasses.replace(sft_config, model=str(output / "cpt"), tiny={}, tokenizer=None)
        print(sft.summary(sft.run(sft_config)))
        print(f"adapt: CPT model in {output / 'cpt'}, SFT model in {output / 'sft'}")
    return 0


def _adapt_output(config_path: str | None) -> str:
    from finetune.recipe import read_yaml

    return str(read_yaml(config_path).get("output", "out/adapt")) if config_path else "out/adapt"




# --- evaluate --------------------------------------------------------------------------------------

def _register_evaluate(subparsers) -> None:
    description = ("perplexity, bits per character/byte and translation BLEU/chrF/chrF++ of a causal LM; "
                   "with --base, base and adapted side by side (JSON + Markdown)")
    parser = subparsers.add_parser("evaluate", help=description, description=description)
    parser.add_argument("--model", required=True, help="model to evaluate (the adapted one with --base)")
    parser.add_argument("--base", help="base model for a side-by-side comparison")
    parser.add_argument("--data", required=True, help="evaluation records (jsonl/parquet/csv/tsv/txt, dataset dir)")
    parser.add_argument("--metrics", default="ppl,bpc", help="comma-separated: ppl,bpc,bpb,bleu,chrf,chrf++")
    parser.add_argument("--output", "-o", help="directory for evaluation.json, evaluation.md, hypotheses")
    parser.add_argument("--text-field", default="text", help="field scored for ppl/bpc")
    parser.add_argument("--txt-unit", choices=TXT_UNITS, default="line",
                        help=".txt data: a text per line or per blank-line-separated paragraph")
    parser.add_argument("--source-field", default="source", help="translation source field")
    parser.add_argument("--target-field", default="target", help="translation reference field")
    parser.add_argument("--prompt-template", default="{prompt}", help='e.g. "Translate to Tibetan: {prompt}"')
    parser.add_argument("--target-lang", help="reference language (bo: syllable BLEU, zh: tok zh, else 13a)")
    parser.add_argument("--window", type=int, default=512, help="sliding window for long texts (tokens)")
    parser.add_argument("--stride", type=int, help="window step (default: window/2)")
    parser.add_argument("--backend", choices=["hf", "ct2"], default="hf",
                        help="generation through transformers generate or CTranslate2 (converted on the fly)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--limit", type=int, help="evaluate the first N records only")
    parser.add_argument("--train-data", help="training data: report how many evaluated references, sources and "
                        "texts occur in it (normalised, exact)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch")
    parser.set_defaults(func=_run_evaluate)


def _run_evaluate(args) -> int:
    import torch

    from finetune import evaluate

    if args.threads:
        torch.set_num_threads(args.threads)
    settings = evaluate.EvalSettings(
        metrics=tuple(m.strip().lower() for m in args.metrics.split(",") if m.strip()),
        text_field=args.text_field, source_field=args.source_field, target_field=args.target_field,
        prompt_template=args.prompt_template, target_lang=args.target_lang, window=args.window,
        stride=args.stride, backend=args.backend, limit=args.limit, txt_unit=args.txt_unit,
        train_data=args.train_data,
        decoding=evaluate.Decoding(args.max_new_tokens, args.beam_size, args.batch_size),
    )
    report = evaluate.run(args.model, args.data, settings, base=args.base, output=args.output)
    print(evaluate.markdown_table(report), end="")
    if args.output:
        print(f"evaluate: wrote {Path(args.output) / 'evaluation.json'} and evaluation.md")
    return 0


# --- layers --------------------------------------------------------------------------------------

def _register_layers(subparsers) -> None:
    description = ("layer-wise analysis of base vs adapted weights: relative change, cosine, share of change "
                   "per tensor, module type and depth (CSV, PNG plots, summary)")
    parser = subparsers.add_parser("layers", help=description, description=description)
    parser.add_argument("--base", required=True, help="base model directory or Hugging Face id")
    parser.add_argument("--adapted", required=True, help="adapted model directory (or LoRA adapter directory)")
    parser.add_argument("--output", "-o", default="out/layers", help="directory for layers.csv and the plots")
    parser.set_defaults(func=_run_layers)


def _run_layers(args) -> int:
    from finetune import layers

    summary, paths = layers.run(args.base, args.adapted, args.output)
    print(summary, end="")
    print(f"layers: wrote {', '.join(str(p) for p in paths.values())}")
    return 0


# --- tokenizer -----------------------------------------------------------------------------------

def _register_tokenizer(subparsers) -> None:
    description = "train, extend (resizing the model) or report the fertility of a tokenizer"
    parser = subparsers.add_parser("tokenizer", help=description, description=description)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    train = actions.add_parser("train", help="train a sentencepiece unigram/BPE model (byte fallback)")
    train.add_argument("--data", required=True)
    train.add_argument("--output", "-o", required=True, help="directory for tokenizer.model / tokenizer.vocab")
    train.add_argument("--model-type", choices=["unigram", "bpe"], default="unigram")
    train.add_argument("--vocab-size", type=int, default=8000)
    train.add_argument("--character-coverage", type=float, default=0.9995)

    extend = actions.add_parser("extend", help="add a new language's pieces to a model's tokenizer and resize it")
    extend.add_argument("--model", required=True, help="model directory or Hugging Face id")
    extend.add_argument("--task", default="causal-lm",
                        choices=["causal-lm", "masked-lm", "sequence-classification", "token-classification"])
    extend.add_argument("--data", required=True, help="text of the new language")
    extend.add_argument("--output", "-o", required=True, help="directory for the extended model and tokenizer")
    extend.add_argument("--new-pieces", type=int, default=1000, help="at most this many pieces are added")
    extend.add_argument("--model-type", choices=["unigram", "bpe"], default="bpe",
                        help="how candidate pieces are learned (BPE proposes more pieces on small data)")

    report = actions.add_parser("report", help="fertility per language / transliteration scheme")
    report.add_argument("--tokenizer", required=True, help="tokenizer/model directory or sentencepiece .model")
    report.add_argument("--data", required=True)
    report.add_argument("--group-by", default="lang,scheme", help="record fields to group by (also in meta)")
    report.add_argument("--output", "-o", help="write the statistics as JSON here")

    for sub in (train, extend, report):
        sub.add_argument("--text-field", default="text")
        sub.add_argument("--txt-unit", choices=TXT_UNITS, default="line",
                         help=".txt data: a text per line or per blank-line-separated paragraph")
        sub.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=_run_tokenizer)


def _run_tokenizer(args) -> int:
    import sys

    from augment.formats import check_outputs
    from finetune import data, tokenizer

    if args.action == "train":
        check_outputs([args.data], [Path(args.output) / "tokenizer.model", Path(args.output) / "tokenizer.vocab"])
    elif args.action == "report":
        check_outputs([args.data], [args.output])
    records = data.load_records(args.data, txt_unit=args.txt_unit)
    if args.action == "train":
        texts = data.texts_of(records, args.text_field)
        path = tokenizer.train_sentencepiece(texts, args.output, args.model_type, args.vocab_size,
                                             args.character_coverage, args.seed)
        counter = tokenizer.PieceCounter(path)
        stats = tokenizer.fertility(counter, records, args.text_field)
        print(tokenizer.fertility_table(stats), end="")
        size = counter.processor.get_piece_size()
        print(f"tokenizer train: wrote {path} ({size:,} pieces)")
        if size < args.vocab_size:
            print(f"augkit tokenizer train: the vocabulary has {size:,} pieces, not the {args.vocab_size:,} of "
                  f"--vocab-size: {len(texts):,} texts hold no more", file=sys.stderr)
    elif args.action == "extend":
        from finetune import models

        model, tok = models.load_model(args.model, args.task, seed=args.seed)
        texts = data.texts_of(records, args.text_field)
        pieces = tokenizer.new_pieces(tok, texts, args.new_pieces, args.model_type, args.seed)
        before = tokenizer.fertility(tokenizer.PieceCounter(args.model), records, args.text_field, ())
        result = tokenizer.extend(model, tok, pieces)
        output = models.save_model(model, tok, args.output, metadata={"extended_by": "augkit tokenizer extend",
                                                                       "base": args.model, **result})
        after = tokenizer.fertility(tokenizer.PieceCounter(output), records, args.text_field, ())
        summary = {**result, "pieces": pieces, "fertility_before": before["all"], "fertility_after": after["all"]}
        tokenizer.write_json(Path(output) / "extend_report.json", summary)
        print(f"tokenizer extend: added {result['added']} pieces ({result['old_vocab']} -> {result['new_vocab']}); "
              f"pieces/word {before['all']['pieces_per_word']:.3f} -> {after['all']['pieces_per_word']:.3f}; "
              f"model in {output}")
    else:
        group_by = tuple(name.strip() for name in args.group_by.split(",") if name.strip())
        stats = tokenizer.fertility(tokenizer.PieceCounter(args.tokenizer), records, args.text_field, group_by)
        print(tokenizer.fertility_table(stats, "/".join(group_by) or "group"), end="")
        if args.output:
            tokenizer.write_json(Path(args.output), stats)
    return 0
