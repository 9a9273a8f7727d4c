"""Scheme manifests and rule tables: bundled data, validation messages, user schemes."""

from __future__ import annotations

from pathlib import Path

import pytest

from augment import Transliterator
from augment.errors import AugkitError, InputError
from augment.schemes import END, SCHEMES_DIR, START, available_schemes, load_scheme, read_rule_table

MANIFEST = """\
name: mine
version: 2
description: a test scheme
citation: ""
source_script: Arab
target: mlt_Latn
tokenizer: punct
transform: rules
rules: [rules.tsv]
postprocess: maltese
"""


def write_scheme(folder: Path, rules: str, manifest: str = MANIFEST) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.tsv").write_text(rules, encoding="utf-8")
    path = folder / "manifest.yaml"
    path.write_text(manifest, encoding="utf-8")
    return path


def test_bundled_schemes_are_listed_and_load():
    names = available_schemes()
    assert {"chartx", "buckwalter", "uroman", "none"} <= set(names)
    for name in ("chartx", "buckwalter", "uroman", "none"):
        scheme = load_scheme(name)
        assert scheme.name == name and scheme.warnings == []


def test_chartx_table_is_the_effective_published_one():
    scheme = load_scheme("chartx")
    assert len(scheme.rules) == 153
    assert scheme.rules[0].pattern == "\u0644\u062f\u0651" and scheme.rules[0].output == "dd"
    assert (scheme.rules[14].pattern, scheme.rules[14].output) == ("\u064a\u0651" + END, "i")
    assert (scheme.rules[22].pattern, scheme.rules[22].output) == ("\u062c\u0651", "gg")  # rule 23
    assert (scheme.rules[102].pattern, scheme.rules[102].output) == (START + "\u0623", "")  # rule 103
    assert [r.pattern for r in scheme.rules[137:139]] == [START, END]
    assert scheme.rules[152].pattern == "\u0660" and scheme.rules[152].output == "0"
    assert "gg" in scheme.notes and "ġġ" in scheme.notes
    assert scheme.target == "mlt_Latn" and scheme.postprocess == "maltese"


def test_user_scheme_by_path_and_folder(tmp_path):
    path = write_scheme(tmp_path / "mine", "pattern\toutput\tcomment\n\\A\\u0628\tB\tword-initial beh\n\\u0628\tb\n")
    for reference in (path, path.parent, str(path)):
        scheme = load_scheme(reference)
        assert scheme.name == "mine"
    assert Transliterator(path).transliterate("\u0628\u0628 x") == "Bb x"
    assert Transliterator(path).signature == "scheme:mine|v:2|norm:none|tok:punct|augkit:0.1.0"


def test_rule_paths_may_point_into_another_scheme(tmp_path):
    manifest = MANIFEST.replace("rules: [rules.tsv]", f"rules: [rules.tsv, {SCHEMES_DIR / 'chartx' / 'rules.tsv'}]")
    path = write_scheme(tmp_path / "extended", "pattern\toutput\n\\u067e\tp\n", manifest)
    scheme = load_scheme(path)
    assert len(scheme.rules) == 154 and scheme.warnings == []
    assert Transliterator(scheme).transliterate("\u067e\u0644\u0628") == "plb"


def test_repeated_pattern_keeps_first_position_and_last_output(tmp_path):
    path = write_scheme(tmp_path / "dup", "pattern\toutput\tcomment\n\\u062c\\u0651\tġġ\tfirst\n"
                        "\\u062c\tġ\n\\u062c\\u0651\tgg\tsecond\n")
    scheme = load_scheme(path)
    assert [(r.pattern, r.output) for r in scheme.rules] == [("\u062c\u0651", "gg"), ("\u062c", "ġ")]
    [warning] = scheme.warnings
    assert warning.startswith(f"{tmp_path / 'dup' / 'rules.tsv'}:4: ")
    assert "repeats" in warning and ":2" in warning
    assert "effective rule 1: ج\u0651 (062C 0651) -> 'gg'" in warning


