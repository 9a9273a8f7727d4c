"""The `offline` backend: `mishkal` diacritises, `qalsadi` segments; both ship their dictionaries.

Measured defects this backend designs around (mishkal 0.4.1, qalsadi 0.5.1):
- mishkal on a sentence drops punctuation and can merge words (`هيل, سيكون` -> `هَيْلٌسَيُكَوِّنُ`),
  so it is called on one token at a time; one token in, one token out, never merged.
- mishkal occasionally changes letters or drops a mark it was given (`ٱللَّهِ` -> `ٱللّهِ`), so a
  token that already carries diacritics keeps its own, and a diacritisation whose letters differ
  from the token's is rejected (counted as `fallback_letters_changed`).
- qalsadi returns every analysis of a word, unranked; the one kept is the one whose vocalisation
  mishkal chose (counted as `fallback_no_matching_segmentation` when none matches: the token is
  then diacritised but not segmented).
Analyses are context-free, so they are memoised per distinct token; fallbacks are counted per
token occurrence in `stats`. A token's analysis is a pure function of the token (whatever the hash
seed, the process, or the tokens analysed before): two qalsadi defects that broke this are worked
around in `OfflineAnalyzer.__init__`.
"""

from __future__ import annotations

import functools
import importlib

from pyarabic.araby import vocalizedlike

from augment.analyzers.base import MARKS, Analysis, ContextFreeAnalyzer, Entry, Morpheme, letters
from augment.analyzers.offline_speed import (
    fast_pyarabic,
    index_dictionary,
    index_stop_words,
    index_word_frequencies,
    precompile_long_collocations,
    share_tag_coder,
    skip_single_word_collocations,
)

SHADDA, SUKUN = "\u0651", "\u0652"
SHORT_VOWELS = frozenset("\u064e\u064f\u0650")  # fatha, damma, kasra
TANWIN = frozenset("\u064b\u064c\u064d")
# Arabic-script letters (Persian/Urdu look-alikes included, so that they count as fallbacks), no tatweel.
ARABIC_LETTERS = frozenset(chr(code) for code in [*range(0x0621, 0x064B), *range(0x0671, 0x06D4)]) - {"\u0640"}

# qalsadi's pronoun names (libqutrub conjugation table) -> SAMA person/number/gender codes.
PRONOUN_CODES = {
    "أنا": "1S", "نحن": "1P", "أنت": "2MS", "أنتَ": "2MS", "أنتِ": "2FS", "أنتما": "2D",
    "أنتما مؤ": "2D", "أنتم": "2MP", "أنتن": "2FP", "هو": "3MS", "هي": "3FS", "هما": "3MD",
    "هما مؤ": "3FD", "هم": "3MP", "هن": "3FP",
}
# Enclitic pronoun letters -> codes; ك is told apart by its vowel (كَ 2MS, كِ 2FS).
ENCLITIC_CODES = {
    "ي": "1S", "ني": "1S", "نا": "1P", "ك": "2MS", "كما": "2D", "كم": "2MP", "كن": "2FP",
    "ه": "3MS", "ها": "3FS", "هما": "3D", "هم": "3MP", "هن": "3FP",
}
PROCLITIC_TAGS = {"و": "CONJ", "ف": "CONJ", "ب": "PREP", "ك": "PREP", "س": "FUT_PART", "أ": "INTERROG_PART"}


# The qalsadi modules that iterate sets they build (`list(set(variants))`, `set([stem])` + `add`).
QALSADI_SET_USERS = ("qalsadi.stem_noun", "qalsadi.stem_verb", "qalsadi.stem_stop", "qalsadi.stem_unknown")


class UnreadMemo(dict):
    """A memo that is written but never read back: qalsadi's code stores a result, tests `key in
    memo` (always False here, so it recomputes) and returns `memo[key]`."""

    def __contains__(self, key) -> bool:
        return False


class InsertionOrderedSet(dict):
    """What qalsadi's stemmers do with a set (build, add, test, iterate), iterated in insertion
    order rather than in hash order. Built with `ordered_set`."""

    __slots__ = ()
    add = dict.setdefault  # add(item): inserted (as a key of value None) unless present


