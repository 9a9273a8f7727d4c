"""ABX speed: `augkit abx` on N sentences x 4 PUD languages (ar, en, it, zh) with tiny-bert.

    .venv/bin/python bench/bench_abx.py [--sentences 1000] [--threads 1] [--shared ../shared]

Times each phase in CPU seconds (`time.process_time`, the fair measure on a shared machine) and
wall seconds: reading and sampling the treebanks, building the model (tiny-bert's tokenizer is
trained on the input sentences), encoding every sentence once (all layers pooled), and scoring
every layer x task x ordered pair with its bootstrap interval. The encoding is also compared with
a naive loop that runs the model once per sentence and task triplet member, to show what computing
each sentence once and batching saves.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from finetune.abx import AbxSettings, encode, load_encoder, load_languages, score  # noqa: E402

DEFAULT_SHARED = Path(os.environ.get("AUGKIT_SHARED", ROOT.parent / "shared"))
LANGUAGES = {"ar": "arabic/ar_pud-ud-test.conllu", "en": "english/en_pud-ud-test.conllu",
             "it": "italian/it_pud-ud-test.conllu", "zh": "chinese/zh_pud-ud-test.conllu"}


class Phase:
    def __init__(self, timings: dict, name: str):
        self.timings, self.name = timings, name

    def __enter__(self):
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def __exit__(self, *exc):
        self.timings[self.name] = (time.process_time() - self.cpu, time.perf_counter() - self.wall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--naive", type=int, default=50, help="sentences timed one by one, for the comparison")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    settings = AbxSettings(max_sentences=args.sentences, seed=0)
    timings: dict[str, tuple[float, float]] = {}
    with Phase(timings, "read and sample"):
        languages = load_languages({name: str(args.shared / "data" / path) for name, path in LANGUAGES.items()},
                                   {}, [], settings)
    texts = list(dict.fromkeys(text for language in languages for text in language.texts))
    with Phase(timings, "model (tokenizer trained on the sentences)"):
        model, tokenizer, _ = load_encoder("tiny-bert", texts, settings.seed)
    with Phase(timings, "encode (each sentence once, batched)"):
        pooled = encode(model, tokenizer, texts, settings)
    row_of = {text: i for i, text in enumerate(texts)}
    vectors = {language.name: pooled[:, [row_of[t] for t in language.texts]] for language in languages}
    with Phase(timings, "score (all layers, tasks, pairs, bootstrap)"):
        rows, _ = score(languages, vectors, None, settings)
    sample = texts[::max(1, len(texts) // args.naive)][:args.naive]  # spread over the languages
    with Phase(timings, f"naive: {len(sample)} sentences one at a time"):
        for text in sample:
            encode(model, tokenizer, [text], settings)

    load = os.getloadavg()[0]
    print(f"{len(languages)} languages x {len(languages[0].texts)} sentences = {len(texts)} distinct sentences; "
          f"{pooled.shape[0]} layers; {len(rows)} rows; torch threads {args.threads}; load average {load:.1f}")
    print("| phase | CPU s | wall s |")
    print("| --- | ---: | ---: |")
    for name, (cpu, wall) in timings.items():
        print(f"| {name} | {cpu:.2f} | {wall:.2f} |")
    batched_cpu = timings["encode (each sentence once, batched)"][0] / len(texts)
    naive_cpu = timings[f"naive: {len(sample)} sentences one at a time"][0] / len(sample)
    # Encoding the three members of every triplet (each cell's triplets serve all layers at once):
    per_sentence = 3 * sum(row.n for row in rows if row.layer == 0) / len(texts)
    print(f"encoding CPU per sentence: batched {1000 * batched_cpu:.2f} ms, one at a time {1000 * naive_cpu:.2f} ms "
          f"({naive_cpu / batched_cpu:.1f}x); encoding triplet by triplet would encode each sentence "
          f"{per_sentence:.0f} times, about {per_sentence * naive_cpu / batched_cpu:.0f}x the CPU of the batched pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
