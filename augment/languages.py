"""The one place that maps language codes, and tells which script a text is written in.

Every component speaks FLORES-200 style codes, ISO 639-3 plus ISO 15924 script (`mlt_Latn`,
`arb_Arab`, `bod_Tibt`, `zho_Hans`). Users may write ISO 639-1 (`mt`), ISO 639-3 (`mlt`),
the FLORES code, or a fastText label (`__label__mt`, `__label__mlt_Latn`).

`script_share(text, script)` is the share of a text's letters written in an ISO 15924 script
(`script(code)` gives a language's): the language-ID filter's script check uses it.
"""

from __future__ import annotations

from functools import cache

import regex

from augment.errors import AugkitError

# Where the default script or the FLORES macrolanguage choice is not what langcodes infers.
_PREFERRED = {
    "ar": "arb_Arab", "ara": "arb_Arab", "arb": "arb_Arab",
    "zh": "zho_Hans", "zho": "zho_Hans", "cmn": "zho_Hans",
    "bo": "bod_Tibt", "bod": "bod_Tibt", "tib": "bod_Tibt",
    "mt": "mlt_Latn", "mlt": "mlt_Latn",
    "en": "eng_Latn", "eng": "eng_Latn",
    "it": "ita_Latn", "ita": "ita_Latn",
    "fa": "pes_Arab", "fas": "pes_Arab", "per": "pes_Arab",
    "ms": "zsm_Latn", "msa": "zsm_Latn",
    "sw": "swh_Latn", "swa": "swh_Latn",
    "et": "est_Latn", "lv": "lvs_Latn", "uz": "uzn_Latn", "ne": "npi_Deva",
    "azb": "azb_Arab", "xal": "xal_Cyrl",  # lid.176 labels whose script langcodes guesses wrong
}


@cache
def to_flores(code: str) -> str:
    """`mt`, `mlt`, `mlt_Latn`, `mlt-Latn`, `__label__mt` -> `mlt_Latn`."""
    raw = code.strip()
    if raw.startswith("__label__"):
        raw = raw[len("__label__"):]
    raw = raw.replace("-", "_")
    if not raw:
        raise AugkitError("empty language code")
    language, _, script = raw.partition("_")
    language = language.lower()
    if script:
        script = script.title()
        if language in _PREFERRED and len(language) != 3:
            language = _PREFERRED[language].split("_")[0]
        elif len(language) == 2:
            language = _alpha3(language, code)
        return f"{language}_{script}"
    if language in _PREFERRED:
        return _PREFERRED[language]
    return f"{_alpha3(language, code) if len(language) == 2 else language}_{_script(language, code)}"


def iso639_3(code: str) -> str:
    """The language part of the FLORES code: `mt` -> `mlt`."""
    return to_flores(code).split("_")[0]


def same_language(a: str, b: str) -> bool:
    return to_flores(a) == to_flores(b)


def _alpha3(language: str, original: str) -> str:
    import langcodes

    try:
        return langcodes.Language.get(language).to_alpha3()
    except (LookupError, ValueError) as error:
        raise AugkitError(f"unknown language code {original!r}") from error


def _script(language: str, original: str) -> str:
    import langcodes

    try:
        script = langcodes.Language.get(language).maximize().script
    except (LookupError, ValueError) as error:
        raise AugkitError(f"unknown language code {original!r}") from error
    if not script:
        raise AugkitError(f"cannot infer the script of {original!r}; write it as xxx_Scrp")
    return script


def script(code: str) -> str:
    """The ISO 15924 script of the FLORES code: `mt` -> `Latn`, `zh` -> `Hans`."""
    return to_flores(code).split("_")[1]


@cache
def iso639_1(code: str) -> str:
    """The shortest ISO 639 code, as M2M-100 (`__mt__`) and MADLAD (`<2mt>`) spell languages:
    `mlt_Latn` -> `mt`; languages without a two-letter code keep three letters (`arb_Arab` -> `ar`
    via its macrolanguage, `ceb` -> `ceb`)."""
    import langcodes

    language = iso639_3(code)
    short = langcodes.Language.get(language).language
    if len(short) == 3 and language in _MACROLANGUAGE:
        return _MACROLANGUAGE[language]
    return short


# FLORES individual languages whose two-letter code belongs to their macrolanguage.
_MACROLANGUAGE = {
    "arb": "ar", "pes": "fa", "zsm": "ms", "swh": "sw", "lvs": "lv", "uzn": "uz", "npi": "ne",
    "ekk": "et", "khk": "mn", "plt": "mg", "gaz": "om", "ydd": "yi", "azj": "az", "quy": "qu",
}


def language_name(code: str) -> str:
    """English name for prompts and reports: `mt` -> `Maltese`, `zh` -> `Chinese (Simplified)`."""
    import langcodes

    flores = to_flores(code)
    language, _, script_code = flores.partition("_")
    name = langcodes.Language.get(language).display_name()
    # Say the script only where the language is commonly written in more than one (Chinese).
    if script_code in ("Hans", "Hant"):
        name += " (Simplified)" if script_code == "Hans" else " (Traditional)"
    return name


# --- scripts --------------------------------------------------------------------------------------

# ISO 15924 codes whose letters Unicode files under other Script property values; every other code
# (Latn, Arab, Tibt, Cyrl...) is its own property value.
_SCRIPT_PROPERTIES = {
    "Hans": ("Han",), "Hant": ("Han",), "Hani": ("Han",),
    "Jpan": ("Han", "Hiragana", "Katakana"), "Kore": ("Hangul", "Han"),
}
# A letter is a character of category L, or a mark that belongs to one script (Tibetan subjoined
# consonants and vowel signs); script-neutral marks (Arabic harakat, combining accents: script
# Inherited) are not counted. The patterns match runs, not single letters: fewer matches, less work.


@cache
def script_pattern(script_code: str) -> regex.Pattern:
    """Runs of the letters of an ISO 15924 script (`Latn`, `Hans`, `Jpan`)."""
    try:
        return regex.compile(rf"[[\p{{L}}\p{{M}}]&&[{_properties(script_code)}]]+", regex.V1)
    except regex.error as error:
        raise AugkitError(f"unknown script {script_code!r} (use an ISO 15924 code such as Latn)") from error


@cache
def _outside_pattern(script_code: str) -> regex.Pattern:
    """Runs of the letters of every other script."""
    return regex.compile(rf"[[\p{{L}}\p{{M}}]--[\p{{sc=Zinh}}{_properties(script_code)}]]+", regex.V1)


def _properties(script_code: str) -> str:
    return "".join(rf"\p{{sc={name}}}" for name in _SCRIPT_PROPERTIES.get(script_code, (script_code,)))


def script_share(text: str, script_code: str) -> float | None:
    """Share of the letters of `text` written in `script_code`; None when the text has no letters
    (digits, punctuation, emoji and spaces do not count)."""
    inside_pattern = script_pattern(script_code)
    outside = sum(map(len, _outside_pattern(script_code).findall(text)))
    if not outside:  # the usual case, a text in the script: one pass over it and a short search
        return 1.0 if inside_pattern.search(text) else None
    inside = sum(map(len, inside_pattern.findall(text)))
    return inside / (inside + outside)
