from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.errors import AugkitError
from corpora.stages.registry import build_stage
from corpora.stages.sampling import Mix, Sample, Split, apportion


def corpus(sizes, docs=4):
    return [{"id": f"{source}:{i}", "text": f"{source} {i}", "source": source, "doc": f"{source}-d{i % docs}",
             "lang": "mlt_Latn", "meta": {}}
            for source, size in sizes.items() for i in range(size)]


def test_apportion_is_exact_largest_remainder():
    assert apportion(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert apportion(7, {"a": 0.5, "b": 0.25, "c": 0.25}) == {"a": 3, "b": 2, "c": 2}
    assert sum(apportion(1001, {"x": 0.3, "y": 0.3, "z": 0.4}).values()) == 1001


def test_mix_down_and_up_samples_to_exact_proportions():
    batch = corpus({"ar": 30, "mt": 5})
    output = Mix(proportions={"ar": 0.5, "mt": 0.5}, total=20, seed=3).process(batch)
    counts = Counter(r["source"] for r in output.kept)
    assert counts == {"ar": 10, "mt": 10}
    assert Counter(reason for _, reason in output.dropped) == {"downsampled": 20}
    copies = [r for r in output.kept if r["source"] == "mt"]
    assert all(r["id"] == f"{r['meta']['parents'][0]}/copy{r['id'][-1]}" for r in copies)
    assert Counter(r["meta"]["parents"][0] for r in copies) == {f"mt:{i}": 2 for i in range(5)}
    # Kept records stay in batch order, copies where their original stood.
    positions = {r["id"]: i for i, r in enumerate(batch)}
    order = [positions.get(r["id"], positions.get((r.get("meta") or {}).get("parents", [None])[0])) for r in output.kept]
    assert order == sorted(order)


def test_mix_total_defaults_to_input_size_and_zero_drops_a_source():
    output = build_stage({"stage": "mix", "proportions": {"a": 1, "b": 0}}).process(corpus({"a": 3, "b": 4}))
    assert Counter(r["source"] for r in output.kept) == {"a": 7}
    assert Counter(r["source"] for r, _ in output.dropped) == {"b": 4}


def test_mix_errors_name_the_problem():
    with pytest.raises(AugkitError, match=r"\['c'\] have no proportion"):
        Mix(proportions={"a": 1}).process(corpus({"a": 2, "c": 1}))
    with pytest.raises(AugkitError, match=r"\['b'\] have a proportion but no records"):
        Mix(proportions={"a": 1, "b": 1}).process(corpus({"a": 2}))
    for bad in ({}, {"a": -1}, {"a": 0}):
        with pytest.raises(AugkitError, match="mix"):
            build_stage({"stage": "mix", "proportions": bad})
    with pytest.raises(AugkitError, match="total"):
        build_stage({"stage": "mix", "proportions": {"a": 1}, "total": -5})


@settings(max_examples=60, deadline=None)
@given(sizes=st.dictionaries(st.sampled_from("abc"), st.integers(1, 15), min_size=1),
       total=st.integers(0, 40), seed=st.integers(0, 5))
def test_mix_is_deterministic_exact_and_accounts_for_every_record(sizes, total, seed):
    batch = corpus(sizes)
    stage = Mix(proportions={source: 1 for source in sizes}, total=total, seed=seed)
    first, second = stage.process(batch), stage.process(list(reversed(batch)))
    assert len(first.kept) == total
    assert Counter(r["source"] for r in first.kept) == Counter(apportion(total, dict.fromkeys(sizes, 1)))
    assert sorted(r["id"] for r in first.kept) == sorted(r["id"] for r in second.kept)  # order-free choice
    assert first == stage.process(batch)
    used = {r["id"] for r in first.kept} | {p for r in first.kept for p in r["meta"].get("parents", [])}
    assert used | {r["id"] for r, _ in first.dropped} >= {r["id"] for r in batch}


def test_split_keeps_documents_whole_and_is_seeded():
    batch = corpus({"bo": 400}, docs=40)
    output = Split(seed=1).process(batch)
    by_doc = {}
    for record in output.kept:
        by_doc.setdefault(record["doc"], set()).add(record["meta"]["split"])
    assert all(len(splits) == 1 for splits in by_doc.values()) and len(by_doc) == 40
    assert set().union(*by_doc.values()) == {"train", "dev", "test"}
    assert Split(seed=1).process(batch) == output
    assert Split(seed=2).process(batch) != output
    # A record without a doc is its own group; meta.<name> and other keys group too.
    lone = Split(fractions={"a": 0.5, "b": 0.5}).process([{"id": "x", "doc": None, "text": "t", "meta": {}}])
    assert lone.kept[0]["meta"]["split"] in {"a", "b"}
    grouped = Split(key="meta.group").process([{"id": str(i), "meta": {"group": i % 2}} for i in range(20)])
    assert len({(r["meta"]["group"], r["meta"]["split"]) for r in grouped.kept}) == 2


def test_split_errors():
    for bad in ({"fractions": {"train": 0.8, "test": 0.1}}, {"fractions": {"train": 1.5, "test": -0.5}},
                {"key": "line"}, {"seed": 1.5}):
        with pytest.raises(AugkitError, match="split"):
            build_stage({"stage": "split", **bad})
    with pytest.raises(AugkitError, match="no meta\\['group'\\]"):
        Split(key="meta.group").process([{"id": "x", "meta": {}}])


@settings(max_examples=60, deadline=None)
@given(docs=st.lists(st.text("abcd", min_size=1, max_size=3), min_size=1, max_size=30),
       extra=st.lists(st.text("abcdef", min_size=1, max_size=3), max_size=30), seed=st.integers(0, 3))
def test_split_puts_every_doc_in_one_split_stable_when_records_are_added(docs, extra, seed):
    stage = Split(fractions={"train": 0.6, "dev": 0.2, "test": 0.2}, seed=seed)
    before = stage.process([{"id": f"r{i}", "doc": doc, "meta": {}} for i, doc in enumerate(docs)])
    after = stage.process([{"id": f"r{i}", "doc": doc, "meta": {}} for i, doc in enumerate(docs + extra)])
    assignment = {}
    for record in after.kept:
        assert assignment.setdefault(record["doc"], record["meta"]["split"]) == record["meta"]["split"]
    assert all(record["meta"]["split"] == assignment[record["doc"]] for record in before.kept)
    assert len(after.kept) == len(docs) + len(extra) and after.dropped == []


def _naive_split(stage: Split, records: list[dict]) -> dict[str, str]:
    """Split with duplicates grouped, the slow way: connected components of "shares a text"."""
    order = list(stage.fractions)
    own = {r["id"]: stage.assign(r["doc"] if r.get("doc") is not None else f"id:{r['id']}") for r in records}

    def texts(record):
        sides = [record["text"], *(record["meta"].get("translations") or {}).values()]
        return {" ".join(side.casefold().split()) for side in sides} - {""}

    component = {r["id"]: {r["id"]} for r in records}
    for first in records:
        for second in records:
            if first["id"] < second["id"] and texts(first) & texts(second):
                merged = component[first["id"]] | component[second["id"]]
                for member in merged:
                    component[member] = merged
    return {record_id: own[record_id] if len(members) == 1 else min((own[m] for m in members), key=order.index)
            for record_id, members in component.items()}


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from("abcdefgh"), st.sampled_from(["x", "X ", "y", "z", "w", "", "  "]),
                               st.sampled_from([None, "p", "q", "P", "r", "s", "t"])), min_size=1, max_size=40),
       seed=st.integers(0, 5), chunk=st.integers(1, 7))
