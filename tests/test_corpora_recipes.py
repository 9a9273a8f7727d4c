"""The shipped recipes: the demo builds from a fresh clone in seconds; the real ones validate and run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from corpora_recount import recount

from corpora.builder.build import Build, build
from corpora.recipe import load_recipe

RECIPES = Path(__file__).resolve().parents[1] / "corpora" / "recipes"


def quiet(line: str) -> None:
    pass


def limited(recipe, limit: int):
    return dataclasses.replace(recipe, sources=tuple(dataclasses.replace(s, limit=limit) for s in recipe.sources))


def test_demo_recipe_builds_balanced_and_deterministic(tmp_path):
    recipe = load_recipe(RECIPES / "demo.yaml")
    manifest = build(recipe, tmp_path / "a", log=quiet)
    stages = {stage["stage"]: stage for stage in manifest["stages"]}
    assert recount(tmp_path / "a") == manifest
    assert manifest["stages"][0]["in"] == sum(
        len((RECIPES.parent / "samples" / name).read_text(encoding="utf-8").splitlines())
        for name in ("ar_sample.txt", "mt_sample.txt"))
    assert stages["dedup_exact"]["dropped_by_reason"] == {"duplicate": 1}  # the repeated Maltese line
    assert stages["transliterate"]["derived"] == 2 * stages["transliterate"]["consumed"] > 0
    splits = {entry["split"] for output in manifest["outputs"] for entry in output["files"]}
    assert splits == {"train", "dev", "test"}
    records = [json.loads(line) for line in (tmp_path / "a/data/train-00000.jsonl").read_text().splitlines()]
    assert {record["lang"] for record in records} == {"mlt_Latn"}
    assert (tmp_path / "a/README.md").exists() and (tmp_path / "a/plots/length_chars.png").exists()
    build(recipe, tmp_path / "b", num_proc=2, log=quiet)
    for name in ("manifest.json", "data/train-00000.jsonl", "cpt/train.txt", "README.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.mark.shared_data
# MorphTx costs ~1 ms per character of Arabic, and Alf Layla's records are paragraphs: a small slice.
@pytest.mark.parametrize("name, limit", [("maltese-from-arabic", 5), ("tibetan-cpt-sft", 40)])
def test_real_recipes_validate_and_run_on_a_slice(shared_data, tmp_path, name, limit):
    recipe = load_recipe(RECIPES / f"{name}.yaml")
    plan = Build(recipe, tmp_path / "out").dry_run()
    assert plan.count("to run") == len(recipe.steps) + 1
    manifest = build(limited(recipe, limit), tmp_path / "out", log=quiet)
    assert recount(tmp_path / "out") == manifest
    # Every source is read (each has more than `limit` records) and every step ran.
    assert manifest["stages"][0]["in"] == limit * len(recipe.sources)
    assert [stage["stage"] for stage in manifest["stages"][1:]] == [step.stage.name for step in recipe.steps]
    assert {item["source"] for item in manifest["inputs"]} == {source.name for source in recipe.sources}
    assert all(pair["shared_texts"] == 0 for pair in manifest["split_overlap"]["pairs"])
    splits = {item["split"] for output in manifest["outputs"] for item in output["files"]}
    assert "train" in splits and manifest["records"] > 0
    assert Build(limited(recipe, limit), tmp_path / "out").dry_run().count("cached") == len(recipe.steps) + 1
