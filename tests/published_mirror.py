"""A plain mirror of the published code, for differential tests and benchmarks.

The published code is MLRS/maltify_arabic (`rules/transliterate.py`: CharTx and MorphTx;
`baseline/transliterate.py`: Buckwalter and uroman), run with camel-tools 1.5.7 and emoji 2.14.1.
This module follows it line by line and shares nothing with augkit's engine but data (the rule
table, the frozen emoji sequences, AR_CHARSET and the ar2bw map): the tokenizer is camel-tools' `simple_word_tokenize` (the same
`findall` alternatives, written as a plain loop: camel's 12,000-branch regex costs ~6 ms per
sentence), rules are `str.replace` in table order on `<BOS>` + token + `<EOS>`, every
post-processing step is the published regular expression, the baselines' token test is the
published `re.match(rf"[{AR_CHARSET}]", token)`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from pathlib import Path

from augment import engine

ROOT = Path(__file__).resolve().parents[1]
START, END = "\ufdd0", "\ufdd1"  # augkit's spelling of the word markers in its rule tables

# --- camel_tools.utils.charsets (1.5.7) ---------------------------------------------------------
UNICODE_PUNCT_SYMBOL_CHARSET = set()
UNICODE_LETTER_MARK_NUMBER_CHARSET = set()
for _code in range(0x110000):
    _category = unicodedata.category(chr(_code))
    if _category[0] in "LMN":
        UNICODE_LETTER_MARK_NUMBER_CHARSET.add(chr(_code))
    elif _category[0] in "PS":
        UNICODE_PUNCT_SYMBOL_CHARSET.add(chr(_code))

EMOJI_MULTICHAR_CHARSET = frozenset(
    "".join(chr(int(point, 16)) for point in line.split())
    for line in (ROOT / "schemes" / "tokenizer" / "camel_emoji_sequences.tsv").read_text(encoding="utf-8").split("\n")
    if line and not line.startswith("#") and line != "code_points")

# Data shared with augkit (checked against the published code itself by bench/published_agreement.py):
# camel_tools.utils.charsets.AR_CHARSET and the ar2bw character map.
AR_CHARSET = engine.AR_CHARSET
AR2BW = engine.BUCKWALTER

_LONGEST_EMOJI = max(map(len, EMOJI_MULTICHAR_CHARSET))
_EMOJI_FIRST = frozenset(sequence[0] for sequence in EMOJI_MULTICHAR_CHARSET)


# --- camel_tools.tokenizers.word.simple_word_tokenize (1.5.7) ------------------------------------
def simple_word_tokenize(sentence: str) -> list[str]:
    """findall(longest emoji sequence | one P/S character | run of L/M/N characters)."""
    tokens = []
    i = 0
    while i < len(sentence):
        for length in range(_LONGEST_EMOJI if sentence[i] in _EMOJI_FIRST else 1, 1, -1):
            if len(sentence) - i >= length and sentence[i:i + length] in EMOJI_MULTICHAR_CHARSET:
                tokens.append(sentence[i:i + length])
                i += length
                break
        else:
            char = sentence[i]
            if char in UNICODE_PUNCT_SYMBOL_CHARSET:
                tokens.append(char)
                i += 1
            elif char in UNICODE_LETTER_MARK_NUMBER_CHARSET:
                j = i
                while j < len(sentence) and sentence[j] in UNICODE_LETTER_MARK_NUMBER_CHARSET:
                    j += 1
                tokens.append(sentence[i:j])
                i = j
            else:
                i += 1
    return tokens


@lru_cache(maxsize=1)
def camel_tokenize_regex() -> re.Pattern:
    """camel-tools 1.5.7's own `_TOKENIZE_RE`, built the same way (slow: for checking the loop above)."""
    all_punct_symbols = sorted([re.escape(x) for x in UNICODE_PUNCT_SYMBOL_CHARSET | EMOJI_MULTICHAR_CHARSET],
                               key=len, reverse=True)
    all_letter_mark_number = "".join(UNICODE_LETTER_MARK_NUMBER_CHARSET)
    return re.compile("|".join(all_punct_symbols) + r"|[" + re.escape(all_letter_mark_number) + r"]+")


