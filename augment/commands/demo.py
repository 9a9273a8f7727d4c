"""`augkit demo`: what augkit does, end to end, on small bundled samples (no downloads).

First the bundled Arabic sample transliterated with every scheme, side by side; then the chain of
`finetune.demo`: corpus build (with a tiny MT model trained on the spot), CPT and SFT of a tiny
Qwen2, evaluation and layer analysis, ending with a report. `--table-only` stops after the table.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "samples" / "ar_sample.txt"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="the whole chain on bundled samples: transliterate, build a corpus, CPT, SFT, evaluate, layers",
        description="Transliterate the bundled Arabic sample (article and sun letters, shadda, long vowels, "
                    "hamza forms, digits, punctuation, a diacritised passage) with every bundled scheme and "
                    "print the outputs side by side; then build the demo corpus (augkit build "
                    "corpora/recipes/demo-chain.yaml, with a tiny MT model trained first), continue pre-training "
                    "and fine-tune a tiny Qwen2 on it, evaluate before/after and compare the layers. A rerun "
                    "skips every step whose inputs did not change.",
    )
    parser.add_argument("--input", "-i", type=Path, default=SAMPLE, help="Arabic text, one sentence per line")
    parser.add_argument("--schemes", nargs="+", default=None, metavar="SCHEME",
                        help="scheme names or manifest paths (default: every bundled scheme)")
    parser.add_argument("--lines", "-n", type=int, default=None, help="show only the first N lines")
    parser.add_argument("--normalize", choices=["none", "arabic"], default="arabic",
                        help="input normalisation (default: arabic, recommended for real text)")
    parser.add_argument("--output", "-o", type=Path, default=Path("runs/demo"),
                        help="folder for every artefact of the chain (default: runs/demo)")
    parser.add_argument("--quick", action="store_true", help="a fraction of the training steps (for CI)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default: 1; the models are tiny)")
    parser.add_argument("--table-only", action="store_true", help="print the transliteration table and stop")
    parser.set_defaults(func=run)


def run(args) -> int:
    from augment.schemes import available_schemes

    # The published systems first, then their baselines, then the rest, the control `none` last.
    available = available_schemes()
    first = [name for name in ("chartx", "morphtx", "buckwalter", "uroman") if name in available]
    last = [name for name in ("none",) if name in available]
    schemes = args.schemes or first + sorted(set(available) - set(first) - set(last)) + last
    show_transliteration(args.input, schemes, args.normalize, args.lines, sys.stdout)
    if not args.table_only:
        from finetune.demo import DemoSettings, run_chain

        settings = (DemoSettings.quick(args.output, args.threads) if args.quick
                    else DemoSettings(output=args.output, threads=args.threads))
        run_chain(settings, sys.stdout)
    return 0


def show_transliteration(path: Path, schemes: list[str], normalize: str = "arabic", limit: int | None = None,
                         out: TextIO = sys.stdout) -> dict[str, list[str]]:
    """Transliterate `path` with each scheme and print the outputs side by side; returns them."""
    from augment import formats
    from augment.transliterate import Transliterator

    lines = list(formats.read_lines(path))[:limit]
    outputs: dict[str, list[str]] = {}
    signatures, seconds = {}, {}
    for name in schemes:
        start = time.perf_counter()
        transliterator = Transliterator(name, normalize=normalize)
        outputs[transliterator.scheme.name] = transliterator.transliterate_many(lines)
        signatures[transliterator.scheme.name] = transliterator.signature
        seconds[transliterator.scheme.name] = time.perf_counter() - start
    width = shutil.get_terminal_size((120, 24)).columns
    label = max(len(name) for name in outputs) + 2
    print(f"augkit demo: {len(lines)} lines of {path.name}, {len(outputs)} schemes (--normalize {normalize})\n",
          file=out)
    for number, line in enumerate(lines):
        print(f"{number + 1:>3}  {'arabic':<{label}}{line}", file=out)
        for name, texts in outputs.items():
            print(f"     {name:<{label}}{_fit(texts[number], width - label - 5)}", file=out)
        print(file=out)
    print("signatures (load + run time):", file=out)
    for name, signature in signatures.items():
        print(f"  {signature}  ({seconds[name]:.2f} s)", file=out)
    return outputs


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width or width < 10 else text[:width - 1] + "…"
