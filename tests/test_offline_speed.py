"""The offline analyzer's speed-ups (augment/analyzers/offline_speed.py) change no analysis: every
Arabic PUD token against the analyses recorded from the code before them, and each replaced
library call against the original on its whole input domain."""

from __future__ import annotations

import gzip
import json
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from offline_reference import RECORD, analyses, pud_tokens, record, short_hash


@pytest.mark.shared_data
def test_every_pud_token_is_analysed_as_before_the_speed_ups(shared_data):
    expected = json.loads(gzip.decompress(RECORD.read_bytes()))
    tokens = pud_tokens(shared_data / "arabic" / "ar_pud-ud-test.conllu")
    encoded = analyses(tokens)
    got = record(encoded)
    changed = [(token, value) for token, value in encoded.items()
               if expected["per_token"].get(short_hash(token)) != short_hash(value)]
    assert not changed, f"{len(changed)} of {len(tokens)} analyses changed, e.g. {changed[:5]}"
    assert got == expected


def _keys(connection, table: str, column: str) -> list:
    """Every key that has several rows (where order matters), a sample of the others, and odd keys."""
    rows = connection.execute(f"SELECT {column}, count(*) FROM {table} GROUP BY {column}").fetchall()
    return [key for key, count in rows if count > 1] + [key for key, _ in rows[::50]] + \
        ["", "'", "غير موجود", "أكل", "اكل", "قال", "سأل", "كَتَبَ", "مَدْرَسَةٌ"]


def _same(original, indexed, method: str, *args) -> None:
    want = getattr(original, method)(*args)
    got = getattr(indexed, method)(*args)
    if isinstance(want, list):
        want, got = [tuple(row) for row in want], [tuple(row) for row in got]
    assert got == want, (method, args)


@pytest.mark.parametrize("table", ["nouns", "verbs"])
def test_in_memory_dictionaries_answer_as_sqlite(table):
    import arramooz.arabicdictionary

    from augment.analyzers.offline_speed import index_dictionary

    original, indexed = arramooz.arabicdictionary.ArabicDictionary(table), arramooz.arabicdictionary.ArabicDictionary(table)
    index_dictionary(indexed)
    for key in _keys(original.db_connect, table, "normalized"):
        _same(original, indexed, "lookup", key)
    for key in _keys(original.db_connect, table, "stamped") + _keys(original.db_connect, table, "unvocalized")[::20]:
        _same(original, indexed, "lookup_by_stamp", key)
        _same(original, indexed, "exists_as_stamp", key)
    returned = indexed.lookup("كتاب")
    returned.append("extended by the caller")
    assert indexed.lookup("كتاب") != returned  # callers extend the lists they get: never the index's own


def test_in_memory_word_frequencies_stop_words_and_collocations_answer_as_the_libraries():
    import arramooz.stopwordsdictionaryclass
    import arramooz.wordfreqdictionaryclass
    import maskouk.collocationdictionary
    import maskouk.collocations

    from augment.analyzers import offline_speed

    def pair(make, index):
        original, indexed = make(), make()
        index(indexed)
        return original, indexed

    original, indexed = pair(lambda: arramooz.wordfreqdictionaryclass.WordFreqDictionary("wordfreq"),
                             offline_speed.index_word_frequencies)
    vocalized = _keys(original.db_connect, "wordfreq", "vocalized")
    for key in vocalized + [key + "\u064e" for key in vocalized[::9]]:
        for word_type in ("", "verb", "noun", "unknown"):
            _same(original, indexed, "lookup", key, word_type)
            _same(original, indexed, "get_freq", key, word_type)
    for key in _keys(original.db_connect, "wordfreq", "unvocalized"):
        _same(original, indexed, "lookup", key, "unknown")
    original, indexed = pair(lambda: arramooz.stopwordsdictionaryclass.StopWordsDictionary("classedstopwords"),
                             offline_speed.index_stop_words)
    for key in _keys(original.db_connect, "classedstopwords", "word"):
        if "'" not in key:  # arramooz's own error handler fails on a quote (AttributeError)
            _same(original, indexed, "lookup", key)
    original, fast = pair(maskouk.collocations.CollocationClass, offline_speed.skip_single_word_collocations)
    firsts = _keys(original.collo_dict.dbConnect, "collocations", "first")
    for wordlist in [[], *([word] for word in firsts if word), ["كرة", "القدم"], ["بيت", "المقدس", "في"], firsts[:5]]:
        _same(original, fast, "lookup", wordlist)
    with pytest.raises(IndexError):  # as maskouk itself
        fast.lookup([""])


ARABIC_AND_MARKS = [chr(code) for code in range(0x0621, 0x0656)] + list("ab ,.'\u0670\u0640\u06cc")


def _pristine_pyarabic():
    """A separate copy of pyarabic.araby, untouched by any analyzer of this process."""
    import importlib.util

    import pyarabic.araby

    spec = importlib.util.spec_from_file_location("pyarabic.araby_pristine", pyarabic.araby.__file__)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "pyarabic"  # its relative imports
    spec.loader.exec_module(module)
    return module


PRISTINE = _pristine_pyarabic()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ARABIC_AND_MARKS, max_size=12))
def test_fast_pyarabic_strips_as_pyarabic(text):
    from augment.analyzers.offline_speed import fast_pyarabic

    fast = types.SimpleNamespace(normalize_hamza=PRISTINE.normalize_hamza, TASHKEEL=PRISTINE.TASHKEEL,
                                 HARAKAT=PRISTINE.HARAKAT, LASTHARAKA_PATTERN=PRISTINE.LASTHARAKA_PATTERN)
    fast_pyarabic(fast)
    for name in ("strip_tashkeel", "strip_harakat", "strip_lastharaka", "normalize_hamza"):
        assert getattr(fast, name)(text) == getattr(PRISTINE, name)(text), name
    assert fast.normalize_hamza(text, method="tasheel") == PRISTINE.normalize_hamza(text, method="tasheel")


def test_precompiled_long_collocations_substitute_as_maskouk():
    import maskouk.collocation_const
    import maskouk.collocations

    from augment.analyzers.offline_speed import precompile_long_collocations

    original, fast = maskouk.collocations.CollocationClass(), maskouk.collocations.CollocationClass()
    precompile_long_collocations(fast, maskouk.collocation_const.GENERAL_COLLOCATIONS)
    texts = [*maskouk.collocation_const.GENERAL_COLLOCATIONS, "قلت لهم السلام عليكم ورحمة الله تعالى وبركاته ثم رجعت",
             "الكلب", "", "بسم الله الرحمن الرحيم الحمد لله"]
    for text in texts:
        assert fast.lookup4long_collocations(text) == original.lookup4long_collocations(text), text
