"""Experiment A, ABX reading: after CPT on Maltese + transliterated Arabic, which scheme's sentences
are closest in form to Maltese?

    .venv/bin/python bench/experiment_a_abx.py [--schemes ...] [--epochs 10] [--table docs/experiments/expA/abx.md]

For each scheme S (default: every scheme of Experiment A):
1. CPT text: the 1,123 sentences of MUDT train + 800 Arabic PUD sentences (a seeded sample) in S.
2. before: `tiny-bert` (Experiment A's architecture) with random weights, its WordPiece vocabulary
   trained on that text; after: the same model trained as a masked LM on it (15% masking, AdamW,
   learning rate 1e-3, batch 32, 10% warm-up then linear decay, 128 tokens, `--epochs` epochs).
3. `augkit abx` (finetune.abx) on held-out text only: 200 sentences of MUDT dev (Maltese,
   monolingual) and the other 200 PUD sentences in S; form-unpaired both ways (mt:ar+S, ar+S:mt).
   Score: how often another Maltese sentence X is nearer a Maltese A than an ar+S B (0.5: the
   model cannot tell ar+S from Maltese; 1.0: always can). Lower = closer in form to Maltese.

Prints (and writes with --table) one row per scheme: the mt:ar+S form score at the last layer,
before and after CPT, with 95% bootstrap intervals, and the masked-LM loss before and after.
Every step is cached under --work (a rerun skips finished schemes).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from augment.errors import AugkitError  # noqa: E402

DEFAULT_SHARED = Path(os.environ.get("AUGKIT_SHARED", ROOT.parent / "shared")) / "data"
SCHEMES = ("none", "buckwalter", "uroman", "chartx", "chartx-plus", "morphtx", "morphtx-plus")
TINY = {"vocab_size": 1000, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4}


def texts_of(path: Path) -> list[str]:
    from finetune.abx import read_sentences

    return [text for _, text in read_sentences(path)]


def train_mlm(model, tokenizer, texts: list[str], epochs: int, seed: int) -> list[float]:
    """Masked-LM training; returns the mean loss of each epoch."""
    import torch
    from transformers import DataCollatorForLanguageModeling, get_linear_schedule_with_warmup

    from finetune.models import set_seed

    set_seed(seed)
    encoded = [tokenizer(text, truncation=True, max_length=128)["input_ids"] for text in texts]
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    batch_size = 32
    steps = epochs * ((len(encoded) + batch_size - 1) // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    order = list(range(len(encoded)))
    losses = []
    model.train()
    for epoch in range(epochs):
        random.Random(seed * 1000 + epoch).shuffle(order)
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = collator([{"input_ids": encoded[i]} for i in order[start:start + batch_size]])
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            total += loss.item() * len(batch["input_ids"])
        losses.append(total / len(order))
    model.eval()
    return losses


def mlm_loss(model, tokenizer, texts: list[str], seed: int) -> float:
    """Masked-LM loss on `texts` with a fixed, seeded masking (the same masks before and after)."""
    import torch
    from transformers import DataCollatorForLanguageModeling

    from finetune.models import set_seed

    set_seed(seed)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    total, count = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            batch = collator([{"input_ids": tokenizer(text, truncation=True, max_length=128)["input_ids"]}
                              for text in texts[start:start + 64]])
            total += model(**batch).loss.item() * len(batch["input_ids"])
            count += len(batch["input_ids"])
    return total / count


def run_scheme(scheme: str, args, maltese_train: list[str], maltese_dev: list[str], arabic: list[tuple[str, str]]) -> dict:
    from augment.transliterate import Transliterator
    from finetune.abx import AbxSettings, Language, run_abx
    from finetune.models import load_model, save_model

    folder = args.work / scheme
    result_file = folder / "result.json"
    if result_file.is_file():
        return json.loads(result_file.read_text())
    started = time.perf_counter()
    order = list(range(len(arabic)))
    random.Random(args.seed).shuffle(order)
    train_ids, heldout_ids = sorted(order[:800]), sorted(order[800:1000])
    transliterator = Transliterator(scheme)
    written = transliterator.transliterate_many([text for _, text in arabic])
    cpt_text = maltese_train + [written[i] for i in train_ids]
    model, tokenizer = load_model("tiny-bert", "masked-lm", texts=cpt_text, tiny=TINY, seed=args.seed)
    save_model(model, tokenizer, folder / "before")
    loss_before = mlm_loss(model, tokenizer, maltese_dev, args.seed)
    losses = train_mlm(model, tokenizer, cpt_text, args.epochs, args.seed)
    save_model(model, tokenizer, folder / "after", metadata={"made_by": "bench/experiment_a_abx.py", "scheme": scheme,
                                                             "epochs": args.epochs, "train_losses": losses})
    loss_after = mlm_loss(model, tokenizer, maltese_dev, args.seed)
    name = f"ar+{scheme}"
    settings = AbxSettings(seed=args.seed, max_sentences=200, triplets=args.triplets)
    random_dev = random.Random(args.seed).sample(maltese_dev, min(200, len(maltese_dev)))
    languages = [Language("mt", random_dev, None, "MUDT dev"),
                 Language(name, [written[i] for i in heldout_ids], [arabic[i][0] for i in heldout_ids],
                          f"ar PUD with {transliterator.signature}")]
    pairs = [("mt", name), (name, "mt")]
    result = {"scheme": scheme, "signature": transliterator.signature, "epochs": args.epochs,
              "cpt_sentences": len(cpt_text), "train_losses": losses,
              "maltese_dev_mlm_loss": {"before": loss_before, "after": loss_after}}
    for stage in ("before", "after"):
        abx = run_abx(str(folder / stage), languages, settings, folder / stage / "abx", pairs, target="mt")
        result[stage] = {"signature": abx.signature,
                         "rows": [row.__dict__ for row in abx.rows]}
    result["seconds"] = round(time.perf_counter() - started, 1)
    for stage in ("before", "after"):
        for weights in (folder / stage).glob("*.safetensors"):
            weights.unlink()  # the scores are the result; the weights are cheap to remake
    result_file.write_text(json.dumps(result, indent=1) + "\n")
    return result


def table(results: list[dict]) -> str:
    lines = ["| scheme | form mt vs ar+scheme, before CPT | after CPT | change | Maltese dev MLM loss, before → after |",
             "| --- | --- | --- | ---: | --- |"]
    for result in results:
        cells = []
        for stage in ("before", "after"):
            rows = [r for r in result[stage]["rows"] if r["l1"] == "mt"]
            last = max(rows, key=lambda r: r["layer"])
            cells.append(last)
        before, after = cells
        loss = result["maltese_dev_mlm_loss"]
        lines.append(f"| {result['scheme']} | {before['score']:.3f} [{before['ci_low']:.3f}, {before['ci_high']:.3f}] | "
                     f"{after['score']:.3f} [{after['ci_low']:.3f}, {after['ci_high']:.3f}] | "
                     f"{after['score'] - before['score']:+.3f} | {loss['before']:.2f} → {loss['after']:.2f} |")
    first = results[0]
    lines.append("")
    lines.append(f"Last layer (2); n = {[r for r in first['after']['rows'] if r['l1'] == 'mt'][0]['n']} triplets per "
                 f"cell; {first['epochs']} CPT epochs on {first['cpt_sentences']} sentences. ABX signature (after, "
                 f"{first['scheme']}): `{first['after']['signature']}`.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--work", type=Path, default=Path("runs/expA-abx"))
    parser.add_argument("--schemes", nargs="+", default=list(SCHEMES))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--triplets", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--table", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    paths = {"mt_train": args.shared / "maltese" / "mt_mudt-ud-train.conllu",
             "mt_dev": args.shared / "maltese" / "mt_mudt-ud-dev.conllu",
             "ar": args.shared / "arabic" / "ar_pud-ud-test.conllu"}
    for path in paths.values():
        if not path.is_file():
            raise AugkitError(f"{path}: not found (pass --shared to point at the corpora)")
    from finetune.abx import read_sentences

    maltese_train, maltese_dev = texts_of(paths["mt_train"]), texts_of(paths["mt_dev"])
    arabic = read_sentences(paths["ar"])
    results = []
    for scheme in args.schemes:
        result = run_scheme(scheme, args, maltese_train, maltese_dev, arabic)
        print(f"{scheme}: done ({result['seconds']} s)", flush=True)
        results.append(result)
    markdown = table(results)
    print(markdown, end="")
    if args.table:
        args.table.write_text(markdown, encoding="utf-8")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AugkitError as error:
        print(f"experiment_a_abx: error: {error}", file=sys.stderr)
        sys.exit(2)
