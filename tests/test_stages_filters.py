import pytest

from augment.errors import AugkitError
from corpora.stages.filters import FilterLength, FilterScript, count_words
from corpora.stages.registry import build_stage


def reasons(output):
    return {record["id"]: reason for record, reason in output.dropped}


def test_word_counts_per_script():
    assert count_words("il-kelb ta' Malta 2024") == 5
    assert count_words("ཀློང་ཆེན་པའི་གསོལ་འདེབས། །") == 5
    assert count_words("我很好, ok") == 4
    assert count_words("  ...  ") == 0


def test_filter_length_bounds_are_inclusive_and_each_has_its_reason():
    stage = build_stage({"stage": "filter_length", "min_chars": 3, "max_chars": 20, "min_words": 2,
                         "max_words": 3})
    batch = [
        {"id": "short", "text": "ab"},
        {"id": "long", "text": "x" * 21},
        {"id": "one_word", "text": "abcdef"},
        {"id": "four_words", "text": "a b c d"},
        {"id": "ok", "text": "ab cd"},
        {"id": "tokens", "text": None, "tokens": ["a", "b", "c"]},
        {"id": "edge", "text": "a" * 10 + " " + "b" * 9},
    ]
    output = stage.process(batch)
    assert [r["id"] for r in output.kept] == ["ok", "tokens", "edge"]
    assert reasons(output) == {"short": "too_few_chars", "long": "too_many_chars",
                               "one_word": "too_few_words", "four_words": "too_many_words"}


@pytest.mark.parametrize("bad", [{}, {"min_chars": -1}, {"min_words": 5, "max_words": 2}, {"max_chars": "10"},
                                 {"min_chars": True}])
def test_filter_length_rejects_bad_configuration(bad):
    with pytest.raises(AugkitError, match="filter_length"):
        build_stage({"stage": "filter_length", **bad})


def test_filter_script_share_of_letters_in_the_expected_script():
    batch = [
        {"id": "mt", "text": "Il-kelb ta' Malta 123!!", "lang": "mlt_Latn"},
        {"id": "mixed", "text": "Il-kelb الكلب الأسود", "lang": "mt"},
        {"id": "digits", "text": "123 456", "lang": "mt"},
        {"id": "ar", "text": "الكَلْبُ 12", "lang": "ar"},
        {"id": "bo", "text": "ཀློང་ཆེན། abc", "lang": "bo"},
        {"id": "zh", "text": "我很好。", "lang": "zho_Hant"},
    ]
    output = FilterScript(min_share=0.7).process(batch)
    assert [r["id"] for r in output.kept] == ["mt", "ar", "bo", "zh"]
    assert reasons(output) == {"mixed": "wrong_script", "digits": "no_letters"}
    shares = {r["id"]: r["meta"]["script_share"] for r in output.kept}
    assert shares["mt"] == 1.0 and shares["ar"] == 1.0 and shares["bo"] == pytest.approx(7 / 10)
    assert output.dropped[0][0]["meta"]["script_share"] == pytest.approx(6 / 17)


def test_filter_script_explicit_script_and_errors():
    kept = FilterScript(script="Arab", min_share=1.0).process([{"id": "a", "text": "كتاب", "lang": "mt"}]).kept
    assert len(kept) == 1
    with pytest.raises(AugkitError, match="unknown script 'Qqqq'"):
        build_stage({"stage": "filter_script", "script": "Qqqq"})
    with pytest.raises(AugkitError, match="min_share"):
        build_stage({"stage": "filter_script", "min_share": 1.5})
    with pytest.raises(AugkitError, match="no 'lang'"):
        FilterScript().process([{"id": "a", "text": "abc"}])


def test_filters_do_not_change_inputs():
    record = {"id": "a", "text": "abc", "lang": "mt", "meta": {}}
    FilterScript().process([record])
    FilterLength(min_chars=1).process([record])
    assert record == {"id": "a", "text": "abc", "lang": "mt", "meta": {}}


def test_parallel_records_are_checked_on_every_side():
    def pair(record_id, bo, en):
        return {"id": record_id, "text": bo, "lang": "bod_Tibt", "meta": {"translations": {"eng_Latn": en}}}

    batch = [pair("ok", "བཀྲ་ཤིས་བདེ་ལེགས།", "Good luck."), pair("short_en", "བཀྲ་ཤིས་བདེ་ལེགས།", "Hi"),
             pair("untranslated", "བཀྲ་ཤིས་བདེ་ལེགས།", "བཀྲ་ཤིས་བདེ་ལེགས།"), pair("empty_en", "བཀྲ་ཤིས།", ".")]
    assert reasons(FilterLength(min_chars=3).process(batch)) == {"short_en": "too_few_chars", "empty_en": "too_few_chars"}
    output = FilterScript().process(batch)
    assert reasons(output) == {"untranslated": "wrong_script", "empty_en": "no_letters"}
    assert [r["meta"]["script_share"] for r in output.kept] == [1.0, 1.0]
    assert output.dropped[0][0]["meta"]["script_share"] == 0.0
