"""The local engine and recipes: accounts, rejected records, caching, resume after a kill, determinism."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import corpora_fixture_stages  # noqa: F401  (registers the fixture stages)
import pytest
from corpora_recount import recount

from augment.cli import main
from augment.errors import AugkitError
from corpora.builder.build import Build, build
from corpora.recipe import load_recipe

TESTS = Path(__file__).resolve().parent


def write_recipe(folder: Path, stages: str, lines: int = 40, shard_size: int = 5, extra: str = "",
                 outputs: str = "  - {format: jsonl, path: data}\n  - {format: parquet, path: pq}\n") -> Path:
    (folder / "mt.txt").write_text("".join(f"kelma numru {n} {'x' * (n % 4)}\n" for n in range(1, lines + 1)),
                                   encoding="utf-8")
    recipe = folder / "r.yaml"
    recipe.write_text(f"name: t\nseed: 7\nshard_size: {shard_size}\n{extra}sources:\n"
                      f"  - {{name: mt, format: txt, path: mt.txt, lang: mt}}\nstages:\n{stages}outputs:\n{outputs}",
                      encoding="utf-8")
    return recipe


def outputs_of(folder: Path) -> dict[str, bytes]:
    """Every file a user reads (not the cache), by relative path."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and "cache" not in path.relative_to(folder).parts}


def quiet(line: str) -> None:
    pass


