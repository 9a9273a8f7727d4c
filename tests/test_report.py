"""The scheme quality report: an exact smoothed character LM, the metrics, the CLI, and MorphTx
end to end through `augkit transliterate` (txt and conllu)."""

from __future__ import annotations

import json
import math

import pytest

from augment.errors import AugkitError
from augment.report import CharNgramLM, SubwordModel, build_report, read_texts, words

MALTESE = [
    "il-kelb jorqod fid-dar.", "it-tifel mar l-iskola bil-lejl.", "ix-xemx tiddi fuq il-baħar.",
    "il-belt hija sabiħa ħafna.", "għall-kelb hemm l-ikel.", "il-ktieb qiegħed fuq il-mejda.",
    "id-dar tagħna kbira.", "il-lejl kien kiesaħ.", "mill-belt għall-baħar.", "il-qattus jiekol il-ħut.",
    "it-tfal jilagħbu fit-triq.", "l-għalliem kiteb ittra.",
]


def test_lm_distributions_sum_to_one():
    lm = CharNgramLM(order=3).fit(["abcab", "abd"])
    for history in ["", "a", "ab", "zz", "bd", "b"]:
        assert math.isclose(sum(lm.probability(c, history) for c in lm.vocabulary), 1.0, rel_tol=1e-12)


def test_lm_witten_bell_by_hand():
    # Order 2 on "ab": counts after "" = {a, b, EOS}: 3 tokens, 3 types; after "a" = {b}: 1, 1.
    lm = CharNgramLM(order=2).fit(["ab"])
    vocabulary = len(lm.vocabulary)  # a, b, EOS, UNK
    assert vocabulary == 4
    p_unigram_b = (1 + 3 * (1 / 4)) / (3 + 3)
    assert math.isclose(lm.probability("b", "a"), (1 + 1 * p_unigram_b) / (1 + 1))
    # An unknown character gets only the uniform share, through every level.
    assert math.isclose(lm.probability("q", ""), 3 * (1 / 4) / 6)


def test_lm_prefers_the_language_it_was_trained_on():
    lm = CharNgramLM().fit(MALTESE)
    assert lm.cross_entropy(["il-kelb fid-dar."]) < lm.cross_entropy(["alklb fi aldar."])
    with pytest.raises(AugkitError, match="empty"):
        lm.cross_entropy([])


def test_words_and_fertility():
    assert words("Il-Kelb, ma' l-għalliem") == ["il-", "kelb", "ma'", "l-", "għalliem"]  # augment.maltese.words
    subwords = SubwordModel(MALTESE * 5, vocab_size=60)
    assert subwords.fertility(["il-kelb"]) >= 1.0
    assert subwords.fertility(["il-kelb"]) < subwords.fertility(["qqqzzzxxx"])


def test_read_texts_txt_and_conllu(tmp_path):
    txt = tmp_path / "a.txt"
    txt.write_text("one\ntwo\nthree\n", encoding="utf-8")
    assert read_texts(txt, max_lines=2) == ["one", "two"]
    conllu = tmp_path / "a.conllu"
    conllu.write_text("# text = il-kelb\n1\til-\t_\tDET\t_\t_\t2\tdet\t_\t_\n2\tkelb\t_\tNOUN\t_\t_\t0\troot\t_\t_\n\n"
                      "1\tdar\t_\tNOUN\t_\t_\t0\troot\t_\t_\n\n", encoding="utf-8")
    assert read_texts(conllu) == ["il-kelb", "dar"]


@pytest.fixture(scope="module")
def arabic_and_reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    arabic = folder / "arabic.txt"
    arabic.write_text("الكلب في البيت بالليل.\nعلى الكلب\nالشمس والقمر\n", encoding="utf-8")
    reference = folder / "maltese.txt"
    reference.write_text("\n".join(MALTESE * 3) + "\n", encoding="utf-8")
    return arabic, reference


