import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment.errors import AugkitError
from corpora.stages.registry import build_stage
from corpora.stages.segment import SegmentSyllables, SplitSentences, cut_long, sentence_spans, syllable_spans


def pieces(text, script):
    return [text[start:end] for start, end in sentence_spans(text, script)]


@pytest.mark.parametrize(
    ("script", "text", "expected"),
    [
        ("Latn", "Il-kelb ġera. Imbagħad waqaf! Għaliex? Ma nafx.",
         ["Il-kelb ġera.", "Imbagħad waqaf!", "Għaliex?", "Ma nafx."]),
        # A decimal, an abbreviation before a lower-case word, and a closing quote stay in place.
        ("Latn", 'It costs 3.50 euro, e.g. less. "Really?" he said.',
         ["It costs 3.50 euro, e.g. less.", '"Really?" he said.']),
        ("Arab", "ذهب الولد. هل عاد؟ نعم؛ عاد مساءً!", ["ذهب الولد.", "هل عاد؟", "نعم؛", "عاد مساءً!"]),
        ("Hans", "我很好。你呢？“好！”再见", ["我很好。", "你呢？", "“好！”", "再见"]),
        ("Tibt", "༄༅། །ཀློང་ཆེན་པའི་གསོལ་འདེབས། །གདོད་ནས་ལྷུན་གྲུབ།ཁ་བ༎",
         ["༄༅། །", "ཀློང་ཆེན་པའི་གསོལ་འདེབས། །", "གདོད་ནས་ལྷུན་གྲུབ།", "ཁ་བ༎"]),
        ("Latn", "   ", []),
    ],
)
def test_sentence_boundaries_per_script(script, text, expected):
    assert pieces(text, script) == expected


def test_split_sentences_derives_records_with_offsets_parents_and_doc():
    stage = build_stage({"stage": "split_sentences"})
    record = {"id": "mt:4", "text": " Waħda. Tnejn! ", "lang": "mt", "source": "mt", "doc": None,
              "meta": {"score": 1}}
    output = stage.process([record, {**record, "id": "mt:5", "text": " \n"}])
    assert [(r["id"], r["text"], r["doc"], r["meta"]) for r in output.kept] == [
        ("mt:4/s0", "Waħda.", "mt:4", {"score": 1, "offsets": [1, 7], "parents": ["mt:4"]}),
        ("mt:4/s1", "Tnejn!", "mt:4", {"score": 1, "offsets": [8, 14], "parents": ["mt:4"]}),
    ]
    assert [(r["id"], reason) for r, reason in output.dropped] == [("mt:5", "empty_text")]
    # An existing document id is kept; token records are already sentences.
    tokens = {"id": "t", "text": None, "tokens": ["a", "."], "lang": "mt"}
    conllu = {"id": "u", "text": "A. B.", "tokens": ["A", ".", "B", "."], "lang": "mt"}
    output = stage.process([{**record, "doc": "d1"}, tokens, conllu])
    assert [r["doc"] for r in output.kept[:2]] == ["d1", "d1"]
    assert output.kept[2] is tokens and output.kept[3] is conllu


def test_abbreviations_do_not_end_sentences():
    text = "Il-Prof. Borg u Dr. Vella iltaqgħu. Ara Art. 5. Mr. X. Spiċċa."
    assert [text[a:b] for a, b in sentence_spans(text, "Latn", ("Prof", "Dr", "Art", "Mr"))] == [
        "Il-Prof. Borg u Dr. Vella iltaqgħu.", "Ara Art. 5.", "Mr. X.", "Spiċċa."]
    stage = SplitSentences()
    assert len(stage.process([{"id": "x", "text": "Is-Sur. Borg wasal. Tard!", "lang": "mt"}]).kept) == 2
    assert len(SplitSentences(abbreviations=[]).process([{"id": "x", "text": "Is-Sur. Borg.", "lang": "mt"}]).kept) == 2
    with pytest.raises(AugkitError, match="abbreviations"):
        build_stage({"stage": "split_sentences", "abbreviations": "Dr"})


def test_max_chars_cuts_unpunctuated_text_at_whitespace():
    record = {"id": "p", "text": "قال الملك   للوزير اذهب\nالى المدينة. ثم عاد", "lang": "ar"}
    output = SplitSentences(max_chars=12).process([record])
    assert [r["text"] for r in output.kept] == ["قال الملك", "للوزير اذهب", "الى المدينة.", "ثم عاد"]
    assert all(record["text"][a:b] == r["text"] for r in output.kept for a, b in [r["meta"]["offsets"]])
    with pytest.raises(AugkitError, match="max_chars"):
        build_stage({"stage": "split_sentences", "max_chars": 0})


def test_stage_script_overrides_lang_and_bad_script_is_rejected():
    record = {"id": "x", "text": "ཀ། ཁ།", "lang": "mt"}
    assert len(SplitSentences(script="Tibt").process([record]).kept) == 2
    with pytest.raises(AugkitError, match="ISO 15924"):
        build_stage({"stage": "split_sentences", "script": "tibetan"})


_SENTENCE_TEXT = st.lists(
    st.sampled_from(list("aAb ཀཁ་؟.!؛。！？།༎\"”»\n\t\u3000") + ["3.5", "e.g. x", "། །"]), max_size=30
).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=_SENTENCE_TEXT, script=st.sampled_from(["Latn", "Arab", "Hans", "Tibt", "Zyyy"]),
       max_chars=st.none() | st.integers(1, 12))
def test_sentence_pieces_reassemble_the_text_exactly(text, script, max_chars):
    spans = sentence_spans(text, script)
    if max_chars is not None:
        spans = [piece for start, end in spans for piece in cut_long(text, start, end, max_chars)]
        # A piece is longer than max_chars only when it has no whitespace to cut at.
        assert all(end - start <= max_chars or not any(c.isspace() for c in text[start:end]) for start, end in spans)
    rebuilt, position = [], 0
    for start, end in spans:
        assert position <= start < end <= len(text)
        gap = text[position:start]
        assert gap.strip() == ""  # only whitespace is ever outside a sentence
        piece = text[start:end]
        assert piece == piece.strip() and piece
        rebuilt.append(gap + piece)
        position = end
    assert text[position:].strip() == ""
    assert "".join(rebuilt) + text[position:] == text


def test_syllables_between_tsheg_and_shad():
    text = "ཀློང་ཆེན་པའི་ གསོལ།༡༢ abc"
    spans = syllable_spans(text)
    assert [text[a:b] for a, b in spans] == ["ཀློང", "ཆེན", "པའི", "གསོལ", "༡༢"]
    output = SegmentSyllables().process([{"id": "x", "text": text}, {"id": "y", "text": "no tibetan"}])
    assert output.kept[0]["meta"]["syllables"][0] == [0, 4]
    assert output.kept[1]["meta"]["syllables"] == [] and output.dropped == []


@settings(max_examples=200, deadline=None)
@given(text=st.text(st.sampled_from(list("ཀཁགྱིོུ་། ༡a")), max_size=40))
def test_syllables_cover_every_tibetan_letter_once_and_never_a_tsheg(text):
    spans = syllable_spans(text)
    covered = [index for start, end in spans for index in range(start, end)]
    assert len(covered) == len(set(covered))
    assert all("་" not in text[a:b] and "།" not in text[a:b] and " " not in text[a:b] for a, b in spans)
    letters = {index for index, char in enumerate(text) if char in "ཀཁག"}
    assert letters <= set(covered)
