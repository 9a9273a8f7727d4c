"""MorphTx: morphology-aware transliteration (Micallef, Habash & Borg, Findings of EMNLP 2025).

Each token is analysed (diacritised and segmented into tagged morphemes by a backend in
`augment.analyzers`); clitics and affixes are replaced by their Maltese counterparts from a tag
table (`schemes/morphtx/tag_map.tsv`); what stays Arabic (the stem, untabled affixes) is then
rewritten by the scheme's CharTx rules, and the Maltese post-processing contracts `bi il-` into
`bil-`, assimilates sun letters and capitalises `^`-marked proper nouns.

The hook the scheme engine calls is `MorphPreprocessor.map_tokens(tokens) -> list[str]`: one
string per token (never more, never fewer), made of Maltese pieces and diacritised Arabic.
Without a tag table (scheme `morphtx-diac`) it only diacritises.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

from augment.analyzers import Analysis, Analyzer, Morpheme, get_analyzer
from augment.analyzers.base import MARKS, MEMO_SIZE, ContextFreeAnalyzer
from augment.errors import InputError

TAG_MAP_HEADER = ["tag", "morpheme", "state", "output", "comment"]
SELF = "{}"  # in an output: the morpheme itself, left for the CharTx rules

_SUKUN = "\u0652"
_FINAL_VOWELS = frozenset("\u064b\u064c\u064d\u064e\u064f\u0650")
SHADDA = "\u0651"
# Arabic sun letters (and ل): after the article their shadda is the article's assimilated ل.
SUN_LETTERS = frozenset("تثدذرزسشصضطظلن")


def match_form(morpheme: str) -> str:
    """The form compared against tag-table morphemes: no sukun, no final short vowel or tanwin."""
    form = morpheme.replace(_SUKUN, "")
    while form and form[-1] in _FINAL_VOWELS:
        form = form[:-1]
    return form


@dataclass(frozen=True)
class TagRule:
    tag: str  # exact, or a prefix followed by `*`
    morpheme: str  # match_form of the morpheme, or "*"
    state: str  # "*" or a CAMeL `stt` value
    output: str
    line: int

    @property
    def specificity(self) -> int:
        return 2 * (self.morpheme != "*") + (self.state != "*")

    def matches(self, morpheme: Morpheme, is_stem: bool, state: str) -> bool:
        return fnmatch.fnmatchcase(morpheme.tag, self.tag) and self.fits(morpheme, is_stem, state)

    def fits(self, morpheme: Morpheme, is_stem: bool, state: str) -> bool:
        """`matches`, the tag aside."""
        if self.morpheme != "*" and self.morpheme != match_form(morpheme.form):
            return False
        if self.state != "*" and self.state != state:
            return False
        # A `*` row never replaces the lemma itself; it may only decorate it (`^{}`).
        return not (is_stem and self.morpheme == "*" and SELF not in self.output)


class TagMap:
    """The tag table: which Maltese string replaces a morpheme, by tag, form and state."""

    def __init__(self, rules: list[TagRule], path: str | os.PathLike = "<memory>"):
        # Most specific first; among equals, file order (duplicates are refused at load time).
        self.rules = sorted(rules, key=lambda rule: -rule.specificity)
        self.path = str(path)
        self._rendered: dict[Analysis, str] = {}  # analyses repeat as often as their words do
        self._by_tag: dict[str, list[TagRule]] = {}  # tag -> the rules whose tag pattern matches it, in order

    @classmethod
    def load(cls, path: str | os.PathLike) -> TagMap:
        path = Path(path)
        try:
            lines = path.read_bytes().decode("utf-8").split("\n")
        except UnicodeDecodeError as error:
            raise InputError(path, f"invalid UTF-8 at byte {error.start}") from None
        rules: list[TagRule] = []
        seen: dict[tuple[str, str, str], int] = {}
        header_seen = False
        for number, raw in enumerate(lines, start=1):
            line = raw.rstrip("\r")
            if not line.strip() or line.startswith("#"):
                continue
            cells = line.split("\t")
            if not header_seen:
                if cells != TAG_MAP_HEADER:
                    raise InputError(path, f"the first line must be the header {chr(9).join(TAG_MAP_HEADER)!r}",
                                     line=number)
                header_seen = True
                continue
            if len(cells) not in (4, 5):
                raise InputError(path, f"expected tag<TAB>morpheme<TAB>state<TAB>\"output\"[<TAB>comment], "
                                 f"found {len(cells)} fields", line=number)
            tag, morpheme, state, output = cells[:4]
            if not tag or "*" in tag[:-1]:
                raise InputError(path, f"bad tag {tag!r}: a tag may only end with *", line=number)
            if len(output) < 2 or output[0] != '"' or output[-1] != '"' or '"' in output[1:-1]:
                raise InputError(path, f"output {output!r} must be written in double quotes, e.g. \"bi \"",
                                 line=number)
            if not morpheme or not state:
                raise InputError(path, "empty morpheme or state (write * for any)", line=number)
            key = (tag, match_form(morpheme) if morpheme != "*" else "*", state)
            if key in seen:
                raise InputError(path, f"tag {tag} / morpheme {morpheme} / state {state} is listed twice "
                                 f"(first on line {seen[key]})", line=number)
            seen[key] = number
            rules.append(TagRule(tag, key[1], state, output[1:-1], number))
        if not header_seen:
            raise InputError(path, f"empty tag table (expected the header {chr(9).join(TAG_MAP_HEADER)!r})")
        return cls(rules, path)

    def rule_for(self, morpheme: Morpheme, is_stem: bool, state: str) -> TagRule | None:
        """The first rule (most specific first) that matches the morpheme."""
        candidates = self._by_tag.get(morpheme.tag)
        if candidates is None:
            candidates = self._by_tag[morpheme.tag] = [
                rule for rule in self.rules if fnmatch.fnmatchcase(morpheme.tag, rule.tag)]
        return next((rule for rule in candidates if rule.fits(morpheme, is_stem, state)), None)

    def render(self, analysis: Analysis) -> str:
        """The analysed word with every tabled morpheme replaced by its Maltese output."""
        rendered = self._rendered.get(analysis)
        if rendered is None:
            rendered = self._rendered[analysis] = self._render(analysis)
        return rendered

    def _render(self, analysis: Analysis) -> str:
        pieces = []
        after_article = False
        for index, morpheme in enumerate(analysis.morphemes):
            form = morpheme.form
            if after_article and form[:1] in SUN_LETTERS:
                form = _drop_first_shadda(form)
            rule = self.rule_for(morpheme, index == analysis.stem_index, analysis.state)
            after_article = rule is not None and morpheme.tag == "DET"
            pieces.append(form if rule is None else rule.output.replace(SELF, form))
        return "".join(pieces)


def _drop_first_shadda(form: str) -> str:
    """الشَّمْس: after the article, a sun letter's shadda is the article's assimilated ل, which
    `il-` already writes (post-processing turns il-x into ix-x); kept, it would double the letter.
    The shadda may come before or after the vowel (NFC puts the vowel first)."""
    marks_end = 1
    while marks_end < len(form) and form[marks_end] in MARKS:
        marks_end += 1
    return form[0] + form[1:marks_end].replace(SHADDA, "") + form[marks_end:]


class MorphPreprocessor:
    """The MorphTx hook of the scheme engine: tokens in, per-token Maltese+Arabic strings out.

    `analyzer` is a backend name (`offline`, `camel`) or an `Analyzer`; `tag_map` a `TagMap`, a
    TSV path, or None for diacritisation only (`morphtx-diac`); `analysis_cache` the backend's
    persistent cache (see `augment.analyzers.get_analyzer`). Tokens without an analysis pass
    through unchanged (and are counted in `analyzer.stats`).
    """

    def __init__(self, analyzer: str | Analyzer, tag_map: TagMap | str | os.PathLike | None = None,
                 analysis_cache: str | os.PathLike | None = None):
        self.analyzer = get_analyzer(analyzer, analysis_cache) if isinstance(analyzer, str) else analyzer
        self.tag_map = TagMap.load(tag_map) if isinstance(tag_map, (str, os.PathLike)) else tag_map
        # A context-free backend analyses a token the same way everywhere: its output is memoised per token.
        self._mapped: dict[str, str] | None = {} if isinstance(self.analyzer, ContextFreeAnalyzer) else None

    def map_tokens(self, tokens: list[str]) -> list[str]:
        analyses = self.analyzer.analyze(tokens)
        # strict: a backend that lost or merged a token must fail loudly, not shift the output.
        pairs = zip(tokens, analyses, strict=True)
        if self._mapped is None:
            return [self.map_token(token, analysis) for token, analysis in pairs]
        mapped = self._mapped
        if len(mapped) > MEMO_SIZE:
            mapped.clear()
        return [mapped[token] if token in mapped else mapped.setdefault(token, self.map_token(token, analysis))
                for token, analysis in pairs]

    def map_texts(self, texts: list[list[str]]) -> list[list[str]]:
        """`map_tokens` of each tokenized text; a context-free backend gets them all in one call."""
        if self._mapped is None:  # the backend reads each text as a context
            return [self.map_tokens(tokens) for tokens in texts]
        flat = self.map_tokens([token for tokens in texts for token in tokens])
        result, start = [], 0
        for tokens in texts:
            result.append(flat[start:start + len(tokens)])
            start += len(tokens)
        return result

    def map_token(self, token: str, analysis: Analysis | None) -> str:
        if analysis is None:
            return token
        if self.tag_map is None:
            return analysis.diac
        # Clitic outputs end in a space ("bi "); at the word's edges that space would double the
        # separator and block the contractions (`għal il-`), so it is trimmed there.
        return self.tag_map.render(analysis).strip() or token


def build_preprocessor(scheme, analysis_cache: str | os.PathLike | None = None) -> MorphPreprocessor:
    """The hook `augment.transliterate.Transliterator` calls for a scheme whose manifest names an
    `analyzer`: its `map_tokens` runs before the rules, with the scheme's `tag_map` (none: diacritise only)."""
    return MorphPreprocessor(scheme.analyzer, scheme.tag_map, analysis_cache)


