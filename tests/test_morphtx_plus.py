"""morphtx-plus's own Maltese-orthography fixes (issue 12 §7); `morphtx` stays as published."""

from __future__ import annotations

import pytest

from augment import Transliterator
from augment.schemes import SCHEMES_DIR, load_scheme


@pytest.fixture(scope="module")
def plus() -> Transliterator:
    return Transliterator("morphtx-plus")


@pytest.fixture(scope="module")
def published() -> Transliterator:
    return Transliterator("morphtx")


@pytest.mark.parametrize(
    ("arabic", "plus_output", "published_output"),
    [
        ("\u0643\u062b\u064a\u0631\u0627\u064b", "ktir", "ktirejn"),  # T: tanwin al-fath is not the dual
        ("\u0627\u0644\u0648\u0627\u062d\u062f", "il-waħid", "il-uaħid"),  # W: و + vowel is w
        ("\u0648\u0627\u0636\u062d", "wadiħ", "uadiħ"),
        ("\u0627\u0644\u0630\u064a", "li", None),  # R: the relative pronoun is Maltese li
        ("\u0627\u0644\u062a\u064a", "li", None),
    ],
)
def test_fixes_apply_to_morphtx_plus_only(plus, published, arabic, plus_output, published_output):
    assert plus.transliterate(arabic) == plus_output
    if published_output is not None:
        assert published.transliterate(arabic) == published_output
    else:
        assert published.transliterate(arabic) != plus_output


def test_tag_table_is_the_published_one_plus_fix_rows():
    def rows(path):
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]

    plus = rows(SCHEMES_DIR / "morphtx-plus" / "tag_map.tsv")
    assert [row for row in plus if "\tfix " not in row] == rows(SCHEMES_DIR / "morphtx" / "tag_map.tsv")
    assert {row.split("\tfix ")[1][0] for row in plus if "\tfix " in row} == {"T", "R"}


def test_w_rules_do_not_repeat_a_chartx_pattern():
    # A repeated pattern would keep this position but take CharTx's output (dict semantics).
    scheme = load_scheme("morphtx-plus")
    assert not [warning for warning in scheme.warnings if "morphtx-plus/rules_before.tsv" in warning]
