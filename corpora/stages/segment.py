"""`split_sentences` and `segment_syllables`: cut text into units, keeping offsets into the original."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import regex

from corpora.stage import Record, Stage, StageOutput, register
from corpora.stages.common import check_script, derive, record_script, with_meta

_CLOSERS = "\"'”’»)\\]」』）》"
# Arabic and Latin terminators end a sentence only before whitespace or the end of the text, so that
# 3.14 and example.com stay whole; Chinese and Tibetan ones end it wherever they stand.
_LATIN_END = rf"[.?!…]+[{_CLOSERS}]*(?=\s*$|\s+(?![\p{{Ll}}\d]))"  # a lower-case next word continues
_ARABIC_END = rf"[.?!؟؛…]+[{_CLOSERS}]*(?=\s|$)"
_HAN_END = rf"[。！？!?…]+[{_CLOSERS}]*"
_TIBETAN_END = r"[\u0f0d-\u0f11](?:\s*[\u0f0d-\u0f11])*"  # `། །` closes one verse line, not two

_SENTENCE_END = {
    "Latn": regex.compile(_LATIN_END),
    "Arab": regex.compile(_ARABIC_END),
    "Hans": regex.compile(_HAN_END),
    "Hant": regex.compile(_HAN_END),
    "Jpan": regex.compile(_HAN_END),
    "Tibt": regex.compile(_TIBETAN_END),
}
_ANY_SENTENCE_END = regex.compile(f"{_HAN_END}|{_TIBETAN_END}|{_ARABIC_END}")
_NON_SPACE = re.compile(r"\S")
_SPACE = re.compile(r"\s")


# Titles and references after which a full stop does not end a sentence (Maltese, English, Italian).
DEFAULT_ABBREVIATIONS = ("Dr", "Mr", "Mrs", "Ms", "Prof", "Sr", "Jr", "St", "Sur", "Onor", "Art", "Nru", "Vol")
_WORD_BEFORE = regex.compile(r"(\w+)$")


def sentence_spans(text: str, script: str, abbreviations: tuple[str, ...] = ()) -> list[tuple[int, int]]:
    """`(start, end)` of each sentence of `text`, without surrounding whitespace, in order.

    A single full stop right after one of `abbreviations` (`Dr.`) does not end a sentence.
    Only whitespace lies outside the spans: joining `text[start:end]` with the gaps between them gives
    back `text` exactly."""
    pattern = _SENTENCE_END.get(script, _ANY_SENTENCE_END)
    cuts = [match.end() for match in pattern.finditer(text)
            if not (match.group() == "." and _after_abbreviation(text, match.start(), abbreviations))]
    spans = []
    start = 0
    for end in [*cuts, len(text)]:
        first = _NON_SPACE.search(text, start, end)
        if first is not None:
            last = end
            while text[last - 1].isspace():
                last -= 1
            spans.append((first.start(), last))
        start = end
    return spans


def _after_abbreviation(text: str, position: int, abbreviations: tuple[str, ...]) -> bool:
    word = _WORD_BEFORE.search(text, max(0, position - 20), position)
    return word is not None and word.group(1) in abbreviations


def cut_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """`text[start:end]` cut at whitespace into spans of at most `max_chars` characters, for text
    with too few sentence ends (the cut is at the last space that fits; a longer word stays whole).
    Only whitespace lies between the spans."""
    spans = []
    while end - start > max_chars:
        fitting = [match.start() for match in _SPACE.finditer(text, start, start + max_chars + 1)]
        if fitting:
            space = fitting[-1]
        else:  # the first word alone is longer than max_chars: cut right after it
            after = _SPACE.search(text, start, end)
            if after is None:
                break
            space = after.start()
        last = space
        while text[last - 1].isspace():
            last -= 1
        spans.append((start, last))
        start = _NON_SPACE.search(text, space, end).start()
    spans.append((start, end))
    return spans


_SYLLABLE = regex.compile(r"[\p{sc=Tibetan}&&[\p{L}\p{M}\p{N}]]+", regex.V1)


def syllable_spans(text: str) -> list[tuple[int, int]]:
    """`(start, end)` of each Tibetan syllable: a run of Tibetan letters, vowel signs and digits,
    delimited by tsheg (་), shad, spaces or anything else."""
    return [match.span() for match in _SYLLABLE.finditer(text)]


@register
@dataclass(frozen=True)
class SplitSentences(Stage):
    """One record per sentence of `text`.

    Each sentence record gets the id `<parent id>/s<index>` (from 0), `meta["parents"] = [parent id]`,
    `meta["offsets"] = [start, end]` into the parent's text and, when the parent had no `doc`, the
    parent's id as `doc`, so the sentences of one text are never split across train and test.
    Terminators: Arab ؟ . ! ؛ …; Latn . ? ! … (not before a lower-case word or a digit); Hans/Hant/Jpan
    。！？ ! ? …; Tibt shad ། ༎ ༏ ༐ ༑ (a `། །` pair ends one sentence); other scripts: all of these.
    Closing quotes and brackets stay with their sentence. Records with `tokens` (CoNLL-U sentences,
    with or without `text`) are already sentences and pass through unchanged.

    script: ISO 15924 code; None takes it from each record's `lang`.
    max_chars: None, or the longest piece: a longer sentence (classical Arabic prose has almost no
      punctuation) is cut at the last whitespace that fits (see `cut_long`).
    abbreviations: words after which a single full stop does not end a sentence (case-sensitive,
      without the stop); default `DEFAULT_ABBREVIATIONS` (Dr, Mr, Prof, Sur, Onor, Art, Nru, ...).
    Reasons: `empty_text` (nothing but whitespace)."""

    name: ClassVar[str] = "split_sentences"

    script: str | None = None
    max_chars: int | None = None
    abbreviations: tuple[str, ...] = DEFAULT_ABBREVIATIONS

    def __post_init__(self):
        check_script(self.script)
        if isinstance(self.abbreviations, str) or not all(isinstance(a, str) and a for a in self.abbreviations):
            raise ValueError(f"abbreviations must be a list of words, not {self.abbreviations!r}")
        object.__setattr__(self, "abbreviations", tuple(self.abbreviations))
        if self.max_chars is not None and (
            isinstance(self.max_chars, bool) or not isinstance(self.max_chars, int) or self.max_chars < 1
        ):
            raise ValueError(f"max_chars must be a positive integer or null, not {self.max_chars!r}")

    def process(self, batch: list[Record]) -> StageOutput:
        kept, dropped = [], []
        for record in batch:
            if record.get("tokens") is not None:  # a token record is a sentence already
                kept.append(record)
                continue
            text = record.get("text") or ""
            spans = sentence_spans(text, record_script(record, self.script), self.abbreviations)
            if self.max_chars is not None:
                spans = [piece for start, end in spans for piece in cut_long(text, start, end, self.max_chars)]
            if not spans:
                dropped.append((record, "empty_text"))
                continue
            doc = record.get("doc") if record.get("doc") is not None else record["id"]
            for index, (start, end) in enumerate(spans):
                kept.append(
                    derive(
                        record,
                        f"{record['id']}/s{index}",
                        [record["id"]],
                        meta={"offsets": [start, end]},
                        text=text[start:end],
                        doc=doc,
                    )
                )
        return StageOutput(kept=kept, dropped=dropped)


@register
@dataclass(frozen=True)
class SegmentSyllables(Stage):
    """Adds `meta["syllables"]`: the `[start, end]` offsets of every Tibetan syllable of `text`
    (tsheg-delimited; see `syllable_spans`). Text without Tibetan gets an empty list; records with
    `tokens` pass through unchanged. Drops nothing."""

    name: ClassVar[str] = "segment_syllables"

    def process(self, batch: list[Record]) -> StageOutput:
        kept = [
            record if record.get("text") is None
            else with_meta(record, syllables=[list(span) for span in syllable_spans(record["text"])])
            for record in batch
        ]
        return StageOutput(kept=kept, dropped=[])
