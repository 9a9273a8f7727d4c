import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.errors import AugkitError
from corpora.stages.normalize import Normalize, normalize_text
from corpora.stages.registry import STAGES, build_stage


def run(stage, *records):
    return stage.process([{"id": f"r{i}", "lang": lang, "text": text, "meta": {}}
                          for i, (lang, text) in enumerate(records)])


def test_registered_and_built_from_a_recipe_step():
    assert STAGES["normalize"] is Normalize
    assert build_stage({"stage": "normalize", "script": "Latn"}) == Normalize(script="Latn")


def test_maltese_apostrophes_hyphens_and_nfc():
    decomposed = "g\u0307"  # g + combining dot above; NFC gives ġ
    text = "ta’ Malta, ma‘ ħuti, taʼ , il‐kelb il‑qattus il–tifel, 1970–1980 – tmiem " + decomposed
    assert normalize_text(text, "Latn") == (
        "ta' Malta, ma' ħuti, ta' , il-kelb il-qattus il-tifel, 1970–1980 – tmiem ġ"
    )
    assert normalize_text("ta` ta´", "Latn") == "ta' ta'"


def test_controls_invisible_characters_and_whitespace():
    text = "\ufeff a\u200bb\x07c \t\n d\u00ad e\u202ef\u2066 \u3000 g\u00a0h "
    assert normalize_text(text, "Latn") == "abc d ef g h"
    # ZWNJ shapes Arabic-script text and must survive.
    assert "\u200c" in normalize_text("می\u200cخواهم", "Zyyy")


def test_tibetan_vowel_decompositions_tsheg_and_shad_spacing():
    assert normalize_text("\u0f40\u0f73", "Tibt") == "\u0f40\u0f71\u0f72"
    assert normalize_text("\u0f40\u0f75", "Tibt") == "\u0f40\u0f71\u0f74"
    assert normalize_text("\u0f40\u0f81", "Tibt") == "\u0f40\u0f71\u0f80"
    assert normalize_text("\u0f77", "Tibt") == "\u0fb2\u0f71\u0f80"
    assert normalize_text("\u0f79", "Tibt") == "\u0fb3\u0f71\u0f80"
    assert normalize_text("ཀ\u0f0cཁ", "Tibt") == "ཀ\u0f0bཁ"
    # Space before a shad goes; the conventional space between two shads stays (collapsed to one).
    assert normalize_text("བཀྲ་ཤིས །   །བདེ་ལེགས  ། ", "Tibt") == "བཀྲ་ཤིས། །བདེ་ལེགས།"


def test_arabic_uses_the_shared_arabic_normaliser():
    from augment.normalize import normalize_arabic

    text = "كتــاب  ی\u06a9 مُحَمَّدٌ"
    assert normalize_text(text, "Arab") == normalize_arabic("كتــاب ی\u06a9 مُحَمَّدٌ")
    assert normalize_text(text, "Arab") == "كتاب يك \u0645\u064f\u062d\u064e\u0645\u0651\u064e\u062f\u064c"
    assert "\u0651\u064e" in normalize_text("مُحَمَّدٌ", "Arab")  # shadda stays before the fatha


def test_script_comes_from_lang_or_the_stage():
    output = run(Normalize(), ("mt", "ta’"), ("bo", "ཀ ། "), ("zh", "你好 。"))
    assert [r["text"] for r in output.kept] == ["ta'", "ཀ།", "你好 。"]
    assert run(Normalize(script="Latn"), ("bo", "ta’")).kept[0]["text"] == "ta'"
    with pytest.raises(AugkitError, match="no 'lang'"):
        Normalize().process([{"id": "x", "text": "a"}])


def test_drops_empty_records_and_replacement_characters_by_policy():
    output = run(Normalize(), ("mt", " \u200b\t"), ("mt", "a\ufffdb"))
    assert [(r["id"], reason) for r, reason in output.dropped] == [("r0", "empty_after_normalize")]
    assert output.kept[0]["text"] == "a\ufffdb"
    assert run(Normalize(replacement_character="remove"), ("mt", "a\ufffdb")).kept[0]["text"] == "ab"
    dropped = run(Normalize(replacement_character="drop"), ("mt", "a\ufffdb")).dropped
    assert [reason for _, reason in dropped] == ["replacement_character"]


