"""augment.formats: the file I/O every command shares."""

from __future__ import annotations

import errno
import os
import stat
import sys

import pytest

from augment.errors import AugkitError, EncodingError, InputError
from augment.formats import (
    DecodeStats,
    Table,
    batched,
    check_outputs,
    format_from_path,
    iter_jsonl,
    iter_texts,
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


# --- one way to read: byte-order marks, UTF-16/32, NUL bytes --------------------------------------

TEXT = ["الولد في البيت", "", "Il-kelb\u2028x", "last"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_a_byte_order_mark_is_removed_and_utf16_32_are_decoded(tmp_path, encoding):
    path = tmp_path / "a.txt"
    body = "\n".join(TEXT[:3]) + "\r\n" + TEXT[3]
    bom = "" if encoding == "utf-8-sig" else "\ufeff"
    path.write_bytes((bom + body).encode(encoding))
    assert list(read_lines(path)) == TEXT
    # A BOM is removed only at the very start; a later U+FEFF is text.
    path.write_bytes((bom + "\ufeffa\n").encode(encoding))
    assert list(read_lines(path)) == ["\ufeffa"]


def test_utf16_lines_split_only_on_whole_newline_code_units(tmp_path):
    # U+0A0A and U+0D0A hold the byte 0x0A at both parities: only the newline code unit ends a line.
    text = "\u0a0a\u0d0ax\U0001f600\n\u0a00\n"
    path = tmp_path / "u.txt"
    for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        path.write_bytes(("\ufeff" + text * 3000).encode(encoding))  # crosses read chunks
        assert list(read_lines(path)) == ["\u0a0a\u0d0ax\U0001f600", "\u0a00"] * 3000


def test_invalid_utf16_names_the_encoding_line_and_offset_or_is_replaced(tmp_path):
    path = tmp_path / "u.txt"
    path.write_bytes(b"\xff\xfe" + "ab\n".encode("utf-16-le") + b"\x00\xd8a\x00\n\x00")  # a lone surrogate
    with pytest.raises(EncodingError, match=r"u.txt:2 \(byte 8\): invalid UTF-16-LE \(bytes 00 d8\)"):
        list(read_lines(path))
    stats = DecodeStats()
    assert list(read_lines(path, "replace", stats)) == ["ab", "\ufffda"]
    assert stats.summary(path) == f"1 invalid UTF-16-LE sequence(s) in {path} replaced by U+FFFD (first at byte 8)"


def test_nul_bytes_without_a_byte_order_mark_are_refused(tmp_path):
    path = tmp_path / "u.txt"
    path.write_bytes("hello\n".encode("utf-16-le"))  # valid UTF-8 byte for byte, but garbage as text
    with pytest.raises(InputError, match="holds NUL bytes: UTF-16 or UTF-32 without a byte-order mark"):
        list(read_lines(path))
    with pytest.raises(InputError, match="holds NUL bytes"):
        read_table(path.rename(tmp_path / "u.csv"), "csv", errors="replace")


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5])
def test_short_files_and_prefixes(tmp_path, size):
    path = tmp_path / "s.txt"
    text = "a\nb\nc"[:size]
    path.write_bytes(text.encode())
    assert list(read_lines(path)) == text.splitlines()
    path.write_bytes(("\ufeff" + text).encode())
    assert list(read_lines(path)) == text.splitlines()


def test_inputs_that_are_not_readable_files(tmp_path):
    with pytest.raises(InputError, match="is a directory, expected a file"):
        list(read_lines(tmp_path))
    with pytest.raises(InputError, match="is a directory, expected a file"):
        read_table(tmp_path, "parquet")
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "x.parquet", "parquet")


def test_iter_texts_reads_every_format_the_same_way(tmp_path):
    rows = [{"id": "1", "text": "alpha"}, {"id": "2", "text": ""}]
    for fmt in ("jsonl", "csv", "tsv", "parquet"):
        path = tmp_path / f"t.{fmt}"
        write_table(path, fmt, Table(["id", "text"], rows))
        position = "line" if fmt == "jsonl" else "row"
        assert list(iter_texts(path, fmt)) == [(f"{position} 1", "alpha"), (f"{position} 2", "")]
        with pytest.raises(InputError, match="no column 'body'; columns: id, text"):
            list(iter_texts(path, fmt, "body"))
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "a"}\n{"text": null}\n{"text": ["a"]}\n', encoding="utf-8")
    texts = iter_texts(path, "jsonl")
    assert [next(texts), next(texts)] == [("line 1", "a"), ("line 2", None)]
    with pytest.raises(InputError, match=r"t.jsonl:3: column 'text' holds list, expected a string"):
        next(texts)
    path = tmp_path / "t.conllu"
    path.write_text("# text = Il-kelb.\n" + "\t".join(["1", "Il-kelb", *"_" * 8]) + "\n\n"
                    + "\t".join(["1", "Bonġu", *"_" * 8]) + "\n", encoding="utf-8")
    assert list(iter_texts(path, "conllu")) == [("line 1", "Il-kelb."), ("line 4", "Bonġu")]


def test_batched():
    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]] and list(batched([], 3)) == []


# --- never clobber; permissions --------------------------------------------------------------------

def test_an_output_that_is_an_input_is_refused(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("x\n", encoding="utf-8")
    (tmp_path / "link.txt").symlink_to(source)
    os.link(source, tmp_path / "hard.txt")
    (tmp_path / "sub").mkdir()
    for output in (source, tmp_path / "link.txt", tmp_path / "hard.txt", tmp_path / "sub" / ".." / "in.txt"):
        with pytest.raises(InputError, match="is an input"):
            check_outputs([source], [output])
    with pytest.raises(InputError, match="the same file as"):
        check_outputs([str(tmp_path / "link.txt")], [str(tmp_path / "hard.txt")])
    with pytest.raises(InputError, match="given twice as an output"):
        check_outputs([source], [tmp_path / "a.txt", tmp_path / "sub" / ".." / "a.txt"])
    check_outputs([source, "-", None, tmp_path / "absent.txt"], [tmp_path / "new.txt", "-", None])
    assert source.read_text(encoding="utf-8") == "x\n"


def test_written_files_respect_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        write_lines(tmp_path / "a.txt", ["x"])
        write_table(tmp_path / "a.parquet", "parquet", Table(["a"], [{"a": 1}]))
    finally:
        os.umask(previous)
    assert {stat.S_IMODE((tmp_path / name).stat().st_mode) for name in ("a.txt", "a.parquet")} == {0o640}


def test_writing_into_a_directory_or_a_full_disk_names_the_output(tmp_path):
    with pytest.raises(InputError, match="is a directory; give a file name"):
        write_lines(tmp_path, ["x"])
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    # Standard output on a full disk: the error names <stdout> (the CLI prints it in one line).
    with open("/dev/full", "w", encoding="utf-8") as full, pytest.raises(OSError) as caught:
        saved, sys.stdout = sys.stdout, full
        try:
            write_lines("-", ["x" * 100_000])
        finally:
            sys.stdout = saved
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == "<stdout>"
