"""Tiny-model tokenizers are the same bytes in every process (same corpus -> same vocabulary)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tokenizers")

from finetune.models import wordpiece_vocabulary  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [ROOT / "corpora" / "samples" / "mt_sample.txt", ROOT / "corpora" / "samples" / "ar_sample.txt"]

# Trains both tiny tokenizers on the shipped samples and saves them under argv[1]/<name>.
TRAIN_SCRIPT = """
import sys
from pathlib import Path
from finetune.models import train_tiny_tokenizer

texts = [line for path in sys.argv[2:] for line in Path(path).read_text(encoding="utf-8").splitlines()]
for name in ("tiny-bert", "tiny-qwen2"):
    train_tiny_tokenizer(name, texts, vocab_size=600).save_pretrained(str(Path(sys.argv[1]) / name))
"""


def _train_in_fresh_process(output: Path, hash_seed: str) -> dict[str, bytes]:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed, "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run([sys.executable, "-c", TRAIN_SCRIPT, str(output), *map(str, SAMPLES)],
                   cwd=ROOT, env=environment, check=True, capture_output=True, timeout=120)
    return {str(path.relative_to(output)): path.read_bytes() for path in sorted(output.rglob("*")) if path.is_file()}


@pytest.mark.slow
def test_tiny_tokenizers_are_byte_identical_across_processes(tmp_path):
    first = _train_in_fresh_process(tmp_path / "first", "1")
    second = _train_in_fresh_process(tmp_path / "second", "2")
    assert {"tiny-bert/tokenizer.json", "tiny-qwen2/tokenizer.json"} <= set(first)
    assert sorted(first) == sorted(second)
    for name, content in first.items():
        assert content == second[name], f"{name} differs between two processes with the same corpus"


def test_wordpiece_vocabulary_breaks_ties_by_counts_and_age_only():
    counts = {"abab": 3, "cdcd": 3, "ab": 2, "cd": 2, "xyz": 1}
    expected = wordpiece_vocabulary(counts, vocab_size=30, specials=["[PAD]", "[UNK]"])
    shuffled = list(counts.items())
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert wordpiece_vocabulary(dict(shuffled), vocab_size=30, specials=["[PAD]", "[UNK]"]) == expected
    assert list(expected)[:2] == ["[PAD]", "[UNK]"]
    # "a ##b" and "c ##d" both occur 3*2 + 2 = 8 times: the pair of older (alphabet-sorted) tokens wins.
    assert list(expected).index("ab") < list(expected).index("cd")
    assert {"abab", "cdcd", "##ab", "##cd"} <= set(expected)


def test_wordpiece_vocabulary_stops_at_vocab_size():
    vocabulary = wordpiece_vocabulary({"banana": 5, "bandana": 2}, vocab_size=8, specials=["[UNK]"])
    assert len(vocabulary) == 8
    assert sorted(vocabulary.values()) == list(range(8))
