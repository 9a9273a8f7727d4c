"""Rebuild the shipped Maltese verifier, augment/models/mlt_Latn.verifier.ftz (docs/langid.md).

    .venv/bin/python bench/build_maltese_verifier.py [--shared ../shared/data] [--output PATH]

Training data (never the PUD files, which are the evaluation negatives; never MUDT dev/test):
- mlt_Latn: every `# text` sentence of MUDT train (CC BY-SA 4.0).
- eng_Latn: a seeded sample of the English side of tibetan/bo_en.jsonl (CC0), from documents
  outside the tuning split (`english_lines`).
- arb_Latn: Arabic romanised with uroman, the nearest thing to "Maltese-looking" text that is not
  Maltese (Quran verses and Alf Layla sentences), from lines outside the tuning split.
- ita_Latn, spa_Latn, ... (WORD_LISTS): pseudo-sentences from Faker's lorem word lists (MIT), the
  Latin-script languages lid.176 confuses Maltese with.
Writes the prepared files to a temporary folder and calls `augkit langid train`, so the shipped
model is exactly what the CLI produces; same inputs, same bytes (seed 0, one thread). The shipped
file was built with fasttext 0.9.3, uroman 1.3.1.1 and Faker 40.63.0 (another Faker or uroman
version may change the word lists or romanisations, hence the bytes). bench/bench_langid.py
reuses the tuning splits defined here.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from augment.commands import langid as langid_command  # noqa: E402

SEED = 0
ENGLISH_TEXTS = 3000
ARABIC_TEXTS = 1500
# Latin-script look-alikes from Faker's word lists (FLORES code -> Faker locale), WORD_LIST_TEXTS each.
WORD_LISTS = {
    "ita_Latn": "it_IT", "spa_Latn": "es_ES", "fra_Latn": "fr_FR", "pol_Latn": "pl_PL", "ces_Latn": "cs_CZ",
    "deu_Latn": "de_DE", "nld_Latn": "nl_NL", "dan_Latn": "da_DK", "fil_Latn": "fil_PH", "lat_Latn": "la",
}
WORD_LIST_TEXTS = 500
TUNING_TEXTS = 1000


def english_lines(shared: Path) -> tuple[list[str], list[str]]:
    """(train, tuning) English lines from disjoint bo_en.jsonl documents; lines of 3+ words."""
    by_doc: dict[str, list[str]] = {}
    with open(shared / "tibetan" / "bo_en.jsonl", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            text = " ".join(record["en"].split())
            if len(text.split()) >= 3:
                by_doc.setdefault(record["doc"], []).append(text)
    docs = sorted(by_doc)
    random.Random(SEED).shuffle(docs)
    tuning_docs = set(docs[: len(docs) // 5])
    train = [text for doc in sorted(by_doc) if doc not in tuning_docs for text in by_doc[doc]]
    tuning = [text for doc in sorted(by_doc) if doc in tuning_docs for text in by_doc[doc]]
    return _sample(train, ENGLISH_TEXTS, SEED), _sample(tuning, TUNING_TEXTS, SEED + 1)


def romanised_arabic_lines(shared: Path) -> tuple[list[str], list[str]]:
    """(train, tuning) uroman romanisations of Quran verses and Alf Layla sentences."""
    import uroman

    arabic = shared / "arabic"
    verses = [line.strip() for line in open(arabic / "quran-simple.txt", encoding="utf-8") if line.strip()]
    prose = [sentence.strip() for line in open(arabic / "alf_layla.txt", encoding="utf-8")
             for sentence in line.replace("؟", ".").replace("!", ".").split(".") if len(sentence.split()) >= 3]
    lines = verses + prose
    order = list(range(len(lines)))
    random.Random(SEED).shuffle(order)
    romaniser = uroman.Uroman()
    picked = [" ".join(romaniser.romanize_string(lines[i]).split()[:60]) for i in order[: ARABIC_TEXTS + TUNING_TEXTS]]
    return picked[:ARABIC_TEXTS], picked[ARABIC_TEXTS:]


def word_list_lines(locale: str, count: int, seed: int) -> list[str]:
    """`count` pseudo-sentences of 4-20 words drawn from Faker's lorem word list for `locale`.

    Word salad, but fastText (bag of words and character n-grams) learns the spelling of the
    language from it; it gives the verifier Latin-script languages it would otherwise never see."""
    import importlib

    words = importlib.import_module(f"faker.providers.lorem.{locale}").Provider.word_list
    rng = random.Random(f"{seed}:{locale}")
    return [" ".join(rng.choice(words) for _ in range(rng.randint(4, 20))) for _ in range(count)]


def _sample(texts: list[str], limit: int, seed: int) -> list[str]:
    return [texts[i] for i in sorted(random.Random(seed).sample(range(len(texts)), min(limit, len(texts))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--output", type=Path, default=ROOT / "augment" / "models" / "mlt_Latn.verifier.ftz")
    args = parser.parse_args()
    english, _ = english_lines(args.shared)
    arabic, _ = romanised_arabic_lines(args.shared)
    with tempfile.TemporaryDirectory() as workdir:
        english_file = Path(workdir) / "eng.txt"
        arabic_file = Path(workdir) / "arb_Latn.txt"
        english_file.write_text("\n".join(english) + "\n", encoding="utf-8")
        arabic_file.write_text("\n".join(arabic) + "\n", encoding="utf-8")
        word_list_data = []
        for code, locale in WORD_LISTS.items():
            path = Path(workdir) / f"{code}.txt"
            path.write_text("\n".join(word_list_lines(locale, WORD_LIST_TEXTS, SEED)) + "\n", encoding="utf-8")
            word_list_data += ["--data", f"{code}={path}"]
        # The `augkit langid train` parser itself, without loading every other sub-command.
        parser = argparse.ArgumentParser(prog="augkit")
        langid_command.register(parser.add_subparsers())
        train_args = parser.parse_args([
            "langid", "train", "--lowercase", "--seed", str(SEED), "--output", str(args.output),
            "--data", f"mlt={args.shared / 'maltese' / 'mt_mudt-ud-train.conllu'}",
            "--data", f"eng={english_file}", "--data", f"arb_Latn={arabic_file}", *word_list_data,
        ])
        return train_args.func(train_args)


if __name__ == "__main__":
    sys.exit(main())
