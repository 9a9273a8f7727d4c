"""The model-free parts of augment.translate: sentence splitting, marker projection, filters,
decoding signatures, the translation cache and the language-code helpers it relies on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from augment import languages
from augment.errors import AugkitError
from augment.translate import markers
from augment.translate.cache import TranslationCache
from augment.translate.decoding import Decoding
from augment.translate.filters import (
    CopyOfSource,
    Empty,
    LengthRatio,
    RepeatedNgrams,
    WrongLanguage,
    WrongScript,
    default_filters,
    first_failure,
)
from augment.translate.segment import join_translations, split_document

# --- sentence splitting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, sentences, separators", [
    ("One. Two? Three!", ["One.", "Two?", "Three!"], [" ", " "]),
    ("Pi is 3.14 today. Yes", ["Pi is 3.14 today.", "Yes"], [" "]),
    ("مرحبا. كيف حالك؟ جيد؛ شكرا", ["مرحبا.", "كيف حالك؟", "جيد؛", "شكرا"], [" ", " ", " "]),
    ("你好。我很好！是吗？", ["你好。", "我很好！", "是吗？"], [" ", " "]),
    ("བཀྲ་ཤིས། བདེ་ལེགས༎ ཡིན", ["བཀྲ་ཤིས།", "བདེ་ལེགས༎", "ཡིན"], [" ", " "]),
    ("He said \"no.\" Then left.", ["He said \"no.\"", "Then left."], [" "]),
    ("A.\n\nB.\nC", ["A.", "B.", "C"], ["\n\n", "\n"]),
    ("  \n ", [], []),
])
def test_split_document(text, sentences, separators):
    assert split_document(text) == (sentences, separators)


def test_join_keeps_line_breaks_and_uses_the_target_spacing():
    assert join_translations(["One.", "Two.", "Three."], [" ", "\n\n"], "mt") == "One. Two.\n\nThree."
    assert join_translations(["你好。", "是吗？"], [" "], "zh") == "你好。是吗？"
    assert join_translations([], [], "mt") == ""


@given(st.lists(st.sampled_from(["word", "kelma", "كلمة", "。", ".", "?", "!", "༎", " ", "\n", "3.5"]), max_size=30))
def test_splitting_loses_no_text(pieces):
    text = "".join(pieces)
    sentences, separators = split_document(text)
    assert len(separators) == max(len(sentences) - 1, 0)
    assert "".join(text.split()) == "".join("".join(sentences).split())  # every non-space character kept, in order
    rejoined = join_translations(sentences, separators, "mt")
    # Same lines, same characters on each (spacing within a line may change).
    assert ["".join(line.split()) for line in rejoined.split("\n")] == \
        ["".join(line.split()) for line in text.strip().split("\n")]


# --- markers -----------------------------------------------------------------------------------------------


def test_entities_from_bio_and_iob1():
    assert markers.entities(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-ORG"]) == [
        markers.Entity(0, 2, "PER"), markers.Entity(3, 4, "LOC"), markers.Entity(4, 5, "LOC"), markers.Entity(5, 6, "ORG")]
    assert markers.entities(["O", "I-MISC", "I-MISC"]) == [markers.Entity(1, 3, "MISC")]
    with pytest.raises(AugkitError, match="not a BIO tag"):
        markers.entities(["PER"])


def test_marked_text_and_projection():
    tokens = ["Ahmed", "visited", "Valletta", "yesterday"]
    spans = markers.entities(["B-PER", "O", "B-LOC", "O"])
    assert markers.marked_text(tokens, spans) == "[ Ahmed ] visited [ Valletta ] yesterday"
    assert markers.project_markers("[Ahmed] żar [il-Belt Valletta] ilbieraħ.", spans) == (
        ["Ahmed", "żar", "il-Belt", "Valletta", "ilbieraħ."], ["B-PER", "O", "B-LOC", "I-LOC", "O"])


def test_projection_follows_reordered_entities():
    spans = markers.entities(["B-PER", "O", "B-LOC"])
    projected = markers.project_markers("f'[ Malta ] kien [ Ahmed ]", spans, ["Ahmed", "Malta"])
    assert projected == (["f'", "Malta", "kien", "Ahmed"], ["O", "B-LOC", "O", "B-PER"])


@pytest.mark.parametrize("translation", [
    "Ahmed żar Valletta",  # markers lost
    "[ Ahmed żar Valletta",  # unbalanced
    "[ Ahmed [ żar ] ] Valletta",  # nested
    "[ ] Ahmed [ Valletta ]",  # an empty entity
    "[ Ahmed ] [ żar ] [ Valletta ]",  # one too many
])
def test_broken_markers_are_refused(translation):
    assert markers.project_markers(translation, markers.entities(["B-PER", "O", "B-LOC"])) is None


def test_fuzzy_fallback_finds_entity_translations():
    spans = markers.entities(["B-PER", "O", "B-LOC", "I-LOC"])
    assert markers.project_fuzzy("Ahmad żar il-Belt Valletta", spans, ["Ahmed", "il-Belt Valletta"]) == (
        ["Ahmad", "żar", "il-Belt", "Valletta"], ["B-PER", "O", "B-LOC", "I-LOC"])
    assert markers.project_fuzzy("Ħadd ma żar", spans, ["Ahmed", "il-Belt Valletta"]) is None
    assert not markers.can_mark(["a", "[b]"]) and markers.can_mark(["a", "b"])


# --- filters --------------------------------------------------------------------------------------------------


def test_each_filter_names_its_reason():
    assert Empty().check("x", "  ") == "empty" and Empty().check("x", "y") is None
    assert CopyOfSource().check("Hello, World!", "hello world") == "copy_of_source"
    assert CopyOfSource().check("2024-05-01", "2024-05-01") is None  # no letters: copying is right
    assert LengthRatio(0.5, 2.0).check("abcd", "a") == "length_ratio"
    assert LengthRatio(0.5, 2.0).check("abcd", "abcdefghi") == "length_ratio"
    assert LengthRatio(0.5, 2.0).check("abcd", "abc") is None
    assert RepeatedNgrams(3).check("a b", "il-kelb il-kelb il-kelb il-kelb") == "repeated_ngrams"
    assert RepeatedNgrams(3).check("a b", "x y z x y z x y z x y z done") == "repeated_ngrams"
    assert RepeatedNgrams(3).check("a b", "哈哈哈哈哈") == "repeated_ngrams"
    assert RepeatedNgrams(3).check("ha ha ha ha ha", "ħa ħa ħa ħa ħa") is None  # the source repeats too
    assert RepeatedNgrams(3).check("a b", "il-kelb jiġri u l-kelb jiġri") is None
    assert WrongScript("mt").check("x", "مرحبا بكم") == "wrong_script"
    assert WrongScript("mt").check("x", "Merħba, 2024") is None
    assert WrongScript("zh").check("x", "你好") is None and WrongScript("bo").check("x", "hello") == "wrong_script"


def test_language_check_is_pluggable():
    class Always:
        def __init__(self, reason):
            self.reason = reason

        def decide(self, texts):
            return [self] * len(texts)

    assert WrongLanguage("mt", Always("wrong_language")).check("x", "y") == "wrong_language"
    assert WrongLanguage("mt", Always(None)).check("x", "y") is None
    chain = default_filters("mt", "script")
    assert first_failure(chain, "Hello there", "") == "empty"
    assert first_failure(chain, "Hello there", "Hello there") == "copy_of_source"
    assert first_failure(chain, "Hello there", "Merħba hemm") is None
    assert [f.reason for f in default_filters("mt", "none")] == ["empty", "copy_of_source", "length_ratio",
                                                                   "repeated_ngrams"]
    with pytest.raises(AugkitError, match="unknown language check"):
        default_filters("mt", "magic")


# --- decoding, cache, languages ------------------------------------------------------------------------------


def test_decoding_signature_and_checks():
    assert Decoding().signature() == "beam:4|lp:1.0|maxlen:2.0|maxlen+:10|nhyp:1|rep:1.0|norep:0"
    sampled = Decoding(beam_size=1, sampling_topk=10, seed=3)
    assert "topk:10" in sampled.signature() and "seed:3" in sampled.signature()
    assert Decoding(max_length_ratio=1.5, max_length_extra=4).max_decoding_length(10) == 19
    with pytest.raises(AugkitError):
        Decoding(beam_size=2, num_hypotheses=3)


def test_translation_cache_round_trip(tmp_path):
    cache = TranslationCache(tmp_path / "c.sqlite", "model:a|beam:4")
    cache.put_many({"one": ["wieħed"], "two": ["tnejn", "żewġ"]})
    cache.close()
    reopened = TranslationCache(tmp_path / "c.sqlite", "model:a|beam:4")
    assert reopened.get_many(["one", "two", "three"]) == {"one": ["wieħed"], "two": ["tnejn", "żewġ"]}
    assert len(reopened) == 2
    assert TranslationCache(tmp_path / "c.sqlite", "model:a|beam:1").get_many(["one"]) == {}
    many = {f"s{i}": [str(i)] for i in range(1200)}  # more keys than one SQLite query may bind
    reopened.put_many(many)
    assert reopened.get_many(list(many)) == many


def test_language_helpers_for_model_families():
    assert languages.iso639_1("mlt_Latn") == "mt" and languages.iso639_1("arb_Arab") == "ar"
    assert languages.iso639_1("bod") == "bo" and languages.iso639_1("ceb") == "ceb"
    assert languages.script("zh") == "Hans" and languages.script("ar") == "Arab"
    assert languages.language_name("mt") == "Maltese" and languages.language_name("bo") == "Tibetan"
    assert languages.language_name("zho_Hant") == "Chinese (Traditional)"
