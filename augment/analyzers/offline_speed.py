"""Pure speed-ups of the offline analyzer's libraries (mishkal 0.4.1, qalsadi 0.5.1, arramooz 0.4.2,
maskouk 0.1, mysam 0.4.1, pyarabic 0.6.15).

Each one replaces work that these libraries repeat for every token by work done once per process,
and returns exactly what the replaced code returned. tests/test_offline_speed.py compares every
replaced call with the original on its input domain, and the analyses of every Arabic PUD token
with those recorded from the code before the speed-ups.

- In-memory dictionaries: arramooz answers every lookup with an SQL query built as a new string
  (so SQLite parses it again each time); the noun dictionary alone is queried ~8 times per token.
  Its tables are small (30k nouns, 14k verbs, 38k word frequencies, 600 stop words), so each is read once and grouped by the looked-up column, each group in the
  order in which SQLite's query plan returned its rows (the index's order: its remaining columns,
  then rowid). Lists are copied on return: the libraries extend the lists they get.
  The libraries paste the key into their SQL between quotes; a key holding a quote was an SQL
  error, which they answer with no rows (stop words: an AttributeError in its error handler), so
  such a key gets no rows here. Tokens with quotes never reach the analyzer (is_analyzable).
- `share_tag_coder`: mishkal builds a `mysam` tag coder, parsing its configuration file, on every
  call, only to format the `inflect` field of its suggestions; one coder is reset and reused.
- `precompile_long_collocations`: maskouk runs `re.sub` with each of its ~25 long-collocation
  patterns (given as strings) over every token; the compiled patterns do the same substitutions.
- `skip_single_word_collocations`: maskouk's collocation lookup of a one-word list looks the word
  up (a collocation's first word) but returns the word itself, tagged `CO` (outside any
  collocation), whatever it found; mishkal is only ever given one word here.
- `fast_pyarabic`: pyarabic's `strip_tashkeel` and `strip_harakat` (called ~100 times per token)
  test each character and then call `str.replace` once per mark; one `str.translate` deletes the
  same marks (a string holding a mark is never `isalpha`, so pyarabic's "is it vocalized" test
  only skips strings that have nothing to delete). `strip_lastharaka` runs its compiled pattern
  directly (the same test only skips strings the pattern cannot match). `normalize_hamza` is
  memoised.
"""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Callable

from pyarabic import araby


def _rows_of(connection, table: str) -> tuple[list, list[str]]:
    """All rows of `table` in rowid order, and its column names."""
    cursor = connection.execute(f"SELECT * FROM {table} ORDER BY rowid")
    return cursor.fetchall(), [column[0].lower() for column in cursor.description]


def _grouped(rows: list, columns: list[str], key: str, then_by: str | None = None) -> dict[str, list]:
    """`rows` grouped by column `key` (rows whose key is NULL never match), each group in rowid
    order or, with `then_by`, in (then_by, rowid) order, NULLs first: the order of an index (key, then_by)."""
    if then_by is not None:
        position = columns.index(then_by)
        rows = sorted(rows, key=lambda row: (row[position] is not None, row[position] or ""))  # stable: rowid order kept
    position = columns.index(key)
    groups: dict[str, list] = {}
    for row in rows:
        if row[position] is not None:
            groups.setdefault(row[position], []).append(row)
    return groups


def _rows(groups: dict[str, list], key: str, keep: Callable | None = None) -> list:
    if "'" in key:
        return []
    rows = groups.get(key, ())
    return [row for row in rows if keep(row)] if keep else list(rows)


def index_dictionary(dictionary) -> None:
    """arramooz's ArabicDictionary (nouns or verbs; also qalsadi's custom one): `lookup` by
    normalised form, `lookup_by_stamp` and `exists_as_stamp` answered from memory."""
    rows, columns = _rows_of(dictionary.db_connect, dictionary.table_name)
    by_normalized = _grouped(rows, columns, "normalized")
    by_stamp = _grouped(rows, columns, "stamped")
    dictionary.lookup = lambda normalized: _rows(by_normalized, araby.normalize_hamza(normalized))
    dictionary.lookup_by_stamp = lambda word: _rows(by_stamp, dictionary.word_stamp(word))
    # arramooz answers True whenever its query runs: it tests the cursor, not a row.
    dictionary.exists_as_stamp = lambda word: "'" not in dictionary.word_stamp(word)


