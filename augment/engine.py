r"""The compiled transliteration engine: per-token rule rewriting and post-processing.

Semantics (issue 2 §3, issue 12), those of the published code (MLRS/maltify_arabic,
`rules/transliterate.py` and `baseline/transliterate.py`), which the compiled forms here reproduce
exactly:

* `RuleEngine.rewrite_token(token)` wraps the token as START + token + END and applies the rules in
  table order, each one `str.replace` of all non-overlapping occurrences, left to right, before the
  next rule runs (sequential rewriting). Markers left over at the end are removed. The published
  markers are the literal strings `<BOS>` and `<EOS>`; a token that could interact with them (one
  holding `<` or a marker character, possible only in token mode) is rewritten with them literally.
* `postprocess(text, rule_set)` applies a named rule set to a whole string: `maltese` (steps 1-6
  below, the published `post_process`), `detokenize` (step 6 only) or `none`. Each step is the
  published regular expression, applied to the whole string in this order:

  1. capitalisation: `\^([^\s\w]*)([\w])` -> the non-word characters, then the letter upper-cased
     (`^` is the proper-noun marker set by morphology-aware schemes);
  2. vowel collapsing: `([aeiou]|ie)\1` -> `\1`, case-insensitive, so the first letter is kept as
     written (`ESAA` -> `ESA`, `Aa` -> `A`) and `ie` pairs only collapse where no vowel pair starts first;
  3. contractions, `(^|\s+)` + `bi ħal`, `bħal il-`, `bi il-`, `li il-`, `fi il-`, `ma' il-`, `ta' il-`,
     `għal il-`, `minn il-`, `bi il-` (listed twice in the published code), case-insensitive
     (`CONTRACTIONS`);
  4. `bil-`/`fil-` before a, e, i, o, u, h or għ -> `bl-`/`fl-`, case-insensitive;
  5. sun letters: `l{1,2}-([lċdnrstxzż])`, case-insensitive (so `L-` and `ll-l` too) -> the letter
     lower-cased, `-`, the letter as written: `bħall-lejl` -> `bħal-lejl`;
  6. detokenisation: whitespace before . , ; : ? ! % is removed.

* The baselines transliterate a token only when `re.match(rf"[{AR_CHARSET}]", token)` holds, with
  CAMeL Tools' `AR_CHARSET` frozenset formatted into the pattern (`published_token_test`).

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

# The published markers: patterns written with START/END are applied with these strings in their place.
PUBLISHED_START, PUBLISHED_END = "<BOS>", "<EOS>"

# Step 3, in the published order; `bi il-` is listed twice in the published code.
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
SUN_LETTERS = "lċdnrstxzż"

_CAPITAL = re.compile(r"\^([^\s\w]*)([\w])")
_DOUBLED_VOWEL = re.compile(r"([aeiou]|ie)\1", re.IGNORECASE)
# The characters that case-insensitive [aeiou] matches besides a e i o u (Python's re folds İ and ı
# to i). Without them and without `ieie`, the one-pass regex only ever joins a pair of one
# lower-case vowel, which str.replace does in C (Python 3.11's re.sub expands `\1` in Python per match).
_VOWEL_CASE_VARIANTS = re.compile("[AEIOU\u0130\u0131]")
# The published patterns, `(^|\s+)X` -> `\1Y` (and `(^|\s+)bil-(a|...)` -> `\1bl-\2`), written with
# look-arounds: the same matches (the whitespace and the letter after the hyphen are kept, not
# taken and put back), a fixed replacement instead of a template Python 3.11 expands per match,
# and about half the search time.
_CONTRACTIONS = tuple((re.compile(r"(?<!\S)" + old, re.IGNORECASE), new) for old, new in CONTRACTIONS)
# Only the first contraction lacks a hyphen. A text where it can match holds `bi ħal` as written or
# one of the characters that case-insensitive `bi ħal` matches besides its own (re folds İ and ı
# to i): two scans in C, 10x cheaper than the contraction's search.
_BI_HAL_CASE_VARIANTS = re.compile("[BIĦAL\u0130\u0131]")
_BI_HAL = _CONTRACTIONS[0][0]
# Every later contraction and both elisions hold `il-` (any case).
_IL = re.compile("il-", re.IGNORECASE)
_ARTICLE_STEPS = _CONTRACTIONS[1:] + (
    (re.compile(r"(?<!\S)bil-(?=a|e|i|o|u|h|għ)", re.IGNORECASE), "bl-"),
    (re.compile(r"(?<!\S)fil-(?=a|e|i|o|u|h|għ)", re.IGNORECASE), "fl-"),
)
_SUN = re.compile(rf"l{{1,2}}-([{SUN_LETTERS}])", re.IGNORECASE)
# Step 6 splits at the marks (a fast scan for a few characters) and strips the whitespace before
# each, rather than trying a `\s+([.,;:?!%])` match at every space: same result, 4x faster.
_DETOKENIZE_MARKS = re.compile(r"([.,;:?!%])")
_WHITESPACE_BUT_NEWLINE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and c != 10)


POSTPROCESS_RULE_SETS = ("maltese", "detokenize", "none")


def _capitalise(match: re.Match) -> str:
    return match.group(1) + match.group(2).upper()


def _assimilate(match: re.Match) -> str:
    letter = match.group(1)
    return f"{letter.lower()}-{letter}"


def postprocess(text: str, rule_set: str) -> str:
    """Apply the named post-processing rule set (`POSTPROCESS_RULE_SETS`) to `text`."""
    return postprocess_text(postprocess_words(text, rule_set), rule_set)


def postprocess_words(text: str, rule_set: str) -> str:
    """The steps whose matches never contain whitespace (maltese steps 1-2).

    Applying them to each space-separated piece and joining the pieces with spaces equals applying
    them to the joined text, so callers may apply them once per distinct word and cache the result.
    """
    if rule_set == "maltese":
        if "^" in text:
            text = _CAPITAL.sub(_capitalise, text)
        if "ieie" in text or _VOWEL_CASE_VARIANTS.search(text):
            return _DOUBLED_VOWEL.sub(r"\1", text)
        for vowel in "aeiou":
            text = text.replace(vowel + vowel, vowel)
        return text
    if rule_set in ("detokenize", "none"):
        return text
    raise AugkitError(f"unknown post-processing rule set {rule_set!r}; known: {', '.join(POSTPROCESS_RULE_SETS)}")


def postprocess_text(text: str, rule_set: str, detokenize: Callable[[str], str] | None = None) -> str:
    """The steps that look across whitespace (maltese steps 3-6; detokenize), after `postprocess_words`.

    `detokenize` replaces the step-6 function (see `postprocess_text_lines`).
    """
    if rule_set == "none":
        return text
    if rule_set == "maltese":
        if "bi ħal" in text or _BI_HAL_CASE_VARIANTS.search(text):
            text = _BI_HAL.sub("bħal", text)
        if "-" in text:  # every later pattern holds a hyphen
            if _IL.search(text):
                for pattern, replacement in _ARTICLE_STEPS:
                    text = pattern.sub(replacement, text)
            text = _SUN.sub(_assimilate, text)
    return (detokenize or _detokenize)(text)


def _detokenize(text: str, whitespace: str | None = None) -> str:
    """Step 6: remove the whitespace (by default any; else the characters given) before each mark."""
    parts = _DETOKENIZE_MARKS.split(text)  # text, mark, text, mark, ..., text
    for index in range(0, len(parts) - 1, 2):
        parts[index] = parts[index].rstrip(whitespace)
    return "".join(parts)


def _detokenize_lines(text: str) -> str:
    """Step 6 on newline-joined lines: newlines are kept."""
    return _detokenize(text, _WHITESPACE_BUT_NEWLINE)


def postprocess_text_lines(lines: list[str], rule_set: str) -> list[str]:
    r"""`postprocess_text` of each line, computed in one pass over all of them.

    Every step is line-local once step 6 leaves newlines alone (a `(^|\s+)` match that takes a
    newline puts it back), so the result is the same as line by line; a line that holds a newline
    itself makes this fall back to line by line.
    """
    if not lines:
        return []
    joined = "\n".join(lines)
    if joined.count("\n") != len(lines) - 1:
        return [postprocess_text(line, rule_set) for line in lines]
    return postprocess_joined_lines(joined, rule_set).split("\n")


def postprocess_joined_lines(text: str, rule_set: str) -> str:
    """`postprocess_text` of each line of `text`, newlines kept (lines must not hold other newlines)."""
    return postprocess_text(text, rule_set, _detokenize_lines)


class RuleEngine:
    """A compiled, ordered rule table.

    `rewrite_token(token)` is the published per-token rewrite (markers added, rules applied in
    order, markers removed), memoised. `rewrite_marked(text)` applies the same rules to a string in
    which many tokens are already wrapped in markers (see augment.text.mark_lines); because no
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
        self._published_rules = [(pattern.replace(START, PUBLISHED_START).replace(END, PUBLISHED_END), output)
                                 for pattern, output in self.rules]
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
        if "<" in token or START in token or END in token:
            return self.rewrite_published(token)
        return self.rewrite_marked(START + token + END)

    def rewrite_published(self, token: str) -> str:
        """The published rewrite with its literal markers, `<BOS>` + token + `<EOS>`: the same as
        `rewrite_token` unless the token holds `<` (a rule may then complete or match a marker, and
        the published rules 138-139 delete `<BOS>`/`<EOS>` wherever they stand) or a marker character."""
        text = PUBLISHED_START + token + PUBLISHED_END
        for pattern, output in self._published_rules:
            text = text.replace(pattern, output)
        return text


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
# CAMeL's Transliterator leaves a token part that starts with this marker untransliterated.
_IGNORE_MARKER = "@@IGNORE@@"
_IGNORED = re.compile(rf"({_IGNORE_MARKER}\S+)")