def ordered_set(items=()) -> InsertionOrderedSet:
    return InsertionOrderedSet.fromkeys(items)


def is_analyzable(token: str) -> bool:
    """Only pure Arabic-letter tokens (with marks) go to the analyzers; digits, Latin, symbols do not."""
    return any(char in ARABIC_LETTERS for char in token) and all(
        char in ARABIC_LETTERS or char in MARKS for char in token
    )


def clusters(word: str) -> list[str]:
    """Split a diacritised word into letter+marks clusters (marks before any letter are dropped)."""
    result: list[str] = []
    for char in word:
        if char in MARKS and result:
            result[-1] += char
        elif char not in MARKS:
            result.append(char)
    return result


class OfflineAnalyzer(ContextFreeAnalyzer):
    """mishkal + qalsadi, per distinct token (memoised, and stored when given an AnalysisStore).
    The libraries are loaded on the first token that needs them: a run whose tokens are all in
    the store never loads them."""

    name = "offline"

    def __init__(self, store=None) -> None:
        super().__init__(store)
        self._vocalizer = None  # mishkal's TashkeelClass
        self._lexical = None  # its qalsadi Analex

    def needs_analysis(self, token: str) -> bool:
        return is_analyzable(token)

    def _load(self) -> None:
        import maskouk.collocation_const
        import mishkal.tashkeel
        import pyarabic.araby

        # qalsadi's stemmers collect word and stem variants in sets and iterate them, so the order
        # of the candidates, which decides mishkal's ties (عندي: عَنَدِيّ or عُنَّدِيّ), changed with
        # PYTHONHASHSEED; they get a set that keeps insertion order, i.e. qalsadi's own preference.
        for module in QALSADI_SET_USERS:
            importlib.import_module(module).set = ordered_set
        self._vocalizer = mishkal.tashkeel.TashkeelClass()
        self._lexical = self._vocalizer.analyzer
        # Pure speed-ups (offline_speed.py): the same answers, without the per-token SQL and set-up.
        # Its "adjust vocalization" step rewrites the joined text, which suggestion mode discards.
        self._vocalizer.disable_ajust_vocalization()
        share_tag_coder(mishkal.tashkeel)
        lexical = self._lexical
        for dictionary in (lexical.nounstemmer.noun_dictionary, lexical.nounstemmer.custom_noun_dictionary,
                           lexical.verbstemmer.verb_dictionary, lexical.verbstemmer.custom_verb_dictionary):
            index_dictionary(dictionary)
        index_word_frequencies(lexical.wordfreq)
        lexical.unknownstemmer.wordfreq.lookup = lexical.unknownstemmer.noun_dictionary.lookup = lexical.wordfreq.lookup
        index_stop_words(lexical.stopwordsstemmer.stop_dictionary)
        skip_single_word_collocations(self._vocalizer.collo)
        precompile_long_collocations(self._vocalizer.collo, maskouk.collocation_const.GENERAL_COLLOCATIONS)
        fast_pyarabic(pyarabic.araby)
        # qalsadi memoises frequencies by word alone although they depend on the word type too
        # (the verb أَوَّلَ: 5,873; the noun: 985,545), so a candidate's frequency, which mishkal
        # chooses by, depended on the words analysed before; memoised by (word, type) instead.
        self._lexical.get_freq = functools.lru_cache(maxsize=None)(self._lexical.wordfreq.get_freq)
        # qalsadi's stop-word stemmer memoises whether affixes fit by the affixes alone, although the
        # answer depends on the stop word too (a pronoun enclitic in the genitive needs a word whose
        # class governs it, "جر"): after لَعَنَهُمُ (لَ + عَن + هُم) had stored "fits" for ل+هِمْ,
        # لبعضهم also took بَعْض as that stop word. The check is a few string tests: never memoised.
        self._lexical.stopwordsstemmer.cache_affixes_verification = UnreadMemo()
        # mishkal analyses each word with that same Analex, and we need the same candidates to
        # segment: memoising its check_word (briefly; our own memo keeps results) halves the cost,
        # as qalsadi is half of the time. check_text copies what it returns.
        self._lexical.check_word = functools.lru_cache(maxsize=4096)(self._lexical.check_word)

    def _analyze_token(self, token: str) -> Entry:
        if not is_analyzable(token):
            return None, "not_arabic"
        if self._vocalizer is None:
            self._load()
        bare = letters(token)
        candidates = self._lexical.check_word(bare, "")  # the very call (and cache key) of mishkal's check_text
        if len(token) != len(bare):
            # A token that came diacritised keeps its own marks (mishkal drops some it is given):
            # the segmentation kept is the first whose vocalisation agrees with them.
            diac = token
            match = next((c for c in candidates if vocalizedlike(token, c.get_vocalized())), None)
        else:
            suggestion = self._vocalizer.tashkeel(bare, suggestion=True)
            diac = suggestion[0]["chosen"] if len(suggestion) == 1 else ""
            if letters(diac) != bare:
                return None, "fallback_letters_changed"
            match = next((c for c in candidates if c.get_vocalized() == diac), None)
            if match is None:
                match = next((c for c in candidates if c.get_semivocalized() == suggestion[0]["semi"]), None)
        if match is None:
            return _unsegmented(diac), "fallback_no_matching_segmentation"
        analysis = segment(diac, match)
        if analysis is None:
            return _unsegmented(diac), "fallback_no_matching_segmentation"
        return analysis, "analyzed"


