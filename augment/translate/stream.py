"""Translate a stream of records, window by window, keeping labels and counting every drop.

A record (see `corpora.stage`) carries `text`, or `tokens` with aligned BIO `labels`. Text is split
into sentences and re-joined after translation; labelled tokens are wrapped in markers and their
labels projected (`augment.translate.markers`); any other field (a sentence-level label, `id`,
`doc`, ...) is copied. Records are read `window` at a time; while CTranslate2 decodes one window the
next one is read, split and tokenized, so memory stays bounded by two windows whatever the corpus
size. Each result is `(record, None)` when accepted or `(record, reason)` when rejected; outputs
keep the input order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from augment.translate import markers
from augment.translate.filters import Filter, first_failure
from augment.translate.segment import join_translations, split_document
from augment.translate.translator import Translator

Record = dict[str, Any]


@dataclass
class Job:
    """One record's share of a window: the segments it needs and how to rebuild it."""

    record: Record
    segments: list[str]
    separators: list[str] = field(default_factory=list)
    spans: list[markers.Entity] | None = None  # token-level labels
    marked: bool = False


@dataclass
class StreamCounts:
    records: int = 0
    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)
    projection: Counter = field(default_factory=Counter)  # markers / fuzzy


def translate_records(records: Iterable[Record], translator: Translator, *, filters: list[Filter],
                      text_field: str = "text", tokens_field: str = "tokens", labels_field: str | None = "labels",
                      split_sentences: bool = True, window: int = 2000,
                      counts: StreamCounts | None = None) -> Iterator[tuple[Record, str | None]]:
    counts = counts if counts is not None else StreamCounts()
    iterator = iter(records)

    def next_window():
        jobs = [_job(record, text_field, tokens_field, labels_field, split_sentences)
                for record in islice(iterator, window)]
        if not jobs:
            return None
        return jobs, translator.submit([segment for job in jobs for segment in job.segments])

    current = next_window()
    while current is not None:
        jobs, pending = current
        upcoming = next_window()  # read and tokenize ahead while this window decodes
        translations = pending.collect()
        for job in jobs:
            counts.records += 1
            for output, reason in _finish(job, translations, translator, filters, text_field, tokens_field,
                                          labels_field, counts):
                if reason is None:
                    counts.accepted += 1
                else:
                    counts.rejected[reason] += 1
                yield output, reason
        current = upcoming


def _job(record: Record, text_field: str, tokens_field: str, labels_field: str | None,
         split_sentences: bool) -> Job:
    labels = record.get(labels_field) if labels_field else None
    if isinstance(labels, list):
        tokens = record[tokens_field]
        spans = markers.entities(labels)
        entity_texts = markers.entity_texts(tokens, spans)
        if markers.can_mark(tokens):
            return Job(record, [markers.marked_text(tokens, spans), *entity_texts], spans=spans, marked=True)
        return Job(record, [" ".join(tokens), *entity_texts], spans=spans)
    text = record[text_field] if text_field in record else " ".join(record[tokens_field])
    if split_sentences:
        sentences, separators = split_document(text)
        return Job(record, sentences, separators)
    return Job(record, [text] if text.strip() else [])


def _finish(job: Job, translations: dict[str, list[str]], translator: Translator, filters: list[Filter],
            text_field: str, tokens_field: str, labels_field: str | None, counts: StreamCounts):
    record = job.record
    hypotheses = translator.decoding.num_hypotheses
    for index in range(hypotheses):
        output = {key: value for key, value in record.items()}
        if hypotheses > 1 and "id" in record:
            output["id"] = f"{record['id']}#{index}"
        output["lang"] = translator.tgt
        meta = dict(record.get("meta") or {})
        meta["translation"] = {"signature": translator.signature(), "hypothesis": index}
        output["meta"] = meta
        reason = None
        if job.spans is not None:
            source = " ".join(record[tokens_field])
            first = translations[job.segments[0]][index]
            entity_translations = [translations[segment][index] for segment in job.segments[1:]]
            projected = markers.project_markers(first, job.spans, entity_translations) if job.marked else None
            method = "markers"
            if projected is None:
                projected = markers.project_fuzzy(first, job.spans, entity_translations, marked=job.marked)
                method = "fuzzy"
            if projected is None:
                reason = "markers_lost"
                output[tokens_field] = markers.strip_markers(first) if job.marked else first.split()
                output[labels_field] = ["O"] * len(output[tokens_field])
            else:
                counts.projection[method] += 1
                output[tokens_field], output[labels_field] = projected
            translation = " ".join(output[tokens_field])
            if text_field in record:
                output[text_field] = translation
        else:
            source = record[text_field] if text_field in record else " ".join(record[tokens_field])
            pieces = [translations[segment][index] for segment in job.segments]
            translation = join_translations(pieces, job.separators, translator.tgt)
            if text_field in record:
                output[text_field] = translation
            else:
                output[tokens_field] = translation.split()
        meta["translation"]["source"] = source
        yield output, reason or first_failure(filters, source, translation)
