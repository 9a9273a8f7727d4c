"""`augkit langid train | eval | predict`, end to end through augment.cli.main (in-process)."""

from __future__ import annotations

import json

import pytest
from test_langid import ENGLISH, ITALIAN, MALTESE

from augment import cli
from augment.langid import LanguageFilter, LanguageIdentifier


@pytest.fixture
def augkit(monkeypatch):
    # Only this command's module: the other sub-commands are other components' business.
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["augment.commands.langid"])
    return cli.main


@pytest.fixture
def labelled(tmp_path):
    maltese = tmp_path / "mt.txt"
    maltese.write_text("\n".join(MALTESE * 4) + "\n", encoding="utf-8")
    english = tmp_path / "en.jsonl"
    english.write_text("".join(json.dumps({"en": text, "doc": i}) + "\n" for i, text in enumerate(ENGLISH * 4)),
                       encoding="utf-8")
    return maltese, english


@pytest.mark.slow
def test_train_then_eval_then_predict_with_the_trained_model(augkit, labelled, tmp_path, capsys):
    maltese, english = labelled
    model = tmp_path / "tiny.bin"
    assert augkit(["langid", "train", "--data", f"mt={maltese}", "--data", f"en={english}:en", "--output", str(model),
                   "--dim", "8", "--epoch", "20", "--lr", "0.2", "--max-per-language", "20", "--seed", "3",
                   "--no-quantize"]) == 0
    out, err = capsys.readouterr()
    assert f"wrote {model}" in out
    assert "mlt_Latn\t20 texts" in err and "eng_Latn\t20 texts" in err
    assert set(LanguageIdentifier(model).labels) == {"mlt_Latn", "eng_Latn"}

    metrics_file = tmp_path / "metrics.json"
    assert augkit(["langid", "eval", "--model", str(model), "--data", f"mt={maltese}", "--data", f"en={english}:en",
                   "--json", str(metrics_file)]) == 0
    out, _ = capsys.readouterr()
    assert "precision" in out and "confusion" in out
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    confusion = metrics["confusion"]
    assert sum(confusion["mlt_Latn"].values()) == len(MALTESE) * 4
    assert metrics["languages"]["mlt_Latn"]["recall"] == confusion["mlt_Latn"].get("mlt_Latn", 0) / (len(MALTESE) * 4)
    assert metrics["languages"]["mlt_Latn"]["recall"] >= 0.8 and metrics["languages"]["eng_Latn"]["recall"] >= 0.8

    inputs = tmp_path / "in.txt"
    inputs.write_text(f"{MALTESE[0]}\n{ENGLISH[0]}\n", encoding="utf-8")
    assert augkit(["langid", "predict", "--input", str(inputs), "--model", str(model)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["mlt_Latn", "eng_Latn"]


def test_predict_default_model_one_line_per_input_line(augkit, tmp_path, capsys):
    inputs = tmp_path / "in.txt"
    inputs.write_text(f"{MALTESE[4]}\n\n{ITALIAN}\r\n", encoding="utf-8")
    assert augkit(["langid", "predict", "--input", str(inputs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    label, score = lines[0].split("\t")
    assert label == "mlt_Latn" and 0.5 < float(score) <= 1.0
    assert lines[1] == "und\t0.0000"
    assert lines[2].startswith("ita_Latn\t")


def test_predict_target_prints_the_recommended_filters_decision(augkit, tmp_path, capsys):
    texts = [MALTESE[0], "Fi żmien kont operajtha.", ENGLISH[0], ITALIAN, ""]
    inputs = tmp_path / "in.txt"
    inputs.write_text("\n".join(texts) + "\n", encoding="utf-8")
    assert augkit(["langid", "predict", "--input", str(inputs), "--target", "mt"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = [decision.keep for decision in LanguageFilter.for_target("mt").decide(texts)]
    assert [line.split("\t")[0] for line in lines] == [str(int(keep)) for keep in expected]
    assert expected == [True, True, False, False, False]
    # The label column is the general model's top-1, even where the verifier decided.
    assert lines[1].split("\t")[1] != "mlt_Latn"


def test_eval_target_reports_recall_and_false_accepts(augkit, labelled, tmp_path, capsys):
    maltese, english = labelled
    metrics_file = tmp_path / "m.json"
    assert augkit(["langid", "eval", "--target", "mlt", "--data", f"mt={maltese}", "--data", f"en={english}:en",
                   "--json", str(metrics_file)]) == 0
    out, _ = capsys.readouterr()
    assert "recall 100.00%" in out and "accepted other languages 0.00%" in out
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    assert metrics["signature"] == LanguageFilter.for_target("mt").signature()


def test_bad_input_is_one_clear_line_and_exit_2(augkit, tmp_path, capsys):
    broken = tmp_path / "broken.txt"
    broken.write_bytes(b"Il-kelb.\n\xc3\x28 oops\n")
    assert augkit(["langid", "predict", "--input", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err == (f"augkit langid predict: error: {broken}:2 (byte 9): invalid UTF-8 (bytes c3); "
                   f"pass --errors replace to continue\n")
    assert augkit(["langid", "predict", "--input", str(broken), "--errors", "replace"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2 and "1 invalid UTF-8 sequence(s)" in err
    assert augkit(["langid", "predict", "--input", str(tmp_path / "absent.txt")]) == 2
    assert "absent.txt: no such file" in capsys.readouterr().err
    assert augkit(["langid", "eval", "--data", "mt-no-path"]) == 2
    assert "LANG=PATH" in capsys.readouterr().err
    assert augkit(["langid", "predict", "--input", str(broken), "--model", str(tmp_path / "none.ftz")]) == 2
    assert "language-ID model not found" in capsys.readouterr().err


def test_train_needs_two_languages(augkit, labelled, tmp_path, capsys):
    maltese, _ = labelled
    assert augkit(["langid", "train", "--data", f"mt={maltese}", "--output", str(tmp_path / "m.ftz")]) == 2
    assert "at least two languages" in capsys.readouterr().err


def test_langid_is_registered_in_the_augkit_cli():
    args = cli.build_parser().parse_args(["langid", "predict", "--input", "-", "--target", "mt"])
    assert args.func.__module__ == "augment.commands.langid" and args.target == "mt"


def test_predict_reads_a_column_writes_output_and_summarises(augkit, tmp_path, capsys):
    rows = [{"id": 1, "text": MALTESE[0]}, {"id": 2, "text": None}, {"id": 3, "text": ITALIAN}, {"id": 4, "text": "سطر"}]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    output = tmp_path / "decisions.tsv"
    assert augkit(["langid", "predict", "-i", str(source), "--target", "mt", "-o", str(output)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    lines = output.read_text(encoding="utf-8").splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["1", "mlt_Latn"], ["0", "und"], ["0", "ita_Latn"],
                                                         ["0", "arb_Arab"]]
    [summary] = err.splitlines()
    assert summary.startswith(f"augkit langid predict: 4 texts from {source} -> {output}; top labels: ")
    assert "mt: kept 1 (25.0%), dropped 3 (no_language 1, wrong_language 1, wrong_script 1)" in summary

    table = tmp_path / "in.csv"
    table.write_text(f"id,body\n1,{MALTESE[1]}\n2,{ENGLISH[1]}\n", encoding="utf-8")
    assert augkit(["langid", "predict", "-i", str(table), "--column", "body", "-q"]) == 0
    out, err = capsys.readouterr()
    assert [line.split("\t")[0] for line in out.splitlines()] == ["mlt_Latn", "eng_Latn"] and err == ""


def test_predict_never_scores_json_syntax_as_text(augkit, tmp_path, capsys):
    # It used to score the raw line `{"text":123}` (as Portuguese).
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "Bonġu"}\n{"text": 123}\n', encoding="utf-8")
    assert augkit(["langid", "predict", "-i", str(source)]) == 2
    assert capsys.readouterr().err == (f"augkit langid predict: error: {source}:2: column 'text' holds int, "
                                       f"expected a string\n")
    assert augkit(["langid", "predict", "-i", str(source), "--column", "body"]) == 2
    assert f"{source}:1: no column 'body'; columns: text" in capsys.readouterr().err


def test_predict_target_rejects_arabic_for_maltese(augkit, tmp_path, capsys):
    source = tmp_path / "ar.txt"
    source.write_text("سطر\nمرحبا\nنعم\n", encoding="utf-8")
    assert augkit(["langid", "predict", "-i", str(source), "--target", "mt", "-q"]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["0", "0", "0"]
