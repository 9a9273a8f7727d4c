"""MorphTx tag mapping, tested with hand-written analyses in CAMeL Tools' format (`bw`, `lex`,
`stt`, `diac`), so that every row of the published tag table is exercised without CAMeL's data."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from augment.analyzers import Analysis, parse_bw
from augment.analyzers.camel import CamelAnalyzer
from augment.engine import RuleEngine, postprocess
from augment.errors import AugkitError, InputError
from augment.morphtx import MorphPreprocessor, TagMap
from augment.schemes import SCHEMES_DIR, load_scheme

TAG_MAP = TagMap.load(SCHEMES_DIR / "morphtx" / "tag_map.tsv")


def camel(bw: str, stt: str = "na", lex: str = "") -> dict:
    """A CAMeL analysis dict as the disambiguator returns it (only the fields MorphTx reads)."""
    return {"diac": "".join(piece.rpartition("/")[0] for piece in bw.split("+")), "bw": bw, "lex": lex, "stt": stt}


def render(bw: str, stt: str = "na", lex: str = "") -> str:
    return TAG_MAP.render(Analysis.from_camel(camel(bw, stt, lex)))


# (bw, stt, expected MorphTx string before CharTx): clitics, particles, prepositions, proper nouns.
WORD_CASES = [
    ("وَ/CONJ+كِتاب/NOUN+ُ/CASE_DEF_NOM", "i", "u كِتاب"),
    ("وِ/CONJ+كِتاب/NOUN", "i", "u كِتاب"),
    ("ال/DET+كَلْب/NOUN+ُ/CASE_DEF_NOM", "d", "il-كَلْب"),
    ("لِ/PREP+ل/DET+كَلْب/NOUN+ِ/CASE_DEF_GEN", "d", "li il-كَلْب"),
    ("بِ/PREP+ال/DET+لَّيْل/NOUN+ِ/CASE_DEF_GEN", "d", "bi il-لَيْل"),
    ("فِي/PREP", "na", "fi "),
    ("عَلَى/PREP", "na", "għal "),
    ("مِن/PREP", "na", "minn"),
    ("مِنْ/PREP", "na", "minn"),
    ("مَع/NOUN+َ/CASE_DEF_ACC", "c", "ma' "),
    ("تَاع/NOUN", "c", "ta'"),
    ("سَ/FUT_PART+يَ/IV3MS+كْتُب/IV+ُ/IVSUFF_MOOD:I", "na", "sa يَكْتُب"),
    ("مُحَمَّد/NOUN_PROP+ٌ/CASE_INDEF_NOM", "i", "^مُحَمَّد", "مُحَمَّد"),
    ("كِتاب/NOUN+ًا/CASE_INDEF_ACC", "i", "كِتاب"),
    ("كِتاب/NOUN+ٍ/CASE_INDEF_GEN", "i", "كِتاب"),
    ("يَ/IV3MS+كْتُب/IV+َ/IVSUFF_MOOD:S", "na", "يَكْتُب"),
    ("يَ/IV3MS+كْتُب/IV+ْ/IVSUFF_MOOD:J", "na", "يَكْتُب"),
    ("تَ/IV2FS+كْتُب/IV+ِينَ/IVSUFF_SUBJ:2FS_MOOD:I", "na", "تَكْتُب"),
    ("تَ/IV2FS+كْتُب/IV+ِي/IVSUFF_SUBJ:2FS_MOOD:SJ", "na", "تَكْتُب"),
    ("يَ/IV3MD+كْتُب/IV+انِ/IVSUFF_SUBJ:D_MOOD:I", "na", "يَكْتُبu"),
    ("يَ/IV3MP+كْتُب/IV+ُونَ/IVSUFF_SUBJ:MP_MOOD:I", "na", "يَكْتُبu"),
    ("يَ/IV3FP+كْتُب/IV+ْنَ/IVSUFF_SUBJ:FP", "na", "يَكْتُبu"),
    ("كَتَب/PV+ْتُ/PVSUFF_SUBJ:1S", "na", "كَتَبt"),
    ("كَتَب/PV+ْتَ/PVSUFF_SUBJ:2MS", "na", "كَتَبt"),
    ("كَتَب/PV+ْتِ/PVSUFF_SUBJ:2FS", "na", "كَتَبt"),
    ("كَتَب/PV+َ/PVSUFF_SUBJ:3MS", "na", "كَتَب"),
    ("كَتَب/PV+َتْ/PVSUFF_SUBJ:3FS", "na", "كَتَبat"),
    ("كَتَب/PV+ْنا/PVSUFF_SUBJ:1P", "na", "كَتَبna"),
    ("كَتَب/PV+ْتُما/PVSUFF_SUBJ:2D", "na", "كَتَبtu"),
    ("كَتَب/PV+ْتُم/PVSUFF_SUBJ:2MP", "na", "كَتَبtu"),
    ("كَتَب/PV+ْتُنَّ/PVSUFF_SUBJ:2FP", "na", "كَتَبtu"),
    ("كَتَب/PV+ا/PVSUFF_SUBJ:3MD", "na", "كَتَبu"),
    ("كَتَب/PV+َتا/PVSUFF_SUBJ:3FD", "na", "كَتَبu"),
    ("كَتَب/PV+ْنَ/PVSUFF_SUBJ:3FP", "na", "كَتَبu"),
    ("رَم/PV+َوْا/PVSUFF_SUBJ:3MP", "na", "رَمew"),
    ("كَتَب/PV+ُوا/PVSUFF_SUBJ:3MP", "na", "كَتَبu"),
    ("اُكْتُب/CV+ُوا/CVSUFF_SUBJ:2MP", "na", "اُكْتُبu"),
    ("اُكْتُب/CV+/CVSUFF_SUBJ:2MS", "na", "اُكْتُب"),
    ("اُكْتُب/CV+ِي/CVSUFF_SUBJ:2FS", "na", "اُكْتُب"),
    ("مَدْرَس/NOUN+َة/NSUFF_FEM_SG+ٌ/CASE_INDEF_NOM", "i", "مَدْرَسa"),
    ("مَدْرَس/NOUN+َة/NSUFF_FEM_SG+ُ/CASE_DEF_NOM", "c", "مَدْرَسt"),
    ("كِتاب/NOUN+انِ/NSUFF_MASC_DU_NOM", "i", "كِتابejn"),
    ("كِتاب/NOUN+َيْنِ/NSUFF_MASC_DU_ACC", "i", "كِتابejn"),
    ("مَدْرَس/NOUN+َتانِ/NSUFF_FEM_DU_NOM", "i", "مَدْرَسtejn"),
    ("مُهَنْدِس/NOUN+ُونَ/NSUFF_MASC_PL_NOM", "i", "مُهَنْدِسin"),
    ("مُهَنْدِس/NOUN+ِينَ/NSUFF_MASC_PL_ACC", "i", "مُهَنْدِسin"),
    ("مَدْرَس/NOUN+ات/NSUFF_FEM_PL+ٌ/CASE_INDEF_NOM", "i", "مَدْرَسiet"),
]

# Pronoun enclitics: (tag family, host bw, host rendering). Every person/number of the table.
PRONOUN_OUTPUTS = {"1S": "i", "2MS": "ek", "2FS": "ek", "3MS": "u", "3FS": "ha", "1P": "na", "2D": "kom",
                   "2MP": "kom", "2FP": "kom", "3D": "hom", "3MP": "hom", "3FP": "hom"}
PRONOUN_FORMS = {"1S": "ي", "2MS": "كَ", "2FS": "كِ", "3MS": "هُ", "3FS": "ها", "1P": "نا", "2D": "كُما",
                 "2MP": "كُم", "2FP": "كُنَّ", "3D": "هُما", "3MP": "هُم", "3FP": "هُنَّ"}
HOSTS = {
    "POSS_PRON_": ("كِتاب/NOUN+ُ/CASE_DEF_NOM", "كِتاب"),
    "PVSUFF_DO:": ("ضَرَب/PV+َ/PVSUFF_SUBJ:3MS", "ضَرَب"),
    "IVSUFF_DO:": ("يَ/IV3MS+ضْرِب/IV+ُ/IVSUFF_MOOD:I", "يَضْرِب"),
    "PRON_": ("عَن/PREP", "عَن"),  # CAMeL's lex (عَن) tells the host from the pronoun
}
PRONOUN_CASES = [
    (f"{host_bw}+{PRONOUN_FORMS[code]}/{family}{code}", "c", host_out + PRONOUN_OUTPUTS[code], host_out)
    for family, (host_bw, host_out) in HOSTS.items()
    for code in PRONOUN_OUTPUTS
]
IMPERATIVE_OBJECT_CASES = [
    (f"اُكْتُب/CV+{PRONOUN_FORMS[code]}/CVSUFF_DO:{code}", "na", "اُكْتُب" + PRONOUN_OUTPUTS[code], "")
    for code in ("1S", "3MS", "3FS", "1P", "3D", "3MP", "3FP")
]
NI_CASES = [
    ("ضَرَب/PV+َ/PVSUFF_SUBJ:3MS+نِي/PVSUFF_DO:1S", "na", "ضَرَبni"),
    ("يَ/IV3MS+ضْرِب/IV+ُ/IVSUFF_MOOD:I+نِي/IVSUFF_DO:1S", "na", "يَضْرِبni"),
    ("اُضْرِب/CV+نِي/CVSUFF_DO:1S", "na", "اُضْرِبni"),
    ("مِن/PREP+ّي/PRON_1S", "na", "minni", "مِن"),
    ("لَدَيْ/PREP+نِي/PRON_1S", "na", "لَدَيْni", "لَدَى"),
    ("كِتاب/NOUN+ِي/POSS_PRON_1S", "c", "كِتابi"),
    ("لَدُ/NOUN+نِي/POSS_PRON_1S", "c", "لَدُni"),
]
ALL_CASES = [case if len(case) == 4 else (*case, "") for case in
             WORD_CASES + PRONOUN_CASES + IMPERATIVE_OBJECT_CASES + NI_CASES]


@pytest.mark.parametrize(("bw", "stt", "expected", "lex"), ALL_CASES)
def test_tag_mapping(bw, stt, expected, lex):
    assert render(bw, stt, lex) == expected


def test_every_row_of_the_tag_table_is_exercised():
    used = set()
    for bw, stt, _, lex in ALL_CASES:
        analysis = Analysis.from_camel(camel(bw, stt, lex))
        for index, morpheme in enumerate(analysis.morphemes):
            rule = TAG_MAP.rule_for(morpheme, index == analysis.stem_index, analysis.state)
            if rule is not None:
                used.add(rule.line)
    unused = [rule for rule in TAG_MAP.rules if rule.line not in used]
    assert not unused, f"tag-table rows without a test: {unused}"


def test_star_rows_never_replace_the_lemma():
    # هُوَ alone is a pronoun lemma: PRON_3MS * -> "u" is for enclitics only.
    assert render("هُوَ/PRON_3MS") == "هُوَ"
    # Morpheme-specific rows do apply to a lemma (the preposition فِي is a whole word).
    assert render("فِي/PREP") == "fi "


def test_morpheme_specific_row_beats_star_row():
    rows = {rule.output for rule in TAG_MAP.rules if rule.tag == "PVSUFF_SUBJ:3MP"}
    assert rows == {"ew", "u"}
    assert render("دَع/PV+َوْا/PVSUFF_SUBJ:3MP") == "دَعew"
    assert render("دَع/PV+ُوا/PVSUFF_SUBJ:3MP") == "دَعu"


def test_sun_letter_shadda_after_the_article_is_the_article():
    assert render("ال/DET+شَّمْس/NOUN+ُ/CASE_DEF_NOM", "d") == "il-شَمْس"
    # A moon letter keeps a shadda of its own.
    assert render("ال/DET+كُتّاب/NOUN+ُ/CASE_DEF_NOM", "d") == "il-كُتّاب"


def test_parse_bw_and_stem():
    morphemes = parse_bw("وَ/CONJ+ال/DET+كِتاب/NOUN+ُ/CASE_DEF_NOM")
    assert [m.tag for m in morphemes] == ["CONJ", "DET", "NOUN", "CASE_DEF_NOM"]
    assert Analysis.from_camel(camel("وَ/CONJ+ال/DET+كِتاب/NOUN+ُ/CASE_DEF_NOM")).stem_index == 2
    # With CAMeL's lex, a pronoun lemma after a conjunction is the stem (and is not rewritten).
    assert render("وَ/CONJ+هُوَ/PRON_3MS", lex="هُوَ_1") == "u هُوَ"
    # Without it, a word of closed-class pieces has its host as stem.
    assert Analysis.from_camel(camel("عَن/PREP+كُما/PRON_2D")).stem_index == 0
    with pytest.raises(AugkitError, match="not morpheme/TAG"):
        parse_bw("كِتاب")
    with pytest.raises(AugkitError, match="lacks field"):
        Analysis.from_camel({"diac": "x"})


# --- end to end through the CharTx rules and the Maltese post-processing, with a CAMeL backend ---

class HandWrittenDisambiguator:
    """Stands in for CAMeL's data (which cannot be downloaded here): returns, per word, the
    hand-written analysis in the shape of CAMeL's `DisambiguatedWord` objects."""

    def __init__(self, analyses: dict[str, dict]):
        self.analyses = analyses

    def disambiguate(self, words):
        return [
            SimpleNamespace(word=word, analyses=[SimpleNamespace(analysis=self.analyses[word])] if word in self.analyses else [])
            for word in words
        ]