def _unsegmented(diac: str) -> Analysis:
    return Analysis(diac=diac, morphemes=(Morpheme(diac, "UNSEGMENTED"),), lemma="", state="na", stem_index=0)


def segment(diac: str, case) -> Analysis | None:
    """Cut the diacritised word along qalsadi's (proclitic, prefix, suffix, enclitic) and tag the
    pieces with SAMA tags; None when the pieces do not add up to the word."""
    procletic, prefix, suffix, enclitic = (letters(part) for part in case.get_affix())
    cells = clusters(diac)
    n_pro, n_pre, n_suf, n_enc = len(procletic), len(prefix), len(suffix), len(enclitic)
    n_stem = len(cells) - n_pro - n_pre - n_suf - n_enc
    if n_stem < 1:
        return None
    word_type = case.get_type()
    tags = case.get_tags()
    is_verb = word_type.startswith("Verb")
    is_stopword = word_type.startswith("STOPWORD")

    morphemes: list[Morpheme] = []
    position = 0
    # Proclitics: single letters, or the article (ال, or ل after لِ).
    while position < n_pro:
        letter = cells[position][0]
        if letter == "ا" and position + 1 < n_pro and cells[position + 1][0] == "ل":
            morphemes.append(Morpheme(cells[position] + cells[position + 1], "DET"))
            position += 2
        elif letter == "ل" and not is_verb and position > 0 and morphemes[-1].tag == "PREP":
            morphemes.append(Morpheme(cells[position], "DET"))
            position += 1
        elif letter == "ل":
            morphemes.append(Morpheme(cells[position], "JUS_PART" if is_verb else "PREP"))
            position += 1
        else:
            morphemes.append(Morpheme(cells[position], PROCLITIC_TAGS.get(letter, "PART")))
            position += 1
    pronoun = PRONOUN_CODES.get(case.pronoun, "")
    if n_pre:
        morphemes.append(Morpheme("".join(cells[position:position + n_pre]), f"IV{pronoun or 'PREF'}"))
        position += n_pre
    stem_cells = cells[position:position + n_stem]
    position += n_stem
    suffix_cells = cells[position:position + n_suf]
    enclitic_cells = cells[position + n_suf:]

    stem_tag = _stem_tag(word_type, tags, case.tense)
    suffix_morphemes: list[Morpheme] = []
    if is_verb:
        stem_cells, suffix_morphemes = _verb_suffix(stem_cells, suffix_cells, case.tense, pronoun)
    elif not is_stopword:
        feminine_lemma = letters(case.get_lemma()).endswith("ة")
        stem_cells, suffix_morphemes = _noun_suffix(stem_cells, suffix_cells, tags, case.gender, feminine_lemma)
    else:
        stem_cells = stem_cells + suffix_cells
    stem_index = len(morphemes)
    morphemes.append(Morpheme("".join(stem_cells), stem_tag))
    morphemes.extend(suffix_morphemes)
    if enclitic_cells:
        morphemes.append(_enclitic(enclitic_cells, stem_tag, case.tense))

    state = "c" if (enclitic_cells or "مضاف" in tags or "إضافة" in tags) else "d" if "تعريف" in tags else "na"
    return Analysis(diac=diac, morphemes=tuple(morphemes), lemma=case.get_lemma(), state=state, stem_index=stem_index)