def analyzer_summary(analyzer: Analyzer) -> list[str]:
    """Lines for a command's stderr summary: what the analyzer did with the tokens it was given,
    e.g. `analyzer offline: 15,621 analysed, 22 fallbacks (6 fallback_letters_changed, 16
    fallback_no_matching_segmentation), 2,583 not Arabic`, and for a memoising backend where the
    analyses came from: `analyzer offline: 15,643 Arabic tokens: 2,100 computed (13.4%), 5,301 read
    from the analysis cache .../analyses.sqlite (33.9%), 8,242 repeated in memory (52.7%)`."""
    stats = analyzer.stats
    fallbacks = {outcome: count for outcome, count in sorted(stats.items()) if outcome.startswith("fallback")}
    detail = ", ".join(f"{count:,} {outcome}" for outcome, count in fallbacks.items())
    lines = [f"analyzer {analyzer.name}: {stats['analyzed']:,} analysed, {sum(fallbacks.values()):,} fallbacks"
             + (f" ({detail})" if detail else "") + f", {stats['not_arabic']:,} not Arabic"]
    served = analyzer.served
    total = sum(served.values())
    if total:
        store = getattr(analyzer, "store", None)
        share = lambda key: f"{served[key]:,} ({served[key] / total:.1%})"  # noqa: E731
        read = f"{share('read')} read from the analysis cache {store.path}" if store is not None else \
            "none read (no analysis cache)"
        lines.append(f"analyzer {analyzer.name}: {total:,} Arabic tokens: {share('computed')} computed, "
                     f"{read}, {share('repeated')} repeated in memory")
    return lines