SENTENCE_ANALYSES = {
    "الكلب": camel("ال/DET+كَلْب/NOUN+ُ/CASE_DEF_NOM", "d"),
    "بالليل": camel("بِ/PREP+ال/DET+لَّيْل/NOUN+ِ/CASE_DEF_GEN", "d"),
    "على": camel("عَلَى/PREP"),
    "للكلب": camel("لِ/PREP+ل/DET+كَلْب/NOUN+ِ/CASE_DEF_GEN", "d"),
    "والشمس": camel("وَ/CONJ+ال/DET+شَّمْس/NOUN+ُ/CASE_DEF_NOM", "d"),
    # Shadda before the vowel, as CAMeL and the CharTx rules write it.
    "محمد": camel("مُحَم\u0651\u064eد/NOUN_PROP+ٌ/CASE_INDEF_NOM", "i"),
    ".": {"diac": ".", "bw": "./PUNC", "pos": "punc", "stt": "na"},
}


@pytest.fixture(scope="module")
def camel_morphtx():
    chartx = load_scheme("chartx")
    engine = RuleEngine([(rule.pattern, rule.output) for rule in chartx.rules])
    preprocessor = MorphPreprocessor(CamelAnalyzer(HandWrittenDisambiguator(SENTENCE_ANALYSES)), TAG_MAP)

    def run(tokens):
        return postprocess(" ".join(engine.rewrite_token(t) for t in preprocessor.map_tokens(tokens)), "maltese")

    return run, preprocessor


