"""augment.formats: the file I/O every command shares."""

from __future__ import annotations

import pytest

from augment.errors import AugkitError, EncodingError, InputError
from augment.formats import (
    DecodeStats,
    Table,
    format_from_path,
    iter_jsonl,
    read_conllu,
    read_lines,
    read_table,
    write_conllu,
    write_lines,
    write_table,
)


def test_lines_keep_count_empty_lines_and_unicode_separators(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("one\r\n\ntwo\u2028still two\x85too\nlast".encode())
    assert list(read_lines(path)) == ["one", "", "two\u2028still two\x85too", "last"]
    out = tmp_path / "b.txt"
    assert write_lines(out, ["x", "", "y"]) == 3
    assert out.read_bytes() == b"x\n\ny\n"


def test_invalid_utf8_reports_line_and_byte_offset_or_counts_replacements(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok\n\xe2\x82 and \xff\n")
    with pytest.raises(EncodingError) as caught:
        list(read_lines(path))
    # The hint to pass --errors replace is the CLI's, for commands that have the option.
    assert str(caught.value) == f"{path}:2 (byte 3): invalid UTF-8 (bytes e2 82)"
    stats = DecodeStats()
    assert list(read_lines(path, "replace", stats)) == ["ok", "\ufffd and \ufffd"]
    assert (stats.replacements, stats.first_offset) == (2, 3)
    assert b"\xe2\x82 and \xff\n".decode("utf-8", "replace") == "\ufffd and \ufffd\n"  # same as Python's handler


def test_missing_input_and_output_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(read_lines(tmp_path / "nope.txt"))
    with pytest.raises(InputError, match="does not exist"):
        write_lines(tmp_path / "no" / "out.txt", ["x"])


def test_failed_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.txt"

    def lines():
        yield "first"
        raise AugkitError("boom")

    with pytest.raises(AugkitError):
        write_lines(target, lines())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "tsv", "parquet"])
def test_tables_round_trip(tmp_path, fmt):
    table = Table(["id", "text"], [{"id": "1", "text": 'a, "quoted" بيت'}, {"id": "2", "text": ""}])
    path = tmp_path / f"t.{fmt}"
    assert write_table(path, fmt, table) == 2
    assert read_table(path, fmt) == table
    assert format_from_path(path) == fmt


def test_table_errors_name_the_line(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\n1\t2\n3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t.tsv:3: 1 fields, the header has 2"):
        read_table(path, "tsv")
    with pytest.raises(InputError, match="plain TSV cannot store"):
        write_table(tmp_path / "o.tsv", "tsv", Table(["a"], [{"a": "x\ty"}]))
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t.csv:2: 3 fields, the header has 2"):
        read_table(path, "csv")
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n[1]\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"t.jsonl:2: expected a JSON object, got list"):
        list(iter_jsonl(path))
    with pytest.raises(AugkitError, match="not a table"):
        read_table(path, "conllu")


def test_conllu_keeps_comments_ranges_and_empty_nodes(tmp_path):
    path = tmp_path / "s.conllu"
    text = ("# sent_id = 1\n# text = ab c\n1-2\tab\t_\t_\t_\t_\t_\t_\t_\t_\n1\ta\ta\tX\t_\t_\t0\troot\t_\t_\n"
            "2\tb\tb\tX\t_\t_\t1\tdep\t_\t_\n2.1\te\te\tX\t_\t_\t_\t_\t1:dep\t_\n3\tc\tc\tX\t_\t_\t1\tdep\t_\t_\n\n")
    path.write_text(text, encoding="utf-8")
    [sentence] = read_conllu(path)
    assert sentence.metadata("sent_id") == "1" and sentence.metadata("text") == "ab c"
    assert sentence.forms == ["ab", "a", "b", "e", "c"]
    assert [row[1] for row in sentence.words()] == ["a", "b", "c"]
    upper = sentence.with_forms([form.upper() for form in sentence.forms])
    write_conllu(tmp_path / "o.conllu", [upper])
    assert (tmp_path / "o.conllu").read_text(encoding="utf-8") == text.replace("\tab\t", "\tAB\t").replace(
        "\ta\ta", "\tA\ta").replace("\tb\tb", "\tB\tb").replace("\te\te", "\tE\te").replace("\tc\tc", "\tC\tc")
    path.write_text("1\ta\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"s.conllu:1: a token line needs 10 tab-separated fields, found 2"):
        list(read_conllu(path))


@pytest.mark.shared_data
def test_real_conllu_round_trips_byte_for_byte(shared_data, tmp_path):
    source = shared_data / "arabic" / "ar_pud-ud-test.conllu"
    sentences = list(read_conllu(source))
    assert len(sentences) == 1000
    assert write_conllu(tmp_path / "copy.conllu", sentences) == 1000
    assert (tmp_path / "copy.conllu").read_bytes() == source.read_bytes()