def test_manifest_balances_and_every_drop_is_in_rejected(tmp_path):
    recipe = write_recipe(tmp_path, "  - {stage: fixture_drop_every_third}\n  - {stage: fixture_words}\n"
                                    "  - {stage: fixture_count_all}\n")
    manifest = build(load_recipe(recipe), tmp_path / "out", log=quiet)
    stages = {stage["stage"]: stage for stage in manifest["stages"]}
    assert stages["read"]["in"] == 40 and stages["read"]["out"] == 40
    third = stages["fixture_drop_every_third"]
    assert (third["in"], third["out"], third["dropped_by_reason"]) == (40, 27, {"third": 13})
    words = stages["fixture_words"]
    word_count = sum(3 + bool(n % 4) for n in range(1, 41) if n % 3)
    assert (words["in"], words["consumed"], words["derived"], words["out"]) == (27, 27, word_count, word_count)
    assert recount(tmp_path / "out") == manifest
    rejected = [json.loads(line) for line in
                (tmp_path / "out/rejected/01-fixture_drop_every_third.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rejected) == 13 and rejected[0]["reason"] == "third" and rejected[0]["record"]["id"] == "mt:3"
    assert rejected[0]["stage"] == "fixture_drop_every_third" and rejected[0]["step"] == 1
    records = [json.loads(line) for line in (tmp_path / "out/data/all-00000.jsonl").read_text().splitlines()]
    assert len(records) == word_count
    assert records[0]["meta"] == {"line": 1, "parents": ["mt:1"], "seen": word_count}
    assert manifest["outputs"][0]["files"][0]["records"] == word_count
    assert manifest["inputs"][0]["files"][0]["sha256"]
    assert manifest["resolved_config"]["stages"][0]["stage"] == "fixture_drop_every_third"
    assert (tmp_path / "out/recipe.yaml").read_text() == recipe.read_text()


def test_a_stage_that_loses_records_fails_the_build(tmp_path):
    recipe = write_recipe(tmp_path, "  - {stage: fixture_lose_one}\n")
    with pytest.raises(AugkitError, match=r"01-fixture_lose_one \(shard 0\): 1 record\(s\) neither kept, dropped"):
        build(load_recipe(recipe), tmp_path / "out", log=quiet)


def test_a_stage_returning_a_malformed_record_fails_the_build(tmp_path):
    recipe = write_recipe(tmp_path, "  - {stage: fixture_misalign_tags}\n")
    with pytest.raises(AugkitError, match=r"01-fixture_misalign_tags \(shard 0\): record 'mt:1' has 1 tokens but 2 upos"):
        build(load_recipe(recipe), tmp_path / "out", log=quiet)


def test_apply_to_passes_other_records_through(tmp_path):
    recipe = write_recipe(tmp_path, "  - {stage: fixture_drop_every_third, apply_to: {source: other}}\n"
                                    "  - {stage: fixture_count_all, apply_to: {lang: mt}}\n")
    manifest = build(load_recipe(recipe), tmp_path / "out", log=quiet)
    assert [(stage["out"], stage["passed_through"]) for stage in manifest["stages"][1:]] == [(40, 40), (40, 0)]


def test_a_streaming_global_stage_reads_the_shards_twice_and_matches_process(tmp_path):
    streaming = load_recipe(write_recipe(tmp_path, "  - {stage: fixture_count_all_streaming, apply_to: {lang: mt}}\n"))
    collected = load_recipe(write_recipe(tmp_path, "  - {stage: fixture_count_all, apply_to: {lang: mt}}\n"))
    assert streaming.steps[0].stage.name == "fixture_count_all_streaming"
    build(streaming, tmp_path / "streaming", log=quiet)
    build(collected, tmp_path / "collected", log=quiet)
    assert (tmp_path / "streaming/data/all-00000.jsonl").read_bytes() == \
        (tmp_path / "collected/data/all-00000.jsonl").read_bytes()


def test_completed_stages_are_cached_and_a_changed_stage_recomputes_downstream(tmp_path):
    recipe = write_recipe(tmp_path, "  - {stage: fixture_drop_every_third}\n  - {stage: fixture_count_all}\n")
    lines: list[str] = []
    build(load_recipe(recipe), tmp_path / "out", log=lines.append)
    lines.clear()
    build(load_recipe(recipe), tmp_path / "out", log=lines.append)
    assert sum("[cached]" in line for line in lines) == 3
    (tmp_path / "mt.txt").write_text("eħfef\n", encoding="utf-8")
    lines.clear()
    manifest = build(load_recipe(recipe), tmp_path / "out", log=lines.append)
    assert not any("[cached]" in line for line in lines) and manifest["records"] == 1


def test_same_recipe_and_seed_give_the_same_bytes_with_any_num_proc(tmp_path):
    stages = ("  - {stage: normalize}\n  - {stage: filter_length, min_chars: 14}\n  - {stage: dedup_exact}\n"
              "  - {stage: split, fractions: {train: 0.8, test: 0.2}, key: id}\n")
    outputs = "  - {format: jsonl, path: data, split_field: split}\n  - {format: parquet, path: pq}\n"
    recipe = write_recipe(tmp_path, stages, outputs=outputs)
    build(load_recipe(recipe), tmp_path / "a", log=quiet)
    build(load_recipe(recipe), tmp_path / "b", num_proc=2, log=quiet)
    first, second = outputs_of(tmp_path / "a"), outputs_of(tmp_path / "b")
    assert first == second
    assert {"data/train-00000.jsonl", "data/test-00000.jsonl", "manifest.json", "README.md"} <= set(first)


RUNNER = """
import sys
sys.path.insert(0, {tests!r})
import corpora_fixture_stages
from corpora.builder.build import build
from corpora.recipe import load_recipe
build(load_recipe(sys.argv[1]), sys.argv[2], num_proc=int(sys.argv[3]), resume=True, log=lambda line: None)
"""


@pytest.mark.parametrize("num_proc", [1, 2])
def test_a_killed_build_resumes_with_nothing_lost_or_duplicated(tmp_path, num_proc):
    log = tmp_path / "slow.log"
    recipe = write_recipe(tmp_path, f"  - {{stage: fixture_drop_every_third}}\n"
                                    f"  - {{stage: fixture_slow, seconds: 0.15, log: {str(log)!r}}}\n"
                                    "  - {stage: fixture_count_all}\n", lines=60, shard_size=4)
    reference = tmp_path / "reference"
    build(load_recipe(recipe), reference, log=quiet)
    log.unlink()
    output = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-c", RUNNER.format(tests=str(TESTS)), str(recipe), str(output),
                                str(num_proc)], start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = list(output.glob("cache/02-fixture_slow-*/shard-*.json"))
        if len(done) >= 4:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    completed = len(list(output.glob("cache/02-fixture_slow-*/shard-*.json")))
    assert 4 <= completed < 15, "the build finished before it could be killed"
    before = len(log.read_text().splitlines())
    manifest = build(load_recipe(recipe), output, num_proc=num_proc, resume=True, log=quiet)
    after = len(log.read_text().splitlines())
    assert after - before == 15 - completed  # only the unfinished shards ran again
    assert outputs_of(output) == outputs_of(reference)
    assert manifest["records"] == 40 and recount(output) == manifest


def test_two_builds_into_one_folder_are_refused(tmp_path):
    import fcntl

    recipe = write_recipe(tmp_path, "")
    (tmp_path / "out").mkdir()
    with open(tmp_path / "out/.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(AugkitError, match="another augkit build is writing to this folder"):
            build(load_recipe(recipe), tmp_path / "out", log=quiet)
    assert build(load_recipe(recipe), tmp_path / "out", log=quiet)["records"] == 40


def test_without_resume_partial_work_is_recomputed(tmp_path):
    recipe = write_recipe(tmp_path, "  - {stage: fixture_drop_every_third}\n")
    build(load_recipe(recipe), tmp_path / "out", log=quiet)
    step_dir = next((tmp_path / "out/cache").glob("01-*"))
    (step_dir / "DONE.json").unlink()
    (step_dir / "shard-00001.json").unlink()
    (step_dir / "shard-00002.parquet").write_bytes(b"garbage")  # left over by a crash, not trusted
    manifest = build(load_recipe(recipe), tmp_path / "out", log=quiet)
    assert manifest["stages"][1]["out"] == 27


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    recipe = write_recipe(tmp_path, "  - {stage: fixture_drop_every_third}\n  - {stage: fixture_count_all}\n")
    assert main(["build", str(recipe), "--output", str(tmp_path / "out"), "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "01-fixture_drop_every_third" in plan and "global" in plan and "to run" in plan
    assert not (tmp_path / "out").exists()


def test_cli_build_prints_the_summary(tmp_path, capsys):
    recipe = write_recipe(tmp_path, "  - {stage: fixture_drop_every_third}\n")
    assert main(["build", str(recipe), "--output", str(tmp_path / "out"), "--num-proc", "2"]) == 0
    out = capsys.readouterr().out
    assert "t: 27 records" in out and "dropped      13 (third 13)" in out


@pytest.mark.parametrize("recipe_text, message", [
    ("name: t\nsources: []\n", "`sources` must be a non-empty list"),
    ("name: t\ncolour: red\n", r"unknown key\(s\) \['colour'\]"),
    ("sources:\n  - {name: a, format: txt, path: mt.txt, lang: mt, colour: 1}\n", r"sources\[0\]: unknown key"),
    ("sources:\n  - {name: a, format: txt, path: mt.txt, lang: mt}\nstages:\n  - {stage: normalize, colour: 1}\n"
     "outputs:\n  - {format: jsonl}\n", r"stages\[0\]: stage 'normalize' has no parameter\(s\) \['colour'\]"),
    ("sources:\n  - {name: a, format: txt, path: mt.txt, lang: mt}\nstages:\n  - {stage: nope}\n",
     "unknown stage 'nope'"),
    ("sources:\n  - {name: a, format: txt, path: mt.txt, lang: mt}\noutputs:\n  - {format: jsonl, split: x}\n",
     r"outputs\[0\]: unknown key\(s\) \['split'\]"),
    ("sources:\n  - {name: a, format: txt, path: '${NOPE}/x.txt', lang: mt}\n", r"\$\{NOPE\} is not a declared variable"),
    ("sources:\n  - {name: a, format: txt, path: missing.txt, lang: mt}\n", "no such file or folder"),
    ("sources: [a, b\n", "invalid YAML"),
])
def test_bad_recipes_name_the_file_and_the_problem(tmp_path, recipe_text, message):
    (tmp_path / "mt.txt").write_text("x\n", encoding="utf-8")
    path = tmp_path / "bad.yaml"
    path.write_text(recipe_text, encoding="utf-8")
    with pytest.raises(AugkitError, match=message) as error:
        load_recipe(path)
    assert str(path) in str(error.value)


def test_variables_and_shared_data_hint(tmp_path, monkeypatch):
    (tmp_path / "mt.txt").write_text("x\n", encoding="utf-8")
    path = tmp_path / "r.yaml"
    path.write_text("variables: {DATA: .}\nsources:\n  - {name: a, format: txt, path: '${DATA}/mt.txt', lang: mt}\n"
                    "outputs:\n  - {format: jsonl}\n", encoding="utf-8")
    assert load_recipe(path).sources[0].path == str(tmp_path / "mt.txt")
    monkeypatch.setenv("AUGKIT_SHARED", str(tmp_path / "nowhere"))
    path.write_text("sources:\n  - {name: a, format: txt, path: '${AUGKIT_SHARED}/data/x.txt', lang: mt}\n"
                    "outputs:\n  - {format: jsonl}\n", encoding="utf-8")
    with pytest.raises(AugkitError, match="the real corpora are expected in .*nowhere.*AUGKIT_SHARED"):
        load_recipe(path)


def test_bad_input_through_the_cli_is_one_line_and_exit_2(tmp_path, capsys):
    recipe = write_recipe(tmp_path, "")
    (tmp_path / "mt.txt").write_text("", encoding="utf-8")
    (tmp_path / "a.bo").write_text("ཀ\nཁ\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("ka\n", encoding="utf-8")
    recipe.write_text("sources:\n  - {name: p, format: bitext, paths: [a.bo, a.en], langs: [bo, en]}\n"
                      "outputs:\n  - {format: jsonl}\n", encoding="utf-8")
    assert main(["build", str(recipe), "--output", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "a.bo has 2 lines" in error and "a.en has 1" in error


def test_dry_run_of_a_build_reports_cached_stages(tmp_path):
    recipe = write_recipe(tmp_path, "  - {stage: fixture_drop_every_third}\n")
    build(load_recipe(recipe), tmp_path / "out", log=quiet)
    plan = Build(load_recipe(recipe), tmp_path / "out").dry_run()
    assert plan.count("cached") == 2


@pytest.mark.parametrize("path", [".", "./", "..", "../elsewhere", "/tmp/x", "data/../..", "cache", "rejected/x",
                                  "manifest.json", ".hidden", "a/.b"])
def test_an_output_path_that_is_not_a_folder_inside_the_build_is_refused(tmp_path, path):
    recipe = write_recipe(tmp_path, "", outputs=f"  - {{format: jsonl, path: {path!r}}}\n")
    with pytest.raises(AugkitError, match=r"r\.yaml: output .*(inside the output directory|choose another path)"):
        load_recipe(recipe)


def test_a_build_replaces_only_what_an_earlier_build_recorded(tmp_path):
    output = tmp_path / "out"
    (output / "data").mkdir(parents=True)
    (output / "data" / "mine.txt").write_text("my notes\n")
    (output / "notes.txt").write_text("keep me\n")
    (output / "manifest.json").write_text('{"outputs": [{"path": "data"}]}')  # not an augkit manifest
    recipe = write_recipe(tmp_path, "")
    with pytest.raises(AugkitError, match=r"out/data exists and no earlier build recorded it"):
        build(load_recipe(recipe), output, log=quiet)
    assert (output / "data" / "mine.txt").read_text() == "my notes\n"
    (output / "data" / "mine.txt").rename(tmp_path / "mine.txt")
    (output / "data").rmdir()
    (output / "manifest.json").unlink()
    (tmp_path / "elsewhere").mkdir()
    (output / "pq").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(AugkitError, match=r"output 'pq': .* is not inside the output folder"):
        build(load_recipe(recipe), output, log=quiet)
    (output / "pq").unlink()
    build(load_recipe(recipe), output, log=quiet)
    # A new recipe with other outputs: the old outputs go (the manifest recorded them), the rest stays.
    recipe = write_recipe(tmp_path, "", outputs="  - {format: text, path: txt/all}\n")
    manifest = build(load_recipe(recipe), output, log=quiet)
    assert sorted(path.name for path in output.iterdir()) == [
        ".lock", "README.md", "cache", "manifest.json", "notes.txt", "plots", "recipe.yaml", "rejected", "txt"]
    assert (output / "notes.txt").read_text() == "keep me\n" and manifest["outputs"][0]["path"] == "txt/all"


def test_every_file_a_build_writes_respects_the_umask(tmp_path):
    recipe = write_recipe(tmp_path, "  - {stage: fixture_drop_every_third}\n  - {stage: fixture_count_all}\n",
                          outputs="  - {format: jsonl, path: data}\n  - {format: save_to_disk, path: hf}\n")
    previous = os.umask(0o027)
    try:
        build(load_recipe(recipe), tmp_path / "out", num_proc=2, log=quiet)
    finally:
        os.umask(previous)
    modes = {str(path.relative_to(tmp_path / "out")): path.stat().st_mode & 0o777
             for path in (tmp_path / "out").rglob("*")}
    assert {mode for name, mode in modes.items() if (tmp_path / "out" / name).is_file()} == {0o640}
    assert {mode for name, mode in modes.items() if (tmp_path / "out" / name).is_dir()} == {0o750}
    assert any(name.startswith("cache/01-") for name in modes) and "plots/length_chars.png" in modes


def test_a_recipe_expands_only_declared_variables_so_secrets_stay_out(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_SECRET_TOKEN", "hunter2-secret")
    monkeypatch.setenv("SAMPLE_DIR", str(tmp_path))
    recipe = write_recipe(tmp_path, "")
    text = recipe.read_text()
    recipe.write_text(text.replace("name: t", 'name: "demo-${MY_SECRET_TOKEN}"'))
    with pytest.raises(AugkitError, match=r"r\.yaml: \$\{MY_SECRET_TOKEN\} is not a declared variable"):
        load_recipe(recipe)
    recipe.write_text(text.replace("path: mt.txt", "path: '${SAMPLE_DIR:-.}/mt.txt'"))
    with pytest.raises(AugkitError, match=r"\$\{SAMPLE_DIR:-.\} is not a declared variable"):
        load_recipe(recipe)
    # Declared: the environment may override it; `null` must come from the environment.
    recipe.write_text(text.replace("path: mt.txt", "path: '${SAMPLE_DIR}/mt.txt'")
                      .replace("sources:", "variables: {SAMPLE_DIR: nowhere, TAG: null}\nsources:")
                      .replace("name: t", "name: 't-${TAG:-plain}'"))
    loaded = load_recipe(recipe)
    assert loaded.sources[0].path == str(tmp_path / "mt.txt") and loaded.name == "t-plain"
    manifest = build(loaded, tmp_path / "out", log=quiet)
    for name in ("manifest.json", "README.md", "recipe.yaml"):
        assert "hunter2" not in (tmp_path / "out" / name).read_text(encoding="utf-8")
    assert "hunter2" not in json.dumps(manifest)
    recipe.write_text(text.replace("sources:", "variables: {TAG: null}\nsources:").replace("name: t", "name: '${TAG}'"))
    with pytest.raises(AugkitError, match=r"\$\{TAG\} is declared without a value: set the environment variable TAG"):
        load_recipe(recipe)


def test_texts_shared_between_splits_are_counted_in_the_manifest_and_the_card(tmp_path):
    lines = [f"sentenza numru {n % 12}" for n in range(40)]  # every text three or four times
    stages = "  - {stage: split, fractions: {train: 0.5, test: 0.5}, key: id, group_duplicates: %s}\n"
    outputs = "  - {format: jsonl, path: data, split_field: split}\n"
    recipe = write_recipe(tmp_path, stages % "false", outputs=outputs)
    (tmp_path / "mt.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    logged: list[str] = []
    manifest = build(load_recipe(recipe), tmp_path / "apart", log=logged.append)
    data = {split: {json.loads(line)["text"] for line in (tmp_path / f"apart/data/{split}-00000.jsonl").open()}
            for split in ("train", "test")}
    shared = len(data["train"] & data["test"])
    assert shared > 0
    assert manifest["split_overlap"] == {"measured_after": "01-split", "normalisation": manifest["split_overlap"]
                                         ["normalisation"], "pairs": [{"splits": ["test", "train"], "shared_texts": shared}]}
    assert any(line.startswith(f"warning: {shared} text(s) occur in both test and train") for line in logged)
    assert "**Warning:**" in (tmp_path / "apart/README.md").read_text(encoding="utf-8")
    recipe.write_text(recipe.read_text().replace("group_duplicates: false", "group_duplicates: true"))
    manifest = build(load_recipe(recipe), tmp_path / "together", log=quiet)
    assert manifest["split_overlap"]["pairs"][0]["shared_texts"] == 0
    assert recount(tmp_path / "together") == manifest


def test_stale_temporaries_of_killed_runs_are_removed_and_nothing_else(tmp_path):
    recipe = write_recipe(tmp_path, "  - {stage: fixture_drop_every_third}\n")
    output = tmp_path / "out"
    build(load_recipe(recipe), output, log=quiet)
    step = next((output / "cache").glob("01-*"))
    stale = [output / ".data.tmp-4242", output / ".manifest.json.augkit-tmp-7-0123abcd",
             step / ".shard-00001.parquet.tmp-99", step / ".shard-00002.json.augkit-tmp-5-deadbeef",
             output / ".augkit-publish"]
    kept = [output / ".notes.tmp-1", output / "data.tmp-1", step / ".x.tmp-1", output / ".pq.augkit-tmp-1"]
    for path in stale[:-1] + kept:
        path.write_text("left over\n")
    (stale[-1] / "data").mkdir(parents=True)  # an uncommitted staging folder (no PUBLISH.json)
    build(load_recipe(recipe), output, log=quiet)
    assert [path for path in stale if path.exists()] == []
    assert all(path.read_text() == "left over\n" for path in kept)


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path, capsys, monkeypatch):
    import corpora.progress

    monkeypatch.setattr(corpora.progress, "PROGRESS_SECONDS", 0.0)
    recipe = write_recipe(tmp_path, "  - {stage: fixture_drop_every_third}\n  - {stage: fixture_count_all}\n")
    build(load_recipe(recipe), tmp_path / "out", log=quiet)
    lines = capsys.readouterr().err.splitlines()
    progress = [line for line in lines if line.startswith("  01-fixture_drop_every_third: ")]
    assert progress[-1].startswith("  01-fixture_drop_every_third: 40 of 40 records (100%), ")
    assert "records/s, ETA 0:00:00" in progress[-1] and len(progress) == 8  # one line per shard
    assert any(line.startswith("  00-read: 40 records, ") for line in lines)
    assert any(line.startswith("  02-fixture_count_all (pass 1): 27 of 27 records (100%)") for line in lines)
