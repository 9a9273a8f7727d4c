"""Which Maltese sentence splitter and word tokenizer agree best with the MUDT treebank?

    .venv/bin/python bench/measure_maltese_text.py [--shared ../shared] [--table docs/...md]

Sentences: the sentences of each MUDT document (sent_id `DOC:N`) are joined with one space into
the document's text, every splitter cuts that text again, and its cut points are compared with the
treebank's sentence boundaries (precision, recall, F1 of boundary offsets; a document's end is not
counted), plus the share of treebank sentences reproduced exactly.

Words: every tokenizer cuts each treebank sentence's `# text`; its tokens (as character spans,
whitespace ignored) are compared with the FORM column, as the CoNLL 2018 shared task scores
tokenization: a token is right when its span equals a FORM's span. "words only" keeps the tokens
and FORMs that contain a letter or a digit, the words vocabulary coverage and fertility count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import regex

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_SHARED = Path(os.environ.get("AUGKIT_SHARED", ROOT.parent / "shared"))
_WORDLIKE = regex.compile(r"[\p{L}\p{N}]")  # as augment.maltese.words


def documents(path: Path) -> list[list[tuple[str, list[str]]]]:
    """Documents of a MUDT file: lists of (sentence text, FORMs), in file order."""
    from augment.formats import read_conllu

    by_document: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for sentence in read_conllu(path):
        document = sentence.metadata("sent_id").rsplit(":", 1)[0]
        by_document[document].append((sentence.metadata("text"), [row[1] for row in sentence.words()]))
    return list(by_document.values())


def spans_of(pieces: list[str], text: str) -> list[tuple[int, int]]:
    """Character spans of `pieces` found in order in `text`, whitespace inside a piece matching any
    whitespace run (splitters that normalise spacing return the text with single spaces)."""
    spans, position = [], 0
    for piece in pieces:
        pattern = r"\s+".join(regex.escape(part) for part in piece.split())
        match = regex.compile(pattern).search(text, position)
        if match is None:
            raise ValueError(f"piece {piece!r} not found in order in {text[:80]!r}")
        spans.append(match.span())
        position = match.end()
    return spans


def sentence_splitters():
    import malti.sent_splitter

    from augment.translate.segment import split_document
    from corpora.stages.segment import DEFAULT_ABBREVIATIONS, sentence_spans

    return {
        "split_sentences stage (Latn rules, default abbreviations)":
            lambda text: sentence_spans(text, "Latn", DEFAULT_ABBREVIATIONS),
        "translation's split_document": lambda text: spans_of(split_document(text)[0], text),
        "malti (KMSentSplitter)": lambda text: spans_of(malti.sent_splitter.split(text), text),
    }


def tokenizers():
    import malti.tokeniser

    from augment.text import tokenize

    tokeniser = malti.tokeniser.KMTokeniser()
    return {
        "whitespace (str.split: fertility's words)": str.split,
        "letter runs \\p{L}+ (transliterate-report's words, before lower-casing)": lambda text: regex.findall(r"\p{L}+", text),
        "scheme tokenizer (augment.text.tokenize)": tokenize,
        "malti (KMTokeniser)": tokeniser.tokenise,
    }


def prf(right: int, predicted: int, gold: int) -> tuple[float, float, float]:
    precision = right / predicted if predicted else 0.0
    recall = right / gold if gold else 0.0
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def measure_sentences(docs) -> list[tuple[str, float, float, float, float, float]]:
    rows = []
    for name, split in sentence_splitters().items():
        right = predicted = gold = exact = total = 0
        started = time.process_time()
        for doc in docs:
            text = " ".join(sentence for sentence, _ in doc)
            gold_spans, start = [], 0
            for sentence, _ in doc:
                gold_spans.append((start, start + len(sentence)))
                start += len(sentence) + 1
            spans = split(text)
            gold_ends = {end for _, end in gold_spans[:-1]}
            ends = {end for _, end in spans[:-1]}
            right += len(gold_ends & ends)
            predicted += len(ends)
            gold += len(gold_ends)
            exact += len(set(gold_spans) & set(spans))
            total += len(gold_spans)
        seconds = time.process_time() - started
        rows.append((name, *prf(right, predicted, gold), exact / total, seconds))
    return rows


def measure_tokens(sentences) -> list[tuple[str, float, float, float, float, float, float]]:
    rows = []
    for name, tokenize in tokenizers().items():
        counts = defaultdict(int)
        started = time.process_time()
        for text, forms in sentences:
            gold = set(spans_of(forms, text))
            predicted = set(spans_of(tokenize(text), text))
            counts["right"] += len(gold & predicted)
            counts["predicted"] += len(predicted)
            counts["gold"] += len(gold)
            gold_words = {span for span in gold if _WORDLIKE.search(text[span[0]:span[1]])}
            predicted_words = {span for span in predicted if _WORDLIKE.search(text[span[0]:span[1]])}
            counts["word_right"] += len(gold_words & predicted_words)
            counts["word_predicted"] += len(predicted_words)
            counts["word_gold"] += len(gold_words)
        seconds = time.process_time() - started
        all_f1 = prf(counts["right"], counts["predicted"], counts["gold"])[2]
        word_p, word_r, word_f1 = prf(counts["word_right"], counts["word_predicted"], counts["word_gold"])
        rows.append((name, all_f1, word_p, word_r, word_f1, counts["word_predicted"] / counts["word_gold"], seconds))
    return rows


def table(sentence_rows, token_rows, files: list[str], n_docs: int, n_sentences: int) -> str:
    lines = [f"MUDT {', '.join(files)}: {n_docs} documents, {n_sentences} sentences.", "",
             "| sentence splitter | boundary precision | recall | F1 | sentences exact | CPU s |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, p, r, f1, exact, seconds in sentence_rows:
        lines.append(f"| {name} | {p:.1%} | {r:.1%} | {f1:.1%} | {exact:.1%} | {seconds:.2f} |")
    lines += ["", "| word tokenizer | token F1 (all FORMs) | words: precision | recall | F1 | words counted / FORM words | CPU s |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, all_f1, p, r, f1, ratio, seconds in token_rows:
        lines.append(f"| {name} | {all_f1:.1%} | {p:.1%} | {r:.1%} | {f1:.1%} | {ratio:.3f} | {seconds:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--splits", nargs="+", default=["train", "dev", "test"])
    parser.add_argument("--table", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    files = [f"mt_mudt-ud-{split}.conllu" for split in args.splits]
    docs = [doc for name in files for doc in documents(args.shared / "data" / "maltese" / name)]
    sentences = [sentence for doc in docs for sentence in doc]
    markdown = table(measure_sentences(docs), measure_tokens(sentences), files, len(docs), len(sentences))
    print(markdown, end="")
    if args.table:
        args.table.write_text(markdown, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