# --- rules/transliterate.py ----------------------------------------------------------------------
def published_mappings(rules: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """augkit's effective rule table with the published literal markers."""
    return [(pattern.replace(START, "<BOS>").replace(END, "<EOS>"), output) for pattern, output in rules]


def apply_mappings(text: str, mappings: list[tuple[str, str]]) -> str:
    transliteration = text
    for source, mapping in mappings:
        transliteration = transliteration.replace(source, mapping)
    return transliteration


def post_process(transliteration: str) -> str:
    transliteration = re.sub(r"\^([^\s\w]*)([\w])",
                             lambda match: match.group(1) + match.group(2).upper(),
                             transliteration,
                             flags=re.UNICODE)  # capitalisation
    transliteration = re.sub(r"([aeiou]|ie)\1", r"\1", transliteration, flags=re.IGNORECASE)  # consecutive vowels
    transliteration = re.sub(r"(^|\s+)bi ħal", r"\1bħal", transliteration, flags=re.IGNORECASE)
    transliteration = re.sub(r"(^|\s+)bħal il-", r"\1bħall-", transliteration, flags=re.IGNORECASE)
    transliteration = re.sub(r"(^|\s+)bi il-", r"\1bil-", transliteration, flags=re.IGNORECASE)
    transliteration = re.sub(r"(^|\s+)li il-", r"\1lill-", transliteration, flags=re.IGNORECASE)
    transliteration = re.sub(r"(^|\s+)fi il-", r"\1fil-", transliteration, flags=re.IGNORECASE)
    transliteration = re.sub(r"(^|\s+)ma' il-", r"\1mal-", transliteration, flags=re.IGNORECASE)
    transliteration = re.sub(r"(^|\s+)ta' il-", r"\1tal-", transliteration, flags=re.IGNORECASE)
    transliteration = re.sub(r"(^|\s+)għal il-", r"\1għall-", transliteration, flags=re.IGNORECASE)
    transliteration = re.sub(r"(^|\s+)minn il-", r"\1mill-", transliteration, flags=re.IGNORECASE)
    transliteration = re.sub(r"(^|\s+)bi il-", r"\1bil-", transliteration, flags=re.IGNORECASE)
    transliteration = re.sub(r"(^|\s+)bil-(a|e|i|o|u|h|għ)", r"\1bl-\2", transliteration, flags=re.IGNORECASE)
    transliteration = re.sub(r"(^|\s+)fil-(a|e|i|o|u|h|għ)", r"\1fl-\2", transliteration, flags=re.IGNORECASE)
    transliteration = re.sub(r"l{1,2}-([lċdnrstxzż])",
                             lambda match: match.group(1).lower() + "-" + match.group(1),
                             transliteration,
                             flags=re.IGNORECASE)  # sun letter allomorphy
    transliteration = re.sub(r"\s+([.,;:?!%])", r"\1", transliteration)  # detokenisation
    return transliteration


def transliterate_rules(sequence, mappings: list[tuple[str, str]], analyze=None):
    """`rules/transliterate.transliterate`: CharTx (`analyze` None, i.e. --no_diacritisation) or
    MorphTx, with `analyze(tokens) -> strings` standing for `diacritise(tokens, disambiguator)`."""
    pre_tokenised = not isinstance(sequence, str)
    tokens = sequence if pre_tokenised else simple_word_tokenize(sequence)
    transliterated_sequence = list(analyze(tokens)) if analyze is not None else list(tokens)
    for i, token in enumerate(transliterated_sequence):
        transliterated_sequence[i] = apply_mappings(f"<BOS>{token}<EOS>", mappings)
    if not pre_tokenised:
        return post_process(" ".join(transliterated_sequence))
    return [post_process(token) for token in transliterated_sequence]


# --- baseline/transliterate.py -------------------------------------------------------------------
_IGNORE_MARKER_RE = re.compile(r"({}\S+)".format(re.escape("@@IGNORE@@")), re.UNICODE | re.MULTILINE)


def buckwalter_transliterate(text: str, lowercase: bool = True) -> str:
    # camel_tools.utils.transliterate.Transliterator(CharMapper.builtin_mapper("ar2bw")).transliterate
    buff = []
    for spl in _IGNORE_MARKER_RE.split(text):
        buff.append(spl if spl.startswith("@@IGNORE@@") else "".join(AR2BW.get(char, char) for char in spl))
    transliteration = "".join(buff)
    if lowercase:
        transliteration = transliteration.lower()
    return transliteration


@lru_cache(maxsize=1)
def _uroman_transliterator():
    import uroman

    return uroman.Uroman()


@cache  # a pure function of the token; memoised only to save time
def uroman_transliterate(text: str) -> str:
    return _uroman_transliterator().romanize_string(text, "ara")


def transliterate_baseline(sequence, transliterator):
    pre_tokenised = not isinstance(sequence, str)
    tokens = sequence if pre_tokenised else simple_word_tokenize(sequence)
    transliteration = []
    for token in tokens:
        if re.match(rf"[{AR_CHARSET}]", token):
            output = transliterator(token)
        else:
            output = token
        transliteration.append(output)
    if pre_tokenised:
        return transliteration
    return re.sub(r"\s+([.,;:?!%])", r"\1", " ".join(transliteration))  # detokenisation