def test_camel_backend_end_to_end(camel_morphtx):
    run, preprocessor = camel_morphtx
    assert run(["الكلب", "بالليل", "."]) == "il-kelb bil-lejl."
    assert run(["على", "الكلب"]) == "għall-kelb"
    assert run(["للكلب", "والشمس"]) == "lill-kelb u ix-xems"
    assert run(["محمد"]) == "Muħemmed"
    # A word CAMeL has no analysis for is kept (then CharTx), and counted.
    assert run(["كلب"]) == "klb"
    assert preprocessor.analyzer.stats["fallback_no_analysis"] == 1
    assert preprocessor.analyzer.stats["not_arabic"] == 1


def test_camel_missing_names_the_data_packages():
    pytest.importorskip  # noqa: B018 - documents that this test is about the missing-package path
    try:
        import camel_tools  # noqa: F401
    except ImportError:
        with pytest.raises(AugkitError) as error:
            CamelAnalyzer.pretrained("msa")
        message = str(error.value)
        assert "augkit[camel]" in message
        assert "camel_data -i disambig-bert-unfactored-msa" in message
        assert "camel_data -i morphology-db-msa-r13" in message
    else:  # pragma: no cover - only where CAMeL Tools is installed
        pytest.skip("camel_tools is installed; the missing-package message cannot be observed")


