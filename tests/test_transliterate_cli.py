"""`augkit transliterate`, `augkit schemes` and `augkit demo`, end to end, every format and error path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from augment import transliterate
from augment.cli import main
from augment.formats import Table, read_conllu, read_table, write_table

ROOT = Path(__file__).resolve().parents[1]
BIYED, KITAB, AYN = "\u0628\u0650\u064a\u064e\u062f", "\u0643\u062a\u0627\u0628\u060c", "\u0645\u0639"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_txt_keeps_line_count_and_empty_lines(tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text(f"{BIYED}\n\n{KITAB} {AYN}\nlatin, text\n", encoding="utf-8")
    code, out, err = run(["transliterate", "--scheme", "chartx", "--input", str(source),
                          "--output", str(tmp_path / "out.txt")], capsys)
    assert code == 0 and out == ""
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "bijed\n\nktab, m'\nlatin, text\n"
    assert "4 lines" in err and "scheme:chartx|v:2|norm:none|tok:punct|augkit:0.1.0" in err


def test_txt_stdin_to_stdout(monkeypatch, capsys, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text(f"{BIYED}\r\n{AYN}", encoding="utf-8")
    with open(source, "rb") as handle:
        monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": handle})())
        code, out, _ = run(["transliterate", "-q"], capsys)
    assert code == 0 and out == "bijed\nm'\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(alphabet=list("ab ،\u0628\u0650\u064a\u064e\u0651\u2028\x85\r\t"), max_size=8), max_size=6))
def test_txt_mode_preserves_line_count(tmp_path, capsys, lines):
    source, target = tmp_path / "prop.txt", tmp_path / "prop.out.txt"
    source.write_bytes("".join(line.replace("\r", "") + "\n" for line in lines).encode("utf-8"))
    assert main(["transliterate", "-q", "-i", str(source), "-o", str(target)]) == 0
    capsys.readouterr()
    assert target.read_bytes().count(b"\n") == len(lines)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "tsv", "parquet"])
def test_tables_get_a_column_beside_the_source(tmp_path, capsys, fmt):
    source = tmp_path / f"in.{fmt}"
    write_table(source, fmt, Table(["id", "text", "label"], [
        {"id": "1", "text": BIYED, "label": "x"}, {"id": "2", "text": f"{KITAB} {AYN}", "label": "y"}]))
    target = tmp_path / f"out.{fmt}"
    code, _, err = run(["transliterate", "-i", str(source), "-o", str(target)], capsys)
    assert code == 0 and "2 rows" in err
    table = read_table(target, fmt)
    assert table.columns == ["id", "text", "text_chartx", "label"]
    assert [row["text_chartx"] for row in table.rows] == ["bijed", "ktab, m'"]
    assert [row["text"] for row in table.rows] == [BIYED, f"{KITAB} {AYN}"]

    code, _, _ = run(["transliterate", "-i", str(source), "-o", str(target), "--replace", "--scheme", "buckwalter"],
                     capsys)
    table = read_table(target, fmt)
    assert code == 0 and table.columns == ["id", "text", "label"]
    assert table.rows[0]["text"] == "biyad"


def test_jsonl_token_lists_use_token_mode_and_other_column(tmp_path, capsys):
    source = tmp_path / "ner.jsonl"
    source.write_text(json.dumps({"tokens": [BIYED, "\u060c", AYN], "tags": ["B", "O", "O"]}, ensure_ascii=False)
                      + "\n" + json.dumps({"tokens": None, "tags": []}) + "\n", encoding="utf-8")
    code, out, _ = run(["transliterate", "-q", "-i", str(source), "--column", "tokens"], capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert rows[0]["tokens_chartx"] == ["bijed", ",", "m'"] and rows[0]["tags"] == ["B", "O", "O"]
    assert rows[1]["tokens_chartx"] is None


def test_conllu_rewrites_form_only(tmp_path, capsys):
    source = tmp_path / "in.conllu"
    source.write_text(
        "# sent_id = s1\n# text = بيد، مع\n"
        f"1-2\t{BIYED}\t_\t_\t_\t_\t_\t_\t_\t_\n"
        f"1\t{BIYED}\t{BIYED}\tNOUN\t_\tCase=Gen\t0\troot\t_\tSpaceAfter=No\n"
        "2\t\u060c\t\u060c\tPUNCT\t_\t_\t1\tpunct\t_\t_\n"
        f"3\t{AYN}\t{AYN}\tADP\t_\t_\t1\tcase\t_\t_\n\n", encoding="utf-8")
    target = tmp_path / "out.conllu"
    code, _, err = run(["transliterate", "-i", str(source), "-o", str(target)], capsys)
    assert code == 0 and "1 sentences" in err
    [sentence] = read_conllu(target)
    [original] = read_conllu(source)
    assert sentence.comments == original.comments
    assert sentence.forms == ["bijed", "bijed", ",", "m'"]
    for new, old in zip(sentence.rows, original.rows, strict=True):
        assert new[:1] + new[2:] == old[:1] + old[2:]


@pytest.mark.shared_data
def test_real_conllu_keeps_everything_but_form(shared_data, tmp_path, capsys):
    source = shared_data / "arabic" / "ar_pud-ud-test.conllu"
    target = tmp_path / "pud.conllu"
    assert main(["transliterate", "-q", "-i", str(source), "-o", str(target)]) == 0
    original, new = source.read_text(encoding="utf-8").split("\n"), target.read_text(encoding="utf-8").split("\n")
    assert len(original) == len(new)
    for old_line, new_line in zip(original, new, strict=True):
        if old_line.startswith("#") or not old_line:
            assert old_line == new_line
        else:
            old_cells, new_cells = old_line.split("\t"), new_line.split("\t")
            assert old_cells[:1] + old_cells[2:] == new_cells[:1] + new_cells[2:]
            assert new_cells[1] == transliterate([old_cells[1]])[0]


@pytest.mark.parametrize("scheme", ["buckwalter", "uroman", "none"])
def test_baseline_schemes(tmp_path, capsys, scheme):
    source = tmp_path / "in.txt"
    source.write_text(f"{BIYED} hello، (x)\n", encoding="utf-8")
    code, out, err = run(["transliterate", "-s", scheme, "-i", str(source)], capsys)
    expected = {"buckwalter": "biyad hello ، ( x )", "uroman": "biyad hello ، ( x )",  # ، fails the published token test
                "none": f"{BIYED} hello، (x)"}[scheme]
    assert code == 0 and out == expected + "\n"
    assert f"scheme:{scheme}|" in err


def test_normalize_flag(tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("\u0627\u0644\u062f\u064e\u0651\u0627\u0631 \u0628\u06cc\n", encoding="utf-8")
    _, plain, _ = run(["transliterate", "-q", "-i", str(source)], capsys)
    _, normalized, err = run(["transliterate", "-i", str(source), "--normalize", "arabic"], capsys)
    assert plain == "aldear bی\n" and normalized == "addar bi\n"
    assert "norm:arabic" in err


def test_invalid_utf8_names_file_line_and_byte(tmp_path, capsys):
    source = tmp_path / "bad.txt"
    source.write_bytes("\u0628\n".encode() + b"ok \xff\xfe end\n")
    code, out, err = run(["transliterate", "-i", str(source)], capsys)
    assert code == 2 and out == ""
    assert err.strip() == (f"augkit transliterate: error: {source}:2 (byte 6): invalid UTF-8 (bytes ff); "
                           "pass --errors replace to continue")
    code, out, err = run(["transliterate", "-i", str(source), "--errors", "replace"], capsys)
    assert code == 0 and out == "b\nok \ufffd \ufffd end\n"  # U+FFFD is a symbol: its own token
    assert "2 invalid UTF-8 sequence(s)" in err and "first at byte 6" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scheme", "chartz"], "unknown scheme 'chartz'; known schemes: buckwalter, chartx"),
        (["--column", "body"], "no column 'body'; columns: id, text"),
        (["--input", "missing.txt"], "missing.txt: no such file"),
        (["--output", "no/such/dir/out.txt"], "output folder no/such/dir does not exist"),
    ],
)
def test_error_paths_are_one_line_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text('{"id": 1, "text": "x"}\n', encoding="utf-8")
    defaults = ["--input", "in.jsonl"] if "--input" not in argv else []
    code, out, err = run(["transliterate", *defaults, *argv], capsys)
    assert code == 2 and out == ""
    assert err.startswith("augkit transliterate: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_jsonl_streams_and_names_the_row_that_lacks_the_column(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "a", "text_chartx": "old", "n": 1}\n\n{"n": 2}\n', encoding="utf-8")
    code, out, err = run(["transliterate", "-i", str(source)], capsys)
    assert code == 2 and out == ""
    assert f"{source}:3: no column 'text'; columns: n" in err
    source.write_text('{"text": "a", "text_chartx": "old", "n": 1}\n', encoding="utf-8")
    code, out, _ = run(["transliterate", "-q", "-i", str(source)], capsys)
    assert code == 0 and out == '{"text": "a", "text_chartx": "a", "n": 1}\n'


def test_bad_jsonl_and_bad_cell_types_name_the_line(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "a"}\n{"text": 3}\n', encoding="utf-8")
    code, _, err = run(["transliterate", "-i", str(source)], capsys)
    assert code == 2 and f"{source}:2: column 'text' holds int" in err
    table = tmp_path / "in.parquet"
    write_table(table, "parquet", Table(["text"], [{"text": 2}, {"text": 3}]))
    code, _, err = run(["transliterate", "-i", str(table)], capsys)
    assert code == 2 and f"{table}: row 1: column 'text' holds int" in err
    source.write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
    code, _, err = run(["transliterate", "-i", str(source)], capsys)
    assert code == 2 and f"{source}:2: invalid JSON" in err


def test_schemes_command_lists_and_shows(capsys):
    code, out, _ = run(["schemes"], capsys)
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert {"chartx", "buckwalter", "uroman", "none"} <= set(names)
    code, out, _ = run(["schemes", "chartx"], capsys)
    assert code == 0 and "153 effective rules" in out and "Micallef" in out
    assert "signature:   scheme:chartx|v:2|norm:none|tok:punct|augkit:0.1.0" in out
    code, _, err = run(["schemes", "nope"], capsys)
    assert code == 2 and "known schemes:" in err


def test_demo_prints_every_requested_scheme_side_by_side(capsys):
    code, out, _ = run(["demo", "--table-only", "--lines", "12", "--schemes", "chartx", "buckwalter", "none"], capsys)
    assert code == 0
    assert "12 lines of ar_sample.txt, 3 schemes" in out
    # line 12 of the sample is diacritised; --normalize arabic (the demo default) keeps shadda first
    assert "addaru kebira uaxxemsu ħarra." in out
    assert out.count("     chartx ") == 12 and "scheme:buckwalter|v:2|norm:arabic" in out


def test_bundled_sample_covers_what_the_demo_promises():
    text = (ROOT / "corpora" / "samples" / "ar_sample.txt").read_text(encoding="utf-8")
    lines = text.split("\n")[:-1]
    assert 45 <= len(lines) <= 60
    for feature in ("\u0627\u0644\u0634", "\u0651", "\u0623", "\u0625", "\u0622", "\u0624", "\u0626", "\u0621",
                    "\u0671", "\u0670", "\u0661", "\u066a", "\u060c", "\u061f", "\u061b", "\u00ab", "(", "!"):
        assert feature in text, f"U+{ord(feature[-1]):04X} missing from the sample"


def test_console_script_in_a_real_process(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text(f"{BIYED}\n{AYN}\n", encoding="utf-8")
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "augkit"), "transliterate", "--scheme", "chartx",
                             "--input", str(source)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "bijed\nm'\n"
