"""`--normalize arabic`: make real-world Arabic text look like what the rule tables expect.

Real corpora mix in Persian/Urdu look-alike letters (alf_layla.txt has 13,370 Farsi yeh U+06CC and
630 keheh U+06A9), presentation-form glyphs, tatweel and decomposed hamza; the CharTx rules only
know the standard Arabic letters, so such a word would come out partly untransliterated.
`normalize_arabic` applies, in this order:

1. look-alikes to Arabic letters (`LOOKALIKES`: Farsi yeh/yeh barree -> yeh, keheh/swash kaf -> kaf,
   heh goal/doachashmee/ae -> heh, teh marbuta goal -> teh marbuta, Extended Arabic-Indic digits ->
   Arabic-Indic digits), and presentation-form letters (U+FB50-FDFF, U+FE80-FEFC) to their
   standard letters via NFKC (so `ﻻ` becomes lam + alef);
2. tatweel removal (pyarabic's `strip_tatweel`);
3. Unicode NFC (composes alef + hamza above into أ, and so on);
4. shadda back before the short vowel. NFC sorts combining marks by class, which puts the vowels
   fathatan..kasra (classes 27-32) before shadda (33); the published rules expect shadda first, as
   in Tanzil's text (14,626 shadda+fatha, no fatha+shadda). Without this step the published system
   writes الدَّار as `aldear` and مُحَمَّدٌ as `muħemed`.

Off by default, so that `chartx` alone reproduces the published system byte for byte.
"""

from __future__ import annotations

import unicodedata

import regex
from pyarabic.araby import strip_tatweel

from augment.errors import AugkitError

NORMALIZERS = ("arabic",)

LOOKALIKES = {
    "\u06cc": "\u064a",  # FARSI YEH -> YEH
    "\u06d2": "\u064a",  # YEH BARREE -> YEH
    "\u06a9": "\u0643",  # KEHEH -> KAF
    "\u06aa": "\u0643",  # SWASH KAF -> KAF
    "\u06c1": "\u0647",  # HEH GOAL -> HEH
    "\u06be": "\u0647",  # HEH DOACHASHMEE -> HEH
    "\u06d5": "\u0647",  # AE -> HEH
    "\u06c3": "\u0629",  # TEH MARBUTA GOAL -> TEH MARBUTA
    **{chr(0x06F0 + d): chr(0x0660 + d) for d in range(10)},  # EXTENDED ARABIC-INDIC DIGITS
}
_LOOKALIKE_TABLE = str.maketrans(LOOKALIKES)
_PRESENTATION_FORM = regex.compile(r"[\uFB50-\uFDFF\uFE80-\uFEFC]")
_VOWELS_BEFORE_SHADDA = regex.compile(r"([\u064B-\u0650]+)(\u0651+)")


def normalize_arabic(text: str) -> str:
    """The four steps of the module docstring, in order."""
    text = text.translate(_LOOKALIKE_TABLE)
    if _PRESENTATION_FORM.search(text):
        text = _PRESENTATION_FORM.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
        text = text.translate(_LOOKALIKE_TABLE)
    text = strip_tatweel(text)
    text = unicodedata.normalize("NFC", text)
    return _VOWELS_BEFORE_SHADDA.sub(r"\2\1", text)


def get_normalizer(name: str | None):
    """The normaliser called `name` (None or "none": no normalisation, returns None)."""
    if name in (None, "none"):
        return None
    if name == "arabic":
        return normalize_arabic
    raise AugkitError(f"unknown normaliser {name!r}; known: none, {', '.join(NORMALIZERS)}")
