"""Laws every pure stage keeps, so that any engine (local processes, Ray Data's map_batches) may run it."""

import json
import pickle

import pytest

from corpora.stage import STAGES, StageOutput, build_stage

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
