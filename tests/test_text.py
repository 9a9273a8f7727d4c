"""The scheme tokenizer (augment.text) and the Arabic normaliser (augment.normalize)."""

from __future__ import annotations

import unicodedata

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from published_mirror import camel_tokenize_regex, simple_word_tokenize

from augment import transliterate
from augment.errors import AugkitError
from augment.normalize import get_normalizer, normalize_arabic
from augment.schemes import END, START
from augment.text import mark_lines, tokenize

SHADDA, FATHA, KASRA, DAMMA, TANWIN_U = "\u0651", "\u064e", "\u0650", "\u064f", "\u064c"


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("(كتاب)،", ["(", "كتاب", ")", "،"]),
        ("abc 12ab, x.y", ["abc", "12ab", ",", "x", ".", "y"]),  # digits stay with letters
        ("١٩٤٨٪", ["١٩٤٨", "٪"]),
        ("«اقرأ»", ["«", "اقرأ", "»"]),
        ("a+b=c $5", ["a", "+", "b", "=", "c", "$", "5"]),  # symbols (S*) split too
        ("\u0628\u0651\u064e", ["\u0628\u0651\u064e"]),  # marks stay with their letter
        ("hi👍🏽there", ["hi", "👍🏽", "there"]),  # an emoji with its skin tone is one token
        ("👨\u200d👩\u200d👧!", ["👨\u200d👩\u200d👧", "!"]),  # a ZWJ sequence is one token
        ("🇲🇹🇮🇹", ["🇲🇹", "🇮🇹"]),  # flags pair their regional indicators
        ("1️⃣b #1 *", ["1️⃣", "b", "#", "1", "*"]),  # keycaps, but # and * alone are punctuation
        ("a1️⃣b", ["a1️⃣b"]),  # inside a run of letters/marks/numbers a keycap is not looked for
        ("ℹ️x", ["ℹ️", "x"]),
        ("  tab\there\x1cfile  ", ["tab", "here", "file"]),  # whitespace separates
        ("ab\u200ccd \u200f x\u00a0y", ["ab", "cd", "x", "y"]),  # so do ZWNJ, RLM, NBSP: they are dropped
        ("\u0640\u0628\ufdd0\ue000", ["\u0640\u0628"]),  # tatweel is a letter; noncharacters, private use drop
        ("", []),
    ],
)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_every_python_whitespace_character_separates_tokens():
    for code in range(0x110000):
        if chr(code).isspace():
            assert tokenize(f"a{chr(code)}b") == ["a", "b"], hex(code)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_tokenize_equals_the_published_tokenizer(text):
    assert tokenize(text) == simple_word_tokenize(text) == camel_tokenize_regex().findall(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8), max_size=8))
def test_mark_lines_marks_each_word_s_tokens(words):
    words = [word for word in words if word.split() == [word]]
    marked = mark_lines("\n".join(words))
    if not words:
        assert marked == ""
        return
    for word, line in zip(words, marked.split("\n"), strict=True):
        assert line == " ".join(START + token + END for token in tokenize(word))


def test_normalizer_keeps_shadda_before_the_short_vowel():
    # NFC puts fatha (class 30) before shadda (class 33); the rules expect shadda first.
    nfc_order = "\u0627\u0644\u062f" + FATHA + SHADDA + "\u0627\u0631"
    assert unicodedata.normalize("NFC", "\u0627\u0644\u062f" + SHADDA + FATHA + "\u0627\u0631") == nfc_order
    normalized = normalize_arabic(nfc_order)
    assert normalized == "\u0627\u0644\u062f" + SHADDA + FATHA + "\u0627\u0631"
    assert transliterate(nfc_order) == "aldear"  # the published system on NFC text
    assert transliterate(nfc_order, normalize="arabic") == "addar"
    muhammad = "\u0645" + DAMMA + "\u062d" + FATHA + "\u0645" + FATHA + SHADDA + "\u062f" + TANWIN_U
    assert transliterate(muhammad) == "muħemed"
    assert transliterate(muhammad, normalize="arabic") == "muħemmed"
    # tanwin and kasra move too; sukun and dagger alef already follow shadda in NFC
    assert normalize_arabic("\u0628" + TANWIN_U + SHADDA) == "\u0628" + SHADDA + TANWIN_U
    assert normalize_arabic("\u0628" + KASRA + SHADDA) == "\u0628" + SHADDA + KASRA


def test_normalizer_maps_lookalikes_tatweel_presentation_forms_and_composes_hamza():
    assert normalize_arabic("\u0628\u06cc\u062a") == "\u0628\u064a\u062a"  # Farsi yeh
    assert normalize_arabic("\u06a9\u062a\u0627\u0628") == "\u0643\u062a\u0627\u0628"  # keheh
    assert normalize_arabic("\u0643\u0640\u0640\u062a\u0627\u0628") == "\u0643\u062a\u0627\u0628"  # tatweel
    assert normalize_arabic("\u06f1\u06f9") == "\u0661\u0669"  # Persian digits
    assert normalize_arabic("\ufefb") == "\u0644\u0627"  # lam-alef ligature
    assert normalize_arabic("\ufeda") == "\u0643"  # kaf final form, as in alf_layla.txt
    assert normalize_arabic("\u0627\u0654") == "\u0623"  # alef + hamza above -> أ
    assert normalize_arabic("\u06cc\u0654") == "\u0626"  # Farsi yeh + hamza -> ئ
    assert transliterate("بی", normalize="arabic") == "bi"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=[chr(c) for c in range(0x0621, 0x0656)] + ["\u0670", "\u06cc", "\u0640", " "], max_size=30))
def test_normalizer_is_idempotent_and_never_leaves_a_vowel_before_shadda(text):
    once = normalize_arabic(text)
    assert normalize_arabic(once) == once
    assert not regex.search("[\u064b-\u0650]\u0651", once)


def test_get_normalizer_names():
    assert get_normalizer(None) is None and get_normalizer("none") is None
    assert get_normalizer("arabic") is normalize_arabic
    with pytest.raises(AugkitError, match="unknown normaliser 'latin'; known: none, arabic"):
        get_normalizer("latin")


@pytest.mark.shared_data
def test_normalisation_matters_on_alf_layla(shared_data):
    text = (shared_data / "arabic" / "alf_layla.txt").read_text(encoding="utf-8")
    lines = text.split("\n")[:40]
    raw = " ".join(transliterate(line) for line in lines)
    normalized = " ".join(transliterate(line, normalize="arabic") for line in lines)
    arabic_left = regex.compile(r"\p{Arabic}")
    assert len(arabic_left.findall(raw)) > 100  # Farsi yeh and keheh survive the published rules
    assert arabic_left.findall(normalized) == []
