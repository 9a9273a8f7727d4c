"""What every morphological analyzer backend returns, and the bookkeeping they share.

A backend turns a list of tokens into one `Analysis` (or `None`: no analysis) per token. The
morphemes carry Buckwalter/SAMA tags as CAMeL Tools writes them in its `bw` field
(`بِ/PREP+ال/DET+قَلَم/NOUN+ِ/CASE_DEF_GEN`), so one tag table serves every backend.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from augment.errors import AugkitError

# Tags of morphemes that attach before the stem (proclitics, imperfect/imperative prefixes).
_PREFIX_TAGS = frozenset(
    {"CONJ", "DET", "PREP", "FUT_PART", "JUS_PART", "EMPHATIC_PART", "INTERROG_PART", "RC_PART",
     "NEG_PART", "PART", "SUB_CONJ", "VOC_PART"}
)
# Tag prefixes of morphemes that attach after the stem (inflectional suffixes and enclitics).
_SUFFIX_TAG_PREFIXES = ("CASE_", "NSUFF_", "PVSUFF_", "IVSUFF_", "CVSUFF_", "POSS_PRON", "PRON_")


class Morpheme(NamedTuple):
    """One segment of a word: its diacritised Arabic form and its Buckwalter/SAMA tag. (Immutable
    tuples, like Analysis: cheap to build and hash when millions are read from the analysis cache.)"""

    form: str
    tag: str


class Analysis(NamedTuple):
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
    lemma_letters = letters(lemma.split("_")[0])
    if lemma_letters:
        for index, morpheme in enumerate(morphemes):
            if letters(morpheme.form) == lemma_letters:
                return index
    last = len(morphemes) - 1
    for index, morpheme in enumerate(morphemes):
        is_prefix = morpheme.tag in _PREFIX_TAGS and index < last
        is_suffix = morpheme.tag.startswith(_SUFFIX_TAG_PREFIXES) and index > 0
        if not (is_prefix or is_suffix):
            return index
    return next((index for index, m in enumerate(morphemes) if not m.tag.startswith(_SUFFIX_TAG_PREFIXES)), 0)


MARKS = frozenset("\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670")  # tanwin, short vowels, shadda, sukun, dagger alif


_DELETE_MARKS = str.maketrans("", "", "".join(MARKS))


def letters(text: str) -> str:
    """The text without its diacritical marks."""
    return text.translate(_DELETE_MARKS)


class Analyzer:
    """Base class of backends, with counters per token occurrence: `stats`, the outcome (what could
    not be analysed and why), and `served`, where the analysis came from (see ContextFreeAnalyzer)."""

    name = "base"

    def __init__(self) -> None:
        self.stats: Counter[str] = Counter()
        self.served: Counter[str] = Counter()

    def analyze(self, tokens: list[str]) -> list[Analysis | None]:
        """One entry per token, same length and order; `None` where there is no analysis."""
        raise NotImplementedError

    def count(self, outcome: str) -> None:
        self.stats[outcome] += 1

    def flush(self) -> None:
        """Write what is still queued for a persistent cache (nothing for most backends)."""

    def close(self) -> None:
        self.flush()


Entry = tuple[Analysis | None, str]  # an analysis (or None) and its outcome
# Distinct tokens a context-free backend remembers in memory (~0.5 GB at most); beyond that the
# memo starts again, the analysis cache on disk having them all.
MEMO_SIZE = 1 << 20


class ContextFreeAnalyzer(Analyzer):
    """A backend whose analysis of a token depends on the token alone. Each distinct token is
    analysed once: remembered for the process and, with a `store` (augment.analyzers.store), on
    disk for every process and later run. `served` counts, per occurrence of a token that needs
    analysis, whether it was `computed` here, `read` from the store, or `repeated` from memory."""

    def __init__(self, store=None) -> None:
        super().__init__()
        self.store = store
        self._memo: dict[str, Entry] = {}
        self._trivial: set[str] = set()  # memoised tokens that needed no analysis

    def needs_analysis(self, token: str) -> bool:
        """False for tokens the backend answers at once (e.g. not Arabic): neither stored nor counted in `served`."""
        return True

    def _analyze_token(self, token: str) -> Entry:
        raise NotImplementedError

    def analyze(self, tokens: list[str]) -> list[Analysis | None]:
        memo = self._memo
        counts = Counter(tokens)
        if len(memo) + len(counts) > MEMO_SIZE:
            memo.clear()
            self._trivial.clear()
        missing = [token for token in counts if token not in memo]
        first_source = self._fill(missing) if missing else {}
        # Counted per distinct token (times its occurrences): the per-occurrence work stays in C.
        stats, served, trivial = self.stats, self.served, self._trivial
        for token, count in counts.items():
            stats[memo[token][1]] += count
            if token not in trivial:
                source = first_source.get(token)
                if source:
                    served[source] += 1
                    count -= 1
                if count:
                    served["repeated"] += count
        return [memo[token][0] for token in tokens]

    def _fill(self, missing: list[str]) -> dict[str, str]:
        """Memoise the missing tokens' entries, from the store or computed; returns each one's source."""
        memo, sources = self._memo, {}
        wanted = []
        for token in missing:
            if self.needs_analysis(token):
                wanted.append(token)
            else:
                memo[token], sources[token] = self._analyze_token(token), ""
                self._trivial.add(token)
        if wanted and self.store is not None:
            for token, entry in self.store.get_many(wanted).items():
                memo[token], sources[token] = entry, "read"
        for token in wanted:
            if token not in memo:
                memo[token], sources[token] = self._analyze_token(token), "computed"
                if self.store is not None:
                    self.store.put(token, memo[token])
        return sources

    def flush(self) -> None:
        if self.store is not None:
            self.store.flush()

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
