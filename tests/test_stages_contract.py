"""Laws every pure stage keeps, so that any engine (local processes, Ray Data's map_batches) may run it."""

import json
import pickle
import random

import pytest

from corpora.stage import StageOutput
from corpora.stages.common import in_batch_order
from corpora.stages.registry import STAGES, build_stage
from corpora.unionfind import UnionFind

# One configuration of every pure stage, and a corpus that exercises it.
SPECS = [
    {"stage": "normalize"},
    {"stage": "split_sentences"},
    {"stage": "segment_syllables"},
    {"stage": "filter_length", "min_words": 2},
    {"stage": "filter_script"},
    {"stage": "dedup_exact"},
    {"stage": "dedup_near", "threshold": 0.6},
    {"stage": "mix", "proportions": {"bo": 2, "mt": 1}, "total": 20},
    {"stage": "split"},
    {"stage": "sample", "fraction": 0.5},
    {"stage": "sample", "count": 5},
    {"stage": "format_cpt", "pack_chars": 60},
    {"stage": "format_cpt"},
    {"stage": "format_sft", "directions": ["en-bo", "bo-en"], "high_resource": ["en"], "reverse_fraction": 0.5},
]


def corpus():
    records = []
    for i in range(12):
        records.append({"id": f"bo:{i}", "text": f"བཀྲ་ཤིས་ བདེ་ལེགས། །ཀ་ཁ་{'ག' * (i % 4)}།", "lang": "bod_Tibt",
                        "source": "bo", "doc": f"d{i % 3}", "meta": {"translations": {"eng_Latn": f"Hello {i % 6}."}}})
        records.append({"id": f"mt:{i}", "text": f"Il-kelb ta’ {'Marija' if i % 2 else 'Ġorġ'} ġera. Waqaf!",
                        "lang": "mlt_Latn", "source": "mt", "doc": None, "meta": {}})
    return records


def test_every_pure_stage_is_covered_here():
    modules = {f"corpora.stages.{name}" for name in ("normalize", "segment", "filters", "dedup", "sampling",
                                                      "formatters")}
    pure = {name for name, cls in STAGES.items() if cls.__module__ in modules}
    assert pure == {spec["stage"] for spec in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec["stage"] + str(len(spec)))
def test_stage_pickles_is_deterministic_and_does_not_change_its_input(spec):
    stage = build_stage(spec, seed=7)
    batch = corpus()
    before = json.dumps(batch, sort_keys=True)
    output = stage.process(batch)
    assert isinstance(output, StageOutput)
    assert json.dumps(batch, sort_keys=True) == before
    clone = pickle.loads(pickle.dumps(stage))
    assert clone == stage and clone.process(corpus()) == output
    json.dumps(stage.config())  # the manifest and the cache fingerprint store it
    kept_ids = [record["id"] for record in output.kept]
    dropped_ids = [record["id"] for record, _ in output.dropped]
    assert len(set(kept_ids + dropped_ids)) == len(kept_ids + dropped_ids)
    assert all(isinstance(reason, str) and reason for _, reason in output.dropped)


@pytest.mark.parametrize("spec", [spec for spec in SPECS if not build_stage(spec).global_view],
                         ids=lambda spec: spec["stage"])
def test_per_record_stages_give_the_same_output_whatever_the_batching(spec):
    stage = build_stage(spec, seed=7)
    batch = corpus()
    whole = stage.process(batch)
    parts = [stage.process(batch[start : start + 5]) for start in range(0, len(batch), 5)]
    assert [r for part in parts for r in part.kept] == whole.kept
    assert [pair for part in parts for pair in part.dropped] == whole.dropped


def groups_as_an_executor_may_form_them(stage, batch):
    """The groups of a grouped stage as its declarations allow: by `group_key`, each cut into the
    records joined by shared `link_keys`, each with its entry of `plan_groups`."""
    by_key = {}
    for record in batch:
        by_key.setdefault(json.dumps(stage.group_key(record)), []).append(record)
    plan = stage.plan_groups({json.loads(key): len(records) for key, records in by_key.items()}) \
        if stage.needs_group_sizes else None
    groups = []
    for key, records in by_key.items():
        entry = plan.get(json.loads(key)) if plan is not None else None
        if not stage.has_link_keys:
            groups.append((records, entry))
            continue
        components = UnionFind(record["id"] for record in records)
        owner = {}
        for record, keys in zip(records, stage.link_keys(records), strict=True):
            for link in keys:
                components.union(owner.setdefault(link, record["id"]), record["id"])
        parts = {}
        for record in records:
            parts.setdefault(components.find(record["id"]), []).append(record)
        groups.extend((part, entry) for part in parts.values())
    return groups


GROUPED = [spec for spec in SPECS if build_stage(spec).grouped]


def test_the_grouped_stages_are_the_ones_executors_distribute():
    assert sorted(spec["stage"] for spec in GROUPED) == ["dedup_exact", "dedup_near", "format_cpt", "mix"]
    assert not build_stage({"stage": "format_cpt", "pack_chars": 60}).grouped  # packing is one sequence


@pytest.mark.parametrize("spec", GROUPED, ids=lambda spec: spec["stage"] + str(len(spec)))
def test_a_grouped_stage_is_its_groups_in_any_order(spec):
    """What the Ray executor relies on: `process` equals `process_group` over the groups (cut along
    link keys, with their plan), whatever the order of the groups and of the records in each."""
    stage = build_stage(spec, seed=7)
    batch = corpus()
    shuffle = random.Random(3)
    groups = groups_as_an_executor_may_form_them(stage, batch)
    assert len(groups) > 1
    shuffle.shuffle(groups)
    outputs = [stage.process_group(shuffle.sample(records, len(records)), entry) for records, entry in groups]
    assert in_batch_order(batch, outputs) == stage.process(batch)
