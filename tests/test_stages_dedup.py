import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.errors import AugkitError
from corpora.stages.common import normalised_key as key_text
from corpora.stages.dedup import DedupExact, DedupNear
from corpora.stages.registry import build_stage


def records(*items):
    return [{"id": record_id, "text": text, "source": source, "lang": "mlt_Latn", "meta": {}}
            for record_id, text, source in items]


def test_key_text():
    assert key_text("  Ｉl-Kelb\tĠERA ", casefold=True, ignore_punctuation=False) == "il-kelb ġera"
    assert key_text("Il-kelb, ġera!", casefold=False, ignore_punctuation=True) == "Il kelb ġera"


def test_exact_duplicates_across_sources_keep_one_named_representative():
    batch = records(("a:10", "Il-kelb ġera.", "a"), ("a:9", "il-kelb  ġera.", "a"), ("b:1", "IL-KELB ĠERA.", "b"),
                    ("b:2", "Xi ħaġa oħra.", "b"))
    output = build_stage({"stage": "dedup_exact"}).process(batch)
    assert [r["id"] for r in output.kept] == ["a:9", "b:2"]  # natural order: a:9 before a:10
    assert {r["id"]: (r["meta"]["duplicate_of"], reason) for r, reason in output.dropped} == {
        "a:10": ("a:9", "duplicate"), "b:1": ("a:9", "duplicate")}
    preferred = DedupExact(prefer_sources=("b",)).process(batch)
    assert [r["id"] for r in preferred.kept] == ["b:1", "b:2"]


def test_exact_scope_by_source_keeps_one_per_source():
    batch = records(("a:1", "same", "a"), ("b:1", "same", "b"), ("b:2", "same", "b"))
    output = DedupExact(scope="source").process(batch)
    assert [r["id"] for r in output.kept] == ["a:1", "b:1"]
    assert DedupExact(casefold=False).process(records(("a:1", "X", "a"), ("a:2", "x", "a"))).dropped == []


@pytest.mark.parametrize("bad", [{"scope": "everywhere"}, {"prefer_sources": "a"}, {"casefold": "no"}, {"threshold": 0},
                                 {"ngram": 0}, {"num_perm": 1.5}, {"seed": "1"}])
def test_dedup_configuration_errors(bad):
    name = "dedup_exact" if set(bad) <= {"scope", "prefer_sources", "casefold"} else "dedup_near"
    with pytest.raises(AugkitError, match=name):
        build_stage({"stage": name, **bad})


def test_near_duplicates_are_found_and_linked_to_the_representative():
    base = "Il-Kunsill Ewropew iltaqa' llum fi Brussell biex jiddiskuti l-baġit tas-sena d-dieħla"
    batch = records(
        ("s:1", base, "a"),
        ("s:2", base + ".", "b"),                                  # one character more
        ("s:3", base.replace("llum", "ilbieraħ"), "b"),           # one word changed
        ("s:4", "Il-kelb kien qed jiġri fil-ġnien tal-viċin tagħna kull filgħodu", "a"),
        ("s:5", "ཀློང་ཆེན་པའི་གསོལ་འདེབས་མི་ཕམ་རིན་པོ་ཆེའི་གསུང་", "c"),
        ("s:6", "ཀློང་ཆེན་པའི་གསོལ་འདེབས་མི་ཕམ་རིན་པོ་ཆེའི་གསུང་།", "c"),
    )
    output = DedupNear(threshold=0.7).process(batch)
    assert [r["id"] for r in output.kept] == ["s:1", "s:4", "s:5"]
    dropped = {r["id"]: r["meta"] for r, reason in output.dropped if reason == "near_duplicate"}
    assert set(dropped) == {"s:2", "s:3", "s:6"}
    assert dropped["s:2"]["duplicate_of"] == "s:1" and dropped["s:6"]["duplicate_of"] == "s:5"
    assert 0.7 <= dropped["s:2"]["similarity"] <= 1.0


def test_near_dedup_is_seeded_and_independent_of_record_order():
    rng = random.Random(0)
    words = "il-kelb ġera fil-ġnien tal-viċin kull filgħodu qabel l-iskola u wara".split()
    texts = [" ".join(rng.choice(words) for _ in range(10)) for _ in range(40)]
    batch = records(*[(f"s:{i}", text, "a") for i, text in enumerate(texts + texts[:10])])
    stage = DedupNear(threshold=0.5, seed=7)
    first = stage.process(batch)
    shuffled = batch[:]
    rng.shuffle(shuffled)
    second = stage.process(shuffled)
    assert sorted(r["id"] for r in first.kept) == sorted(r["id"] for r in second.kept)
    assert {r["id"]: r["meta"]["duplicate_of"] for r, _ in first.dropped} == {
        r["id"]: r["meta"]["duplicate_of"] for r, _ in second.dropped}
    assert [r["id"] for r in DedupNear(threshold=0.5, seed=7).process(batch).kept] == [r["id"] for r in first.kept]


