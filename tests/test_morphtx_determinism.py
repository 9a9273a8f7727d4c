"""MorphTx output is a function of the line alone: not of the lines transliterated before it in the
process, nor of the order of the lines, nor of the number of processes (issue 11, section 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from augment.analyzers.offline import OfflineAnalyzer

# In a fresh process لبعضهم is لِبَعَضَهُمْ (libegħedhom); qalsadi once took it as لبَعْضِهِمْ (li
# begħdihom) after لَعَنَهُمُ, whose stop-word reading لَ + عَن + هُم left "ل + هِمْ fits" in a memo
# keyed by the affixes alone (offline.py: UnreadMemo).
TRIGGER, FLIPPED = "لَعَنَهُمُ", "لبعضهم"

_RUN_LINES = """
import json, sys
from augment.transliterate import Transliterator
morphtx = Transliterator("morphtx", normalize="arabic")
print(json.dumps([morphtx.transliterate(line) for line in json.loads(sys.argv[1])], ensure_ascii=False))
"""


def fresh_process(lines: list[str], cache_dir) -> list[str]:
    """The lines' MorphTx outputs from a new Python process with an empty augkit cache."""
    result = subprocess.run([sys.executable, "-c", _RUN_LINES, json.dumps(lines)], capture_output=True, text=True,
                            check=True, env={**os.environ, "AUGKIT_CACHE": str(cache_dir)})
    return json.loads(result.stdout)


def test_an_analysis_does_not_depend_on_the_word_analysed_before():
    alone = OfflineAnalyzer().analyze([FLIPPED])
    after = OfflineAnalyzer()
    after.analyze([TRIGGER])
    assert after.analyze([FLIPPED]) == alone
    assert alone[0].diac == "لِبَعَضَهُمْ"


def test_minimal_reproduction_in_fresh_processes(tmp_path):
    assert fresh_process([FLIPPED], tmp_path / "a") == ["libegħedhom"]
    assert fresh_process([TRIGGER, FLIPPED], tmp_path / "b") == ["legħenhom", "libegħedhom"]


def real_lines(shared_data) -> list[str]:
    """Quran verses (the first holds لَعَنَهُمُ), the start of the Alf Layla paragraph that holds لبعضهم
    (alf_layla:149 in the maltese-from-arabic build) and PUD sentences."""
    from augment.report import read_texts

    quran = (shared_data / "arabic" / "quran-simple.txt").read_text(encoding="utf-8").splitlines()
    alf_layla = (shared_data / "arabic" / "alf_layla.txt").read_text(encoding="utf-8").splitlines()
    pud = read_texts(shared_data / "arabic" / "ar_pud-ud-test.conllu", 8)
    return [quran[94], *quran[:6], alf_layla[148][:400], *pud]


@pytest.mark.shared_data
def test_lines_in_any_order_in_fresh_and_warm_processes(shared_data, tmp_path):
    from augment.transliterate import Transliterator

    lines = real_lines(shared_data)
    assert TRIGGER in lines[0] and FLIPPED in lines[7]
    forward = dict(zip(lines, fresh_process(lines, tmp_path / "a"), strict=True))
    backward = dict(zip(lines[::-1], fresh_process(lines[::-1], tmp_path / "b"), strict=True))
    warm = Transliterator("morphtx", normalize="arabic", analysis_cache="none")  # no disk cache to hide behind
    quran = (shared_data / "arabic" / "quran-simple.txt").read_text(encoding="utf-8").splitlines()
    warm.transliterate_many(quran[100:140])  # other text first
    assert forward == backward == dict(zip(lines, warm.transliterate_many(lines), strict=True))
    assert "libegħedhom" in forward[lines[7]]


@pytest.mark.shared_data
def test_maltese_from_arabic_build_is_the_same_with_one_or_two_processes(shared_data, tmp_path, monkeypatch):
    """The shipped recipe (--limit 3) with the verse that flipped alf_layla:149/s0 first, small shards
    so that two workers share the work: one process without an analysis cache, two processes sharing
    a new one, byte for byte the same outputs."""
    import dataclasses

    from corpora.builder.build import build
    from corpora.recipe import load_recipe

    shared = tmp_path / "shared" / "data"
    (shared / "arabic").mkdir(parents=True)
    (shared / "maltese").mkdir()
    quran = (shared_data / "arabic" / "quran-simple.txt").read_text(encoding="utf-8").splitlines()
    (shared / "arabic" / "quran-simple.txt").write_text("\n".join([quran[94], *quran[1:3]]) + "\n", encoding="utf-8")
    alf_layla = (shared_data / "arabic" / "alf_layla.txt").read_text(encoding="utf-8").splitlines()
    (shared / "arabic" / "alf_layla.txt").write_text(alf_layla[148][:400] + "\n", encoding="utf-8")
    for name in ("arabic/ar_pud-ud-test.conllu", "maltese/mt_mudt-ud-train.conllu"):
        (shared / name).symlink_to(shared_data / name)
    monkeypatch.setenv("AUGKIT_SHARED", str(shared.parent))
    recipe = load_recipe(Path(__file__).resolve().parents[1] / "corpora" / "recipes" / "maltese-from-arabic.yaml")

    def variant(analysis_cache: str):
        steps = tuple(dataclasses.replace(step, stage=dataclasses.replace(step.stage, analysis_cache=analysis_cache))
                      if step.stage.name == "transliterate" else step for step in recipe.steps)
        sources = tuple(dataclasses.replace(source, limit=3) for source in recipe.sources)
        return dataclasses.replace(recipe, steps=steps, sources=sources, shard_size=2)

    build(variant("none"), tmp_path / "one", num_proc=1, log=lambda line: None)
    build(variant(str(tmp_path / "analyses.sqlite")), tmp_path / "two", num_proc=2, log=lambda line: None)
    files = sorted(path.relative_to(tmp_path / "one") for path in (tmp_path / "one").rglob("*")
                   if path.is_file() and "cache" not in path.parts)
    assert any(path.suffix == ".parquet" for path in files)
    for path in files:
        assert (tmp_path / "one" / path).read_bytes() == (tmp_path / "two" / path).read_bytes(), path
    texts = "\n".join(path.read_text(encoding="utf-8") for path in (tmp_path / "one" / "cpt").glob("*.txt"))
    assert "libegħedhom" in texts
