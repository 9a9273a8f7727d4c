"""Maltese language-ID benchmark (issue 5, section 3): accuracy protocol and throughput.

    .venv/bin/python bench/bench_langid.py [--shared ../shared/data]

Prints the markdown recorded under "## Language identification (issue 5)" in bench/RESULTS.md.

Protocol (docs/langid.md):
1. Tuning data only: MUDT dev (Maltese recall) and held-out negatives that the verifier was not
   trained on: English lines from the bo_en.jsonl tuning documents, romanised Arabic from the
   tuning lines, and fresh word-list pseudo-sentences (another seed) for the Latin-script
   look-alikes. The PUD files are never used for training or tuning.
2. Selection rule, fixed before looking at test: among the grid below, keep the configurations
   whose dev recall is >= 98% and whose tuning negatives are accepted <= 0.5%; choose the lowest
   veto threshold (the strongest use of the general model), then the highest verifier threshold.
3. Report, for the chosen configuration and for lid.176 alone: recall on MUDT test, and the share
   of Italian and English PUD sentences accepted as Maltese.
4. False accepts of the recommended filter on Arabic (issue 11, section 8): Arabic PUD sentences,
   Arabic single words (the distinct word forms of Arabic PUD) and Arabic PUD transliterated
   with chartx and morphtx (`augkit transliterate` defaults), with and without the script check.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import build_maltese_verifier as build  # noqa: E402

from augment.formats import read_conllu  # noqa: E402
from augment.langid import RECOMMENDED, LanguageFilter, load_identifier, read_labelled  # noqa: E402
from augment.transliterate import Transliterator  # noqa: E402

VETO_GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, None)
VERIFIER_GRID = (0.3, 0.5, 0.7, 0.9)
MIN_DEV_RECALL = 0.98
MAX_TUNING_ACCEPT = 0.005


def accepted_share(language_filter: LanguageFilter, texts: list[str]) -> float:
    return sum(decision.keep for decision in language_filter.decide(texts)) / len(texts)


def best_rates(works: dict[str, object], count: int, rounds: int = 5) -> dict[str, float]:
    """Texts per second of each work, the best of interleaved rounds (the machine is shared)."""
    best = dict.fromkeys(works, float("inf"))
    for _ in range(rounds):
        for name, work in works.items():
            start = time.perf_counter()
            work()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: count / seconds for name, seconds in best.items()}


def other_languages(shared: Path) -> list[tuple[str, str, list[str]]]:
    """(data name, FLORES code, texts): every other language of the project's corpora, at most
    2,000 texts each (a seeded sample of the jsonl files)."""

    def jsonl_side(path: str, field: str) -> list[str]:
        with open(shared / path, encoding="utf-8") as handle:
            texts = [text for text in (json.loads(line)[field].strip() for line in handle) if text]
        return build._sample(texts, 2000, build.SEED)

    def conllu(language: str, path: str) -> list[str]:
        return read_labelled(f"{language}={shared / path}")[1]

    quran = [line.strip() for line in open(shared / "arabic" / "quran-simple.txt", encoding="utf-8") if line.strip()]
    return [
        ("tibetan/bo_en.jsonl `bo`", "bod_Tibt", jsonl_side("tibetan/bo_en.jsonl", "bo")),
        ("tibetan/bo_en.jsonl `en`", "eng_Latn", jsonl_side("tibetan/bo_en.jsonl", "en")),
        ("tibetan/bo_zh.jsonl `zh` (Traditional)", "zho_Hant", jsonl_side("tibetan/bo_zh.jsonl", "zh")),
        ("arabic/ar_pud-ud-test", "arb_Arab", conllu("ar", "arabic/ar_pud-ud-test.conllu")),
        ("arabic/quran-simple (diacritised)", "arb_Arab", build._sample(quran, 2000, build.SEED)),
        ("chinese/zh_pud-ud-test", "zho_Hans", conllu("zh", "chinese/zh_pud-ud-test.conllu")),
        ("english/en_pud-ud-test", "eng_Latn", conllu("en", "english/en_pud-ud-test.conllu")),
        ("italian/it_pud-ud-test", "ita_Latn", conllu("it", "italian/it_pud-ud-test.conllu")),
    ]


def arabic_negatives(shared: Path) -> list[tuple[str, list[str]]]:
    """(name, texts): Arabic PUD, its distinct word forms, and its chartx and morphtx transliterations."""
    sentences = list(read_conllu(shared / "arabic" / "ar_pud-ud-test.conllu"))
    arabic = [sentence.metadata("text") for sentence in sentences]
    words = sorted({row[1] for sentence in sentences for row in sentence.words() if row[3] not in ("PUNCT", "NUM")})
    rows = [("arabic/ar_pud-ud-test (Arabic script)", arabic),
            ("its distinct word forms, one per text (no punctuation or numbers)", words)]
    for scheme in ("chartx", "morphtx"):
        rows.append((f"ar_pud-ud-test transliterated with {scheme}", Transliterator(scheme).transliterate_many(arabic)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    shared = args.shared

    def conllu(language: str, path: str) -> list[str]:
        return read_labelled(f"{language}={shared / path}")[1]

    dev = conllu("mt", "maltese/mt_mudt-ud-dev.conllu")
    test = conllu("mt", "maltese/mt_mudt-ud-test.conllu")
    italian = conllu("it", "italian/it_pud-ud-test.conllu")
    english = conllu("en", "english/en_pud-ud-test.conllu")
    _, english_tuning = build.english_lines(shared)
    _, arabic_tuning = build.romanised_arabic_lines(shared)
    word_list_tuning = [line for locale in build.WORD_LISTS.values()
                        for line in build.word_list_lines(locale, 100, build.SEED + 1)]
    tuning_negatives = english_tuning + arabic_tuning + word_list_tuning

    general = load_identifier()
    recommended = RECOMMENDED["mlt_Latn"]
    verifier = load_identifier(str(ROOT / "augment" / "models" / recommended.verifier), recommended.verifier_lowercase)
    out = []
    out.append(f"Command: `.venv/bin/python bench/bench_langid.py` — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
               f"2-core CPU, 24 GiB, no GPU ({platform.python_implementation()} {platform.python_version()}).")
    out.append(f"General model `{general.path.name}` (sha256 {general.fingerprint}); verifier "
               f"`{verifier.path.name}` (sha256 {verifier.fingerprint}, {verifier.path.stat().st_size / 1e6:.2f} MB).")
    out.append(f"Data: MUDT dev {len(dev)}, test {len(test)} sentences; PUD it {len(italian)}, en {len(english)}; "
               f"tuning negatives {len(tuning_negatives)} (en {len(english_tuning)}, romanised ar "
               f"{len(arabic_tuning)}, word lists {len(word_list_tuning)}).")

    # 1. Tuning grid (dev + tuning negatives only).
    out.append("\n**Tuning grid** (general threshold 0.5; dev recall / tuning negatives accepted):\n")
    out.append("| veto \\ verifier | " + " | ".join(f"{t:g}" for t in VERIFIER_GRID) + " |")
    out.append("|---" * (len(VERIFIER_GRID) + 1) + "|")
    eligible = []
    for veto in VETO_GRID:
        cells = []
        for verifier_threshold in VERIFIER_GRID:
            language_filter = LanguageFilter({"mt": recommended.threshold}, identifier=general, verifier=verifier,
                                             verifier_threshold=verifier_threshold, veto_threshold=veto)
            recall = accepted_share(language_filter, dev)
            false_accepts = accepted_share(language_filter, tuning_negatives)
            cells.append(f"{recall:.2%} / {false_accepts:.2%}")
            if recall >= MIN_DEV_RECALL and false_accepts <= MAX_TUNING_ACCEPT:
                eligible.append((1.0 if veto is None else veto, -verifier_threshold, veto, verifier_threshold))
        out.append(f"| {veto if veto is not None else 'none'} | " + " | ".join(cells) + " |")
    _, _, chosen_veto, chosen_verifier = min(eligible)
    out.append(f"\nSelected by the rule: veto {chosen_veto}, verifier threshold {chosen_verifier:g} "
               f"(shipped in `RECOMMENDED`: veto {recommended.veto_threshold}, verifier "
               f"{recommended.verifier_threshold:g}).")

    # 2. Evaluation on test and PUD (only now).
    def filter_shares(language_filter: LanguageFilter) -> list[float]:
        return [accepted_share(language_filter, texts) for texts in (test, dev, italian, english)]

    def verifier_shares(threshold: float) -> list[float]:
        return [sum(p >= threshold for p in verifier.probability(texts, "mt")) / len(texts)
                for texts in (test, dev, italian, english)]

    rows = [
        ("lid.176.ftz alone, top-1 = mlt (any probability)", filter_shares(LanguageFilter({"mt": 0.0}, identifier=general))),
        ("lid.176.ftz alone, top-1 = mlt with p >= 0.5", filter_shares(LanguageFilter({"mt": 0.5}, identifier=general))),
        ("verifier alone, p(mlt) >= 0.5", verifier_shares(0.5)),
        ("**recommended** (`LanguageFilter.for_target(\"mt\")`)", filter_shares(LanguageFilter.for_target("mt"))),
    ]
    out.append("\n**Evaluation** (share accepted as Maltese):\n")
    out.append("| configuration | MUDT test recall | MUDT dev recall | it PUD accepted | en PUD accepted |")
    out.append("|---|---|---|---|---|")
    for name, shares in rows:
        out.append(f"| {name} | " + " | ".join(f"{value:.2%}" for value in shares) + " |")
    out.append(f"\nRecommended signature: `{LanguageFilter.for_target('mt').signature()}`")

    # 4. False accepts on Arabic and transliterated Arabic, with and without the script check.
    recommended_filter = LanguageFilter.for_target("mt")
    without_script_check = LanguageFilter(
        {"mt": recommended.threshold}, identifier=general, verifier=verifier,
        verifier_threshold=recommended.verifier_threshold, veto_threshold=recommended.veto_threshold)
    out.append("\n**Arabic accepted as Maltese** (issue 11, section 8; share of texts the filter keeps):\n")
    out.append("| negatives | texts | recommended (with the script check) | without the script check |")
    out.append("|---|---|---|---|")
    for name, texts in arabic_negatives(shared):
        out.append(f"| {name} | {len(texts)} | {accepted_share(recommended_filter, texts):.2%} | "
                   f"{accepted_share(without_script_check, texts):.2%} |")

    # 3. The project's other languages: the recommended default (lid.176 alone, top-1 >= 0.5).
    out.append("\n**Other project languages** (`LanguageFilter.for_target(code)`: lid.176.ftz alone, "
               "top-1 = the language with p >= 0.5; share kept):\n")
    out.append("| data | language | texts | kept |")
    out.append("|---|---|---|---|")
    for name, code, texts in other_languages(shared):
        share = accepted_share(LanguageFilter.for_target(code, identifier=general), texts)
        out.append(f"| {name} | {code} | {len(texts)} | {share:.2%} |")

    # 4. Throughput: batched multi-line prediction against one call per line, same model, same run.
    texts = (test + italian + english) * 5
    language_filter = LanguageFilter.for_target("mt")
    rates = best_rates({
        "per_line": lambda: [general._model.f.predict(" ".join(text.split()) + "\n", 3, 0.0, "strict") for text in texts],
        "batched": lambda: general.predict(texts, k=3),
        "filtered": lambda: language_filter.decide(texts),
    }, len(texts))
    per_line, batched, filtered = rates["per_line"], rates["batched"], rates["filtered"]
    out.append(f"\n**Throughput** ({len(texts)} sentences, one thread, best of 5 interleaved rounds): lid.176 with one low-level "
               f"`f.predict` call per line {per_line:,.0f} sentences/s (baseline); `LanguageIdentifier.predict` "
               f"(one `multilinePredict` call, FLORES labels) {batched:,.0f}/s ({batched / per_line:.2f}x); "
               f"recommended Maltese filter `decide` {filtered:,.0f}/s ({filtered / per_line:.2f}x).")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
