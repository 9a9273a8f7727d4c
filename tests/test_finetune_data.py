"""finetune.data.split_heldout: held-out records share no document and no text with the training records."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from finetune.data import SourcedRecord, normalised_texts, split_heldout

FIELDS = ("prompt", "response", "messages")


def _records(rows: list[dict]) -> list[SourcedRecord]:
    return [SourcedRecord(row, "data.jsonl", number) for number, row in enumerate(rows, start=1)]


def _texts(records: list[SourcedRecord]) -> set[str]:
    return {text for item in records for text in normalised_texts(item.record, FIELDS)}


def _docs(records: list[SourcedRecord]) -> set:
    return {item.record["doc"] for item in records if item.record.get("doc") is not None}


def test_both_directions_of_a_pair_stay_on_one_side():
    rng = random.Random(0)
    rows = []
    for index in range(200):
        english, tibetan = f"line {index} in English", f"ཚིག་{index}"
        rows.append({"prompt": english, "response": tibetan})
        # The other direction, written a little differently: normalisation makes them one text.
        rows.append({"prompt": f" {tibetan} ", "response": english.upper() if rng.random() < 0.5 else english})
    train, heldout = split_heldout(_records(rows), 0.1, seed=0, text_fields=FIELDS)
    assert len(heldout) == 40 and len(train) == 360
    assert not _texts(train) & _texts(heldout)


def test_builder_records_of_one_pair_stay_together_though_the_source_is_inside_an_instruction():
    # As `augkit build` writes SFT records: no doc, the source inside a templated user turn, the
    # pair's record id in meta.parents (both directions share it).
    rows = []
    for index in range(100):
        english, tibetan = f"line {index}", f"ཚིག་{index}"
        for source, target, prompt in ((english, tibetan, "Render this English sentence in Tibetan.\nEnglish: {}"),
                                       (tibetan, english, "Translate the following Tibetan text into English.\n"
                                                          "Tibetan: {}")):
            rows.append({"messages": [{"role": "user", "content": prompt.format(source)},
                                      {"role": "assistant", "content": target}],
                         "meta": {"parents": [f"bo_en:{index}"], "source": source}})
    train, heldout = split_heldout(_records(rows), 0.1, seed=0, text_fields=FIELDS)
    assert len(heldout) == 20
    parents = [{parent for item in part for parent in item.record["meta"]["parents"]} for part in (train, heldout)]
    assert not parents[0] & parents[1]
    assert not {item.record["meta"]["source"] for item in heldout} & _texts(train)


def test_null_documents_are_singletons_not_one_document():
    # 60 records with doc null and 40 with a document each: the null ones used to make one document
    # ("None"), which seed 13 drew, holding out 61 of the 100 records for a fraction of 0.05.
    rows = [{"doc": None, "text": f"loose text {i}"} for i in range(60)]
    rows += [{"doc": f"D{i:02d}", "text": f"document text {i}"} for i in range(40)]
    train, heldout = split_heldout(_records(rows), 0.05, seed=13)
    assert len(heldout) == 5 and len(train) == 95
    assert 0 < sum(item.record["doc"] is None for item in heldout) < 5  # drawn one by one, like the others
    assert not _docs(train) & _docs(heldout)


def test_groups_are_transitive_and_the_split_ignores_record_order():
    rows = [{"doc": "a", "text": "shared"}, {"doc": "b", "text": "shared"}, {"doc": "b", "text": "only b"},
            {"doc": "c", "text": "only c"}] + [{"text": f"single {i}"} for i in range(36)]
    records = _records(rows)
    for seed in range(20):
        train, heldout = split_heldout(records, 0.25, seed=seed)
        joined = {item.record["doc"] for item in heldout if item.record.get("doc") in ("a", "b")}
        assert joined in (set(), {"a", "b"}) and len([i for i in heldout if i.record.get("doc") in ("a", "b")]) in (0, 3)
        shuffled = records[:]
        random.Random(seed).shuffle(shuffled)
        _, again = split_heldout(shuffled, 0.25, seed=seed)
        assert sorted(item.line for item in again) == sorted(item.line for item in heldout)


def test_a_shared_system_prompt_joins_nothing_and_messages_count():
    rows = [{"messages": [{"role": "system", "content": "Translate."}, {"role": "user", "content": f"q{i}"},
                          {"role": "assistant", "content": f"a{i % 10}"}]} for i in range(40)]
    train, heldout = split_heldout(_records(rows), 0.25, seed=1, text_fields=FIELDS)
    assert len(heldout) == 8  # answers a0..a9 come four at a time: two groups
    assert not _texts(train) & _texts(heldout)


def test_impossible_split_is_an_error():
    import pytest

    from augment.errors import AugkitError

    rows = [{"doc": "one", "text": f"t{i}"} for i in range(10)]
    with pytest.raises(AugkitError, match="smallest group of records sharing a document or a text has 10"):
        split_heldout(_records(rows), 0.2, seed=0)
    with pytest.raises(AugkitError, match="between 0 and 1"):
        split_heldout(_records(rows), 1.0, seed=0)


row = st.fixed_dictionaries(
    {"prompt": st.sampled_from(["a", "A", "b", "c ", "d", "e", "f", "g"]) | st.text(min_size=1, max_size=3),
     "response": st.sampled_from(["a", "x", "y", "z", "w"]) | st.text(min_size=1, max_size=3)},
    optional={"doc": st.none() | st.sampled_from(["d1", "d2", "d3", "d4"])})


@settings(max_examples=200, deadline=None)
@given(st.lists(row, min_size=2, max_size=60), st.floats(0.05, 0.5), st.integers(0, 3))
def test_no_document_or_text_on_both_sides(rows, fraction, seed):
    records = _records(rows)
    try:
        train, heldout = split_heldout(records, fraction, seed, text_fields=FIELDS)
    except Exception as error:  # every grouping too coarse for the fraction: said so, in one line
        assert "smallest group" in str(error)
        return
    assert len(train) + len(heldout) == len(records) and train and heldout
    assert len(heldout) <= max(1, round(len(records) * fraction))
    assert not _texts(train) & _texts(heldout)
    assert not _docs(train) & _docs(heldout)
    assert (train, heldout) == split_heldout(records, fraction, seed, text_fields=FIELDS)