def index_word_frequencies(frequencies) -> None:
    """arramooz's WordFreqDictionary: `lookup` (and so `get_freq`, which takes the first row)."""
    rows, columns = _rows_of(frequencies.db_connect, frequencies.table_name)
    by_unvocalized = _grouped(rows, columns, "unvocalized")
    by_vocalized = _grouped(rows, columns, "vocalized", then_by="word_type")  # index (vocalized, word_type)
    fatha_alef = araby.FATHA + araby.ALEF

    def lookup(text: str, word_type: str = "") -> list:
        if araby.is_haraka(text[-1:]):
            text = text[:-1]
        text = re.sub(fatha_alef, araby.ALEF, text)
        if word_type == "unknown":
            return _rows(by_unvocalized, text)
        if word_type == "verb":
            return _rows(by_vocalized, text, lambda row: row["word_type"] == "verb")
        if word_type == "noun":
            return _rows(by_vocalized, text, lambda row: row["word_type"] != "verb")
        return _rows(by_vocalized, text)

    frequencies.lookup = lookup


def index_stop_words(stop_words) -> None:
    """arramooz's StopWordsDictionary: `lookup` by word."""
    by_word = _grouped(*_rows_of(stop_words.db_connect, stop_words.table_name), "word")
    stop_words.lookup = lambda text: _rows(by_word, text)


def skip_single_word_collocations(collocations) -> None:
    """maskouk's CollocationClass.lookup(wordlist), answered at once for a list of one word."""
    lookup = collocations.lookup

    def lookup_pairs(wordlist: list[str]) -> tuple[list[str], list[str]]:
        if len(wordlist) == 1 and wordlist[0]:  # maskouk fails on an empty word: left to it
            return list(wordlist), ["CO"]
        return lookup(wordlist)

    collocations.lookup = lookup_pairs


def share_tag_coder(tashkeel_module) -> None:
    """Give mishkal's `tashkeel` one `mysam` tag coder, reset before each use (a new one is reset too)."""
    import mysam.tagcoder

    coder = mysam.tagcoder.tagCoder()

    def reset_coder():
        coder.reset()
        return coder

    tashkeel_module.mysam = types.SimpleNamespace(tagcoder=types.SimpleNamespace(tagCoder=reset_coder))


def precompile_long_collocations(collocations, general_collocations: dict) -> None:
    """maskouk's CollocationClass.lookup4long_collocations with its patterns compiled once."""
    patterns = [(re.compile(key), entry.get("v", "")) for key, entry in general_collocations.items()]

    def lookup4long_collocations(text: str) -> str:
        for pattern, vocalized in patterns:
            text = pattern.sub(vocalized, text)
        return text

    collocations.lookup4long_collocations = lookup4long_collocations


def fast_pyarabic(module) -> None:
    """Give the `pyarabic.araby` module (every caller) a `str.translate` `strip_tashkeel` and
    `strip_harakat`, a direct `strip_lastharaka`, and a memoised `normalize_hamza`."""
    if getattr(module, "_augkit_fast", False):
        return
    tashkeel = str.maketrans("", "", "".join(module.TASHKEEL))
    harakat = str.maketrans("", "", "".join(module.HARAKAT))
    module.strip_tashkeel = lambda text: text.translate(tashkeel) if text else text
    module.strip_harakat = lambda text: text.translate(harakat) if text else text
    last_haraka = module.LASTHARAKA_PATTERN
    module.strip_lastharaka = lambda text: last_haraka.sub("", text) if text else text
    module.normalize_hamza = functools.lru_cache(maxsize=1 << 16)(module.normalize_hamza)
    module._augkit_fast = True
