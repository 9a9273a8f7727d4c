"""The compiled transliteration engine: per-token rule rewriting and post-processing.

Semantics (issue 2, §3.2 and §5), which the compiled forms here reproduce exactly:

* `RuleEngine.rewrite_token(token)` wraps the token as START + token + END and applies the rules in
  table order, each one `str.replace` of all non-overlapping occurrences, left to right, before the
  next rule runs (sequential rewriting). Markers left over at the end are removed.
* `postprocess(text, rule_set)` applies a named rule set to a whole string: `maltese` (steps 1-5
  below), `detokenize` (step 5 only) or `none`.

  1. `^`, then any non-word non-space characters, then a word character: drop `^`, upper-case
     that character (proper-noun marker set by morphology-aware schemes).
  2. Doubled vowels collapse, case-insensitively: aa, ee, ii, oo, uu, then ieie (each pass
     replaces non-overlapping matches, left to right, with the lower-case single form: `Aa` -> `a`).
  3. Preposition + article contractions, at the text start or after whitespace, case-insensitive,
     in the listed order (`CONTRACTIONS`), then `bil-`/`fil-` before a vowel, h or għ -> `bl-`/`fl-`.
  4. Sun letters: `l` or `ll`, `-`, a sun letter (any case) -> the letter lower-cased, `-`, the
     letter as written.
  5. Detokenize: whitespace before . , ; : ? ! % is removed.

Speed comes from compiled forms that give the same output (augment.transliterate uses them):
rewriting is token-local, so each distinct word is rewritten once (text is Zipfian); new words are
rewritten together, one C-level `str.replace` per rule over a whole batch (`rewrite_marked`), in
groups that skip the rules needing marks they lack (`partition`); a single token only visits the
rules whose pattern can occur in it (`plan`, rules indexed by the characters they need);
post-processing is split into the steps that stay inside words (`postprocess_words`, once per
distinct word) and those that look across them (`postprocess_text`, one pass over many lines),
and passes whose trigger is absent are skipped.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache

from augment.errors import AugkitError
from augment.schemes import END, START

CACHE_SIZE = 1 << 19  # distinct words/tokens remembered (~100 MB at most); plenty for a Zipfian shard

SUN_LETTERS = "ċdnrstxzż"

# Step 3, in the published order; `bi il-` is listed twice in the published system.
CONTRACTIONS = (
    ("bi ħal", "bħal"),
    ("bħal il-", "bħall-"),
    ("bi il-", "bil-"),
    ("li il-", "lill-"),
    ("fi il-", "fil-"),
    ("ma' il-", "mal-"),
    ("ta' il-", "tal-"),
    ("għal il-", "għall-"),
    ("minn il-", "mill-"),
    ("bi il-", "bil-"),
)
ELISIONS = (("bil-", "bl-"), ("fil-", "fl-"))

_AT_WORD_START = r"(?<!\S)"  # the text's start or just after whitespace
_CAPITAL = re.compile(r"\^([^\w\s]*)(\w)")
DOUBLED_VOWELS = (("aa", "a"), ("ee", "e"), ("ii", "i"), ("oo", "o"), ("uu", "u"), ("ieie", "ie"))
_DOUBLED_VOWELS = tuple((re.compile(doubled, re.IGNORECASE), single) for doubled, single in DOUBLED_VOWELS)
# Characters that a case-insensitive `re` pattern of lower-case vowels can match besides a e i o u
# themselves (Python's re folds U+0130 and U+0131 to i). Without them, plain str.replace is exact.
_VOWEL_CASE_VARIANTS = re.compile("[AEIOU\u0130\u0131]")
# Characters that case-insensitive `bi ħal` can match besides its own (re folds U+0130, U+0131 to i).
_BI_HAL_CASE_VARIANTS = re.compile("[BIĦAL\u0130\u0131]")
_CONTRACTIONS = tuple((re.compile(_AT_WORD_START + re.escape(old), re.IGNORECASE), new) for old, new in CONTRACTIONS)
_ELISIONS = tuple(
    (re.compile(_AT_WORD_START + re.escape(old) + r"(?=[aeiouh]|għ)", re.IGNORECASE), new) for old, new in ELISIONS
)
_SUN = re.compile(rf"ll?-([{SUN_LETTERS}{SUN_LETTERS.upper()}])")
# Step 5 splits at the marks (a fast scan for a few characters) and strips the whitespace before
# each, rather than trying a `\s+(?=[.,;:?!%])` match at every space: same result, 4x faster.
_DETOKENIZE_MARKS = re.compile(r"([.,;:?!%])")
_WHITESPACE_BUT_NEWLINE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and c != 10)


def _capitalise(match: re.Match) -> str:
    return match.group(1) + match.group(2).upper()


def _assimilate(match: re.Match) -> str:
    letter = match.group(1)
    return f"{letter.lower()}-{letter}"


def postprocess(text: str, rule_set: str) -> str:
    """Apply the named post-processing rule set (`maltese`, `detokenize`, `none`) to `text`."""
    return postprocess_text(postprocess_words(text, rule_set), rule_set)


def postprocess_words(text: str, rule_set: str) -> str:
    """The steps whose matches never contain whitespace (maltese steps 1-2).

    Applying them to each space-separated piece and joining the pieces with spaces equals applying
    them to the joined text, so callers may apply them once per distinct word and cache the result.
    """
    if rule_set == "maltese":
        if "^" in text:
            text = _CAPITAL.sub(_capitalise, text)
        if _VOWEL_CASE_VARIANTS.search(text):
            for pattern, single in _DOUBLED_VOWELS:
                text = pattern.sub(single, text)
        else:
            for doubled, single in DOUBLED_VOWELS:
                text = text.replace(doubled, single)
        return text
    if rule_set in ("detokenize", "none"):
        return text
    raise AugkitError(f"unknown post-processing rule set {rule_set!r}; known: maltese, detokenize, none")


def postprocess_text(text: str, rule_set: str, detokenize: Callable[[str], str] | None = None) -> str:
    """The steps that look across whitespace (maltese steps 3-5; detokenize), after `postprocess_words`.

    `detokenize` replaces the step-5 function (see `postprocess_text_lines`).
    """
    if rule_set == "none":
        return text
    if rule_set == "maltese":
        if "-" in text:
            for pattern, replacement in _CONTRACTIONS + _ELISIONS:
                text = pattern.sub(replacement, text)
            text = _SUN.sub(_assimilate, text)
        elif "bi ħal" in text or _BI_HAL_CASE_VARIANTS.search(text):
            # Without an article hyphen only `bi ħal` can apply.
            pattern, replacement = _CONTRACTIONS[0]
            text = pattern.sub(replacement, text)
    return (detokenize or _detokenize)(text)


def _detokenize(text: str, whitespace: str | None = None) -> str:
    """Step 5: remove the whitespace (by default any; else the characters given) before each mark."""
    parts = _DETOKENIZE_MARKS.split(text)  # text, mark, text, mark, ..., text
    for index in range(0, len(parts) - 1, 2):
        parts[index] = parts[index].rstrip(whitespace)
    return "".join(parts)


def _detokenize_lines(text: str) -> str:
    """Step 5 on newline-joined lines: newlines are kept."""
    return _detokenize(text, _WHITESPACE_BUT_NEWLINE)


def postprocess_text_lines(lines: list[str], rule_set: str) -> list[str]:
    """`postprocess_text` of each line, computed in one pass over all of them.

    Every step is line-local once step 5 leaves newlines alone, so the result is the same as
    line by line; a line that holds a newline itself makes this fall back to line by line.
    """
    if not lines:
        return []
    joined = "\n".join(lines)
    if joined.count("\n") != len(lines) - 1:
        return [postprocess_text(line, rule_set) for line in lines]
    return postprocess_text(joined, rule_set, _detokenize_lines).split("\n")


class RuleEngine:
    """A compiled, ordered rule table.

    `rewrite_token(token)` is the published per-token rewrite (markers added, rules applied in
    order, markers removed), memoised. `rewrite_marked(text)` applies the same rules to a string in
    which many tokens are already wrapped in markers (see augment.text.mark_tokens); because no
    pattern can match across a marker pair, a space or a newline (checked here: `batchable`), that
    equals rewriting each token alone, but costs one C-level pass per rule for a whole batch.
    `partition(items)` groups a batch so that each group skips the rules it cannot need.
    """

    def __init__(self, rules: Sequence[tuple[str, str]], cache_size: int = CACHE_SIZE):
        self.rules = [(pattern, output) for pattern, output in rules]
        self._cache_size = cache_size
        output_chars = {c for _, output in self.rules for c in output} | {START, END}
        # A rule can only fire if each of its pattern characters is in the input or produced by
        # some rule. Each rule is keyed by one character it needs that no rule produces; a token
        # only visits the rules keyed by its own characters (plus the unkeyed ones).
        self._masks: dict[str, int] = {}
        self._always = 0
        for index, (pattern, _) in enumerate(self.rules):
            needed = set(pattern) - output_chars
            if needed:
                key = min(needed)
                self._masks[key] = self._masks.get(key, 0) | 1 << index
            else:
                self._always |= 1 << index
        self._plans: dict[int, tuple[tuple[str, str], ...]] = {}
        # Batches are split by the combining marks the rules need (marks are optional in Arabic
        # text): items without any such mark (undiacritised words) skip every rule that needs a
        # mark, over half of CharTx; of the others, those without the mark most rules need
        # (shadda, for CharTx) skip the rules needing it.
        needing = Counter(c for p, _ in self.rules for c in set(p) - output_chars
                          if unicodedata.category(c).startswith("M"))
        self._levels: list[tuple[re.Pattern, re.Pattern, tuple[tuple[str, str], ...]]] = []
        if needing:
            for marks in (set(needing), {needing.most_common(1)[0][0]}):
                chars = "".join(re.escape(c) for c in sorted(marks))
                having = re.compile(rf"^[^\n{chars}]*[{chars}][^\n]*$", re.MULTILINE)
                lacking = re.compile(rf"^[^\n{chars}]+$", re.MULTILINE)
                self._levels.append((having, lacking, tuple(r for r in self.rules if not marks & set(r[0]))))
        self.batchable = not any(" " in p or "\n" in p for p, _ in self.rules) and not any(
            "\n" in o for _, o in self.rules)
        self.rewrite_token: Callable[[str], str] = lru_cache(maxsize=cache_size)(self._rewrite)

    def __reduce__(self):
        return (RuleEngine, (self.rules, self._cache_size))

    def plan(self, chars) -> tuple[tuple[str, str], ...]:
        """The (pattern, output) rules, in table order, that can fire on a text with these characters."""
        mask = self._always
        masks = self._masks
        for char in chars:
            mask |= masks.get(char, 0)
        plan = self._plans.get(mask)
        if plan is None:
            plan = self._plans[mask] = tuple(rule for i, rule in enumerate(self.rules) if mask >> i & 1)
        return plan

    def rewrite_marked(self, text: str, plan: Sequence[tuple[str, str]] | None = None) -> str:
        """Apply the rules to marker-wrapped tokens (separated by spaces or newlines); drop markers.

        `plan` is the rule list to use; by default the rules that `text`'s characters allow.
        """
        for pattern, output in self.plan(set(text)) if plan is None else plan:
            text = text.replace(pattern, output)  # returns `text` itself when there is no match
        if START in text or END in text:
            text = text.replace(START, "").replace(END, "")
        return text

    def partition(self, items: str) -> list[tuple[str, Sequence[tuple[str, str]]]]:
        """Split newline-separated, non-empty items (not yet marked) into groups, each with the rules it may need.

        Returns `(items of the group, newline-separated, in their original relative order; plan)`.
        Marking a group and applying `rewrite_marked(marked, plan)` gives each item's rewrite.
        """
        groups = []
        for having, lacking, lacking_plan in self._levels:
            if not items:
                break
            groups.append(("\n".join(lacking.findall(items)), lacking_plan))
            items = "\n".join(having.findall(items))
        groups.append((items, self.rules))
        return [(group, plan) for group, plan in groups if group]

    def _rewrite(self, token: str) -> str:
        return self.rewrite_marked(START + token + END)


# CAMeL Tools' ar2bw character map (charmaps/ar2bw_map.json): standard Buckwalter plus P J V G for
# the Persian letters; characters outside it pass unchanged.
BUCKWALTER = {
    "\u0621": "'", "\u0622": "|", "\u0623": ">", "\u0624": "&", "\u0625": "<", "\u0626": "}",
    "\u0627": "A", "\u0628": "b", "\u0629": "p", "\u062A": "t", "\u062B": "v", "\u062C": "j",
    "\u062D": "H", "\u062E": "x", "\u062F": "d", "\u0630": "*", "\u0631": "r", "\u0632": "z",
    "\u0633": "s", "\u0634": "$", "\u0635": "S", "\u0636": "D", "\u0637": "T", "\u0638": "Z",
    "\u0639": "E", "\u063A": "g", "\u0640": "_", "\u0641": "f", "\u0642": "q", "\u0643": "k",
    "\u0644": "l", "\u0645": "m", "\u0646": "n", "\u0647": "h", "\u0648": "w", "\u0649": "Y",
    "\u064A": "y", "\u064B": "F", "\u064C": "N", "\u064D": "K", "\u064E": "a", "\u064F": "u",
    "\u0650": "i", "\u0651": "~", "\u0652": "o", "\u0670": "`", "\u0671": "{",
    "\u067E": "P", "\u0686": "J", "\u06A4": "V", "\u06AF": "G",
}
_BUCKWALTER_TABLE = str.maketrans(BUCKWALTER)

ARABIC_RANGES = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))


def starts_arabic(token: str) -> bool:
    """Whether the token's first character lies in one of the Arabic Unicode blocks."""
    if not token:
        return False
    code = ord(token[0])
    return any(low <= code <= high for low, high in ARABIC_RANGES)


def buckwalter_token(token: str) -> str:
    """The lower-cased Buckwalter transliteration of an Arabic-initial token; others unchanged."""
    return token.translate(_BUCKWALTER_TABLE).lower() if starts_arabic(token) else token