def test_report_compares_schemes(arabic_and_reference):
    arabic, reference = arabic_and_reference
    report = build_report(arabic, reference, ["chartx", "chartx-plus", "morphtx", "none"], use_langid=False)
    rows = {row.scheme: row for row in report.rows}
    assert list(rows)[0] == "maltese (held-out)"
    # The identity scheme leaves Arabic script, which the Maltese LM has never seen.
    assert rows["none"].cross_entropy > rows["chartx"].cross_entropy
    assert rows["none"].coverage == 0.0
    # MorphTx writes il-kelb, bil-lejl, għall-kelb: words of the reference.
    assert rows["morphtx"].coverage > rows["chartx"].coverage
    assert rows["morphtx"].fallback_counts["analyzed"] > 0 and rows["morphtx"].fallbacks == 0.0
    assert rows["chartx"].fallbacks is None and rows["chartx"].chars_per_s > 0
    assert "analyzer:offline" in rows["morphtx"].signature
    markdown = report.to_markdown()
    assert "| `morphtx` |" in markdown and "labelled Maltese" not in markdown


def test_cli_writes_json_and_markdown(arabic_and_reference, tmp_path, capsys):
    from augment.cli import main

    arabic, reference = arabic_and_reference
    prefix = tmp_path / "out"
    code = main(["transliterate-report", "--input", str(arabic), "--reference", str(reference),
                 "--schemes", "chartx", "buckwalter", "--output", str(prefix)])
    assert code == 0
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [row["scheme"] for row in data["rows"]] == ["maltese (held-out)", "chartx", "buckwalter"]
    assert data["langid"] is not None and data["rows"][0]["maltese_share"] is not None
    assert (tmp_path / "out.md").read_text(encoding="utf-8") == capsys.readouterr().out


def test_cli_errors(arabic_and_reference, tmp_path, capsys):
    from augment.cli import main

    arabic, _ = arabic_and_reference
    assert main(["transliterate-report", "--input", str(arabic), "--reference", str(tmp_path / "no.txt")]) == 2
    assert "no.txt: no such file" in capsys.readouterr().err
    short = tmp_path / "short.txt"
    short.write_text("il-kelb\n", encoding="utf-8")
    assert main(["transliterate-report", "--input", str(arabic), "--reference", str(short),
                 "--output", str(tmp_path / "x")]) == 2
    assert "at least 10 non-empty lines" in capsys.readouterr().err


# --- MorphTx through `augkit transliterate`, both modes ---

def test_cli_transliterate_morphtx_txt(tmp_path):
    from augment.cli import main

    source = tmp_path / "in.txt"
    source.write_text("الكلب في البيت بالليل.\n\nعلى الكلب\n", encoding="utf-8")
    target = tmp_path / "out.txt"
    assert main(["transliterate", "--scheme", "morphtx", "--input", str(source), "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == "il-kelb fil-bejt bil-lejl.\n\ngħall-kelb\n"


def test_cli_transliterate_morphtx_conllu(tmp_path):
    from augment.cli import main

    source = tmp_path / "in.conllu"
    rows = [("1", "بالليل", "NOUN"), ("2", "الكلب", "NOUN"), ("3", ".", "PUNCT")]
    source.write_text("# sent_id = s1\n# text = بالليل الكلب.\n"
                      + "".join(f"{i}\t{form}\t_\t{upos}\t_\t_\t0\troot\t_\t_\n" for i, form, upos in rows) + "\n",
                      encoding="utf-8")
    target = tmp_path / "out.conllu"
    assert main(["transliterate", "--scheme", "morphtx", "--format", "conllu",
                 "--input", str(source), "--output", str(target)]) == 0
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["# sent_id = s1", "# text = بالليل الكلب."]
    forms = [line.split("\t")[1] for line in lines[2:5]]
    assert forms == ["bil-lejl", "il-kelb", "."]
    assert [line.split("\t")[3] for line in lines[2:5]] == ["NOUN", "NOUN", "PUNCT"]