def _check_partition(batch, output):
    """kept ∪ dropped = input, no record twice, every dropped record names a kept representative."""
    kept_ids = [r["id"] for r in output.kept]
    dropped_ids = [r["id"] for r, _ in output.dropped]
    assert sorted(kept_ids + dropped_ids) == sorted(r["id"] for r in batch)
    assert all(r["meta"]["duplicate_of"] in set(kept_ids) for r, _ in output.dropped)


_TEXTS = st.lists(st.sampled_from(["a b", "A  b", "a b ", "c", "ġ", "Ġ", "x y z", "x y z w"]), max_size=12)


@settings(max_examples=150, deadline=None)
@given(texts=_TEXTS, sources=st.lists(st.sampled_from("ab"), min_size=12, max_size=12))
def test_exact_dedup_partitions_input_with_one_representative_per_class(texts, sources):
    batch = records(*[(f"r:{i}", text, sources[i]) for i, text in enumerate(texts)])
    output = DedupExact().process(batch)
    _check_partition(batch, output)
    keys = [key_text(r["text"], True, False) for r in output.kept]
    assert len(keys) == len(set(keys)) == len({key_text(t, True, False) for t in texts})
    for record, _ in output.dropped:
        representative = next(r for r in output.kept if r["id"] == record["meta"]["duplicate_of"])
        assert key_text(representative["text"], True, False) == key_text(record["text"], True, False)


@settings(max_examples=25, deadline=None)
@given(texts=st.lists(st.sampled_from(["il-kelb ġera fil-ġnien", "il-kelb ġera fil-ġnien!", "xi ħaġa oħra",
                                       "ཀློང་ཆེན་པའི་གསོལ", "ཀློང་ཆེན་པའི་གསོལ།", "我很好你呢"]), max_size=10))
def test_near_dedup_partitions_input_with_one_representative_per_class(texts):
    batch = records(*[(f"r:{i}", text, "a") for i, text in enumerate(texts)])
    output = DedupNear(threshold=0.6, num_perm=64).process(batch)
    _check_partition(batch, output)
    # Exact duplicates are near-duplicates too: no two kept records share a text.
    assert len({r["text"] for r in output.kept}) == len(output.kept)


def test_parallel_records_are_duplicates_only_when_every_side_matches():
    def pair(record_id, bo, zh):
        return {"id": record_id, "text": bo, "lang": "bod_Tibt", "source": "s", "meta": {"translations": {"zho_Hant": zh}}}

    batch = [pair("s:1", "ཀ", "好"), pair("s:2", "ཀ", "好"), pair("s:3", "ཀ", "不好")]
    output = DedupExact().process(batch)
    assert [r["id"] for r in output.kept] == ["s:1", "s:3"]
    assert [(r["id"], r["meta"]["duplicate_of"]) for r, _ in output.dropped] == [("s:2", "s:1")]


@settings(max_examples=60, deadline=None)
@given(texts=_TEXTS, sources=st.lists(st.sampled_from("ab"), min_size=12, max_size=12),
       batch_size=st.integers(1, 5))
def test_exact_dedup_two_pass_stream_gives_the_same_records_as_process(texts, sources, batch_size):
    batch = records(*[(f"r:{i}", text, sources[i]) for i, text in enumerate(texts)])
    stage = DedupExact(prefer_sources=("b",))
    batches = [batch[i : i + batch_size] for i in range(0, len(batch), batch_size)]
    streamed = list(stage.process_stream(batches))  # a list is re-iterable: two passes
    whole = stage.process(batch)
    assert [r for output in streamed for r in output.kept] == whole.kept
    assert [pair for output in streamed for pair in output.dropped] == whole.dropped
    one_shot = list(stage.process_stream(iter(batches)))
    assert one_shot == [whole]


def test_dedup_exact_on_the_text_side_only_across_sources():
    records = [
        {"id": "bo_zh:1", "text": "ཀ་ཁ།", "lang": "bod_Tibt", "source": "bo_zh", "meta": {"translations": {"zho_Hant": "甲"}}},
        {"id": "bo_en:7", "text": "ཀ་ཁ། ", "lang": "bod_Tibt", "source": "bo_en", "meta": {"translations": {"eng_Latn": "a"}}},
        {"id": "bo_en:8", "text": "ག།", "lang": "bod_Tibt", "source": "bo_en", "meta": {"translations": {"eng_Latn": "a"}}},
    ]
    assert DedupExact().process(records).dropped == []  # all sides: three different pairs
    output = build_stage({"stage": "dedup_exact", "sides": "text", "prefer_sources": ["bo_en"]}).process(records)
    assert [record["id"] for record in output.kept] == ["bo_en:7", "bo_en:8"]
    assert [(record["id"], record["meta"]["duplicate_of"]) for record, _ in output.dropped] == [("bo_zh:1", "bo_en:7")]
    with pytest.raises(AugkitError, match="sides must be one of all, text"):
        build_stage({"stage": "dedup_exact", "sides": "left"})
