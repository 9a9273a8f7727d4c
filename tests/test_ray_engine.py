"""The Ray executor gives the local executor's outputs, manifest and rejected records, and survives dead workers."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
import ray_fixture_stages  # noqa: F401  (registers the crashing stages)
from corpora_recount import recount

from augment.errors import AugkitError
from corpora.builder.build import Build
from corpora.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance (2 CPUs) for the session; its workers can import the fixture stages."""
    ray = pytest.importorskip("ray")
    import logging

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(TESTS)}})
    yield ray
    ray.shutdown()


def build(recipe: Path, output: Path, engine: str) -> dict:
    if engine == "ray":
        from corpora.executors.ray import RayExecutor

        return Build(load_recipe(recipe), output, RayExecutor(), log=lambda line: None).run()
    return Build(load_recipe(recipe), output, log=lambda line: None).run()


def canonical(output: Path, manifest: dict) -> dict:
    """Every output file's records and every rejected file's records, sorted by record id."""
    files = {}
    for entry in manifest["outputs"]:
        for item in entry["files"]:
            path = output / item["path"]
            if path.suffix == ".jsonl":
                records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
                files[item["path"]] = sorted(records, key=lambda record: record["id"])
            else:
                files[item["path"]] = path.read_bytes()
    for entry in manifest["rejected"]:
        lines = [json.loads(line) for line in (output / entry["path"]).read_text(encoding="utf-8").splitlines()]
        files[entry["path"]] = sorted(lines, key=lambda line: json.dumps(line, sort_keys=True))
    return files


def assert_same_build(local: Path, local_manifest: dict, distributed: Path, ray_manifest: dict) -> None:
    assert ray_manifest["stages"] == local_manifest["stages"]
    assert recount(distributed) == ray_manifest and recount(local) == local_manifest
    assert ray_manifest["rejected"] == local_manifest["rejected"]
    assert canonical(distributed, ray_manifest) == canonical(local, local_manifest)
    # Stronger than the canonical sort: the shared writers give the same bytes.
    assert ray_manifest["outputs"] == local_manifest["outputs"]


def test_demo_recipe_gives_the_local_outputs(ray_local, tmp_path):
    recipe = ROOT / "corpora" / "recipes" / "demo.yaml"
    local_manifest = build(recipe, tmp_path / "local", "local")
    ray_manifest = build(recipe, tmp_path / "ray", "ray")
    assert_same_build(tmp_path / "local", local_manifest, tmp_path / "ray", ray_manifest)
    assert {stage["stage"] for stage in ray_manifest["stages"]} >= {"dedup_exact", "mix", "format_cpt"}


