"""Fault injection for `augkit build`: kill -9 at named points, damaged caches, a full disk, refused
permissions. After each fault either the rerun's outputs are byte for byte those of an uninterrupted
build, or the faulty run failed with one line and exit status 2 and the rerun recovers. Records are
checked by reading the files (ids unique, none lost), not the manifest.

Kills use the engine's fault points (`AUGKIT_FAULT=kill@POINT[#N]`, see corpora/faults.py): the build
runs in a subprocess that SIGKILLs itself at that exact point."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from corpora_recount import recount

from augment.cli import main
from corpora.builder.build import build
from corpora.recipe import load_recipe

pytestmark = pytest.mark.slow

RECIPE = """
name: faults
seed: 11
shard_size: 9
sources:
  - {name: mt, format: txt, path: mt.txt, lang: mt}
  - {name: docs, format: jsonl, path: docs.jsonl, doc_field: doc, lang: mt}
stages:
  - {stage: normalize}
  - {stage: filter_length, min_chars: 12}
  - {stage: dedup_exact}
  - {stage: split, fractions: {train: 0.6, dev: 0.2, test: 0.2}}
  - {stage: format_cpt, apply_to: {source: docs}}
outputs:
  - {format: jsonl, path: data, split_field: split}
  - {format: parquet, path: pq}
  - {format: text, path: cpt, split_field: split, apply_to: {source: docs}}
"""
TEMPORARY = re.compile(r"\..+\.(augkit-tmp-\d+-[0-9a-f]{8}|tmp-\d+)")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The recipe, its data, and the outputs of an uninterrupted build (`reference`)."""
    folder = tmp_path_factory.mktemp("faults")
    rng = random.Random(5)
    words = "il kelb ġera fid dar tal omm u missier qalbi kbira sabiħa ħafna dejjem".split()
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 7))) for _ in range(90)]
    (folder / "mt.txt").write_text("\n".join(lines + lines[:10]) + "\n", encoding="utf-8")
    rows = [{"doc": f"d{n % 9}", "text": " ".join(rng.choice(words) for _ in range(rng.randint(2, 8)))}
            for n in range(60)]
    (folder / "docs.jsonl").write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                                       encoding="utf-8")
    (folder / "r.yaml").write_text(RECIPE, encoding="utf-8")
    build(load_recipe(folder / "r.yaml"), folder / "reference", log=lambda line: None)
    return folder


def published(output: Path) -> dict[str, bytes]:
    """What users read: every file but the cache, the lock and a publication in progress."""
    return {str(path.relative_to(output)): path.read_bytes() for path in sorted(output.rglob("*"))
            if path.is_file() and path.relative_to(output).parts[0] not in ("cache", ".lock", ".augkit-publish")}


