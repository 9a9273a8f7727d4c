"""`filter_length` and `filter_script`: keep a record or drop it with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import regex

from augment.errors import AugkitError
from augment.languages import script as language_script
from augment.languages import script_pattern, script_share
from corpora.stage import Record, Stage, StageOutput, register
from corpora.stages.common import check_script, record_script, record_text, with_meta

# A word: one Han character, or a run of other letters, marks and digits. Tibetan syllables count as
# words because the tsheg between them is punctuation; Maltese il-kelb is two words.
_WORD = regex.compile(r"\p{Han}|[[\p{L}\p{M}\p{N}]--\p{Han}]+", regex.V1)


def count_words(text: str) -> int:
    return sum(1 for _ in _WORD.finditer(text))


@register
@dataclass(frozen=True)
class FilterLength(Stage):
    """Keep records whose length lies within the given bounds (each bound optional, inclusive).

    Characters are code points of `text` (tokens joined by spaces). Words are runs of letters, marks
    and digits, except that every Han character is a word and Tibetan syllables are words (see
    `count_words`); a token record counts its tokens. A parallel record is checked on every side
    (`text` and each `meta["translations"]` entry) and dropped for the first side out of bounds.
    Reasons: `too_few_chars`, `too_many_chars`, `too_few_words`, `too_many_words`."""

    name: ClassVar[str] = "filter_length"

    min_chars: int | None = None
    max_chars: int | None = None
    min_words: int | None = None
    max_words: int | None = None

    def __post_init__(self):
        bounds = {"min_chars": self.min_chars, "max_chars": self.max_chars,
                  "min_words": self.min_words, "max_words": self.max_words}
        for key, value in bounds.items():
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ValueError(f"{key} must be a non-negative integer, not {value!r}")
        if all(value is None for value in bounds.values()):
            raise ValueError("give at least one of min_chars, max_chars, min_words, max_words")
        for unit in ("chars", "words"):
            low, high = bounds[f"min_{unit}"], bounds[f"max_{unit}"]
            if low is not None and high is not None and low > high:
                raise ValueError(f"min_{unit} ({low}) is larger than max_{unit} ({high})")

    def process(self, batch: list[Record]) -> StageOutput:
        kept, dropped = [], []
        for record in batch:
            reason = self._reason(record)
            if reason is None:
                kept.append(record)
            else:
                dropped.append((record, reason))
        return StageOutput(kept=kept, dropped=dropped)

    def _reason(self, record: Record) -> str | None:
        if record.get("text") is None:
            return self._side_reason(record_text(record), len(record["tokens"]))
        for side in [record["text"], *_translations(record).values()]:
            reason = self._side_reason(side, None)
            if reason is not None:
                return reason
        return None

    def _side_reason(self, text: str, words: int | None) -> str | None:
        """Why `text` is out of bounds, or None; `words` is given for token records."""
        chars = len(text)
        if self.min_chars is not None and chars < self.min_chars:
            return "too_few_chars"
        if self.max_chars is not None and chars > self.max_chars:
            return "too_many_chars"
        if self.min_words is None and self.max_words is None:
            return None
        words = count_words(text) if words is None else words
        if self.min_words is not None and words < self.min_words:
            return "too_few_words"
        if self.max_words is not None and words > self.max_words:
            return "too_many_words"
        return None


def _translations(record: Record) -> dict[str, str]:
    """The other sides of a parallel record, `{FLORES code: text}` (empty for monolingual records)."""
    return (record.get("meta") or {}).get("translations") or {}


@register
@dataclass(frozen=True)
class FilterScript(Stage):
    """Keep records in which at least `min_share` of the letters are in the expected script.

    Letters are characters of Unicode category L, and marks (M) that belong to a script (Tibetan
    subjoined consonants and vowel signs); the script-neutral marks (Arabic harakat, combining
    accents), digits, punctuation and spaces are not counted, so diacritics and digits do not move
    the share. The script is looked up
    with the Unicode Script property (Hans/Hant/Jpan -> Han). A parallel record is checked on every
    side, each `meta["translations"]` entry against its own language's script (a misaligned or
    untranslated side shows up here). The share (the smallest over the sides) is kept in
    `meta["script_share"]`.

    script: ISO 15924 code; None takes it from each record's `lang`.
    min_share: between 0 and 1 (default 0.8).
    Reasons: `no_letters`, `wrong_script`."""

    name: ClassVar[str] = "filter_script"

    script: str | None = None
    min_share: float = 0.8

    def __post_init__(self):
        check_script(self.script)
        if self.script is not None:
            _script_pattern(self.script)
        if isinstance(self.min_share, bool) or not isinstance(self.min_share, int | float) or not (
            0 <= self.min_share <= 1
        ):
            raise ValueError(f"min_share must be a number between 0 and 1, not {self.min_share!r}")

    def process(self, batch: list[Record]) -> StageOutput:
        kept, dropped = [], []
        for record in batch:
            sides = [(record_text(record), record_script(record, self.script))]
            sides += [(text, language_script(code)) for code, text in _translations(record).items()]
            shares = [_share(text, script) for text, script in sides]
            if None in shares:
                dropped.append((record, "no_letters"))
                continue
            marked = with_meta(record, script_share=min(shares))
            if min(shares) >= self.min_share:
                kept.append(marked)
            else:
                dropped.append((marked, "wrong_script"))
        return StageOutput(kept=kept, dropped=dropped)


def _share(text: str, script: str) -> float | None:
    """Share of the letters of `text` that are in `script` (augment.languages); None without letters."""
    _script_pattern(script)
    return script_share(text, script)


def _script_pattern(script: str) -> regex.Pattern:
    """Letters of `script`; a ValueError names the script when Unicode does not know it."""
    try:
        return script_pattern(script)
    except AugkitError as error:
        raise ValueError(str(error)) from error
