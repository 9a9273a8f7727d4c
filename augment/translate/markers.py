"""Project BIO labels through translation with bracket markers.

Each entity of a tokenised, BIO-labelled sentence is wrapped in markers (`[ Malta ]`) before
translation; in the translation, the i-th marker pair holds the i-th source entity, so its words get
`B-TYPE`, `I-TYPE`, ... and every other word `O`. When the markers come back lost, unbalanced or
nested, the fallback looks for each entity's own translation (translated alone, in the same
batches) in the marker-free translation with fuzzy word matching. When that fails as well the
example is dropped with the reason `markers_lost`.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

import regex

from augment.errors import AugkitError

OPEN, CLOSE = "[", "]"


@dataclass(frozen=True)
class Entity:
    start: int  # token index in the source
    end: int  # exclusive
    type: str


def entities(labels: list[str]) -> list[Entity]:
    """BIO (or IOB1: an I- after O opens an entity) labels -> entity spans."""
    spans: list[Entity] = []
    start, kind = None, None
    for index, label in enumerate([*labels, "O"]):
        prefix, _, label_type = label.partition("-")
        if prefix not in ("B", "I", "O") or (prefix != "O" and not label_type):
            raise AugkitError(f"label {label!r} is not a BIO tag (O, B-TYPE, I-TYPE)")
        continues = prefix == "I" and kind == label_type
        if start is not None and not continues:
            spans.append(Entity(start, index, kind))
            start, kind = None, None
        if prefix in ("B", "I") and not continues:
            start, kind = index, label_type
    return spans


def can_mark(tokens: list[str]) -> bool:
    """Markers must be unambiguous: the sentence may not contain them already."""
    return not any(OPEN in token or CLOSE in token for token in tokens)


def marked_text(tokens: list[str], spans: list[Entity]) -> str:
    words = list(tokens)
    for span in spans:
        words[span.start] = f"{OPEN} {words[span.start]}"
        words[span.end - 1] = f"{words[span.end - 1]} {CLOSE}"
    return " ".join(words)


def entity_texts(tokens: list[str], spans: list[Entity]) -> list[str]:
    return [" ".join(tokens[span.start:span.end]) for span in spans]


def project_markers(translation: str, spans: list[Entity],
                    entity_translations: list[str] | None = None) -> tuple[list[str], list[str]] | None:
    """(target tokens, BIO labels) from a marked translation, or None when the markers do not pair up
    one to one with the source entities. Translation may reorder entities: each marked target span
    takes the type of the source entity whose own translation it resembles most (without reuse);
    without entity translations, or between equally good matches, the order decides."""
    pieces = regex.findall(rf"{regex.escape(OPEN)}|{regex.escape(CLOSE)}|[^\s{regex.escape(OPEN + CLOSE)}]+", translation)
    tokens: list[str] = []
    marked: list[tuple[int, int]] = []  # target token ranges inside markers
    start = None
    for piece in pieces:
        if piece == OPEN:
            if start is not None:
                return None  # nested
            start = len(tokens)
        elif piece == CLOSE:
            if start is None or start == len(tokens):
                return None  # unbalanced, or an empty entity
            marked.append((start, len(tokens)))
            start = None
        else:
            tokens.append(piece)
    if start is not None or len(marked) != len(spans):
        return None
    labels = ["O"] * len(tokens)
    for (begin, end), span in zip(marked, _assign(tokens, marked, spans, entity_translations), strict=True):
        labels[begin:end] = [f"B-{span.type}"] + [f"I-{span.type}"] * (end - begin - 1)
    return tokens, labels


def _assign(tokens: list[str], marked: list[tuple[int, int]], spans: list[Entity],
            entity_translations: list[str] | None) -> list[Entity]:
    if not entity_translations:
        return spans
    free = list(range(len(spans)))
    chosen = []
    for begin, end in marked:
        text = " ".join(tokens[begin:end]).casefold()
        # max() keeps the first of equals, so ties go to source order.
        best = max(free, key=lambda i: SequenceMatcher(None, text, entity_translations[i].casefold()).ratio())
        free.remove(best)
        chosen.append(spans[best])
    return chosen


def project_fuzzy(translation: str, spans: list[Entity], entity_translations: list[str],
                  min_similarity: float = 0.8, marked: bool = True) -> tuple[list[str], list[str]] | None:
    """Fallback: find each entity's translation in the translation (best window of the same word
    count, similarity >= min_similarity, no overlaps). `marked`: the source carried markers, so any
    left in the translation are removed; otherwise brackets are the text's own and stay."""
    tokens = strip_markers(translation) if marked else translation.split()
    labels = ["O"] * len(tokens)
    for span, entity_translation in zip(spans, entity_translations, strict=True):
        words = entity_translation.split()
        best, best_start = 0.0, None
        for start in range(len(tokens) - len(words) + 1):
            if any(label != "O" for label in labels[start:start + len(words)]):
                continue
            window = " ".join(tokens[start:start + len(words)])
            similarity = SequenceMatcher(None, window.casefold(), entity_translation.casefold()).ratio()
            if similarity > best:
                best, best_start = similarity, start
        if not words or best_start is None or best < min_similarity:
            return None
        labels[best_start:best_start + len(words)] = [f"B-{span.type}"] + [f"I-{span.type}"] * (len(words) - 1)
    return tokens, labels


def strip_markers(translation: str) -> list[str]:
    """The translation's words without any marker."""
    return regex.sub(rf"[{regex.escape(OPEN + CLOSE)}]", " ", translation).split()