def _stem_tag(word_type: str, tags: str, tense: str) -> str:
    if word_type.startswith("Verb"):
        return "PV" if "الماضي" in tense else "CV" if "الأمر" in tense else "IV"
    if word_type.startswith("STOPWORD"):
        if "اسم إضافة" in tags or "ظرف" in tags:
            return "NOUN"
        if "جار" in tags:
            return "PREP"
        if "ضمير" in tags:
            return "PRON"
        if "حرف عطف" in tags:
            return "CONJ"
        return "PART"
    return "NOUN"


def _split_vowel(cell: str) -> tuple[str, str]:
    """A cluster's letter (+ shadda/sukun) and its short vowel or tanwin, if any."""
    vowels = "".join(char for char in cell if char in SHORT_VOWELS or char in TANWIN)
    rest = "".join(char for char in cell if not (char in SHORT_VOWELS or char in TANWIN))
    return rest, vowels


def _take_case(cells: list[str], tanwin_tag: str = "CASE_INDEF", vowel_tag: str = "CASE_DEF") -> tuple[list[str], list[Morpheme]]:
    """Move the final short vowel / tanwin of the last cluster into a case morpheme."""
    if not cells:
        return cells, []
    if len(cells) > 1 and cells[-1] == "ا" and cells[-2].endswith("\u064b"):
        # كِتَابًا: tanwin fath with its seat alif is the indefinite accusative ending.
        return cells[:-2] + [cells[-2][:-1]], [Morpheme("\u064bا", "CASE_INDEF_ACC")]
    rest, vowels = _split_vowel(cells[-1])
    if not vowels:
        return cells, []
    case_name = {"\u064f": "NOM", "\u064c": "NOM", "\u064e": "ACC", "\u064b": "ACC", "\u0650": "GEN", "\u064d": "GEN"}[vowels[-1]]
    tag = f"{tanwin_tag if vowels[-1] in TANWIN else vowel_tag}_{case_name}"
    return cells[:-1] + [rest], [Morpheme(vowels, tag)]


def _absorb_vowel(stem_cells: list[str], suffix_form: str) -> tuple[list[str], str]:
    """SAMA writes the vowel before a suffix with the suffix (`َة`, `ُوا`): move it there."""
    rest, vowels = _split_vowel(stem_cells[-1])
    if not vowels:
        return stem_cells, suffix_form
    return stem_cells[:-1] + [rest], vowels + suffix_form


