"""`normalize`: per-script Unicode clean-up, the same on every run and idempotent.

Order of operations (the order is what makes the result idempotent):
1. invisible characters are removed: C0/C1 controls other than whitespace, and the invisible format
   characters that carry no meaning in running text (soft hyphen, zero-width space, word joiner,
   BOM, bidirectional marks and embeddings). ZWJ/ZWNJ are kept: they change Arabic-script shaping;
2. script rules (below), including NFC;
3. every run of whitespace (any Unicode space, tab, newline) becomes one space; ends are stripped;
4. Tibetan only: spaces before a shad are removed (a space *between* two shads is conventional and
   stays).

Script rules, chosen by the stage's `script` or else the script of each record's `lang`:
- Arab: the Arabic normaliser of `augment.normalize` (NFC, then shadda before the short vowel, as
  the transliteration rules expect; so Arabic output is deliberately not in NFC).
- Latn: NFC; apostrophe variants ’ ‘ ʼ ` ´ -> ' (Maltese ta', ma'); hyphen variants U+2010, U+2011
  -> '-', and an en dash between two letters (il–kelb) -> '-' (an en dash between spaces is a dash
  and stays).
- Tibt: NFC, which already writes U+0F73, U+0F75, U+0F76, U+0F78, U+0F81 as their canonical
  decompositions; the deprecated U+0F77 and U+0F79 are written as U+0FB2/U+0FB3 + U+0F71 U+0F80 as
  Unicode recommends; the non-breaking tsheg U+0F0C becomes the tsheg U+0F0B.
- any other script: NFC.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import ClassVar

from augment.languages import script as language_script
from corpora.stage import Record, Stage, StageOutput, register
from corpora.stages.common import check_script, record_script

# Non-whitespace C0/C1 controls, and invisible format characters with no meaning in running text.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)
_WHITESPACE = re.compile(r"\s+")

_LATIN = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "‐": "-", "‑": "-"})
_EN_DASH_IN_WORD = re.compile(r"(?<=[^\W\d_])–(?=[^\W\d_])")  # letters on both sides

_TIBETAN = str.maketrans({"\u0f77": "\u0fb2\u0f71\u0f80", "\u0f79": "\u0fb3\u0f71\u0f80", "\u0f0c": "\u0f0b"})
# Spaces before a shad (U+0F0D-U+0F12), unless the space follows a shad: `། །` is conventional.
_SPACE_BEFORE_SHAD = re.compile(r"(?<=[\u0f00-\u0f0c\u0f13-\u0fff]) +(?=[\u0f0d-\u0f12])")

REPLACEMENT_CHARACTER = "\ufffd"
_REPLACEMENT_POLICIES = ("keep", "remove", "drop")


def normalize_text(text: str, script: str) -> str:
    """The normalised form of `text` written in `script` (ISO 15924); see the module docstring."""
    text = _INVISIBLE.sub("", text)
    if script == "Arab":
        text = _arabic_normalizer()(text)  # includes NFC; NFC again would put shadda back after the vowel
    elif script == "Latn":
        text = _EN_DASH_IN_WORD.sub("-", unicodedata.normalize("NFC", text).translate(_LATIN))
    elif script == "Tibt":
        text = unicodedata.normalize("NFC", text.translate(_TIBETAN))
    else:
        text = unicodedata.normalize("NFC", text)
    text = _WHITESPACE.sub(" ", text).strip()
    if script == "Tibt":
        text = _SPACE_BEFORE_SHAD.sub("", text)
    return text


def _arabic_normalizer():
    from augment.normalize import normalize_arabic

    return normalize_arabic


@register
@dataclass(frozen=True)
class Normalize(Stage):
    """Normalise `text` and each of `tokens` by script; drop records left empty. Tokens are
    normalised one by one, so they stay aligned with `upos`/`labels`. The other sides of parallel
    text (`meta["translations"]`) are normalised too, each by its own language's script.

    script: ISO 15924 code (Arab, Latn, Tibt, Hans, ...); None takes it from each record's `lang`.
    replacement_character: what to do with U+FFFD (a character lost in an earlier decoding):
      keep it, remove it, or drop the record (reason `replacement_character`).
    Reasons: `empty_after_normalize`, `empty_token_after_normalize`, `replacement_character`."""

    name: ClassVar[str] = "normalize"

    script: str | None = None
    replacement_character: str = "keep"

    def __post_init__(self):
        if self.replacement_character not in _REPLACEMENT_POLICIES:
            raise ValueError(
                f"replacement_character must be one of {', '.join(_REPLACEMENT_POLICIES)}, "
                f"not {self.replacement_character!r}"
            )
        check_script(self.script)

    def process(self, batch: list[Record]) -> StageOutput:
        kept, dropped = [], []
        for record in batch:
            outcome = self._normalize(record)
            if isinstance(outcome, str):
                dropped.append((record, outcome))
            else:
                kept.append(outcome)
        return StageOutput(kept=kept, dropped=dropped)

    def _normalize(self, record: Record) -> Record | str:
        """The normalised record, or the reason it is dropped."""
        script = record_script(record, self.script)
        normalized = dict(record)
        if record.get("tokens") is not None:
            tokens = [self._clean(token, script) for token in record["tokens"]]
            if any(token is None for token in tokens):
                return "replacement_character"
            if not all(tokens):
                return "empty_token_after_normalize"
            normalized["tokens"] = tokens
        if record.get("text") is None and record.get("tokens") is not None:
            return normalized
        text = self._clean(record.get("text") or "", script)
        if text is None:
            return "replacement_character"
        if not text:
            return "empty_after_normalize"
        normalized["text"] = text
        meta = record.get("meta") or {}
        if meta.get("translations"):
            # The other sides of parallel text, each by its own language's script.
            translations = {code: self._clean(side, language_script(code))
                            for code, side in meta["translations"].items()}
            if any(side is None for side in translations.values()):
                return "replacement_character"
            if not all(translations.values()):
                return "empty_after_normalize"
            normalized["meta"] = {**meta, "translations": translations}
        return normalized

    def _clean(self, text: str, script: str) -> str | None:
        """Normalised text, or None when the record must be dropped for a replacement character."""
        if REPLACEMENT_CHARACTER in text:
            if self.replacement_character == "drop":
                return None
            if self.replacement_character == "remove":
                text = text.replace(REPLACEMENT_CHARACTER, "")
        return normalize_text(text, script)
