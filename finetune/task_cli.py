"""`augkit train-task`: fine-tune a classifier or tagger, on a mix of datasets or as a cascade.

    augkit train-task --task tagging --model tiny-bert --train mt.conllu ar-chartx.jsonl --mix 0.5 0.5 \\
        --eval mt-dev.conllu --test mt-test.conllu --seed 1 --output runs/mix
    augkit train-task --task tagging --model tiny-bert --cascade \\
        --train ar.jsonl ar-chartx.jsonl mt.conllu --eval mt-dev.conllu --output runs/cascade
    augkit train-task --task tagging --model crf --train mt.conllu --eval mt-dev.conllu --output runs/crf
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train-task",
        help="fine-tune a sequence classifier or token tagger (mix or cascade of datasets)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--task", required=True, choices=("classification", "tagging"))
    parser.add_argument("--model", required=True,
                        help="tiny-bert, a Hugging Face id or local directory, or crf (tagging only)")
    parser.add_argument("--train", required=True, nargs="+", metavar="DATA",
                        help=".conllu, .jsonl/.csv/.tsv/.parquet or a save_to_disk folder; several allowed")
    parser.add_argument("--mix", nargs="+", type=float, metavar="P",
                        help="draw the training sets in these proportions (one per --train set, seeded)")
    parser.add_argument("--mix-size", type=int, metavar="N",
                        help="examples in the mix (default: all training sets' sizes added up)")
    parser.add_argument("--cascade", action="store_true",
                        help="train on each --train set in order, each stage starting from the previous weights")
    parser.add_argument("--eval", required=True, metavar="DATA", help="evaluation set (used for --select-best)")
    parser.add_argument("--test", metavar="DATA", help="test set, scored once with the final model")
    parser.add_argument("--output", required=True, metavar="DIR", help="metrics.json, predictions.jsonl, model/")
    parser.add_argument("--seed", type=int, default=0)
    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=int, nargs="+", default=[3],
                          help="epochs per stage: one number, or one per --cascade stage")
    training.add_argument("--batch-size", type=int, default=16)
    training.add_argument("--lr", type=float, default=5e-5, help="peak learning rate (use ~1e-3 for tiny models)")
    training.add_argument("--weight-decay", type=float, default=0.01)
    training.add_argument("--warmup-ratio", type=float, default=0.1)
    training.add_argument("--max-length", type=int, default=128,
                          help="tokens per row; longer sentences are split into word chunks, texts are cut")
    training.add_argument("--select-best", action="store_true",
                          help="evaluate every epoch and keep the best epoch's weights (per stage)")
    training.add_argument("--patience", type=int, help="with --select-best: stop after N epochs without gain")
    training.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    training.add_argument("--bf16", action="store_true", help="bfloat16 autocast (GPU)")
    training.add_argument("--threads", type=int, help="CPU threads for torch (1 is fastest on a busy machine)")
    model = parser.add_argument_group("model")
    model.add_argument("--tiny", action="append", metavar="KEY=VALUE",
                       help="override a tiny-bert setting, e.g. --tiny num_hidden_layers=4")
    model.add_argument("--lora-r", type=int, help="train LoRA adapters of this rank instead of all weights")
    model.add_argument("--lora-alpha", type=int, default=16)
    model.add_argument("--lora-target", nargs="+", default=["all-linear"], metavar="MODULE")
    crf = parser.add_argument_group("--model crf")
    crf.add_argument("--crf-c1", type=float, default=0.1, help="L1 penalty")
    crf.add_argument("--crf-c2", type=float, default=0.01, help="L2 penalty")
    crf.add_argument("--crf-iterations", type=int, default=100)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from finetune.crf import CrfSettings
    from finetune.models import LoraSettings, parse_overrides
    from finetune.task import TaskSettings, train_task

    settings = TaskSettings(
        epochs=args.epochs[0] if len(args.epochs) == 1 else args.epochs, batch_size=args.batch_size, learning_rate=args.lr, weight_decay=args.weight_decay,
        warmup_ratio=args.warmup_ratio, max_length=args.max_length, select_best=args.select_best,
        patience=args.patience, device=args.device, bf16=args.bf16, threads=args.threads,
    )
    lora = None
    if args.lora_r is not None:
        target = "all-linear" if args.lora_target == ["all-linear"] else tuple(args.lora_target)
        lora = LoraSettings(r=args.lora_r, alpha=args.lora_alpha, target_modules=target)
    report = train_task(
        args.task, args.model, args.train, args.eval, args.output, test_path=args.test, seed=args.seed,
        mix=args.mix, mix_size=args.mix_size, cascade=args.cascade, settings=settings,
        tiny=parse_overrides(args.tiny), lora=lora,
        crf_settings=CrfSettings(c1=args.crf_c1, c2=args.crf_c2, max_iterations=args.crf_iterations),
    )
    metric = report["primary_metric"]
    line = f"{report['mode']}: eval {metric} {report['eval_metrics'][metric]:.4f}"
    if "test_metrics" in report:
        line += f", test {metric} {report['test_metrics'][metric]:.4f}"
    print(f"{line}; wrote {args.output}/metrics.json")
    return 0