def test_token_records_keep_their_length_or_are_dropped():
    stage = Normalize(script="Latn")
    output = stage.process([
        {"id": "a", "tokens": ["ta’", "Malta"], "upos": ["ADP", "PROPN"], "text": None},
        {"id": "b", "tokens": ["x", "\u200b"], "upos": ["X", "X"], "text": None},
    ])
    assert output.kept == [{"id": "a", "tokens": ["ta'", "Malta"], "upos": ["ADP", "PROPN"], "text": None}]
    assert output.dropped[0][1] == "empty_token_after_normalize"


def test_input_records_are_not_changed_in_place():
    record = {"id": "a", "lang": "mt", "text": "ta’", "meta": {}}
    Normalize().process([record])
    assert record["text"] == "ta’"


@pytest.mark.parametrize("bad", [{"replacement_character": "maybe"}, {"script": "latin"}])
def test_bad_configuration_is_a_clear_error(bad):
    with pytest.raises(AugkitError, match="normalize"):
        build_stage({"stage": "normalize", **bad})


# Characters that exercise every rule: Tibetan (including deprecated and composed vowel signs,
# tsheg variants, shads), Latin with apostrophe/hyphen variants and combining marks, Arabic with
# look-alikes, tatweel, shadda and vowels, controls, invisible characters and odd whitespace.
_ALPHABET = st.sampled_from(
    list("ཀཁགངཨ\u0f71\u0f72\u0f73\u0f74\u0f75\u0f77\u0f79\u0f80\u0f81\u0fb2\u0fb3\u0f0b\u0f0c\u0f0d\u0f0e\u0f14")
    + list("aAġħ’‘ʼ`´'‐‑–-\u0307\u0301")
    + list("كتابیکـ\u064e\u0650\u0651\u064b\u0654ﻻ")
    + list(" \t\n\u00a0\u3000\u200b\u200c\ufeff\x07\x85\u202e\ufffd")
)


@settings(max_examples=300, deadline=None)
@given(text=st.text(_ALPHABET, max_size=40), script=st.sampled_from(["Latn", "Tibt", "Arab", "Hans"]))
def test_normalize_is_idempotent(text, script):
    once = normalize_text(text, script)
    assert normalize_text(once, script) == once
    assert once == once.strip() and "  " not in once
    if script != "Arab":  # the Arabic normaliser puts shadda before the vowel, against NFC's order
        assert unicodedata.is_normalized("NFC", once)


@settings(max_examples=300, deadline=None)
@given(text=st.text(_ALPHABET, max_size=40))
def test_tibetan_normalisation_is_idempotent_and_uses_only_recommended_forms(text):
    once = normalize_text(text, "Tibt")
    assert normalize_text(once, "Tibt") == once
    assert not set(once) & set("\u0f73\u0f75\u0f76\u0f77\u0f78\u0f79\u0f81\u0f0c")


def test_parallel_sides_are_normalised_by_their_own_script():
    record = {"id": "p", "lang": "bo", "text": "ཀ །", "meta": {"translations": {"eng_Latn": " it’s ", "zho_Hant": "好 "}}}
    kept = Normalize().process([record]).kept[0]
    assert kept["text"] == "ཀ།" and kept["meta"]["translations"] == {"eng_Latn": "it's", "zho_Hant": "好"}
    empty_side = {**record, "meta": {"translations": {"eng_Latn": "\u200b"}}}
    assert Normalize().process([empty_side]).dropped[0][1] == "empty_after_normalize"


def test_records_with_both_text_and_tokens_normalise_both():
    record = {"id": "c", "lang": "mt", "text": "ta’ Malta", "tokens": ["ta’", "Malta"], "upos": ["ADP", "PROPN"]}
    kept = Normalize().process([record]).kept[0]
    assert kept["text"] == "ta' Malta" and kept["tokens"] == ["ta'", "Malta"] and kept["upos"] == ["ADP", "PROPN"]
