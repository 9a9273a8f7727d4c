"""Seeded generator of hostile Arabic-ish text for the differential fuzz test and the benchmark.

Each string glues pieces drawn from everything that real and broken text mixes: Arabic letters
with 0-3 diacritics in any order (so shadda before and after the vowels), hamza and alef forms
(also decomposed), tatweel, Persian/Urdu letters, presentation forms, Arabic-Indic, Extended
Arabic-Indic and ASCII digits, Arabic and Latin punctuation, Latin words glued to Arabic
(`softwareاتفاق`, `ESAال`) and words that trigger the Maltese post-processing or the baselines'
token-test quirk (`bi il-`, `ħal`, `Ieie`, words starting with f r o z e n s t), emoji (with skin
tones, ZWJ sequences, flags, keycaps, and broken ones), ZWNJ/ZWJ/RLM/LRM/ALM, NBSP and other
spaces, tabs, and the published markers' spelling (`<EOS>`). Words come partly from a pool so that
tokens repeat as in real text (uroman costs ~0.1 ms per distinct token).
"""

from __future__ import annotations

import random

LETTERS = [chr(c) for c in range(0x0621, 0x063B)] + [chr(c) for c in range(0x0641, 0x064B)]
DIACRITICS = [chr(c) for c in range(0x064B, 0x0653)] + ["\u0670", "\u0653", "\u0654", "\u0655"]
HAMZA_ALEF = ["\u0621", "\u0622", "\u0623", "\u0624", "\u0625", "\u0626", "\u0627", "\u0671", "\u0649",
              "\u0627\u0654", "\u0627\u0655", "\u0627\u0653", "\u0648\u0654", "\u064a\u0654"]
PERSIAN = ["\u06cc", "\u06a9", "\u067e", "\u0686", "\u0698", "\u06af", "\u06a4", "\u06d2", "\u06c1", "\u06c3",
           "\u06be", "\u06d5", "\u06aa"]
PRESENTATION = ["\ufefb", "\ufeda", "\ufdf2", "\ufb50", "\ufe8d", "\ufee0", "\ufef5", "\ufb8f", "\ufe80"]
DIGITS = [chr(c) for c in range(0x0660, 0x066A)] + [chr(c) for c in range(0x06F0, 0x06FA)] + list("0123456789")
PUNCTUATION = ["\u060c", "\u061b", "\u061f", "\u066a", "\u066b", "\u066c", "\u06d4", "\u00ab", "\u00bb",
               ".", ",", ";", ":", "?", "!", "%", "(", ")", "{", "}", "'", '"', "-", "\u2026", "^", "<", ">",
               "@", "#", "*", "/", "$", "+", "=", "\u2013"]
LATIN = ["software", "ESA", "Test", "nice", "zero", "the", "text", "free", "one", "ana", "BI", "Ieie", "saar",
         "AA", "ie", "bi", "il-", "ħal", "għal", "minn", "fi", "li", "ma'", "ta'", "il-lejl", "ll-", "L-",
         "bil-", "fil-", "İstanbul", "ıi", "ſt", "\u212a", "x", "Ġ", "ċ", "Ż", "<EOS>", "<BOS>", "@@IGNORE@@x"]
EMOJI = ["\U0001F44D", "\U0001F44D\U0001F3FD", "\u2764\ufe0f", "\u2764", "\U0001F468\u200d\U0001F469\u200d\U0001F467",
         "\U0001F1F2\U0001F1F9", "\U0001F1F2", "1\ufe0f\u20e3", "#\u20e3", "\U0001F600", "\U0001F3FD",
         "\U0001F469\u200d\U0001F4BB", "\U0001F44D\u200d\U0001F3FD", "\u2139\ufe0f", "\U0001F3F4\U000E0067\U000E0062"
         "\U000E0065\U000E006E\U000E0067\U000E007F", "\u00a9\ufe0f"]
INVISIBLE = ["\u200c", "\u200d", "\u200f", "\u200e", "\u061c", "\ufeff", "\u00ad", "\ufdd0", "\ue000"]
SEPARATORS = [" "] * 12 + ["", "", "", "\t", "\u00a0", "  ", "\u2009", "\u3000", " \t "]
MAX_PIECES = 10


def arabic_word(rng: random.Random) -> str:
    """1-6 letters (some hamza/alef forms, Persian letters, tatweel), each with 0-3 diacritics in any order."""
    word = []
    for _ in range(rng.randint(1, 6)):
        roll = rng.random()
        word.append(rng.choice(HAMZA_ALEF if roll < 0.15 else PERSIAN if roll < 0.2 else
                               ["\u0640"] if roll < 0.23 else LETTERS))
        word.extend(rng.choice(DIACRITICS) for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3))))
    if rng.random() < 0.2:
        word.insert(0, "\u0627\u0644")  # the article
    return "".join(word)


def piece(rng: random.Random, pool: list[str]) -> str:
    roll = rng.random()
    if roll < 0.52:
        return rng.choice(pool)
    if roll < 0.55:
        return arabic_word(rng)
    if roll < 0.62:
        return "".join(rng.choice(DIGITS) for _ in range(rng.randint(1, 4)))
    if roll < 0.72:
        return rng.choice(PUNCTUATION)
    if roll < 0.82:
        return rng.choice(LATIN) + (rng.choice(pool[:100]) if rng.random() < 0.4 else "")  # softwareاتفاق
    if roll < 0.87:
        return rng.choice(PRESENTATION) + (rng.choice(pool[:100]) if rng.random() < 0.5 else "")
    if roll < 0.93:
        return rng.choice(EMOJI)
    return rng.choice(INVISIBLE)


def generate(count: int, seed: int, pool_size: int = 1000) -> list[str]:
    """`count` strings, the same for the same seed."""
    rng = random.Random(seed)
    pool = [arabic_word(rng) for _ in range(pool_size)]
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, MAX_PIECES)):
            parts.append(piece(rng, pool))
            parts.append(rng.choice(SEPARATORS))
        texts.append("".join(parts[:-1]) if rng.random() < 0.8 else "".join(parts))
    return texts
