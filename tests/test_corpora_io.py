"""Readers and writers of the corpus builder: every format, and bad input of every kind."""

from __future__ import annotations

import json

import pytest

from augment.errors import AugkitError, InputError
from corpora.readers import Source, read_source
from corpora.records import from_columns, from_row, to_columns, to_row
from corpora.writers import Output, read_shard, write_output, write_shard


def read(source: Source) -> tuple[list[dict], list[tuple[dict, str]]]:
    kept, dropped = [], []
    for record, reason in read_source(source):
        (kept.append(record) if reason is None else dropped.append((record, reason)))
    return kept, dropped


def test_txt_counts_empty_invalid_and_overlong_lines(tmp_path):
    path = tmp_path / "mt.txt"
    path.write_bytes(b"Il-kelb.\n\n   \nbad  byte\n" + b"bad \xff byte\n" + b"x" * 10_000_001
                     + "\nTa' l-aħħar\n".encode())
    kept, dropped = read(Source("mt", "txt", str(path), lang="mt"))
    assert [record["text"] for record in kept] == ["Il-kelb.", "bad  byte", "Ta' l-aħħar"]
    assert kept[0] == {"id": "mt:1", "text": "Il-kelb.", "lang": "mlt_Latn", "source": "mt", "doc": None,
                       "meta": {"line": 1}}
    assert [(record["id"], reason) for record, reason in dropped] == [
        ("mt:2", "empty"), ("mt:3", "empty"), ("mt:5", "invalid_utf8"), ("mt:6", "too_long")]
    assert dropped[2][0]["text"] == "bad \ufffd byte"


def test_jsonl_fields_meta_and_missing_values(tmp_path):
    path = tmp_path / "a.jsonl"
    rows = [{"key": "a", "body": "نص", "doc": 7, "score": 0.5}, {"key": "b", "body": 3}, {"key": "c"}]
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8")
    source = Source("ar", "jsonl", str(path), lang="ar", text_field="body", id_field="key", doc_field="doc")
    kept, dropped = read(source)
    assert kept == [{"id": "ar:a", "text": "نص", "lang": "arb_Arab", "source": "ar", "doc": "7",
                     "meta": {"row": 1, "score": 0.5}}]
    assert [(record["id"], reason) for record, reason in dropped] == [("ar:b", "not_text"), ("ar:c", "missing_text")]


def test_jsonl_with_a_wrong_column_name_names_file_and_columns(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"sentence": "x"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.jsonl: no column\(s\) \['text'\].*\['sentence'\]"):
        read(Source("a", "jsonl", str(path), lang="en"))


def test_jsonl_with_invalid_utf8_or_json_names_the_line(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "\xc3"}\n')
    with pytest.raises(InputError, match=r"a\.jsonl:2.*invalid UTF-8"):
        read(Source("a", "jsonl", str(path), lang="en"))
    path.write_text('{"text": "ok"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"a\.jsonl:2: invalid JSON"):
        read(Source("a", "jsonl", str(path), lang="en"))


@pytest.mark.parametrize("fmt, body", [("csv", 'text,lang\n"a, b",mt\nc,en\n'), ("tsv", "text\tlang\na, b\tmt\nc\ten\n")])
def test_csv_and_tsv_with_a_language_column(tmp_path, fmt, body):
    path = tmp_path / f"t.{fmt}"
    path.write_text(body, encoding="utf-8")
    kept, _ = read(Source("t", fmt, str(path), lang_field="lang"))
    assert [(record["text"], record["lang"]) for record in kept] == [("a, b", "mlt_Latn"), ("c", "eng_Latn")]


def test_parquet_tokens_and_labels(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"words": [["Il-", "kelb"]], "tags": [["DET", "NOUN"]]}), path)
    kept, _ = read(Source("t", "parquet", str(path), lang="mt", tokens_field="words", upos_field="tags"))
    assert kept[0]["tokens"] == ["Il-", "kelb"] and kept[0]["upos"] == ["DET", "NOUN"]
    assert kept[0]["text"] is None


CONLLU = """# newdoc id = d1
# sent_id = s1
# text = Fil-belt.
1-2\tFil-\t_\t_\t_\t_\t_\t_\t_\t_
1\tF\tfi\tADP\t_\t_\t3\tcase\t_\t_
2\til-\til-\tDET\t_\t_\t3\tdet\t_\t_
3\tbelt\tbelt\tNOUN\t_\t_\t0\troot\t_\tSpaceAfter=No
4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_

# sent_id = s2
1\tIva\tiva\tINTJ\t_\t_\t0\troot\t_\t_

# newdoc
# sent_id = s3
1\tLe\tle\tINTJ\t_\t_\t0\troot\t_\t_

"""