def test_split_keeps_every_text_on_one_side_like_the_naive_version(rows, seed, chunk):
    stage = Split(fractions={"train": 0.5, "dev": 0.25, "test": 0.25}, seed=seed)
    records = [{"id": f"r{i}", "doc": doc, "text": f"t{i}" if text.strip() == "" else text, "lang": "mlt_Latn",
                "meta": {"translations": {"eng_Latn": other}} if other else {}}
               for i, (doc, text, other) in enumerate(rows)]
    output = stage.process(records)
    splits = {record["id"]: record["meta"]["split"] for record in output.kept}
    assert splits == _naive_split(stage, records)
    by_text: dict[str, set[str]] = {}
    for record in output.kept:
        for side in [record["text"], *(record["meta"].get("translations") or {}).values()]:
            by_text.setdefault(" ".join(side.casefold().split()), set()).add(record["meta"]["split"])
    assert all(len(sides) == 1 for sides in by_text.values())
    # The same records in another order, or streamed in batches, get the same splits.
    shuffled = stage.process(records[::-1])
    assert {record["id"]: record["meta"]["split"] for record in shuffled.kept} == splits
    batches = [records[i:i + chunk] for i in range(0, len(records), chunk)]
    streamed = [record for part in stage.process_stream(batches) for record in part.kept]
    assert streamed == output.kept


def test_split_without_grouping_is_per_record_and_per_shard():
    stage = build_stage({"stage": "split", "group_duplicates": False, "key": "id"})
    assert stage.global_view is False and build_stage({"stage": "split"}).global_view is True
    records = [{"id": f"r{i}", "doc": None, "text": "same", "meta": {}} for i in range(40)]
    assert len({record["meta"]["split"] for record in stage.process(records).kept}) == 3
    with pytest.raises(AugkitError, match="group_duplicates must be true or false"):
        build_stage({"stage": "split", "group_duplicates": "yes"})


def test_sample_fraction_is_streaming_and_count_is_exact():
    batch = corpus({"a": 1000})
    by_fraction = Sample(fraction=0.3, seed=1).process(batch)
    assert 240 < len(by_fraction.kept) < 360
    assert len(by_fraction.kept) + len(by_fraction.dropped) == 1000
    assert {reason for _, reason in by_fraction.dropped} == {"not_sampled"}
    assert not Sample(fraction=0.3).global_view
    counted = build_stage({"stage": "sample", "count": 17, "seed": 1})
    assert counted.global_view and len(counted.process(batch).kept) == 17
    assert [r["id"] for r in counted.process(list(reversed(batch))).kept] == sorted(
        (r["id"] for r in counted.process(batch).kept), key=lambda i: -int(i.split(":")[1]))
    # Sampling by document keeps documents whole (except the last one with a count).
    by_doc = Sample(fraction=0.5, key="doc", seed=2).process(batch)
    kept_docs = {r["doc"] for r in by_doc.kept}
    assert not kept_docs & {r["doc"] for r, _ in by_doc.dropped}


def test_sample_errors():
    for bad in ({}, {"fraction": 0.5, "count": 3}, {"fraction": 2}, {"count": -1}, {"fraction": 0.1, "key": "x"}):
        with pytest.raises(AugkitError, match="sample"):
            build_stage({"stage": "sample", **bad})
