"""Recount a build from the files it wrote and check its manifest against them.

The engine refuses to write an unbalanced manifest, so `stage["balanced"]` is always true and
checks nothing. This recounts every stage from disk instead: the records of each step's cache
shards, the dropped records in `rejected/`, and the records of every jsonl/parquet output file; it
derives `derived` and `consumed` from the record ids, and checks `in - consumed + derived = out +
dropped` on those recounted numbers and that the manifest says the same."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


def _ids(folder: Path) -> list[str]:
    import pyarrow.parquet as pq

    ids = []
    for path in sorted(folder.glob("shard-*.parquet")):
        ids.extend(pq.read_table(path, columns=["id"]).column("id").to_pylist())
    return ids


def _output_ids(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    if path.suffix == ".jsonl":
        return [json.loads(line).get("id") for line in path.read_text(encoding="utf-8").splitlines()]
    table = pq.read_table(path)
    return table.column("id").to_pylist() if "id" in table.column_names else [None] * table.num_rows


def recount(output: Path) -> dict:
    """Check `output/manifest.json` against the files on disk; returns the manifest."""
    output = Path(output)
    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    rejected_files = {entry["stage"]: entry for entry in manifest["rejected"]}
    assert sorted(path.name for path in (output / "rejected").iterdir()) == \
        sorted(Path(entry["path"]).name for entry in manifest["rejected"])
    previous: list[str] | None = None
    for stage in manifest["stages"]:
        label = f"{stage['step']:02d}-{stage['stage']}"
        out_ids = _ids(output / "cache" / f"{label}-{stage['fingerprint'][:16]}")
        dropped = []
        if label in rejected_files:
            lines = (output / rejected_files[label]["path"]).read_text(encoding="utf-8").splitlines()
            dropped = [json.loads(line) for line in lines]
            assert len(dropped) == rejected_files[label]["records"]
            assert {(line["step"], line["stage"]) for line in dropped} == {(stage["step"], stage["stage"])}
        dropped_ids = [line["record"]["id"] for line in dropped]
        returned = out_ids + dropped_ids
        assert len(set(returned)) == len(returned), f"{label}: a record id appears twice"
        if previous is None:
            records_in, derived, consumed = len(returned), 0, 0
        else:
            inputs = set(previous)
            records_in = len(previous)
            derived = len(set(returned) - inputs)
            consumed = len(inputs - set(returned))
        assert records_in - consumed + derived == len(out_ids) + len(dropped_ids), label
        recounted = {"in": records_in, "out": len(out_ids), "dropped": len(dropped_ids),
                     "dropped_by_reason": dict(Counter(line["reason"] for line in dropped)),
                     "derived": derived, "consumed": consumed}
        assert {key: stage[key] for key in recounted} == recounted, label
        previous = out_ids
    assert manifest["records"] == len(previous)
    final = set(previous)
    for entry in manifest["outputs"]:
        for item in entry["files"]:
            path = output / item["path"]
            if path.suffix in (".jsonl", ".parquet"):
                ids = _output_ids(path)
                assert len(ids) == item["records"], item["path"]
                if None not in ids:  # unless the output leaves `id` out (`fields`)
                    assert len(set(ids)) == len(ids) and set(ids) <= final, item["path"]
    return manifest
