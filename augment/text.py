"""The published tokenizer of the transliteration schemes: CAMeL Tools' `simple_word_tokenize`.

The published code (MLRS/maltify_arabic) tokenizes with `camel_tools.tokenizers.word.simple_word_tokenize`
as camel-tools 1.5.x had it when the paper's outputs were made (2025): a `findall` of, in order of
preference at each position,

1. a multi-character emoji sequence (camel's `EMOJI_MULTICHAR_CHARSET`, the keys of the `emoji`
   package's `EMOJI_DATA` longer than one character; frozen in `schemes/tokenizer/`), the longest
   that matches;
2. one punctuation (P*) or symbol (S*) character;
3. a run of letters, marks and numbers (L*, M*, N*), so digits are not split from letters.

Every other character (whitespace, format controls such as ZWNJ, ZWJ, RLM and LRM, other
controls, private-use, surrogate and unassigned code points) belongs to no token: it separates
tokens and is dropped. `"(كتاب)،"` -> `["(", "كتاب", ")", "،"]`; `"ab\u200ccd"` -> `["ab", "cd"]`.
Categories come from Python's `unicodedata`, as camel-tools computes them at import.

camel-tools 1.6.0 (2026) rewrote the function: there, characters outside L/M/N/P/S stay inside
words, so the published code run with today's camel-tools gives other tokens for such text.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from augment.schemes import END, SCHEMES_DIR, START

EMOJI_SEQUENCES_FILE = SCHEMES_DIR / "tokenizer" / "camel_emoji_sequences.tsv"


@lru_cache(maxsize=1)
def _emoji_sequences() -> tuple[frozenset[str], int, str]:
    """(the sequences, the longest length, the characters that can follow a sequence's first)."""
    lines = EMOJI_SEQUENCES_FILE.read_text(encoding="utf-8").split("\n")
    sequences = frozenset("".join(chr(int(point, 16)) for point in line.split())
                          for line in lines if line and not line.startswith("#") and line != "code_points")
    # A sequence can only match where its second character follows: a word without any of
    # these characters cannot hold one (skin tones, ZWJ, FE0F, keycap, regional indicators, tags).
    seconds = "".join(sorted({sequence[1] for sequence in sequences}))
    return sequences, max(map(len, sequences)), seconds


def _ranges(codes: list[int]) -> str:
    """A character-class body for sorted code points, as ranges."""
    parts = []
    start = previous = codes[0]
    for code in codes[1:] + [-2]:
        if code != previous + 1:
            parts.append(re.escape(chr(start)) if start == previous else
                         f"{re.escape(chr(start))}-{re.escape(chr(previous))}")
            start = code
        previous = code
    return "".join(parts)


def _class(codes: list[int]) -> str:
    """A pattern for one character of `codes`. `re` looks a BMP-only class up in a table but scans
    the ranges of a class with astral characters one by one (10x slower on Arabic text), so astral
    characters get their own class, tried only for an astral character."""
    bmp, astral = [c for c in codes if c < 0x10000], [c for c in codes if c >= 0x10000]
    return f"(?:[{_ranges(bmp)}]|{_ASTRAL}[{_ranges(astral)}])"


_ASTRAL = "(?=[\U00010000-\U0010ffff])"


@lru_cache(maxsize=1)
def _emoji_firsts() -> frozenset[str]:
    return frozenset(sequence[0] for sequence in _emoji_sequences()[0])


class _Patterns(NamedTuple):
    token: re.Pattern  # one token outside emoji sequences
    # For text with astral characters / BMP-only text (whose classes `re` looks up in a table):
    separators: tuple[re.Pattern, re.Pattern]  # a run of characters that separate tokens, but newline
    emoji: tuple[re.Pattern, re.Pattern]  # a character that can follow an emoji sequence's first
    emoji_lines: re.Pattern  # a line holding such a character
    plain_lines: re.Pattern  # a line without


_ASTRAL_CHARACTER = re.compile("[\U00010000-\U0010ffff]")


@lru_cache(maxsize=1)
def _code_points() -> tuple[list[int], list[int], list[int]]:
    """(letters, marks and numbers; punctuation and symbols; the other code points but newline)."""
    word, single, separator = [], [], []
    for code in range(sys.maxunicode + 1):
        major = unicodedata.category(chr(code))[0]
        if major in "LMN":
            word.append(code)
        elif major in "PS":
            single.append(code)
        elif code != 10:
            separator.append(code)
    return word, single, separator


@lru_cache(maxsize=1)
def _patterns() -> _Patterns:
    word, single, separator = _code_points()
    bmp_word = f"[{_ranges([c for c in word if c < 0x10000])}]"
    # A run of word characters: BMP ones as one table-driven repeat, astral ones in between.
    run = f"(?:{bmp_word}+|{_class(word)})(?:{bmp_word}*{_ASTRAL}{_class(word)})*{bmp_word}*"
    seconds = [ord(c) for c in _emoji_sequences()[2]]
    return _Patterns(
        token=re.compile(f"{_class(single)}|{run}"),
        separators=(re.compile(f"{_class(separator)}+"), re.compile(f"[{_ranges([c for c in separator if c < 0x10000])}]+")),
        emoji=(re.compile(_class(seconds)), re.compile(f"[{_ranges([c for c in seconds if c < 0x10000])}]")),
        emoji_lines=re.compile(f"^.*[{_ranges(seconds)}].*$", re.MULTILINE),
        plain_lines=re.compile(f"^[^\n{_ranges(seconds)}]+$", re.MULTILINE),
    )


def _bmp_only(text: str) -> bool:
    """Index into a `_Patterns` pair: 1 (the BMP table) when `text` has no astral character."""
    return _ASTRAL_CHARACTER.search(text) is None


def tokenize(text: str) -> list[str]:
    """Split `text` into the scheme tokens described in the module docstring."""
    patterns = _patterns()
    if patterns.emoji[_bmp_only(text)].search(text):
        return _tokenize_with_emoji(text, patterns.token)
    return patterns.token.findall(text)


def _tokenize_with_emoji(text: str, token: re.Pattern) -> list[str]:
    """`findall` with the emoji sequences as the first alternative, tried at every position."""
    sequences, longest, _ = _emoji_sequences()
    firsts = _emoji_firsts()
    tokens = []
    position, end = 0, len(text)
    while position < end:
        for length in range(min(longest, end - position) if text[position] in firsts else 1, 1, -1):
            if text[position:position + length] in sequences:
                tokens.append(text[position:position + length])
                position += length
                break
        else:
            match = token.match(text, position)
            if match is None:
                position += 1
            else:
                tokens.append(match.group())
                position = match.end()
    return tokens


@lru_cache(maxsize=1)
def _punctuation_or_symbol() -> re.Pattern:
    """One punctuation or symbol character, captured (for `split`)."""
    return re.compile("(" + _class(_code_points()[1]) + ")")


_EMPTY_LINE = re.compile(f"^{START}{END}$", re.MULTILINE)


def split_emoji_words(text: str) -> tuple[str, list[str]]:
    """Newline-separated words -> (those that cannot hold an emoji sequence, still newline-separated;
    the others), so that `mark_lines` can mark the first in C and the few others word by word."""
    patterns = _patterns()
    if not patterns.emoji[_bmp_only(text)].search(text):
        return text, []
    return "\n".join(patterns.plain_lines.findall(text)), patterns.emoji_lines.findall(text)


def mark_lines(text: str) -> str:
    """Newline-separated, whitespace-free words -> each word's tokens wrapped in the word markers,
    separated by one space (`"ab،"` -> `"⟨s⟩ab⟨e⟩ ⟨s⟩،⟨e⟩"`); a word without tokens gives an empty line.
    """
    if not text:
        return text
    patterns = _patterns()
    bmp_only = _bmp_only(text)
    if patterns.emoji[bmp_only].search(text):
        return "\n".join(" ".join(START + piece + END for piece in _tokenize_with_emoji(word, patterns.token))
                         for word in text.split("\n"))
    separators = patterns.separators[bmp_only]
    # All in C, without a Python call per token: separators close the token and open the next,
    # each punctuation or symbol character becomes a token of its own (split around it, joined
    # back with a marker pair), every word is wrapped, then the empty tokens this leaves at edges
    # and between neighbours are dropped.
    if separators.search(text):
        text = separators.sub(f"{END} {START}", text)
    text = f"{END} {START}".join(_punctuation_or_symbol().split(text))
    marked = START + text.replace("\n", f"{END}\n{START}") + END
    if START + END in marked:
        marked = marked.replace(f"{START}{END} ", "").replace(f" {START}{END}", "")
        marked = _EMPTY_LINE.sub("", marked)
    return marked
