"""Output filters: each looks at one (source, translation) pair and keeps it or names a reason.

Reason codes: `empty`, `copy_of_source`, `length_ratio`, `repeated_ngrams`, and for the language
check either `wrong_script` (script check) or the language identifier's own reasons
(`wrong_language`, `low_confidence`, `no_language`, see `augment.langid`). The language check is
pluggable: `WrongLanguage` takes any object with `decide(texts) -> [decision with .reason]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from augment import languages
from augment.errors import AugkitError

_LETTER = regex.compile(r"\p{L}")
_SPACELESS = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}]")


class Filter:
    reason: str

    def check(self, source: str, translation: str) -> str | None:
        """None to keep the translation, else the reason code."""
        raise NotImplementedError


class Empty(Filter):
    reason = "empty"

    def check(self, source: str, translation: str) -> str | None:
        return None if translation.strip() else self.reason


class CopyOfSource(Filter):
    """The model echoed its input. Text without letters (numbers, codes) may pass through unchanged."""

    reason = "copy_of_source"

    def check(self, source: str, translation: str) -> str | None:
        copied = _LETTER.search(source) and _normalise(source) == _normalise(translation)
        return self.reason if copied else None


@dataclass
class LengthRatio(Filter):
    """Translation length / source length, in characters, must lie in [low, high]."""

    low: float = 0.2
    high: float = 5.0
    reason = "length_ratio"

    def check(self, source: str, translation: str) -> str | None:
        ratio = len(translation.strip()) / max(len(source.strip()), 1)
        return None if self.low <= ratio <= self.high else self.reason


@dataclass
class RepeatedNgrams(Filter):
    """Hallucination loops: some 1-4 word n-gram (1-8 characters in Chinese/Japanese) repeated more
    than `max_repeats` times in a row, and repeated more often than anywhere in the source."""

    max_repeats: int = 3
    reason = "repeated_ngrams"

    def check(self, source: str, translation: str) -> str | None:
        looping = _longest_run(translation) > max(self.max_repeats, _longest_run(source))
        return self.reason if looping else None


class WrongLanguage(Filter):
    """A language identifier decides; by default `augment.langid`'s recommended filter for the target."""

    reason = "wrong_language"

    def __init__(self, target: str, language_filter=None):
        if language_filter is None:
            from augment.langid import LanguageFilter

            language_filter = LanguageFilter.for_target(target)
        self.language_filter = language_filter

    def check(self, source: str, translation: str) -> str | None:
        return self.language_filter.decide([translation])[0].reason


@dataclass
class WrongScript(Filter):
    """Most letters of the translation must be in the target language's script."""

    target: str
    min_share: float = 0.5
    reason = "wrong_script"

    def check(self, source: str, translation: str) -> str | None:
        share = languages.script_share(translation, languages.script(self.target))
        return None if share is None or share >= self.min_share else self.reason


LANGUAGE_CHECKS = ("langid", "script", "none")


def default_filters(target: str, language_check: str = "langid", *, min_ratio: float = 0.2,
                    max_ratio: float = 5.0, max_repeats: int = 3) -> list[Filter]:
    """The standard filter chain; `language_check` is `langid` (fastText, augment.langid), `script`
    (no model needed) or `none`."""
    chain = [Empty(), CopyOfSource(), LengthRatio(min_ratio, max_ratio), RepeatedNgrams(max_repeats)]
    if language_check == "langid":
        chain.append(WrongLanguage(target))
    elif language_check == "script":
        chain.append(WrongScript(target))
    elif language_check != "none":
        raise AugkitError(f"unknown language check {language_check!r}; choose one of {', '.join(LANGUAGE_CHECKS)}")
    return chain


def first_failure(filters: list[Filter], source: str, translation: str) -> str | None:
    """The reason of the first filter that rejects the pair, or None."""
    for output_filter in filters:
        reason = output_filter.check(source, translation)
        if reason is not None:
            return reason
    return None


def _normalise(text: str) -> str:
    return " ".join(regex.sub(r"[\p{P}\p{S}]", " ", text.casefold()).split())


def _longest_run(text: str) -> int:
    """The most times any n-gram repeats back to back."""
    if _SPACELESS.search(text):
        units, sizes = list(regex.sub(r"\s", "", text)), range(1, 9)
    else:
        units, sizes = text.split(), range(1, 5)
    longest = 1 if units else 0
    for size in sizes:
        for offset in range(size):
            run = 1
            for start in range(offset + size, len(units) - size + 1, size):
                if units[start:start + size] == units[start - size:start]:
                    run += 1
                    longest = max(longest, run)
                else:
                    run = 1
    return longest
