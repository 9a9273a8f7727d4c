"""The stages that wrap augment's components: transliterate, filter_langid, project_labels."""

from __future__ import annotations

import pickle

import pytest

from augment.errors import AugkitError
from augment.transliterate import get_transliterator
from corpora.stages.adapters import FilterLangid, ProjectLabels, Transliterate
from corpora.stages.registry import build_stage


def record(id, text=None, lang="arb_Arab", **fields):
    return {"id": id, "text": text, "lang": lang, "source": "s", "doc": None, "meta": {}, **fields}


def test_transliterate_makes_one_record_per_scheme_in_text_and_token_mode():
    stage = build_stage({"stage": "transliterate", "schemes": ["chartx", "buckwalter"]})
    tokens = record("s:2", "الدَّار الكبيرة", tokens=["الدَّار", "الكبيرة"], upos=["NOUN", "ADJ"])
    output = stage.process([record("s:1", "الدَّار"), tokens])
    assert [r["id"] for r in output.kept] == ["s:1/chartx", "s:1/buckwalter", "s:2/chartx", "s:2/buckwalter"]
    chartx = get_transliterator("chartx")
    first = output.kept[0]
    assert first["text"] == chartx.transliterate("الدَّار") and first["lang"] == "mlt_Latn"
    assert first["meta"]["parents"] == ["s:1"] and first["meta"]["scheme"].startswith("scheme:chartx|v:2")
    chartx_tokens = output.kept[2]
    assert len(chartx_tokens["tokens"]) == 2 and chartx_tokens["upos"] == ["NOUN", "ADJ"]
    assert chartx_tokens["tokens"] == chartx.transliterate_tokens(["الدَّار", "الكبيرة"])
    assert output.kept[3]["lang"] == "und_Latn"  # the scheme manifest's target
    assert output.dropped == []
    assert stage.config()["signatures"][0].startswith("scheme:chartx")


def test_transliterate_keeps_the_original_on_request_and_drops_empty_output():
    stage = Transliterate(schemes="chartx", keep_original=True)
    output = stage.process([record("s:1", "الدَّار"), record("s:2", "ـ")])
    assert [r["id"] for r in output.kept][:2] == ["s:1", "s:1/chartx"]
    assert pickle.loads(pickle.dumps(stage)) == stage


def test_transliterate_rejects_a_bad_scheme_list():
    with pytest.raises(AugkitError, match="schemes must be a name"):
        build_stage({"stage": "transliterate", "schemes": []})


MALTESE = ["Il-Gvern ħabbar miżuri ġodda biex jgħin lill-familji li għandhom tfal żgħar.",
           "Il-kunsill lokali se jiltaqa' għada filgħaxija biex jiddiskuti l-proġett il-ġdid."]


def test_filter_langid_keeps_maltese_and_records_scores():
    stage = FilterLangid(language="mt")
    batch = [record(f"m:{i}", text, lang="mlt_Latn") for i, text in enumerate(MALTESE)]
    batch.append(record("e:1", "The government announced new measures to help families with children.",
                        lang="mlt_Latn"))
    batch.append(record("t:1", None, lang="mlt_Latn", tokens=["x"]))
    output = stage.process(batch)
    assert [r["id"] for r in output.kept] == ["m:0", "m:1"]
    assert output.kept[0]["meta"]["langid"]["top"][0][0] == "mlt_Latn"
    assert [(r["id"], reason) for r, reason in output.dropped] == [("t:1", "no_text"), ("e:1", "wrong_language")]
    assert output.dropped[1][0]["meta"]["langid"]["top"][0][0] == "eng_Latn"
    assert "verifier" in stage.config()["signature"]


def test_filter_langid_uses_each_records_language_by_default():
    stage = build_stage({"stage": "filter_langid", "threshold": 0.3})
    output = stage.process([record("a:1", "ذهب الولد إلى المدرسة في الصباح الباكر مع أصدقائه."),
                            record("a:2", MALTESE[0])])
    assert [r["id"] for r in output.kept] == ["a:1"]
    assert [reason for _, reason in output.dropped] == ["wrong_language"]


def test_project_labels_one_to_one_or_dropped():
    stage = ProjectLabels()
    same = record("s:1", "il-kitab kbir .", tokens=["الكتاب", "كبير", "."], upos=["NOUN", "ADJ", "PUNCT"])
    different = record("s:2", "il-kitab", tokens=["ال", "كتاب"], upos=["DET", "NOUN"])
    output = stage.process([same, different, record("s:3", "x")])
    assert output.kept[0]["tokens"] == ["il-kitab", "kbir", "."] and output.kept[0]["upos"] == ["NOUN", "ADJ", "PUNCT"]
    assert [r["id"] for r in output.kept] == ["s:1", "s:3"]
    assert [(r["id"], reason) for r, reason in output.dropped] == [("s:2", "token_count_mismatch")]


def test_translate_derives_one_record_per_input_with_the_pair_in_meta(tiny_marian, tmp_path):
    stage = build_stage({"stage": "translate", "model": str(tiny_marian), "src": "ar", "tgt": "mt",
                         "language_check": "none", "min_ratio": 0.0, "max_ratio": 1000.0, "max_repeats": 1000,
                         "beam_size": 1, "cache": str(tmp_path / "cache")})
    batch = [record("a:1", "القطة هنا اليوم"),
             record("a:2", "ذهب الولد", tokens=["ذهب", "الولد"], upos=["VERB", "NOUN"])]
    output = stage.process(batch)
    produced = output.kept + [r for r, _ in output.dropped]
    assert sorted(r["id"] for r in produced) == ["a:1/mlt_Latn", "a:2/mlt_Latn"]
    for result in produced:
        parent = result["id"].split("/")[0]
        assert result["meta"]["parents"] == [parent] and result["lang"] == "mlt_Latn"
        assert result["meta"]["translations"]["arb_Arab"] == next(r["text"] for r in batch if r["id"] == parent)
        assert "tokens" not in result and "upos" not in result
        assert result["meta"]["translation"]["signature"].startswith("model:")
    assert len(stage.config()["model_fingerprint"]) == 16