# CAMeL Tools' AR_CHARSET (camel_tools.utils.charsets, camel-tools 1.5.x), built from the same
# characters in the same way: the Arabic letters with tatweel and پ چ ڤ گ, and the diacritics.
AR_LETTERS_CHARSET = frozenset("\u0621\u0622\u0623\u0624\u0625\u0626\u0627"
                               "\u0628\u0629\u062a\u062b\u062c\u062d\u062e"
                               "\u062f\u0630\u0631\u0632\u0633\u0634\u0635"
                               "\u0636\u0637\u0638\u0639\u063a\u0640\u0641"
                               "\u0642\u0643\u0644\u0645\u0646\u0647\u0648"
                               "\u0649\u064a\u0671\u067e\u0686\u06a4\u06af")
AR_DIAC_CHARSET = frozenset("\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670")
AR_CHARSET = AR_LETTERS_CHARSET | AR_DIAC_CHARSET

# The published token test formats the frozenset itself into the pattern, so the class holds its
# repr: besides AR_CHARSET, the characters of `frozenset({'...', ...})` (f r o z e n s t ( { } ) '
# comma space). The repr's order varies with the hash seed; a character class does not.
_PUBLISHED_TOKEN_TEST = re.compile(rf"[{AR_CHARSET}]")
_ARABIC_LETTERS_TOKEN_TEST = re.compile(f"[{''.join(sorted(AR_CHARSET))}]")
TOKEN_TESTS = ("published", "arabic-letters")


def published_token_test(token: str) -> bool:
    """The baselines' test, as published: `re.match(rf"[{AR_CHARSET}]", token)`."""
    return _PUBLISHED_TOKEN_TEST.match(token) is not None


def arabic_letters_token_test(token: str) -> bool:
    """The test the published code meant: the token starts with a character of AR_CHARSET."""
    return _ARABIC_LETTERS_TOKEN_TEST.match(token) is not None


def token_test(name: str) -> Callable[[str], bool]:
    """The baselines' token test called `name` (`published`, the default, or `arabic-letters`)."""
    if name == "published":
        return published_token_test
    if name == "arabic-letters":
        return arabic_letters_token_test
    raise AugkitError(f"unknown token test {name!r}; known: {', '.join(TOKEN_TESTS)}")


def buckwalter(token: str) -> str:
    """CAMeL Tools' ar2bw Transliterator on a token (parts after `@@IGNORE@@` kept), lower-cased."""
    if _IGNORE_MARKER in token:
        return "".join(part if part.startswith(_IGNORE_MARKER) else part.translate(_BUCKWALTER_TABLE)
                       for part in _IGNORED.split(token)).lower()
    return token.translate(_BUCKWALTER_TABLE).lower()