def _noun_suffix(
    stem_cells: list[str], suffix_cells: list[str], tags: str, gender: str, feminine_lemma: bool
) -> tuple[list[str], list[Morpheme]]:
    written = letters("".join(suffix_cells))
    last = letters(stem_cells[-1])
    if not written and len(stem_cells) > 1 and (last == "ة" or (last == "ت" and feminine_lemma)):
        # qalsadi keeps ة in lexicalised stems (مَدْرَسَة); SAMA splits it off as NSUFF_FEM_SG.
        stem_cells, suffix_cells, written = stem_cells[:-1], stem_cells[-1:], last
    if written in ("", "ي"):  # no suffix, or a nisba ي which SAMA keeps in the stem
        return _take_case(stem_cells + suffix_cells)
    if written in ("ة", "ت") and "مثنى" not in tags:
        body, case = _take_case(suffix_cells)
        stem_cells, form = _absorb_vowel(stem_cells, "".join(body))
        return stem_cells, [Morpheme(form, "NSUFF_FEM_SG"), *case]
    if written == "ات":
        body, case = _take_case(suffix_cells)
        stem_cells, form = _absorb_vowel(stem_cells, "".join(body))
        return stem_cells, [Morpheme(form, "NSUFF_FEM_PL"), *case]
    if "مثنى" in tags and written in ("ان", "ين", "ا", "ي"):
        kind = "NOM" if written.startswith("ا") else "ACC_GEN"
        kind += "_POSS" if len(written) == 1 else ""
        gender_name = "MASC"
        if letters(stem_cells[-1]) in ("ت", "ة") and "مؤنث" in (gender + tags):
            # The feminine dual's ت belongs to the suffix (مَدْرَسَتَانِ -> مَدْرَس + َتَانِ).
            gender_name = "FEM"
            suffix_cells = stem_cells[-1:] + suffix_cells
            stem_cells = stem_cells[:-1]
        stem_cells, form = _absorb_vowel(stem_cells, "".join(suffix_cells))
        return stem_cells, [Morpheme(form, f"NSUFF_{gender_name}_DU_{kind}")]
    if "جمع مذكر سالم" in tags and written in ("ون", "ين", "و", "ي"):
        kind = "NOM" if written.startswith("و") else "ACC_GEN"
        kind += "_POSS" if len(written) == 1 else ""
        stem_cells, form = _absorb_vowel(stem_cells, "".join(suffix_cells))
        return stem_cells, [Morpheme(form, f"NSUFF_MASC_PL_{kind}")]
    # Any other ending qalsadi split off stays with the stem; the case vowel is still separated.
    return _take_case(stem_cells + suffix_cells)


def _verb_suffix(stem_cells: list[str], suffix_cells: list[str], tense: str, pronoun: str) -> tuple[list[str], list[Morpheme]]:
    written = letters("".join(suffix_cells))
    if "الماضي" in tense:
        if not written:
            stem_cells, vowel = _take_vowel_only(stem_cells)
            return stem_cells, [Morpheme(vowel, "PVSUFF_SUBJ:3MS")] if vowel else []
        stem_cells, form = _absorb_vowel(stem_cells, "".join(suffix_cells))
        return stem_cells, [Morpheme(form, f"PVSUFF_SUBJ:{pronoun}")]
    if "الأمر" in tense:
        if not written:
            return stem_cells, []
        stem_cells, form = _absorb_vowel(stem_cells, "".join(suffix_cells))
        return stem_cells, [Morpheme(form, f"CVSUFF_SUBJ:{pronoun}")]
    # Imperfect: the mood vowel, or a subject suffix that carries the mood.
    if not written:
        stem_cells, vowel = _take_vowel_only(stem_cells)
        mood = {"\u064f": "I", "\u064e": "S"}.get(vowel[-1:], "J")
        return stem_cells, [Morpheme(vowel, f"IVSUFF_MOOD:{mood}")] if vowel else []
    stem_cells, form = _absorb_vowel(stem_cells, "".join(suffix_cells))
    mood = "I" if written.endswith("ن") else "SJ"
    if pronoun in ("3FP", "2FP"):
        tag = "IVSUFF_SUBJ:FP"
    elif pronoun == "2FS":
        tag = f"IVSUFF_SUBJ:2FS_MOOD:{mood}"
    elif pronoun.endswith("D"):
        tag = f"IVSUFF_SUBJ:D_MOOD:{mood}"
    else:
        tag = f"IVSUFF_SUBJ:MP_MOOD:{mood}"
    return stem_cells, [Morpheme(form, tag)]


def _take_vowel_only(stem_cells: list[str]) -> tuple[list[str], str]:
    rest, vowels = _split_vowel(stem_cells[-1])
    return stem_cells[:-1] + [rest], vowels


def _enclitic(cells: list[str], stem_tag: str, tense: str) -> Morpheme:
    form = "".join(cells)
    written = letters(form)
    code = ENCLITIC_CODES.get(written, "")
    if written == "ك" and "\u0650" in form:
        code = "2FS"
    if stem_tag in ("PV", "IV", "CV"):
        return Morpheme(form, f"{stem_tag}SUFF_DO:{code}")
    if stem_tag == "NOUN":
        return Morpheme(form, f"POSS_PRON_{code}")
    return Morpheme(form, f"PRON_{code}")