def record_ids(output: Path) -> list[str]:
    return [json.loads(line)["id"] for path in sorted((output / "data").glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def assert_recovered(output: Path, reference: Path) -> None:
    assert published(output) == published(reference)
    ids = record_ids(output)
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(record_ids(reference))
    leftovers = [str(path) for path in output.rglob("*") if TEMPORARY.fullmatch(path.name)]
    assert leftovers == [] and not (output / ".augkit-publish").exists()
    recount(output)


def run_killed(corpus: Path, output: Path, fault: str, *args: str) -> subprocess.CompletedProcess:
    """`augkit build` in its own process group with AUGKIT_FAULT set; leftover workers are killed."""
    command = [sys.executable, "-m", "augment.cli", "build", str(corpus / "r.yaml"), "--output", str(output), *args]
    process = subprocess.Popen(command, env={**os.environ, "AUGKIT_FAULT": fault}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=120)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def error_lines(stderr: str) -> list[str]:
    """stderr without the step reports and progress lines (they start with two spaces)."""
    return [line for line in stderr.splitlines() if not line.startswith("  ")]


def rerun(corpus: Path, output: Path, capsys, *args: str) -> str:
    capsys.readouterr()
    assert main(["build", str(corpus / "r.yaml"), "--output", str(output), *args]) == 0
    error = capsys.readouterr().err
    assert "Traceback" not in error
    return error


@pytest.mark.parametrize("fault, args, resume", [
    ("kill@shard-written/00-read/00002", (), True),                     # while reading the sources
    ("kill@shard-written/02-filter_length/00004", (), True),            # in the middle of a stage
    ("kill@shard-written/02-filter_length/00004", (), False),           # ... and rerun without --resume
    ("kill@temporary-written/01-normalize", (), True),                  # a shard written, not yet renamed
    ("kill@shard-written/03-dedup_exact/00001", (), True),              # inside a global stage
    ("kill@shard-written/02-filter_length#3", ("--num-proc", "2"), True),  # a worker process dies
    ("kill@temporary-written/.data", (), True),                         # writing an output file
    ("kill@publish-staged", (), True),                                  # outputs written, not committed
    ("kill@publish-moved/pq", (), True),                                # committed, half moved into place
])
def test_a_killed_build_reruns_to_the_same_bytes(corpus, tmp_path, capsys, fault, args, resume):
    output = tmp_path / "out"
    result = run_killed(corpus, output, fault, *args)
    if "--num-proc" in args:  # the worker died, its parent reports it
        assert result.returncode == 2 and "Traceback" not in result.stderr
        [error] = error_lines(result.stderr)
        assert error.startswith("augkit build: error: a worker process died while running 01-normalize..")
    else:
        assert result.returncode == -signal.SIGKILL, result.stderr
    if fault.startswith("kill@publish-moved"):
        assert not (output / "manifest.json").exists()  # the folder says it is incomplete
        assert (output / ".augkit-publish" / "PUBLISH.json").exists()
    log = rerun(corpus, output, capsys, *args, *(["--resume"] if resume else []))
    assert ("finishing the publication of an interrupted build" in log) == fault.startswith("kill@publish-moved")
    assert_recovered(output, corpus / "reference")


def test_an_output_folder_holds_the_old_build_or_the_new_one(corpus, tmp_path, capsys):
    """A build of another recipe into a built folder, killed before and after its commit point."""
    old = tmp_path / "old"
    shutil.copytree(corpus / "reference", old)
    other = tmp_path / "other.yaml"
    other.write_text(RECIPE.replace("name: faults", "name: other").replace("min_chars: 12", "min_chars: 20")
                     .replace("  - {format: parquet, path: pq}\n", "  - {format: jsonl, path: all}\n")
                     .replace("mt.txt", str(corpus / "mt.txt")).replace("docs.jsonl", str(corpus / "docs.jsonl")))
    build(load_recipe(other), tmp_path / "new", log=lambda line: None)

    def killed(fault):
        command = [sys.executable, "-m", "augment.cli", "build", str(other), "--output", str(old)]
        result = subprocess.run(command, env={**os.environ, "AUGKIT_FAULT": fault}, capture_output=True, text=True)
        assert result.returncode == -signal.SIGKILL, result.stderr

    killed("kill@publish-staged")
    assert published(old) == published(corpus / "reference")  # still the old build, whole
    killed("kill@publish-moved/data")
    assert not (old / "manifest.json").exists() and (old / ".augkit-publish" / "PUBLISH.json").exists()
    assert main(["build", str(other), "--output", str(old)]) == 0
    assert published(old) == published(tmp_path / "new")  # the new build, whole; `pq` is gone
    assert not (old / "pq").exists()


def _rows(path: Path, keep) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    pq.write_table(keep(table), path)


def _alter_text(table):
    import pyarrow as pa

    texts = table.column("text").to_pylist()
    texts[0] = texts[0] + " x"
    return table.set_column(table.column_names.index("text"), "text", pa.array(texts, pa.string()))


DAMAGE = {
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "shortened": lambda path: _rows(path, lambda table: table.slice(0, table.num_rows // 2)),
    "altered": lambda path: _rows(path, _alter_text),
    "zero-byte": lambda path: path.write_bytes(b""),
    "deleted": lambda path: path.unlink(),
}


@pytest.mark.parametrize("step", ["02-filter_length", "03-dedup_exact"])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_cache_shard_is_reported_in_one_line_and_recomputed(corpus, tmp_path, capsys, step, damage):
    output = tmp_path / "out"
    shutil.copytree(corpus / "reference", output)
    folder = next((output / "cache").glob(f"{step}-*"))
    DAMAGE[damage](folder / "shard-00001.parquet")
    log = rerun(corpus, output, capsys)
    damaged = [line for line in log.splitlines() if line.startswith("cache step")]
    assert len(damaged) == 1 and damaged[0].startswith(f"cache step {step} shard 1 is damaged (shard-00001.parquet ")
    assert damaged[0].endswith("): recomputing")
    assert_recovered(output, corpus / "reference")


@pytest.mark.parametrize("target, content, message", [
    ("02-filter_length/DONE.json", "", "cache step 02-filter_length: DONE.json is damaged: recomputing"),
    ("03-dedup_exact/DONE.json", "{", "cache step 03-dedup_exact: DONE.json is damaged: recomputing"),
    ("02-filter_length/shard-00003.json", "", "cache step 02-filter_length shard 3 is damaged (shard-00003.json is "
                                              "missing or unreadable): recomputing"),
    ("01-normalize/shard-00002.json", '{"in": 9}', "cache step 01-normalize shard 2 is damaged (shard-00002.json is "
                                                   "incomplete): recomputing"),
    ("02-filter_length/shard-00000.rejected.jsonl", "{}\n", "cache step 02-filter_length shard 0 is damaged "
                                                            "(shard-00000.rejected.jsonl has "),
])
def test_damaged_counters_and_done_files_are_reported_and_recomputed(corpus, tmp_path, capsys, target, content,
                                                                     message):
    output = tmp_path / "out"
    shutil.copytree(corpus / "reference", output)
    step, name = target.split("/")
    (next((output / "cache").glob(f"{step}-*")) / name).write_text(content)
    log = rerun(corpus, output, capsys)
    [damaged] = [line for line in log.splitlines() if line.startswith("cache step")]
    assert damaged.startswith(message)
    assert_recovered(output, corpus / "reference")


def test_a_zero_byte_shard_in_an_interrupted_step_is_not_trusted_on_resume(corpus, tmp_path, capsys):
    output = tmp_path / "out"
    shutil.copytree(corpus / "reference", output)
    folder = next((output / "cache").glob("02-filter_length-*"))
    (folder / "DONE.json").unlink()  # as a kill leaves the step
    (folder / "shard-00005.parquet").write_bytes(b"")
    log = rerun(corpus, output, capsys, "--resume")
    assert "cache step 02-filter_length shard 5 is damaged (shard-00005.parquet has 0 bytes" in log
    assert_recovered(output, corpus / "reference")


@pytest.mark.parametrize("fault, args, problem", [
    ("enospc@temporary-written/02-filter_length", ("--num-proc", "2"), r"shard-\d{5}\.parquet: cannot write: "
                                                                        "No space left on device"),
    ("enospc@temporary-written/.augkit-publish", (), "manifest.json: cannot write: No space left on device"),
    ("eacces@temporary-written/00-read", (), r"shard-00000\.parquet: cannot write: Permission denied"),
])
def test_a_full_disk_or_a_refused_write_is_one_line_and_a_rerun_recovers(corpus, tmp_path, capsys, fault, args,
                                                                         problem):
    output = tmp_path / "out"
    result = run_killed(corpus, output, fault, *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    [error] = error_lines(result.stderr)
    assert re.match(rf"augkit build: error: {re.escape(str(output))}/.*{problem}$", error)
    rerun(corpus, output, capsys, "--resume")
    assert_recovered(output, corpus / "reference")


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--mount", "--map-root-user", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="cannot mount a tmpfs here (needs unshare and mount rights)")
def test_a_really_full_disk_fails_in_one_line_and_a_rerun_on_more_space_recovers(corpus, tmp_path):
    """A small tmpfs (in a private mount namespace) as the output folder: the build fills it."""
    mount, copy = tmp_path / "disk", tmp_path / "copy"
    mount.mkdir()
    build_command = f"{sys.executable} -m augment.cli build {corpus / 'r.yaml'} --output {mount}/out"
    script = (f"mount -t tmpfs -o size=256k tmpfs {mount} && {{ {build_command} 2> {tmp_path}/full.err; "
              f"echo $? > {tmp_path}/full.rc; mount -o remount,size=8m {mount} && {build_command} --resume "
              f"2> {tmp_path}/rerun.err; echo $? > {tmp_path}/rerun.rc; cp -a {mount}/out {copy}; }}")
    subprocess.run(["unshare", "--mount", "--map-root-user", "sh", "-c", script], check=True, timeout=300)
    stderr = (tmp_path / "full.err").read_text()
    assert (tmp_path / "full.rc").read_text().strip() == "2" and "Traceback" not in stderr, stderr
    [error] = error_lines(stderr)
    assert error.startswith(f"augkit build: error: {mount}/out/") and error.endswith("No space left on device")
    assert (tmp_path / "rerun.rc").read_text().strip() == "0", (tmp_path / "rerun.err").read_text()
    assert_recovered(copy, corpus / "reference")
