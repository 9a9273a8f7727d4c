"""Stages around the `augment` components: transliterate, filter_langid, project_labels (translate
joins them when the MT component lands).

Each adapter is a thin frozen dataclass: the component is loaded lazily, once per process, from a
cache keyed by the stage's settings (never pickled with the stage), so the same stage object runs
in the local engine's workers and in Ray Data's `map_batches`. `config()` adds the component's
signature (scheme version, model fingerprint), so the engine's cache notices a changed model.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from augment.languages import to_flores
from corpora.stage import Record, Stage, StageOutput, register
from corpora.stages.common import derive, with_meta


def _names(value: str | list[str] | tuple[str, ...], what: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ValueError(f"{what} must be a name or a non-empty list of names, not {value!r}")
    return names


@register
@dataclass(frozen=True)
class Transliterate(Stage):
    """One new record per scheme for every input (`augment.transliterate`).

    A record with `tokens` is transliterated in token mode (same number of tokens, so `upos` and
    `labels` stay aligned) and its `text` in text mode; a text record in text mode. The new record
    has the id `<id>/<scheme>`, the scheme's target language as `lang`, `meta["scheme"]` and
    `meta["parents"]`; the input is kept as well when `keep_original` is true.

    schemes: a scheme name or path to a manifest, or a list of them (`[chartx, morphtx]`).
    normalize: the transliterator's input normaliser (e.g. `arabic`), or None.
    Reasons: `empty_output` (nothing left after transliteration).
    """

    name: ClassVar[str] = "transliterate"
    schemes: str | tuple[str, ...] = "chartx"
    normalize: str | None = None
    keep_original: bool = False

    def __post_init__(self):
        object.__setattr__(self, "schemes", _names(self.schemes, "schemes"))

    def config(self) -> dict[str, Any]:
        signatures = [_transliterator(scheme, self.normalize).signature for scheme in self.schemes]
        return {**dataclasses.asdict(self), "schemes": list(self.schemes), "signatures": signatures}

    def process(self, batch: list[Record]) -> StageOutput:
        kept, dropped = [], []
        for record in batch:
            if self.keep_original:
                kept.append(record)
            for scheme in self.schemes:
                output = self._one(record, scheme)
                empty = not (output.get("text") or "").strip() and not any(output.get("tokens") or [])
                (dropped.append((output, "empty_output")) if empty else kept.append(output))
        return StageOutput(kept, dropped)

    def _one(self, record: Record, scheme: str) -> Record:
        transliterator = _transliterator(scheme, self.normalize)
        fields: dict[str, Any] = {"lang": transliterator.scheme.target}
        if record.get("text") is not None:
            fields["text"] = transliterator.transliterate(record["text"])
        if record.get("tokens") is not None:
            fields["tokens"] = transliterator.transliterate_tokens(record["tokens"])
        return derive(record, f"{record['id']}/{transliterator.scheme.name}", [record["id"]],
                      meta={"scheme": transliterator.signature}, **fields)


def _transliterator(scheme: str, normalize: str | None):
    from augment.transliterate import get_transliterator  # cached per (scheme, normalize)

    return get_transliterator(scheme, normalize)


@register
@dataclass(frozen=True)
class FilterLangid(Stage):
    """Keep records in their expected language (`augment.langid`); top-k scores go to `meta["langid"]`.

    language: the accepted language, or None for each record's own `lang`.
    threshold: None for the project's recommended configuration for that language (for Maltese, the
      general model plus the shipped Maltese verifier; see docs/langid.md), or a probability the
      general model's top-1 must reach.
    model: a fastText model file, or None for lid.176.ftz.
    k: how many scores to keep in meta.
    strip_diacritics: identify Arabic-script text without its harakat (the records keep them).
      lid.176 was trained on undiacritised text: on the first 2,000 Quran verses (fully
      diacritised) it puts Arabic first with p >= 0.5 for 37% of them, and for 99.8% once the
      harakat are removed.
    Reasons: `no_language`, `wrong_language`, `low_confidence`, `no_text`.
    """

    name: ClassVar[str] = "filter_langid"
    language: str | None = None
    threshold: float | None = None
    model: str | None = None
    k: int = 3
    strip_diacritics: bool = True

    def __post_init__(self):
        if self.language is not None:
            object.__setattr__(self, "language", to_flores(self.language))
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be within [0, 1], not {self.threshold!r}")
        if self.k < 1:
            raise ValueError(f"k must be at least 1, not {self.k!r}")

    def config(self) -> dict[str, Any]:
        from augment.langid import load_identifier

        entry = {**dataclasses.asdict(self), "model_fingerprint": load_identifier(self.model).fingerprint}
        if self.language is not None:
            entry["signature"] = _language_filter(self.language, self.threshold, self.model, self.k).signature()
        return entry

    def process(self, batch: list[Record]) -> StageOutput:
        groups: dict[str, list[int]] = {}
        dropped: list[tuple[Record, str]] = []
        verdicts: dict[int, Record] = {}
        for index, record in enumerate(batch):
            target = self.language or record.get("lang")
            if record.get("text") is None or not target:
                dropped.append((record, "no_text" if record.get("text") is None else "no_language"))
                continue
            groups.setdefault(target, []).append(index)
        kept_indices = []
        for target, indices in groups.items():
            texts = [batch[index]["text"] for index in indices]
            if self.strip_diacritics:
                texts = [_HARAKAT.sub("", text) for text in texts]
            decisions = _language_filter(target, self.threshold, self.model, self.k).decide(texts)
            for index, decision in zip(indices, decisions, strict=True):
                scores = {"top": [[code, round(score, 4)] for code, score in decision.scores]}
                if decision.verifier_score is not None:
                    scores["verifier"] = round(decision.verifier_score, 4)
                record = with_meta(batch[index], langid=scores)
                if decision.keep:
                    kept_indices.append(index)
                    verdicts[index] = record
                else:
                    dropped.append((record, decision.reason))
        return StageOutput([verdicts[index] for index in sorted(kept_indices)], dropped)


# Arabic tashkeel (fathatan..sukun and the rarer marks up to U+065F), dagger alif, Quranic annotation signs.
_HARAKAT = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")


@lru_cache(maxsize=32)
def _language_filter(language: str, threshold: float | None, model: str | None, k: int):
    from augment.langid import LanguageFilter, load_identifier

    identifier = load_identifier(model)
    if threshold is None:
        return LanguageFilter.for_target(language, identifier=identifier, k=k)
    return LanguageFilter({language: threshold}, identifier=identifier, k=k)


@register
@dataclass(frozen=True)
class ProjectLabels(Stage):
    """Give a record whose `text` was rewritten (translated or transliterated in text mode) tokens
    and token labels again, one to one from its old `tokens`.

    The new text is split on whitespace (the transliterator and the translator both separate tokens
    with spaces); when it has exactly as many tokens as the old `tokens`, each new token takes the
    old token's `upos` and `labels`, otherwise the record is dropped (a one-to-one projection would
    mislabel it). Records without tokens pass unchanged.
    Reasons: `token_count_mismatch`.
    """

    name: ClassVar[str] = "project_labels"

    def process(self, batch: list[Record]) -> StageOutput:
        kept, dropped = [], []
        for record in batch:
            if record.get("tokens") is None or record.get("text") is None:
                kept.append(record)
                continue
            tokens = record["text"].split()
            if len(tokens) != len(record["tokens"]):
                dropped.append((with_meta(record, projected_tokens=len(tokens)), "token_count_mismatch"))
                continue
            kept.append({**record, "tokens": tokens})
        return StageOutput(kept, dropped)
