"""The pure stages on the real corpora of ../shared/data (skipped when absent)."""

import json

import pytest

from corpora.stages.filters import FilterScript
from corpora.stages.normalize import Normalize, normalize_text
from corpora.stages.segment import SplitSentences, syllable_spans

pytestmark = pytest.mark.shared_data


def _lines(path, limit=None):
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n") for _, line in zip(range(limit or 10**9), handle, strict=False)]


def _conllu_texts(path):
    return [line[len("# text = "):] for line in _lines(path) if line.startswith("# text = ")]


def test_tibetan_and_chinese_of_bo_zh_normalise_idempotently(shared_data):
    rows = [json.loads(line) for line in _lines(shared_data / "tibetan" / "bo_zh.jsonl")]
    for row in rows:
        tibetan = normalize_text(row["bo"], "Tibt")
        assert normalize_text(tibetan, "Tibt") == tibetan
        assert not set(tibetan) & set("\u0f73\u0f75\u0f77\u0f79\u0f81\u0f0c")
        chinese = normalize_text(row["zh"], "Hant")
        assert normalize_text(chinese, "Hant") == chinese
    assert sum(len(syllable_spans(normalize_text(row["bo"], "Tibt"))) for row in rows) > 20000


def test_diacritised_quran_and_noisy_alf_layla_normalise_idempotently(shared_data):
    for name in ("quran-simple.txt", "alf_layla.txt"):
        for line in _lines(shared_data / "arabic" / name, limit=2000):
            once = normalize_text(line, "Arab")
            assert normalize_text(once, "Arab") == once


def test_alf_layla_paragraphs_split_into_pieces_that_rebuild_them(shared_data):
    # 85 full stops in 715k characters: sentence ends alone leave paragraphs whole, max_chars cuts them.
    paragraphs = _lines(shared_data / "arabic" / "alf_layla.txt", limit=100)
    records = [{"id": f"alf:{i}", "text": text, "lang": "ar"} for i, text in enumerate(paragraphs)]
    output = SplitSentences(max_chars=300).process(records)
    assert not output.dropped and len(output.kept) > 5 * len(paragraphs)
    assert all(len(piece["text"]) <= 300 for piece in output.kept)
    for record in records:
        pieces = [piece for piece in output.kept if piece["meta"]["parents"] == [record["id"]]]
        position = 0
        for piece in pieces:
            start, end = piece["meta"]["offsets"]
            assert record["text"][position:start].strip() == "" and record["text"][start:end] == piece["text"]
            position = end
        assert record["text"][position:].strip() == ""


def test_maltese_treebank_is_kept_by_the_script_filter(shared_data):
    texts = _conllu_texts(shared_data / "maltese" / "mt_mudt-ud-train.conllu")
    records = [{"id": f"mt:{i}", "text": text, "lang": "mt"} for i, text in enumerate(texts)]
    normalized = Normalize().process(records)
    assert not normalized.dropped
    output = FilterScript(min_share=0.9).process(normalized.kept)
    assert len(output.kept) / len(records) > 0.99
    arabic = [{"id": f"ar:{i}", "text": text, "lang": "mt"}
              for i, text in enumerate(_conllu_texts(shared_data / "arabic" / "ar_pud-ud-test.conllu"))]
    assert len(FilterScript(min_share=0.9).process(arabic).kept) / len(arabic) < 0.05
