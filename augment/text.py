"""The published tokenizer of the transliteration schemes (issue 2, §3.1).

Text is split on whitespace (exactly the characters `str.split()` splits on); inside each
whitespace-delimited word, every Unicode punctuation (P*) or symbol (S*) character and every emoji
sequence becomes its own token, while runs of everything else (letters, marks, digits) stay one
token, so digits are not split from letters: `"(كتاب)،"` -> `["(", "كتاب", ")", "،"]`.

An emoji sequence is one grapheme cluster that starts with an Extended_Pictographic character
(covering modifiers, ZWJ sequences and tag sequences), a regional-indicator flag pair, or a keycap
(`1️⃣`); it stays whole so that a transliterated text never splits a face from its skin tone.
"""

from __future__ import annotations

import regex

from augment.schemes import END, START

# Python's own whitespace (what str.split splits on) is regex's \s plus U+001C..U+001F; a test pins it.
WHITESPACE_CLASS = r"\s\x1c-\x1f"

_EMOJI = r"(?=[\p{Extended_Pictographic}\p{Regional_Indicator}])\X"
_KEYCAP = r"[#*0-9]\uFE0F?\u20E3"
_SINGLE = r"[\p{P}\p{S}]"
# Everything else, up to the next whitespace, punctuation, symbol, emoji or keycap. Only the
# characters that can start a keycap pay for the look-ahead.
_PLAIN = rf"[^{WHITESPACE_CLASS}\p{{P}}\p{{S}}\p{{Extended_Pictographic}}\p{{Regional_Indicator}}0-9]"
_RUN = rf"(?:{_PLAIN}|[0-9](?!\uFE0F?\u20E3))+"

# The run comes first because it is by far the most frequent; no run can start where another
# alternative matches, so the order does not change the result.
TOKEN_PATTERN = regex.compile(rf"{_RUN}|{_EMOJI}|{_KEYCAP}|{_SINGLE}")
# Without emoji, flag or keycap characters the pattern reduces to this one, which is twice as fast.
_PLAIN_TOKEN_PATTERN = regex.compile(rf"[^{WHITESPACE_CLASS}\p{{P}}\p{{S}}]+|{_SINGLE}")
_EMOJI_CHAR = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20E3]")
_MARKED_TOKEN = START + r"\g<0>" + END
_PUNCT_OR_SYMBOL = regex.compile(_SINGLE)
_OWN_TOKEN = END + " " + START + r"\g<0>" + END + " " + START


def _pattern_for(text: str) -> regex.Pattern:
    return TOKEN_PATTERN if _EMOJI_CHAR.search(text) else _PLAIN_TOKEN_PATTERN


def tokenize(text: str) -> list[str]:
    """Split `text` into the scheme tokens described in the module docstring."""
    return _pattern_for(text).findall(text)


def mark_tokens(text: str) -> str:
    """Wrap every token in the word markers; tokens of one word are separated by one space.

    Whitespace between words is kept as it is: `"ab، c"` -> `"⟨s⟩ab⟨e⟩ ⟨s⟩،⟨e⟩ ⟨s⟩c⟨e⟩"`.
    """
    marked = _pattern_for(text).sub(_MARKED_TOKEN, text)
    return marked.replace(END + START, END + " " + START)


def mark_lines(text: str) -> str:
    """`mark_tokens` for newline-separated, non-empty, whitespace-free words (the engine's batch form)."""
    if not text:
        return text
    if _EMOJI_CHAR.search(text):
        return mark_tokens(text)
    # Without emoji, only punctuation and symbols split a word: give each its own marked token,
    # wrap every word, then drop the empty tokens this leaves at word edges and between neighbours.
    spaced = _PUNCT_OR_SYMBOL.sub(_OWN_TOKEN, text)
    marked = START + spaced.replace("\n", END + "\n" + START) + END
    return marked.replace(START + END + " ", "").replace(" " + START + END, "")