def test_unknown_camel_model():
    with pytest.raises(AugkitError, match="known: msa, egy"):
        CamelAnalyzer.pretrained("xyz")


# --- the tag table file itself ---

def write(tmp_path, body: str):
    path = tmp_path / "tags.tsv"
    path.write_text("tag\tmorpheme\tstate\toutput\tcomment\n" + body, encoding="utf-8")
    return path


def test_tag_table_errors_name_file_and_line(tmp_path):
    with pytest.raises(InputError, match=r"tags.tsv:3: .*listed twice \(first on line 2\)"):
        TagMap.load(write(tmp_path, 'DET\t*\t*\t"il-"\nDET\t*\t*\t"l-"\n'))
    with pytest.raises(InputError, match=r"tags.tsv:2: output 'il-' must be written in double quotes"):
        TagMap.load(write(tmp_path, "DET\t*\t*\til-\n"))
    with pytest.raises(InputError, match=r"tags.tsv:2: expected tag"):
        TagMap.load(write(tmp_path, 'DET\t*\n'))
    with pytest.raises(InputError, match=r"tags.tsv:2: bad tag"):
        TagMap.load(write(tmp_path, 'CASE_*_NOM\t*\t*\t""\n'))
    bad_header = tmp_path / "bad.tsv"
    bad_header.write_text('DET\t*\t*\t"il-"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.tsv:1: the first line must be the header"):
        TagMap.load(bad_header)


def test_user_tag_table_changes_the_output(tmp_path):
    tags = TagMap.load(write(tmp_path, 'DET\t*\t*\t"l-"\nCASE_DEF_*\t*\t*\t""\n'))
    assert tags.render(Analysis.from_camel(camel("ال/DET+كَلْب/NOUN+ُ/CASE_DEF_NOM", "d"))) == "l-كَلْب"


def test_diacritise_only_without_tag_table():
    preprocessor = MorphPreprocessor(CamelAnalyzer(HandWrittenDisambiguator(SENTENCE_ANALYSES)), None)
    assert preprocessor.map_tokens(["الكلب", "كلب"]) == ["الكَلْبُ", "كلب"]


# --- the improved variants: each chartx-plus fix, against the faithful chartx ---

@pytest.fixture(scope="module")
def chartx_pair():
    from augment.transliterate import Transliterator

    return Transliterator("chartx"), Transliterator("chartx-plus")


@pytest.mark.parametrize(("fix", "arabic", "faithful", "improved"), [
    # A: vowel before shadda (NFC order) is read as shadda first.
    ("A", "مُحَم\u064e\u0651دٌ", "muħemed", "muħemmed"),
    ("A", "مُحَم\u0651\u064eدٌ", "muħemmed", "muħemmed"),
    # B: Persian/Urdu look-alikes become Arabic letters (CharTx leaves them in Arabic script).
    ("B", "علی کتاب", "għlی کtab", "għli ktab"),
    ("B", "پاکستان ۱۲", "پaکstan ۱۲", "pakstan 12"),
    # C: the article without an analyzer, with sun-letter assimilation.
    ("C", "الشمس", "alxms", "ix-xms"),
    ("C", "الد\u0651َار", "addar", "id-dar"),
    ("C", "الكتاب", "alktab", "il-ktab"),
    # D: jeem + shadda is ġġ.
    ("D", "حَج\u0651َ", "ħegge", "ħeġġe"),
    # G: an alif carrying a short vowel (hamzat wasl, as diacritisers write it) is that vowel.
    ("G", "اِنْتِقَال", "aintiqal", "intiqal"),
    ("G", "اُكْتُبْ", "auktub", "uktub"),
    # The rejected candidate E is not applied: word-initial bare أ is still deleted, as in CharTx.
    ("E rejected", "أكبر", "kbr", "kbr"),
])
def test_chartx_plus_fixes(chartx_pair, fix, arabic, faithful, improved):
    chartx, plus = chartx_pair
    assert chartx.transliterate(arabic) == faithful
    assert plus.transliterate(arabic) == improved


def test_chartx_plus_changes_nothing_else(chartx_pair):
    chartx, plus = chartx_pair
    # No article, look-alike, NFC-ordered shadda or jeem-shadda: identical to the published system.
    text = "كَتَبَ وَلَدٌ رِسَالَةً، ثُم\u0651َ نَامَ ١٢ مرة؟"
    assert plus.transliterate(text) == chartx.transliterate(text)


def test_morphtx_plus_uses_the_fixed_rules():
    from augment.transliterate import Transliterator

    assert Transliterator("morphtx").transliterate("حجّة على الكلب الانتقال") == "ħgga għall-kelb il-aintiqal"
    assert Transliterator("morphtx-plus").transliterate("حجّة على الكلب الانتقال") == "ħġġa għall-kelb il-intiqal"