def test_conllu_tokens_upos_text_sent_id_and_newdoc(tmp_path):
    path = tmp_path / "mt.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    kept, _ = read(Source("mudt", "conllu", str(path), lang="mt"))
    assert [record["id"] for record in kept] == ["mudt:s1", "mudt:s2", "mudt:s3"]
    assert kept[0]["tokens"] == ["F", "il-", "belt", "."] and kept[0]["upos"] == ["ADP", "DET", "NOUN", "PUNCT"]
    assert kept[0]["text"] == "Fil-belt."
    assert kept[1]["text"] == "Iva"  # no `# text`: the surface tokens joined
    assert [record["doc"] for record in kept] == ["d1", "d1", "mudt:doc3"]
    assert kept[0]["meta"] == {"line": 1, "sent_id": "s1"}
    text_only, _ = read(Source("mudt", "conllu", str(path), lang="mt", content="text"))
    assert "tokens" not in text_only[0]


def test_conllu_broken_line_and_duplicate_sent_id_name_the_line(tmp_path):
    path = tmp_path / "bad.conllu"
    path.write_text("# sent_id = a\n1\tx\tx\tX\n\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.conllu:2: a token line needs 10 tab-separated fields, found 4"):
        read(Source("b", "conllu", str(path), lang="mt"))
    path.write_text("# sent_id = a\n1\tx\tx\tX\t_\t_\t0\troot\t_\t_\n\n# sent_id = a\n1\ty\ty\tX\t_\t_\t0\troot\t_\t_\n\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.conllu:4: sent_id 'a' appears twice"):
        read(Source("b", "conllu", str(path), lang="mt"))


def test_bitext_from_two_files_tsv_and_jsonl(tmp_path):
    (tmp_path / "a.bo").write_text("བོད།\nཀ\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("Tibet\n\n", encoding="utf-8")
    kept, dropped = read(Source("p", "bitext", paths=(str(tmp_path / "a.bo"), str(tmp_path / "a.en")),
                                langs=("bo", "en")))
    assert kept[0]["text"] == "བོད།" and kept[0]["meta"]["translations"] == {"eng_Latn": "Tibet"}
    assert kept[0]["lang"] == "bod_Tibt"
    assert [reason for _, reason in dropped] == ["empty_side"]
    (tmp_path / "p.tsv").write_text("Il-kelb\tالكلب\n", encoding="utf-8")
    kept, _ = read(Source("p", "bitext", str(tmp_path / "p.tsv"), langs=("mt", "ar")))
    assert kept[0]["meta"]["translations"] == {"arb_Arab": "الكلب"}
    (tmp_path / "p.jsonl").write_text('{"doc": "d9", "line": 1, "bo": "ཀ", "zh": "甲"}\n', encoding="utf-8")
    kept, _ = read(Source("p", "bitext", str(tmp_path / "p.jsonl"), langs=("bo", "zh"), doc_field="doc"))
    assert kept[0]["doc"] == "d9" and kept[0]["meta"] == {"line": 1, "row": 1, "translations": {"zho_Hans": "甲"}}


def test_bitext_mismatched_line_counts_name_both_files(tmp_path):
    (tmp_path / "a.bo").write_text("ཀ\nཁ\nག\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("ka\nkha\n", encoding="utf-8")
    with pytest.raises(AugkitError, match=r"a\.bo has 3 lines, .*a\.en has 2"):
        read(Source("p", "bitext", paths=(str(tmp_path / "a.bo"), str(tmp_path / "a.en")), langs=("bo", "en")))
    (tmp_path / "p.tsv").write_text("one\ttwo\nonly one\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"p\.tsv:2: a bitext tsv line needs 2"):
        read(Source("p", "bitext", str(tmp_path / "p.tsv"), langs=("mt", "ar")))


def test_hf_save_to_disk_folder_and_dataset_dict_split(tmp_path):
    import datasets

    datasets.Dataset.from_dict({"text": ["a", "b"]}).save_to_disk(str(tmp_path / "one"))
    kept, _ = read(Source("h", "hf", str(tmp_path / "one"), lang="en"))
    assert [record["text"] for record in kept] == ["a", "b"]
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["c"]})}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(AugkitError, match=r"give `split`, one of \['train'\]"):
        read(Source("h", "hf", str(tmp_path / "dd"), lang="en"))
    kept, _ = read(Source("h", "hf", str(tmp_path / "dd"), lang="en", split="train"))
    assert kept[0]["text"] == "c"


def test_source_validation_errors():
    with pytest.raises(AugkitError, match="unknown format 'xml'"):
        Source("a", "xml", "x")
    with pytest.raises(AugkitError, match="without '#' or ':'"):
        Source("a#b", "txt", "x", lang="en")
    with pytest.raises(AugkitError, match="give `lang`"):
        Source("a", "txt", "x")


