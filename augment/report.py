"""Scheme quality report: which transliteration scheme writes the most Maltese-like text for a
given Arabic corpus (issue 3, §4). The Python API of `augkit transliterate-report`.

The Maltese reference is split deterministically: every `HELDOUT_EVERY`-th line is held out and
scored like a scheme's output (the row `maltese (held-out)`), the rest trains the models:

- `cross_entropy`: bits per character under `CharNgramLM` (order 5, interpolated Witten-Bell,
  exact: every conditional distribution sums to one over the training characters, end-of-line and
  one unknown-character symbol). Lower is more Maltese-like.
- `coverage`: share of output words that occur in the reference. Words are Maltese words as the
  Korpus Malti tokeniser cuts them (`augment.maltese.words`: `il-` `kelb`, numbers included,
  punctuation not), lower-cased.
- `fertility`: sentencepiece pieces per word (the same words), under a unigram model trained on the
  reference; compare with the held-out Maltese row.
- `maltese_share`: share of output lines that augkit's recommended Maltese language filter
  (`augment.langid.LanguageFilter.for_target("mt")`) keeps.
- `chars_per_s`: input characters transliterated per second, each analyzer scheme with a fresh
  (cold) analyzer, as a user's first run would be.
- `fallbacks`: analyzer fallbacks per token it was asked about (analyzer schemes only), with the
  counts by reason in the JSON.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from augment import maltese
from augment.errors import AugkitError

HELDOUT_EVERY = 10
LM_ORDER = 5
SPM_VOCAB_SIZE = 2000
MALTESE_ROW = "maltese (held-out)"

_EOS = "\n"  # never inside a line, so it is free to mark the end
_UNK = "\x00"


class CharNgramLM:
    """Character n-gram language model with interpolated Witten-Bell smoothing.

    P(c | h) = (C(h c) + T(h) · P(c | h')) / (C(h) + T(h)), where h' drops h's first character,
    T(h) is the number of distinct characters seen after h, and the recursion ends in the uniform
    distribution over the vocabulary (training characters, end-of-line, unknown). A history never
    seen contributes nothing and defers entirely to the shorter one.
    """

    def __init__(self, order: int = LM_ORDER):
        if order < 1:
            raise AugkitError(f"n-gram order must be at least 1, got {order}")
        self.order = order
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.vocabulary: set[str] = set()

    def fit(self, lines: Iterable[str]) -> CharNgramLM:
        for line in lines:
            chars = line + _EOS
            self.vocabulary.update(chars)
            for position, char in enumerate(chars):
                start = max(0, position - self.order + 1)
                # Histories shorter than order-1 at the line start: the line start is the context.
                for begin in range(start, position + 1):
                    self.counts[chars[begin:position]][char] += 1
        self.vocabulary.add(_UNK)
        self._totals = {history: (sum(counter.values()), len(counter)) for history, counter in self.counts.items()}
        return self

    def probability(self, char: str, history: str) -> float:
        if char not in self.vocabulary:
            char = _UNK
        history = history[-(self.order - 1):] if self.order > 1 else ""
        probability = 1.0 / len(self.vocabulary)
        for begin in range(len(history), -1, -1):  # from the empty history up to the full one
            context = history[begin:]
            totals = self._totals.get(context)
            if totals is None:
                break  # a longer history containing an unseen one is unseen too
            total, distinct = totals
            probability = (self.counts[context][char] + distinct * probability) / (total + distinct)
        return probability

    def cross_entropy(self, lines: Iterable[str]) -> float:
        """Bits per character (end-of-line included) over `lines`."""
        bits, chars = 0.0, 0
        for line in lines:
            text = "".join(c if c in self.vocabulary else _UNK for c in line) + _EOS
            for position, char in enumerate(text):
                bits -= math.log2(self.probability(char, text[max(0, position - self.order + 1):position]))
            chars += len(text)
        if chars == 0:
            raise AugkitError("cannot score an empty text")
        return bits / chars


def words(text: str) -> list[str]:
    """Lower-cased Maltese words (`augment.maltese.words`): `Il-Kelb, ma'` -> `il-`, `kelb`, `ma'`."""
    return [word.lower() for word in maltese.words(text)]


class SubwordModel:
    """A sentencepiece unigram model trained on the reference, deterministically (one thread)."""

    def __init__(self, lines: Sequence[str], vocab_size: int = SPM_VOCAB_SIZE):
        import sentencepiece as spm

        with tempfile.TemporaryDirectory() as folder:
            prefix = str(Path(folder) / "reference")
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines), model_prefix=prefix, vocab_size=vocab_size, model_type="unigram",
                character_coverage=1.0, hard_vocab_limit=False, num_threads=1, minloglevel=2,
            )
            self._processor = spm.SentencePieceProcessor(model_file=prefix + ".model")

    def fertility(self, lines: Sequence[str]) -> float:
        """Pieces of the lines per word of the lines (`words`)."""
        n_words = sum(len(words(line)) for line in lines)
        if n_words == 0:
            return float("nan")
        n_pieces = sum(len(self._processor.encode(line)) for line in lines)
        return n_pieces / n_words


@dataclass
class SchemeScores:
    scheme: str
    cross_entropy: float
    coverage: float
    fertility: float
    maltese_share: float | None
    chars_per_s: float | None
    fallbacks: float | None
    fallback_counts: dict[str, int] = field(default_factory=dict)
    signature: str = ""


@dataclass
class Report:
    input: str
    reference: str
    input_lines: int
    reference_train_lines: int
    reference_heldout_lines: int
    langid: str | None
    rows: list[SchemeScores]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"

    def to_markdown(self) -> str:
        header = ["scheme", "cross-entropy (bits/char) ↓", "reference-vocabulary coverage ↑",
                  "fertility (pieces/word)", "labelled Maltese ↑", "chars/s", "analyzer fallbacks"]
        if self.langid is None:
            header.remove("labelled Maltese ↑")
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in self.rows:
            cells = [f"`{row.scheme}`" if row.scheme != MALTESE_ROW else row.scheme, f"{row.cross_entropy:.3f}",
                     f"{row.coverage:.1%}", f"{row.fertility:.2f}"]
            if self.langid is not None:
                cells.append("" if row.maltese_share is None else f"{row.maltese_share:.1%}")
            cells.append("" if row.chars_per_s is None else f"{row.chars_per_s:,.0f}")
            cells.append("" if row.fallbacks is None else f"{row.fallbacks:.1%}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(f"Input: `{self.input}` ({self.input_lines} lines). Reference: `{self.reference}` "
                     f"({self.reference_train_lines} lines train the models, every {HELDOUT_EVERY}th line, "
                     f"{self.reference_heldout_lines} lines, is held out as the Maltese row).")
        if self.langid is not None:
            lines.append(f"Language ID: `{self.langid}`.")
        lines.extend(self.notes)
        return "\n".join(lines) + "\n"


def read_texts(path: str | Path, max_lines: int | None = None, errors: str = "strict", stats=None) -> list[str]:
    """Lines of a .txt file, or the sentences of a .conllu file (`# text =`, else the FORMs);
    `errors` and `stats` as in augment.formats."""
    from itertools import islice

    from augment.formats import format_from_path, iter_texts

    fmt = "conllu" if format_from_path(path) == "conllu" else "txt"
    return [text for _, text in islice(iter_texts(path, fmt, errors=errors, stats=stats), max_lines)]


def default_schemes() -> list[str]:
    """Every bundled scheme that reads Arabic script."""
    from augment.schemes import available_schemes, load_scheme

    return [name for name in available_schemes() if load_scheme(name).source_script == "Arab"]


def build_report(input_path: str | Path, reference_path: str | Path, schemes: Sequence[str] | None = None,
                 max_lines: int | None = None, normalize: str | None = None, use_langid: bool = True,
                 errors: str = "strict") -> Report:
    from augment.analyzers import clear_analyzers
    from augment.formats import DecodeStats
    from augment.transliterate import Transliterator

    notes = []
    input_stats, reference_stats = DecodeStats(), DecodeStats()
    arabic = read_texts(input_path, max_lines, errors, input_stats)
    reference = [line for line in read_texts(reference_path, errors=errors, stats=reference_stats) if line.strip()]
    notes += [stats.summary(path) for path, stats in ((input_path, input_stats), (reference_path, reference_stats))
              if stats.replacements]
    if not arabic:
        raise AugkitError(f"{input_path}: no text to transliterate")
    if len(reference) < HELDOUT_EVERY:
        raise AugkitError(f"{reference_path}: the reference needs at least {HELDOUT_EVERY} non-empty lines")
    heldout = reference[HELDOUT_EVERY - 1::HELDOUT_EVERY]
    train = [line for index, line in enumerate(reference) if (index + 1) % HELDOUT_EVERY]

    lm = CharNgramLM().fit(train)
    vocabulary = {word for line in train for word in words(line)}
    subwords = SubwordModel(train)
    language_filter = None
    if use_langid:
        try:
            from augment.langid import LanguageFilter

            language_filter = LanguageFilter.for_target("mt")
        except (ImportError, AugkitError) as error:
            notes.append(f"Language ID left out: {error}")

    def score(name: str, lines: list[str], **extra) -> SchemeScores:
        output_words = [word for line in lines for word in words(line)]
        coverage = sum(word in vocabulary for word in output_words) / len(output_words) if output_words else 0.0
        share = None
        if language_filter is not None:
            decisions = language_filter.decide(lines)
            share = sum(decision.keep for decision in decisions) / len(decisions)
        return SchemeScores(name, lm.cross_entropy(lines), coverage, subwords.fertility(lines), share, **extra)

    rows = [score(MALTESE_ROW, heldout, chars_per_s=None, fallbacks=None)]
    n_chars = sum(len(line) for line in arabic)
    for name in schemes or default_schemes():
        # A fresh analyzer per scheme, without the persistent analysis cache: its libraries cache
        # per word (a second pass over the same text runs 3x faster), so a shared or stored one
        # would flatter whichever scheme (or run) comes later.
        clear_analyzers()
        transliterator = Transliterator(name, normalize=normalize, analysis_cache="none")
        analyzer = transliterator.analyzer
        started = time.perf_counter()
        output = [transliterator.transliterate(line) for line in arabic]
        elapsed = time.perf_counter() - started
        fallback_counts, fallbacks = {}, None
        if analyzer is not None:
            fallback_counts = dict(sorted(analyzer.stats.items()))
            asked = sum(count for outcome, count in fallback_counts.items() if outcome != "not_arabic")
            failed = sum(count for outcome, count in fallback_counts.items() if outcome.startswith("fallback"))
            fallbacks = failed / asked if asked else 0.0
        rows.append(score(name, output, chars_per_s=n_chars / elapsed if elapsed > 0 else None,
                          fallbacks=fallbacks, fallback_counts=fallback_counts, signature=transliterator.signature))
    return Report(
        input=str(input_path), reference=str(reference_path), input_lines=len(arabic),
        reference_train_lines=len(train), reference_heldout_lines=len(heldout),
        langid=None if language_filter is None else language_filter.signature(), rows=rows, notes=notes,
    )
