"""A deliberately naive implementation of the published scheme semantics, for differential tests.

Written straight from the issue's wording, sharing nothing with the engine but the rule table:
per-character tokenization, `str.replace` per rule per token, one `re.sub` per post-processing step.
"""

from __future__ import annotations

import re
import unicodedata

START, END = "\ufdd0", "\ufdd1"


def naive_tokenize(text: str) -> list[str]:
    """Whitespace split; each P*/S* character alone; everything else in runs (no emoji handling)."""
    tokens = []
    for word in text.split():
        run = ""
        for char in word:
            if unicodedata.category(char)[0] in "PS":
                if run:
                    tokens.append(run)
                    run = ""
                tokens.append(char)
            else:
                run += char
        if run:
            tokens.append(run)
    return tokens


def naive_rewrite(token: str, rules: list[tuple[str, str]]) -> str:
    text = START + token + END
    for pattern, output in rules:
        text = text.replace(pattern, output)
    return text.replace(START, "").replace(END, "")


def naive_postprocess(text: str, rule_set: str = "maltese") -> str:
    if rule_set == "none":
        return text
    if rule_set == "maltese":
        text = re.sub(r"\^([^\w\s]*)(\w)", lambda m: m.group(1) + m.group(2).upper(), text)
        for doubled, single in (("aa", "a"), ("ee", "e"), ("ii", "i"), ("oo", "o"), ("uu", "u"), ("ieie", "ie")):
            text = re.sub(doubled, single, text, flags=re.IGNORECASE)
        for old, new in (("bi ħal", "bħal"), ("bħal il-", "bħall-"), ("bi il-", "bil-"), ("li il-", "lill-"),
                         ("fi il-", "fil-"), ("ma' il-", "mal-"), ("ta' il-", "tal-"), ("għal il-", "għall-"),
                         ("minn il-", "mill-"), ("bi il-", "bil-")):
            text = re.sub(r"(?:^|(?<=\s))" + re.escape(old), new, text, flags=re.IGNORECASE)
        text = re.sub(r"(?:^|(?<=\s))bil-(?=[aeiouh]|għ)", "bl-", text, flags=re.IGNORECASE)
        text = re.sub(r"(?:^|(?<=\s))fil-(?=[aeiouh]|għ)", "fl-", text, flags=re.IGNORECASE)
        text = re.sub(r"(?:l|ll)-([ċdnrstxzżĊDNRSTXZŻ])", lambda m: m.group(1).lower() + "-" + m.group(1), text)
    return re.sub(r"\s+(?=[.,;:?!%])", "", text)


def naive_transliterate(text: str, rules: list[tuple[str, str]]) -> str:
    return naive_postprocess(" ".join(naive_rewrite(token, rules) for token in naive_tokenize(text)))