RECORDS = [
    {"id": "s:1", "text": "Il-kelb", "lang": "mlt_Latn", "source": "s", "doc": "d", "meta": {"split": "train", "k": [1]}},
    {"id": "s:2", "text": None, "tokens": ["a", "b"], "upos": ["X", "Y"], "lang": "mlt_Latn",
     "source": "s", "doc": None, "meta": {"split": "test"}},
    {"id": "s:3", "text": "x", "lang": None, "source": "s", "doc": None, "meta": {"split": "train"},
     "messages": [{"role": "user", "content": "hi"}]},
]


def test_rows_and_columns_round_trip():
    for record in RECORDS:
        assert from_row(to_row(record)) == record
    assert from_columns(to_columns(RECORDS)) == RECORDS


def test_shards_round_trip_through_parquet(tmp_path):
    write_shard(tmp_path / "s.parquet", RECORDS)
    assert read_shard(tmp_path / "s.parquet") == RECORDS
    assert [p.name for p in tmp_path.iterdir()] == ["s.parquet"]


def test_outputs_in_every_format_split_and_sharded(tmp_path):
    import datasets
    import pyarrow.parquet as pq

    files = write_output(Output("jsonl", "j", split_field="split", shard_size=1), RECORDS, tmp_path)
    assert [(entry["path"], entry["records"]) for entry in files] == [
        ("j/train-00000.jsonl", 1), ("j/test-00000.jsonl", 1), ("j/train-00001.jsonl", 1)]
    first = json.loads((tmp_path / "j/train-00000.jsonl").read_text(encoding="utf-8"))
    assert first == {"doc": "d", "id": "s:1", "lang": "mlt_Latn", "meta": {"k": [1], "split": "train"},
                     "source": "s", "text": "Il-kelb"}
    write_output(Output("parquet", "p"), RECORDS, tmp_path)
    table = pq.read_table(tmp_path / "p/all-00000.parquet")
    assert table.column("id").to_pylist() == ["s:1", "s:2", "s:3"]
    assert json.loads(table.column("meta")[0].as_py()) == {"k": [1], "split": "train"}
    write_output(Output("parquet", "sft", fields=("id", "messages")), RECORDS[2:], tmp_path)
    assert pq.read_table(tmp_path / "sft/all-00000.parquet").to_pylist() == [
        {"id": "s:3", "messages": [{"role": "user", "content": "hi"}]}]
    write_output(Output("text", "t", separator="\n\n"), [RECORDS[0], RECORDS[2]], tmp_path)
    assert (tmp_path / "t/all.txt").read_text(encoding="utf-8") == "Il-kelb\n\nx\n\n"
    write_output(Output("save_to_disk", "hf", split_field="split"), RECORDS, tmp_path)
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    assert sorted(loaded) == ["test", "train"] and loaded["train"]["id"] == ["s:1", "s:3"]


def test_a_failed_output_leaves_nothing_and_an_existing_folder_is_never_replaced(tmp_path):
    with pytest.raises(AugkitError, match="has no text field 'text'"):
        write_output(Output("text", "t"), RECORDS, tmp_path)
    assert list(tmp_path.iterdir()) == []
    write_output(Output("text", "t"), RECORDS[:1], tmp_path)
    with pytest.raises(AugkitError, match="already exists"):
        write_output(Output("text", "t"), RECORDS[:1], tmp_path)
    assert (tmp_path / "t/all.txt").read_text(encoding="utf-8") == "Il-kelb\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_a_step_runs_on_a_numpy_column_batch_as_ray_map_batches_hands_it_out():
    import pickle

    import numpy as np

    from corpora.recipe import Step
    from corpora.stages.registry import build_stage

    step = pickle.loads(pickle.dumps(Step(1, build_stage({"stage": "filter_length", "min_chars": 5}))))
    columns = {name: np.array(values, dtype=object) for name, values in to_columns(RECORDS).items()}
    output = step.run(from_columns(columns))
    assert [record["id"] for record in output.kept] == ["s:1"]
    assert from_columns(to_columns(output.kept)) == output.kept


# augment.formats is every reader's decoder, the corpus readers' too.
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
@pytest.mark.parametrize("fmt", ["txt", "jsonl"])
def test_a_bom_is_removed_and_utf16_or_utf32_is_decoded_or_refused_in_one_line(tmp_path, encoding, fmt):
    path = tmp_path / f"mt.{fmt}"
    lines = ["Il-kelb.", "Ta' l-aħħar"]
    path.write_text("".join((json.dumps({"text": line}) if fmt == "jsonl" else line) + "\n" for line in lines),
                    encoding=encoding)
    try:
        kept, dropped = read(Source("mt", fmt, str(path), lang="mt"))
    except InputError as error:
        assert encoding != "utf-8-sig" and encoding.replace("utf", "UTF") in str(error) and "\n" not in str(error)
        return
    assert [record["text"] for record in kept] == lines and dropped == []