def test_translation_recipe_survives_killed_workers(ray_local, tiny_marian, tmp_path, monkeypatch):
    monkeypatch.setenv("AUGKIT_CACHE", str(tmp_path / "augkit-cache"))
    lines = (ROOT / "corpora" / "samples" / "ar_sample.txt").read_text(encoding="utf-8").splitlines()[:14]
    (tmp_path / "ar.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    task_marker, actor_marker = tmp_path / "task-died", tmp_path / "actor-died"
    recipe = tmp_path / "translate.yaml"
    recipe.write_text(f"""
name: tiny-translation
seed: 3
shard_size: 4
sources:
  - {{name: arabic, format: txt, path: {tmp_path / 'ar.txt'}, lang: ar}}
stages:
  - {{stage: normalize}}
  - {{stage: fixture_crash_once, marker: {task_marker}, at_id: "arabic:6"}}
  - {{stage: fixture_translate_crash_once, marker: {actor_marker}, at_id: "arabic:10", model: {tiny_marian},
     src: ar, tgt: mt, language_check: none, min_ratio: 0.0, max_ratio: 1000.0, max_repeats: 1000, beam_size: 1}}
  - {{stage: dedup_exact}}
  - {{stage: split, fractions: {{train: 0.5, test: 0.5}}}}
outputs:
  - {{format: jsonl, path: data, split_field: split}}
""", encoding="utf-8")
    task_marker.touch()  # the local run must not kill the test process
    actor_marker.touch()
    local_manifest = build(recipe, tmp_path / "local", "local")
    task_marker.unlink()
    actor_marker.unlink()

    ray_manifest = build(recipe, tmp_path / "ray", "ray")

    assert task_marker.exists() and actor_marker.exists()  # a task's worker and an actor did die
    assert_same_build(tmp_path / "local", local_manifest, tmp_path / "ray", ray_manifest)
    translated = next(stage for stage in ray_manifest["stages"] if stage["stage"] == "fixture_translate_crash_once")
    assert translated["derived"] == len(lines)
    # The actors' translation cache lives in the output, so a restarted job answers from it.
    cache = tmp_path / "ray" / "cache" / "augkit" / "translations.sqlite"
    with sqlite3.connect(cache) as connection:
        assert connection.execute("SELECT COUNT(*) FROM translations").fetchone()[0] >= len(set(lines))


def test_near_duplicates_grouped_by_lsh_buckets_match_the_local_engine(ray_local, tmp_path):
    lines = (ROOT / "corpora" / "samples" / "mt_sample.txt").read_text(encoding="utf-8").splitlines()[:20]
    # Every fourth line comes back with one word changed or a full stop lost: near-duplicates.
    variants = [line.replace(" ", "  x ", 1) if index % 8 else line.rstrip(".") for index, line in enumerate(lines[::4])]
    (tmp_path / "mt.txt").write_text("\n".join(lines + variants) + "\n", encoding="utf-8")
    recipe = tmp_path / "near.yaml"
    recipe.write_text(f"""
name: near
seed: 5
shard_size: 6
sources:
  - {{name: maltese, format: txt, path: {tmp_path / 'mt.txt'}, lang: mt}}
stages:
  - {{stage: normalize}}
  - {{stage: dedup_near, threshold: 0.7, ngram: 3}}
outputs:
  - {{format: jsonl, path: data}}
""", encoding="utf-8")
    local_manifest = build(recipe, tmp_path / "local", "local")
    ray_manifest = build(recipe, tmp_path / "ray", "ray")
    assert_same_build(tmp_path / "local", local_manifest, tmp_path / "ray", ray_manifest)
    assert ray_manifest["stages"][2]["dropped_by_reason"] == {"near_duplicate": len(variants)}


def test_a_broken_stage_fails_with_the_local_engines_error(ray_local, tmp_path):
    import corpora_fixture_stages  # noqa: F401  (fixture_lose_one)

    (tmp_path / "x.txt").write_text("a b\nc d\ne f\n", encoding="utf-8")
    recipe = tmp_path / "lose.yaml"
    recipe.write_text(f"""
name: lose
shard_size: 2
sources: [{{name: s, format: txt, path: {tmp_path / 'x.txt'}, lang: mt}}]
stages: [{{stage: fixture_lose_one}}]
outputs: [{{format: jsonl, path: data}}]
""", encoding="utf-8")
    with pytest.raises(AugkitError, match=r"stage 01-fixture_lose_one \(shard \d\): 1 record\(s\) neither kept"):
        build(recipe, tmp_path / "ray", "ray")


def test_missing_ray_names_the_extra(monkeypatch):
    from corpora.executors.ray import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(AugkitError, match=r"pip install 'augkit\[ray\]'"):
        import_ray()


def test_address_needs_the_ray_engine(capsys):
    from augment.cli import main

    code = main(["build", str(ROOT / "corpora" / "recipes" / "demo.yaml"), "--address", "auto", "--dry-run"])
    assert code == 2 and "--address needs --engine ray" in capsys.readouterr().err


def test_a_damaged_cache_and_a_failed_publish_recover_under_ray_as_locally(ray_local, tmp_path, monkeypatch):
    lines = (ROOT / "corpora" / "samples" / "mt_sample.txt").read_text(encoding="utf-8").splitlines()[:30]
    (tmp_path / "mt.txt").write_text("\n".join(lines + lines[:5]) + "\n", encoding="utf-8")
    recipe = tmp_path / "cache.yaml"
    recipe.write_text(f"""
name: cache
seed: 5
shard_size: 6
sources:
  - {{name: maltese, format: txt, path: {tmp_path / 'mt.txt'}, lang: mt}}
stages:
  - {{stage: normalize}}
  - {{stage: filter_length, min_words: 4}}
  - {{stage: dedup_exact}}
  - {{stage: split, fractions: {{train: 0.5, test: 0.5}}, key: id}}
outputs:
  - {{format: jsonl, path: data, split_field: split}}
""", encoding="utf-8")
    local_manifest = build(recipe, tmp_path / "local", "local")
    from corpora.executors.ray import RayExecutor

    monkeypatch.setenv("AUGKIT_FAULT", "enospc@publish-staged")
    with pytest.raises(AugkitError, match=r"ray: No space left on device"):
        Build(load_recipe(recipe), tmp_path / "ray", RayExecutor(), log=lambda line: None).run()
    monkeypatch.delenv("AUGKIT_FAULT")
    assert not (tmp_path / "ray" / "manifest.json").exists()
    cache = tmp_path / "ray" / "cache"
    shard = next(cache.glob("02-filter_length-*")) / "shard-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:-10])
    (next(cache.glob("03-dedup_exact-*")) / "DONE.json").write_text("")
    logged: list[str] = []
    ray_manifest = Build(load_recipe(recipe), tmp_path / "ray", RayExecutor(), log=logged.append).run()
    damaged = [line for line in logged if line.startswith("cache step")]
    assert damaged[0].startswith("cache step 02-filter_length shard 1 is damaged (shard-00001.parquet has ")
    assert damaged[1:] == ["cache step 03-dedup_exact: DONE.json is damaged: recomputing"]
    assert_same_build(tmp_path / "local", local_manifest, tmp_path / "ray", ray_manifest)
    for name in ("manifest.json", "README.md", "data/train-00000.jsonl", "data/test-00000.jsonl"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
