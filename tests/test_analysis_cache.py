"""The persistent MorphTx analysis cache (augment.analyzers.store): shared by processes and runs,
checked before it is trusted, safe under concurrent writers and kills."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import pytest

from augment.analyzers import backend_version, get_analyzer
from augment.analyzers.base import Analysis, Morpheme
from augment.analyzers.offline import OfflineAnalyzer
from augment.analyzers.store import AnalysisStore, decode, encode
from augment.errors import AugkitError
from augment.text import tokenize

KEY = f"offline@{backend_version('offline')}"
WORDS = tokenize("الكلب في البيت بالليل ومدرسته كتبوا سيكتبون بِسْمِ")


def analyzer(path) -> OfflineAnalyzer:
    return OfflineAnalyzer(AnalysisStore(path, KEY))


def stored_values(path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as connection:
        return dict(connection.execute("SELECT token, value FROM analyses"))


def test_a_new_process_reads_every_analysis_without_loading_the_libraries(tmp_path):
    first = analyzer(tmp_path / "a.sqlite")
    expected = first.analyze(WORDS)
    first.close()
    assert first.served == {"computed": len(WORDS)}
    second = analyzer(tmp_path / "a.sqlite")
    assert second.analyze(WORDS + WORDS) == expected + expected
    assert second.served == {"read": len(WORDS), "repeated": len(WORDS)}
    assert second._vocalizer is None  # mishkal and qalsadi never loaded
    assert second.stats == {outcome: 2 * count for outcome, count in first.stats.items()}


def test_values_round_trip_and_invalid_ones_are_rejected():
    analysis = Analysis("الْكَلْبُ", (Morpheme("الْ", "DET"), Morpheme("كَلْب", "NOUN"), Morpheme("ُ", "CASE_DEF_NOM")),
                        "كَلْب", "d", 1)
    assert decode("الكلب", encode((analysis, "analyzed"))) == (analysis, "analyzed")
    assert decode("قلم", encode((None, "fallback_letters_changed"))) == (None, "fallback_letters_changed")
    value = encode((analysis, "analyzed"))
    fields = value.split("\x1f")
    for bad in ["", "analyzed", "not_an_outcome", None, 3, b"analyzed", value.replace("analyzed", "other", 1),
                value + "\x1fextra", "\x1f".join(fields[:-2]), value.replace("\x1f1\x1f", "\x1f7\x1f"),
                value.replace("\x1f1\x1f", "\x1f-1\x1f"), value.replace("\x1f1\x1f", "\x1f١\x1f"),
                value.replace("DET", ""), value.replace("الْ\x1f", "ال\x1f"), value.rsplit("\x1f", 1)[0]]:
        assert decode("الكلب", bad) is None, bad
    assert decode("الكتب", value) is None  # another token's analysis
    alif = Analysis("\u064eا", (Morpheme("ا", "NOUN"),), "ا", "na", 0)  # mishkal's mark before the first letter
    assert decode("ا", encode((alif, "analyzed"))) == (alif, "analyzed")
    with pytest.raises(ValueError):  # a field holding the separator is never written
        encode((Analysis("x\x1fy", (Morpheme("x\x1fy", "NOUN"),), "", "na", 0), "analyzed"))


def test_an_invalid_value_is_recomputed_and_rewritten(tmp_path):
    path = tmp_path / "a.sqlite"
    first = analyzer(path)
    expected = first.analyze(WORDS)
    first.close()
    other_value = stored_values(path)[WORDS[2]]
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("UPDATE analyses SET value = 'not json' WHERE token = ?", (WORDS[0],))
        connection.execute("UPDATE analyses SET value = ? WHERE token = ?", (other_value, WORDS[1]))
    second = analyzer(path)
    assert second.analyze(WORDS) == expected
    assert second.store.invalid == 2 and second.served == {"computed": 2, "read": len(WORDS) - 2}
    second.close()
    third = analyzer(path)
    assert third.analyze(WORDS) == expected and third.served == {"read": len(WORDS)}


@pytest.mark.parametrize("damage", ["garbage", "truncated", "zeroed page"])
def test_a_damaged_file_is_set_aside_and_rebuilt(tmp_path, capfd, damage):
    path = tmp_path / "a.sqlite"
    first = analyzer(path)
    expected = first.analyze(WORDS)
    first.close()
    with closing(sqlite3.connect(path)) as connection, connection:  # enough rows for several pages
        connection.executemany("INSERT INTO analyses VALUES (1, ?, ?)", [(f"x{n}", "[]" * 50) for n in range(400)])
    data = path.read_bytes()
    if damage == "garbage":
        data = b"this is not a database" + data[22:]
    elif damage == "truncated":
        data = data[:len(data) // 2]
    else:
        data = data[:4096] + bytes(4096) + data[8192:]
    path.write_bytes(data)
    second = analyzer(path)
    assert second.analyze(WORDS) == expected
    warning = capfd.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and "is damaged" in warning[0] and "set aside as a.sqlite.damaged-" in warning[0]
    [aside] = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert aside.read_bytes() == data  # never deleted, never changed
    second.close()
    assert set(stored_values(path)) == set(WORDS)  # the new cache holds what was recomputed


def test_a_foreign_database_is_never_written(tmp_path):
    path = tmp_path / "mine.sqlite"
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
        connection.execute("INSERT INTO notes VALUES ('keep me')")
    before = path.read_bytes()
    with pytest.raises(AugkitError, match="not an augkit analysis cache"):
        get_analyzer("offline", path)
    assert path.read_bytes() == before


def test_the_cli_refuses_a_foreign_database_in_one_line(tmp_path):
    path = tmp_path / "mine.sqlite"
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    result = subprocess.run([sys.executable, "-m", "augment.cli", "transliterate", "-s", "morphtx",
                             "--analysis-cache", str(path)], input="الكلب\n", capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not an augkit analysis cache" in result.stderr


def test_an_unusable_default_location_only_warns(tmp_path, monkeypatch, capfd):
    from augment.analyzers import clear_analyzers
    from augment.transliterate import Transliterator

    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("AUGKIT_CACHE", str(tmp_path / "file"))
    clear_analyzers()
    try:
        assert Transliterator("morphtx").transliterate("الكلب") == "il-kelb"
    finally:
        clear_analyzers()
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "continuing without it" in err[0]


def test_other_backend_versions_are_not_read(tmp_path):
    path = tmp_path / "a.sqlite"
    first = analyzer(path)
    first.analyze(WORDS)
    first.close()
    other = OfflineAnalyzer(AnalysisStore(path, "offline@1-00000000"))
    other.analyze(WORDS[:2])
    assert other.served == {"computed": 2}


def _write_entries(path: str, worker: int, count: int) -> None:
    store = AnalysisStore(path, KEY)
    for n in range(count):
        word = "ب" * (worker + 1) + "ت" * (n + 1)
        store.put(word, (Analysis(word, (Morpheme(word, "UNSEGMENTED"),), "", "na", 0), "fallback_no_matching_segmentation"))
    store.close()


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "a.sqlite")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_entries, args=(path, worker, 600)) for worker in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
    assert [process.exitcode for process in workers] == [0, 0, 0, 0]
    values = stored_values(path)
    assert len(values) == 4 * 600
    assert all(decode(token, value) is not None for token, value in values.items())


_WRITE_FOREVER = """
import sys
from augment.analyzers.base import Analysis, Morpheme
from augment.analyzers.store import AnalysisStore
store = AnalysisStore(sys.argv[1], sys.argv[2])
n = 0
while True:
    n += 1
    word = "ب" + "ت" * (n % 5000) + "ث" * (n // 5000)
    store.put(word, (Analysis(word, (Morpheme(word, "UNSEGMENTED"),), "", "na", 0), "fallback_no_matching_segmentation"))
    if n == 300:
        print("writing", flush=True)
"""


def test_a_writer_killed_mid_write_leaves_a_sound_cache(tmp_path):
    path = tmp_path / "a.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", _WRITE_FOREVER, str(path), KEY], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline() == "writing\n"
    time.sleep(0.5)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    reader = AnalysisStore(path, KEY)
    assert len(reader) >= 256  # at least the flushed batches...
    values = stored_values(path)
    assert all(decode(token, value) is not None for token, value in values.items())  # ...each one whole
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_forked_child_opens_its_own_connection(tmp_path):
    path = tmp_path / "a.sqlite"
    parent = analyzer(path)
    parent.analyze(WORDS[:2])
    parent.flush()
    pid = os.fork()
    if pid == 0:  # the child writes through the analyzer it inherited
        try:
            parent.analyze(WORDS[2:4])
            parent.flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    parent.analyze(WORDS[4:6])
    parent.close()
    assert set(stored_values(path)) == set(WORDS[:6])


def test_a_full_memo_starts_again_and_the_answers_stay(tmp_path, monkeypatch):
    import augment.analyzers.base

    monkeypatch.setattr(augment.analyzers.base, "MEMO_SIZE", 4)
    analyzer = OfflineAnalyzer(AnalysisStore(tmp_path / "a.sqlite", KEY))
    first = analyzer.analyze(WORDS[:3])
    assert analyzer.analyze(WORDS[3:6]) == OfflineAnalyzer().analyze(WORDS[3:6])  # memo cleared before
    assert len(analyzer._memo) == 3
    analyzer.flush()
    assert analyzer.analyze(WORDS[:3]) == first
    assert analyzer.served == {"computed": 6, "read": 3}  # the first three again, from the disk cache
