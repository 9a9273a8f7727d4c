"""What every morphological analyzer backend returns, and the bookkeeping they share.

A backend turns a list of tokens into one `Analysis` (or `None`: no analysis) per token. The
morphemes carry Buckwalter/SAMA tags as CAMeL Tools writes them in its `bw` field
(`بِ/PREP+ال/DET+قَلَم/NOUN+ِ/CASE_DEF_GEN`), so one tag table serves every backend.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from augment.errors import AugkitError

# Tags of morphemes that attach before the stem (proclitics, imperfect/imperative prefixes).
_PREFIX_TAGS = frozenset(
    {"CONJ", "DET", "PREP", "FUT_PART", "JUS_PART", "EMPHATIC_PART", "INTERROG_PART", "RC_PART",
     "NEG_PART", "PART", "SUB_CONJ", "VOC_PART"}
)
# Tag prefixes of morphemes that attach after the stem (inflectional suffixes and enclitics).
_SUFFIX_TAG_PREFIXES = ("CASE_", "NSUFF_", "PVSUFF_", "IVSUFF_", "CVSUFF_", "POSS_PRON", "PRON_")


@dataclass(frozen=True)
class Morpheme:
    """One segment of a word: its diacritised Arabic form and its Buckwalter/SAMA tag."""

    form: str
    tag: str


@dataclass(frozen=True)
class Analysis:
    """The analysis of one token.

    `diac` is the whole diacritised word; `morphemes` concatenate to it (up to the backend's
    segmentation); `stem_index` points at the lemma's own morpheme (tag-table `*` entries never
    rewrite it); `state` is CAMeL's `stt` (`c` construct, `d` definite, `i` indefinite, `na`, `u`).
    """

    diac: str
    morphemes: tuple[Morpheme, ...]
    lemma: str
    state: str
    stem_index: int

    @classmethod
    def from_camel(cls, analysis: dict) -> Analysis:
        """Build from one CAMeL Tools analysis dict (fields `diac`, `bw`, `lex`, `stt`)."""
        missing = [field for field in ("diac", "bw") if field not in analysis]
        if missing:
            raise AugkitError(f"CAMeL analysis lacks field(s) {', '.join(missing)}: {analysis!r}")
        morphemes = parse_bw(analysis["bw"])
        return cls(
            diac=analysis["diac"],
            morphemes=morphemes,
            lemma=analysis.get("lex", ""),
            state=analysis.get("stt", "na"),
            stem_index=find_stem(morphemes, analysis.get("lex", "")),
        )


def parse_bw(bw: str) -> tuple[Morpheme, ...]:
    """Split CAMeL's `bw` field, `morpheme/TAG+morpheme/TAG`, into morphemes.

    Empty morphemes (`/CASE_DEF_NOM` on an undiacritised word) are kept: their tag still counts.
    """
    morphemes = []
    for piece in bw.split("+"):
        form, slash, tag = piece.rpartition("/")
        if not slash or not tag:
            raise AugkitError(f"bad CAMeL bw field {bw!r}: segment {piece!r} is not morpheme/TAG")
        morphemes.append(Morpheme(form, tag))
    return tuple(morphemes)


def find_stem(morphemes: tuple[Morpheme, ...], lemma: str = "") -> int:
    """Index of the lemma's own morpheme.

    The morpheme whose letters are the lemma's (CAMeL's `lex`, e.g. `كِتاب_1`) if there is one;
    else the first that is neither a prefix before another morpheme nor a suffix after one; else
    (a word made only of closed-class pieces, عَنْكُما) the first that is not a suffix: the host.
    """
    lemma_letters = _letters(lemma.split("_")[0])
    if lemma_letters:
        for index, morpheme in enumerate(morphemes):
            if _letters(morpheme.form) == lemma_letters:
                return index
    last = len(morphemes) - 1
    for index, morpheme in enumerate(morphemes):
        is_prefix = morpheme.tag in _PREFIX_TAGS and index < last
        is_suffix = morpheme.tag.startswith(_SUFFIX_TAG_PREFIXES) and index > 0
        if not (is_prefix or is_suffix):
            return index
    return next((index for index, m in enumerate(morphemes) if not m.tag.startswith(_SUFFIX_TAG_PREFIXES)), 0)


def _letters(text: str) -> str:
    return "".join(char for char in text if not ("\u064b" <= char <= "\u0652" or char == "\u0670"))


class Analyzer:
    """Base class of backends: memoised per distinct token where the backend is context-free,
    with counters of what could not be analysed and why (`stats`)."""

    name = "base"

    def __init__(self) -> None:
        self.stats: Counter[str] = Counter()

    def analyze(self, tokens: list[str]) -> list[Analysis | None]:
        """One entry per token, same length and order; `None` where there is no analysis."""
        raise NotImplementedError

    def count(self, outcome: str) -> None:
        self.stats[outcome] += 1

