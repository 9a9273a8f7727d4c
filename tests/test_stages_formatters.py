import pytest

from augment.errors import AugkitError
from corpora.stages.formatters import DEFAULT_TEMPLATES, FormatCpt, FormatSft
from corpora.stages.registry import build_stage


def line(record_id, text, doc, source="bo", split=None):
    meta = {"split": split} if split else {}
    return {"id": record_id, "text": text, "lang": "bod_Tibt", "source": source, "doc": doc, "meta": meta}


def test_format_cpt_joins_each_document_in_natural_id_order():
    batch = [line("bo:10", "c", "d1"), line("bo:2", "a", "d1"), line("bo:3", "x", "d2"), line("bo:9", "b", "d1"),
             line("bo:11", "alone", None)]
    output = FormatCpt().process(batch)
    assert [(r["id"], r["text"], r["meta"].get("parents")) for r in output.kept] == [
        ("bo:d1", "a\nb\nc", ["bo:2", "bo:9", "bo:10"]),
        ("bo:d2", "x", ["bo:3"]),
        ("bo:11", "alone", None),
    ]
    assert output.dropped == []


def test_format_cpt_never_joins_across_splits_or_sources():
    batch = [line("a:1", "x", "d", split="train"), line("a:2", "y", "d", split="test"),
             line("b:1", "z", "d", source="b", split="train")]
    assert [r["id"] for r in FormatCpt().process(batch).kept] == ["bo:d@train", "bo:d@test", "b:d@train"]


def test_format_cpt_token_records_become_text():
    record = {"id": "t:1", "text": None, "tokens": ["Il-", "kelb"], "upos": ["DET", "NOUN"], "lang": "mt",
              "source": "t", "doc": None, "meta": {}}
    assert FormatCpt().process([record]).kept == [
        {"id": "t:1", "text": "Il- kelb", "lang": "mt", "source": "t", "doc": None, "meta": {}}]


def test_format_cpt_packs_documents_without_cutting_them():
    batch = [line(f"bo:{i}", "x" * 4, f"d{i // 2}") for i in range(8)]  # four documents of 9 chars
    batch.append(line("bo:99", "y" * 30, "long"))
    output = build_stage({"stage": "format_cpt", "pack_chars": 20, "document_separator": "|"}).process(batch)
    assert [r["text"] for r in output.kept] == ["xxxx\nxxxx|xxxx\nxxxx", "xxxx\nxxxx|xxxx\nxxxx", "y" * 30]
    assert output.kept[0]["id"] == "pack:bo:d0" and output.kept[0]["meta"]["documents"] == ["bo:d0", "bo:d1"]
    assert output.kept[0]["meta"]["parents"] == ["bo:0", "bo:1", "bo:2", "bo:3"]
    assert all(len(r["text"]) <= 20 for r in output.kept[:2])


def test_format_cpt_configuration_errors():
    with pytest.raises(AugkitError, match="pack_chars"):
        build_stage({"stage": "format_cpt", "pack_chars": 0})


def bitext(record_id, bo="བཀྲ་ཤིས།", **translations):
    return {"id": record_id, "text": bo, "lang": "bod_Tibt", "source": "bo_zh", "doc": "d",
            "meta": {"translations": translations}}


def test_format_sft_one_example_per_direction_in_chat_format():
    stage = build_stage({"stage": "format_sft", "directions": ["zh-bo", "bo-zh"],
                         "templates": {"*": ["{source_lang} to {target_lang}: {source}"]},
                         "system": "You translate."})
    output = stage.process([bitext("x:1", zho_Hant="你好")])
    assert output.kept == []
    assert output.dropped == [(bitext("x:1", zho_Hant="你好"), "no_translation_pair")]
    # Directions name languages; zh means Simplified Chinese, so the Traditional side needs zh_Hant.
    stage = build_stage({"stage": "format_sft", "directions": ["zh_Hant-bo", "bo-zh_Hant"],
                         "templates": {"*": ["{source_lang} to {target_lang}: {source}"]},
                         "system": "You translate."})
    output = stage.process([bitext("x:1", zho_Hant="你好")])
    assert [r["id"] for r in output.kept] == ["x:1/zho_Hant-bod_Tibt", "x:1/bod_Tibt-zho_Hant"]
    first = output.kept[0]
    assert first["messages"] == [
        {"role": "system", "content": "You translate."},
        {"role": "user", "content": "Chinese (Traditional) to Tibetan: 你好"},
        {"role": "assistant", "content": "བཀྲ་ཤིས།"},
    ]
    assert first["lang"] == "bod_Tibt" and "text" not in first
    assert first["meta"] == {"parents": ["x:1"], "direction": "zho_Hant-bod_Tibt", "template": 0,
                             "auxiliary": None}