@pytest.mark.parametrize(
    ("table", "line", "problem"),
    [
        ("pattern\toutput\n\\u0628\n", 2, "expected pattern<TAB>output[<TAB>comment], found 1 fields"),
        ("pattern\toutput\n\\u0628\tb\tc\td\n", 2, "found 4 fields"),
        ("# a comment\n\npattern\toutput\n\\u0628\tb\n\\q\tx\n", 5, "unknown escape '\\\\q'"),
        ("pattern\toutput\n\\uD800\tx\n", 2, "not a Unicode scalar value"),
        ("pattern\toutput\n\tx\n", 2, "empty pattern"),
        ("pattern\toutput\n\\u0628\\A\tx\n", 2, "\\A may only start a pattern"),
        ("pattern\toutput\n\\Z\\u0628\tx\n", 2, "\\Z only end it"),
        ("pattern\toutput\n\\u0628\tx\\Z\n", 2, "an output may not contain the word markers"),
        ("pattern\toutput\n\ufdd0\tx\n", 2, "reserved for the word markers"),
        ("output\tpattern\n", 1, "the first line must be the header"),
    ],
)
def test_bad_rule_lines_are_reported_with_file_and_line(tmp_path, table, line, problem):
    path = tmp_path / "rules.tsv"
    path.write_text(table, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_rule_table(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert problem in str(caught.value)


def test_rule_table_must_be_utf8_and_not_empty(tmp_path):
    path = tmp_path / "rules.tsv"
    path.write_bytes(b"pattern\toutput\n\xff\tx\n")
    with pytest.raises(InputError, match="invalid UTF-8 at byte 15"):
        read_rule_table(path)
    path.write_text("# only comments\n", encoding="utf-8")
    with pytest.raises(InputError, match="empty rule table"):
        read_rule_table(path)


def test_escapes_and_literal_characters_both_work(tmp_path):
    path = tmp_path / "rules.tsv"
    path.write_text("pattern\toutput\tcomment\n\\u0628\\U0001F600\\\\\\t\tb\tescaped\nب\tb\tliteral\n", encoding="utf-8")
    rules = read_rule_table(path)
    assert rules[0].pattern == "\u0628\U0001F600\\\t" and rules[0].comment == "escaped"
    assert rules[1].pattern == "\u0628" and rules[1].line == 3


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda m: m + "colour: blue\n", "unknown field(s) colour; allowed: name, version"),
        (lambda m: m.replace("citation: \"\"\n", ""), "missing field(s) citation"),
        (lambda m: m.replace("transform: rules", "transform: magic"),
         "transform must be one of rules, buckwalter, uroman, identity, not 'magic'"),
        (lambda m: m.replace("postprocess: maltese", "postprocess: french"), "postprocess must be one of"),
        (lambda m: m.replace("transform: rules", "transform: identity"), "'rules' is only used by transform 'rules'"),
        (lambda m: m.replace("rules: [rules.tsv]", "rules: []"), "transform 'rules' needs a non-empty 'rules' list"),
        (lambda m: m.replace("rules.tsv", "missing.tsv"), "rule table 'missing.tsv' not found"),
        (lambda m: m + "tag_map: tags.tsv\n", "tag_map 'tags.tsv' not found"),
        (lambda m: m.replace("name: mine", "name: ''"), "name must be a non-empty string"),
        (lambda m: "- a list\n", "a scheme manifest must be a YAML mapping"),
        (lambda m: "name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_manifests_name_the_file_and_problem(tmp_path, edit, problem):
    path = write_scheme(tmp_path / "bad", "pattern\toutput\n\\u0628\tb\n", edit(MANIFEST))
    with pytest.raises(InputError) as caught:
        load_scheme(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)


def test_unknown_scheme_lists_the_known_ones(tmp_path):
    with pytest.raises(AugkitError, match="unknown scheme 'chartz'; known schemes: buckwalter, chartx"):
        load_scheme("chartz")
    with pytest.raises(InputError, match="no such scheme manifest"):
        load_scheme(tmp_path / "nowhere" / "manifest.yaml")


def test_analyzer_schemes_delegate_to_morphtx():
    scheme = load_scheme("morphtx")
    assert scheme.analyzer and scheme.tag_map is not None and scheme.tag_map.is_file()


BASELINE_MANIFEST = """\
name: letters
version: 1
description: buckwalter with the intended token test
citation: ""
source_script: Arab
target: und_Latn
tokenizer: punct
transform: buckwalter
postprocess: detokenize
token_test: arabic-letters
"""


def test_token_test_option_of_the_baselines(tmp_path):
    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "manifest.yaml").write_text(BASELINE_MANIFEST, encoding="utf-8")
    letters = Transliterator(str(folder / "manifest.yaml"))
    published = Transliterator("buckwalter")
    text = "softwareاتفاق Softwareاتفاق (كتب)"
    assert published.transliterate(text) == "softwareatfaq Softwareاتفاق ( ktb )"  # the published quirk
    assert letters.transliterate(text) == "softwareاتفاق Softwareاتفاق ( ktb )"
    assert "|test:arabic-letters|" in letters.signature and "test:" not in published.signature
    for value, problem in (("arabic", "token_test must be one of published, arabic-letters, not 'arabic'"),):
        (folder / "manifest.yaml").write_text(BASELINE_MANIFEST.replace("arabic-letters", value), encoding="utf-8")
        with pytest.raises(InputError, match=problem):
            load_scheme(folder / "manifest.yaml")
    path = write_scheme(tmp_path / "rules", "pattern\toutput\n\\u0628\tb\n", MANIFEST + "token_test: published\n")
    with pytest.raises(InputError, match="'token_test' is only used by transforms buckwalter and uroman"):
        load_scheme(path)
