"""Maltese text primitives, from the Maltese community's own tools (MLRS's `malti` package).

    from augment import maltese

    maltese.tokens("Il-kelb ta' Marija, 3.5%.")  # ['Il-', 'kelb', "ta'", 'Marija', ',', '3.5', '%', '.']
    maltese.words("Il-kelb ta' Marija, 3.5%.")   # ['Il-', 'kelb', "ta'", 'Marija', '3.5']

`tokens` is the Korpus Malti tokeniser (`malti.tokeniser.KMTokeniser`): articles and proclitics
keep their hyphen or apostrophe and stand apart from the word they precede (`il-` `kelb`, `b'`
`tixħim`), as in the Maltese UD treebank, whose FORM column it reproduces at 99.7% F1 (letter runs:
80.6%, whitespace: 66.0%; `bench/measure_maltese_text.py`, table in docs/languages.md).
`words` keeps the tokens with a letter or a digit, the unit augkit counts (fertility, vocabulary
coverage). `is_maltese` says which texts get these rules.

Sentences are not split here: on MUDT, malti's sentence splitter finds the treebank's sentence
boundaries less often than the `split_sentences` stage's own rules (90.2% vs 92.6% F1), so augkit
keeps those (see the same table).
"""

from __future__ import annotations

from functools import cache

import regex

from augment.errors import AugkitError
from augment.languages import to_flores

MALTESE = "mlt_Latn"
_WORDLIKE = regex.compile(r"[\p{L}\p{N}]")


@cache
def _tokeniser():
    from malti.tokeniser import KMTokeniser

    return KMTokeniser()


def tokens(text: str) -> list[str]:
    """Every token of `text` (words, numbers, punctuation), as the Korpus Malti tokeniser cuts it."""
    return _tokeniser().tokenise(text)


def words(text: str) -> list[str]:
    """The tokens of `text` that contain a letter or a digit: punctuation and symbols are not words."""
    return [token for token in tokens(text) if _WORDLIKE.search(token)]


def is_maltese(code: str | None) -> bool:
    """True for any spelling of Maltese (`mt`, `mlt`, `mlt_Latn`); False for None or another language."""
    if not code:
        return False
    try:
        return to_flores(code) == MALTESE
    except AugkitError:  # an unknown code is simply not Maltese
        return False
