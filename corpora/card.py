"""The dataset card: README.md in a build's output, with counts, statistics and length histograms.

Everything in it is derived from the manifest and the final records, so it is byte-for-byte the same
for the same recipe, seed and inputs (no dates, no timings).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from corpora.records import Record
from corpora.writers import temporary_path, write_text_atomic, writing

PLOTS = "plots"


def _length(record: Record) -> tuple[int, int]:
    """(characters, words) of a record: its text, else its tokens; SFT-style records count their fields."""
    if record.get("text") is not None:
        text = record["text"]
        return len(text), len(text.split())
    if record.get("tokens") is not None:
        return sum(len(token) for token in record["tokens"]) + max(len(record["tokens"]) - 1, 0), len(record["tokens"])
    pieces = [str(value) for key, value in record.items() if key not in ("id", "meta", "source", "lang", "doc")]
    text = " ".join(pieces)
    return len(text), len(text.split())


def _split(record: Record) -> str | None:
    value = record.get("split", (record.get("meta") or {}).get("split"))
    return None if value is None else str(value)


def collect(records: Iterable[Record]) -> dict[str, Any]:
    import numpy as np

    chars, words = [], []
    languages, sources, splits, auxiliaries = Counter(), Counter(), Counter(), Counter()
    documents = set()
    for record in records:
        count_chars, count_words = _length(record)
        chars.append(count_chars)
        words.append(count_words)
        languages[record.get("lang") or "unknown"] += 1
        sources[record.get("source") or "unknown"] += 1
        split = _split(record)
        if split is not None:
            splits[split] += 1
        if record.get("doc") is not None:
            documents.add(record["doc"])
        meta = record.get("meta") or {}
        if meta.get("auxiliary"):  # format_sft's Parallel Multilingual Prompting
            auxiliaries[(meta.get("direction"), meta["auxiliary"], meta.get("auxiliary_by"))] += 1
    return {"chars": np.array(chars, dtype=np.int64), "words": np.array(words, dtype=np.int64),
            "languages": languages, "sources": sources, "splits": splits, "documents": len(documents),
            "auxiliaries": auxiliaries}


def _describe(values) -> str:
    import numpy as np

    if not len(values):
        return "| 0 | - | - | - | - | - |"
    return (f"| {int(values.sum()):,} | {values.mean():.1f} | {int(np.median(values)):,} | "
            f"{int(np.percentile(values, 95)):,} | {int(values.min()):,} | {int(values.max()):,} |")


def _histogram(values, label: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.2), dpi=100)
    if len(values):
        axes.hist(values, bins=min(50, max(1, len(set(values.tolist())))), color="#4c72b0")
    axes.set_xlabel(label)
    axes.set_ylabel("records")
    figure.tight_layout()
    temporary = temporary_path(path)
    with writing(path, temporary):
        figure.savefig(temporary, format="png", metadata={"Software": None})
        temporary.replace(path)
    plt.close(figure)


def _table(counter: Counter, header: str, total: int) -> list[str]:
    lines = [f"| {header} | records | share |", "| --- | ---: | ---: |"]
    for key, count in sorted(counter.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"| {key} | {count:,} | {count / total:.1%} |")
    return lines


def write_card(output: Path, manifest: dict[str, Any], records: Iterable[Record]) -> Path:
    stats = collect(records)
    total = len(stats["chars"])
    (output / PLOTS).mkdir(exist_ok=True)
    _histogram(stats["chars"], "characters per record", output / PLOTS / "length_chars.png")
    _histogram(stats["words"], "words (or tokens) per record", output / PLOTS / "length_words.png")
    versions = manifest["versions"]
    lines = [
        f"# {manifest['recipe']}",
        "",
        f"Built by augkit {versions['augkit']} with `augkit build` (seed {manifest['seed']}): {total:,} records. "
        "The recipe as written is `recipe.yaml`; `manifest.json` holds the resolved settings, the input files' "
        "hashes, the package versions and every stage's counts.",
        "",
        "## Stages",
        "",
        "Every stage balances: in - consumed + derived = out + dropped. Dropped records are in `rejected/`.",
        "",
        "| step | stage | in | consumed | derived | out | dropped | reasons |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for stage in manifest["stages"]:
        reasons = ", ".join(f"{reason} {count:,}" for reason, count in stage["dropped_by_reason"].items())
        lines.append(f"| {stage['step']} | {stage['stage']} | {stage['in']:,} | {stage['consumed']:,} | "
                     f"{stage['derived']:,} | {stage['out']:,} | {stage['dropped']:,} | {reasons} |")
    lines += ["", "## Statistics", "",
              "| unit | total | mean | median | 95th pct | min | max |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
              f"| characters {_describe(stats['chars'])}",
              f"| words/tokens {_describe(stats['words'])}",
              "", f"Documents: {stats['documents']:,}.", ""]
    if total:
        lines += ["## Languages", "", *_table(stats["languages"], "language", total), ""]
        lines += ["## Sources", "", *_table(stats["sources"], "source", total), ""]
        if stats["splits"]:
            lines += ["## Splits", "", *_table(stats["splits"], "split", total), ""]
    overlap = manifest.get("split_overlap")
    if overlap:
        shared = sum(pair["shared_texts"] for pair in overlap["pairs"])
        lines += ["## Split overlap", "",
                  f"Texts found on both sides of a pair of splits (exact, after normalisation: {overlap['normalisation']}; "
                  f"measured after {overlap['measured_after']}).", "",
                  "| splits | shared texts |", "| --- | ---: |",
                  *(f"| {' / '.join(pair['splits'])} | {pair['shared_texts']:,} |" for pair in overlap["pairs"]), ""]
        if shared:
            lines += [f"**Warning:** {shared:,} text(s) occur in more than one split, so a held-out score on these "
                      "splits may measure memorised text.", ""]
    if stats["auxiliaries"]:
        lines += ["## Auxiliary languages (Parallel Multilingual Prompting)", "",
                  "| direction | auxiliary | chosen by | examples |", "| --- | --- | --- | ---: |"]
        for (direction, language, chosen_by), count in sorted(stats["auxiliaries"].items(), key=str):
            signature = (chosen_by or "").replace("|", "\\|")  # a bare | would end the table cell
            how = f"nearest to the target by URIEL+ distance (`{signature}`)" if chosen_by else "named in the recipe"
            lines.append(f"| {direction} | {language} | {how} | {count:,} |")
        lines.append("")
    lines += ["## Length histograms", "", f"![characters per record]({PLOTS}/length_chars.png)", "",
              f"![words per record]({PLOTS}/length_words.png)", "", "## Files", ""]
    for entry in manifest["outputs"]:
        for item in entry["files"]:
            lines.append(f"- `{item['path']}` ({entry['format']}, {item['records']:,} records)")
    lines += ["", "Inputs (sha256):", ""]
    for source in manifest["inputs"]:
        for item in source["files"]:
            lines.append(f"- {source['source']}: `{Path(item['path']).name}` {item['sha256'][:16]}…")
    path = output / "README.md"
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path
