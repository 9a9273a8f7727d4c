"""Split long documents into sentences and put the translations back together.

`split_document` returns the sentences and the separators between them, so `join_translations`
rebuilds a document with every sentence in its place: nothing is lost or reordered. Line breaks are
kept as they were; within a line, sentences are re-joined with a space, or with nothing when the
target language is written without spaces (Chinese, Japanese).
"""

from __future__ import annotations

import regex

from augment import languages

# A sentence ends at one or more terminators (with closing quotes/brackets after them). Latin and
# Arabic terminators end a sentence only before whitespace (so "3.14" and "e.g.x" stay whole);
# Chinese and Tibetan ones end it anywhere.
_TERMINATORS = r"(?:[.!?؟؛…]+[\"'”’»)\]]*(?=\s)|[。！？།༎]+[\"'”’»)\]」』]*)"
_SENTENCE_END = regex.compile(_TERMINATORS + r"\s*")
_NO_SPACE_SCRIPTS = {"Hans", "Hant", "Jpan", "Thai"}


def split_document(text: str) -> tuple[list[str], list[str]]:
    """`"A. B.\nC."` -> (["A.", "B.", "C."], [" ", "\n"]): one separator between each two sentences,
    a space within a line or the line breaks that stood there. Whitespace around the text is dropped."""
    spans = []
    for line in regex.finditer(r"[^\n]+", text):
        start = line.start()
        for match in _SENTENCE_END.finditer(line.group()):
            spans.append((start, line.start() + match.end()))
            start = line.start() + match.end()
        spans.append((start, line.end()))
    spans = [(start, end) for start, end in spans if text[start:end].strip()]
    sentences = [text[start:end].strip() for start, end in spans]
    separators = []
    for (_, previous_end), (next_start, _) in zip(spans, spans[1:], strict=False):
        breaks = text.count("\n", previous_end, next_start)
        separators.append("\n" * breaks if breaks else " ")
    return sentences, separators


def join_translations(translations: list[str], separators: list[str], target: str) -> str:
    gap = "" if languages.script(target) in _NO_SPACE_SCRIPTS else " "
    pieces = [translations[0]] if translations else []
    for separator, translation in zip(separators, translations[1:], strict=True):
        pieces.append(gap if separator == " " else separator)
        pieces.append(translation)
    return "".join(pieces)