def test_format_sft_prompt_response_style_and_templates_per_direction():
    stage = FormatSft(directions=("en-bo", "bo-en"), style="prompt_response",
                      templates={"en-bo": ["EN>BO {source}"], "*": ["{source} => {target_lang}"]})
    output = stage.process([bitext("x:1", eng_Latn="Hello")])
    assert [(r["prompt"], r["response"]) for r in output.kept] == [
        ("EN>BO Hello", "བཀྲ་ཤིས།"), ("བཀྲ་ཤིས། => English", "Hello")]


def test_templates_are_chosen_by_seeded_hash_and_all_are_used():
    stage = FormatSft(directions=("en-bo",), seed=3)
    batch = [bitext(f"x:{i}", eng_Latn=f"Hello {i}") for i in range(60)]
    output = stage.process(batch)
    assert {r["meta"]["template"] for r in output.kept} == set(range(len(DEFAULT_TEMPLATES)))
    assert output == FormatSft(directions=("en-bo",), seed=3).process(batch)
    assert output != FormatSft(directions=("en-bo",), seed=4).process(batch)


def test_strategic_downsampling_keeps_a_fraction_of_directions_into_high_resource_languages():
    stage = FormatSft(directions=("en-bo", "bo-en"), high_resource=("en",), reverse_fraction=0.5, seed=1)
    output = stage.process([bitext(f"x:{i}", eng_Latn=f"Hello {i}") for i in range(400)])
    forward = [r for r in output.kept if r["meta"]["direction"] == "eng_Latn-bod_Tibt"]
    reverse = [r for r in output.kept if r["meta"]["direction"] == "bod_Tibt-eng_Latn"]
    assert len(forward) == 400 and 160 < len(reverse) < 240
    assert len(output.dropped) == 400 - len(reverse)
    assert {reason for _, reason in output.dropped} == {"strategic_downsampling"}
    assert all(r["meta"]["parents"] and r["id"].endswith("/bod_Tibt-eng_Latn") for r, _ in output.dropped)


def test_parallel_multilingual_prompting_adds_the_auxiliary_source_when_present():
    stage = FormatSft(directions=("en-bo",), auxiliary={"en-bo": "zh"},
                      templates={"*": ["{source_lang}: {source}\n{auxiliary}{target_lang}:"]})
    with_zh, without_zh = stage.process([bitext("x:1", eng_Latn="Hello", zho_Hans="你好"),
                                         bitext("x:2", eng_Latn="Hi")]).kept
    assert with_zh["messages"][0]["content"] == "English: Hello\nChinese (Simplified): 你好\nTibetan:"
    assert with_zh["meta"]["auxiliary"] == "zho_Hans"
    assert without_zh["messages"][0]["content"] == "English: Hi\nTibetan:"
    assert without_zh["meta"]["auxiliary"] is None and "translations" not in without_zh["meta"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"directions": []}, "directions"),
        ({"directions": "zh-bo"}, "directions"),
        ({"directions": ["zh-zh"]}, "into itself"),
        ({"directions": ["zh-bo", "zho_Hans-bod_Tibt"]}, "twice"),
        ({"directions": ["zhbo"]}, "src-tgt"),
        ({"directions": ["zh-bo"], "templates": {"*": ["no source here"]}}, "must contain {source}"),
        ({"directions": ["zh-bo"], "templates": {"*": ["{source} {tgt}"]}}, "unknown placeholder"),
        ({"directions": ["zh-bo"], "templates": {"en-bo": ["{source}"]}}, "no entry for direction"),
        ({"directions": ["zh-bo"], "auxiliary": {"zh-bo": "bo"}}, "must differ"),
        ({"directions": ["zh-bo"], "auxiliary": {"zh-bo": "en"}, "templates": {"*": ["{source}"]}},
         "must contain {auxiliary}"),
        ({"directions": ["zh-bo"], "reverse_fraction": 1.5}, "reverse_fraction"),
        ({"directions": ["zh-bo"], "high_resource": "zh"}, "high_resource"),
        ({"directions": ["zh-bo"], "high_resource": ["klingon"]}, "unknown language code"),
        ({"directions": ["zh-bo"], "style": "chatml"}, "style"),
    ],
)
def test_format_sft_configuration_errors(bad, message):
    with pytest.raises(AugkitError, match=message):
        build_stage({"stage": "format_sft", **bad})
