"""Maltese text primitives (augment.maltese, from MLRS's `malti`), where augkit counts Maltese words,
and the measurement on MUDT that chose them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from augment import maltese
from augment.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_tokens_keep_articles_and_proclitics_apart():
    assert maltese.tokens("Il-kelb ta' Marija mar fil-belt b'tixħim, 3.5%.") == [
        "Il-", "kelb", "ta'", "Marija", "mar", "fil-", "belt", "b'", "tixħim", ",", "3.5", "%", "."]
    assert maltese.words("Il-kelb ta' Marija, 3.5%.") == ["Il-", "kelb", "ta'", "Marija", "3.5"]
    assert maltese.words("  ... !! ") == []


def test_words_lose_nothing_but_whitespace_and_punctuation():
    text = "Għall-Prof. Borg, l-10 ta' Ottubru 2010 kien jum sabiħ; ħdax-il kelb!"
    joined = "".join(maltese.tokens(text))
    assert joined == "".join(text.split())  # tokens partition the non-space characters
    assert all(any(c.isalnum() for c in word) for word in maltese.words(text))


@pytest.mark.parametrize("code", ["mt", "mlt", "mlt_Latn", "mlt-Latn", "__label__mt"])
def test_is_maltese(code):
    assert maltese.is_maltese(code)


@pytest.mark.parametrize("code", [None, "", "it", "ar", "arb_Arab", "xx-yy"])
def test_is_not_maltese(code):
    assert not maltese.is_maltese(code)


def test_tokenizer_report_counts_maltese_words_for_maltese_records(tmp_path):
    from finetune.tokenizer import words

    text = "il-kelb ta' Marija"
    assert words(text, "mt") == ["il-", "kelb", "ta'", "Marija"]
    assert words(text, "it") == ["il-kelb", "ta'", "Marija"]
    assert words(text) == ["il-kelb", "ta'", "Marija"]

    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps({"text": text, "lang": lang}) for lang in ("mt", "it")) + "\n")
    tokenizer_dir = tmp_path / "tok"
    assert main(["tokenizer", "train", "--data", str(data), "--output", str(tokenizer_dir), "--vocab-size", "300"]) == 0
    output = tmp_path / "fertility.json"
    assert main(["tokenizer", "report", "--tokenizer", str(tokenizer_dir / "tokenizer.model"), "--data", str(data),
                 "--group-by", "lang", "--output", str(output)]) == 0
    stats = json.loads(output.read_text())
    assert stats["mt"]["words"] == 4 and stats["it"]["words"] == 3
    assert stats["mt"]["pieces"] == stats["it"]["pieces"]  # the same text, so the same pieces


def _measurement():
    spec = importlib.util.spec_from_file_location("measure_maltese_text", ROOT / "bench" / "measure_maltese_text.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.shared_data
def test_measurement_on_mudt_supports_the_choices(shared_data):
    """The docs' table: malti's tokeniser reproduces MUDT's FORMs far better than the generic rules,
    while its sentence splitter does not beat the split_sentences stage's rules (so those stay)."""
    measure = _measurement()
    docs = measure.documents(shared_data / "maltese" / "mt_mudt-ud-dev.conllu")
    sentences = [sentence for doc in docs for sentence in doc]
    tokens = {row[0].split(" (")[0]: row for row in measure.measure_tokens(sentences)}
    word_f1 = {name: row[4] for name, row in tokens.items()}
    assert word_f1["malti"] > 0.98
    assert word_f1["malti"] > max(f1 for name, f1 in word_f1.items() if name != "malti") + 0.1
    splitters = {row[0].split(" (")[0]: row[3] for row in measure.measure_sentences(docs)}
    assert splitters["split_sentences stage"] >= splitters["malti"]
