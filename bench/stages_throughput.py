"""Records per second of each pure corpus stage on real text (not a test).

    .venv/bin/python bench/stages_throughput.py [--records 20000]

Inputs: the first N Tibetan–English pairs of bo_en.jsonl (Tibetan `text`, English in
`meta.translations`) and the Quran (diacritised Arabic), from ../shared/data. The baseline is a bare
Unicode NFC pass over the same texts, measured in the same run, so the ratio says what each stage
costs beyond touching every string once.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import unicodedata
from pathlib import Path

from corpora.stages.registry import build_stage

DATA = Path(os.environ.get("AUGKIT_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"

STEPS = [
    {"stage": "normalize"},
    {"stage": "split_sentences"},
    {"stage": "segment_syllables"},
    {"stage": "filter_length", "min_words": 3, "max_chars": 1000},
    {"stage": "filter_script", "min_share": 0.8},
    {"stage": "dedup_exact"},
    {"stage": "dedup_near", "threshold": 0.8},
    {"stage": "mix", "proportions": {"bo": 0.5, "quran": 0.5}, "seed": 1},
    {"stage": "split", "seed": 1},
    {"stage": "sample", "fraction": 0.5, "seed": 1},
    {"stage": "format_cpt", "pack_chars": 4000},
]


def load(limit: int) -> list[dict]:
    records = []
    with open(DATA / "tibetan" / "bo_en.jsonl", encoding="utf-8") as handle:
        for number, line in zip(range(limit), handle, strict=False):
            row = json.loads(line)
            records.append({"id": f"bo:{number}", "text": row["bo"], "lang": "bod_Tibt", "source": "bo",
                            "doc": row["doc"], "meta": {"translations": {"eng_Latn": row["en"]}}})
    with open(DATA / "arabic" / "quran-simple.txt", encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            records.append({"id": f"quran:{number}", "text": line.strip(), "lang": "arb_Arab", "source": "quran",
                            "doc": None, "meta": {}})
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000, help="Tibetan pairs to read (plus the Quran)")
    args = parser.parse_args()
    records = load(args.records)
    started = time.perf_counter()
    for record in records:
        unicodedata.normalize("NFC", record["text"])
    baseline = len(records) / (time.perf_counter() - started)
    print(f"{len(records):,} records; baseline (bare NFC): {baseline:,.0f} records/s")
    sft = {"stage": "format_sft", "directions": ["en-bo", "bo-en"], "high_resource": ["en"],
           "reverse_fraction": 0.5, "seed": 1}
    for spec in [*STEPS, sft]:
        stage = build_stage(spec)
        started = time.perf_counter()
        output = stage.process(records)
        rate = len(records) / (time.perf_counter() - started)
        print(f"{spec['stage']:<18} {rate:>10,.0f} records/s  {baseline / rate:>6.1f}x baseline time  "
              f"kept {len(output.kept):,}, dropped {len(output.dropped):,}")


if __name__ == "__main__":
    main()
