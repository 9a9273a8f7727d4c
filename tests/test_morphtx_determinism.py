"""MorphTx output is a function of the line alone: not of the lines transliterated before it in the
process, nor of the order of the lines, nor of the number of processes (issue 11, section 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
