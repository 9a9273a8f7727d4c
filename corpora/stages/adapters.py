"""Stages around the `augment` components: transliterate, translate, filter_langid, project_labels.

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
    analysis_cache: for schemes with an analyzer (morphtx), the SQLite file of analyses shared by the
    workers and later builds (default: augkit's cache folder; `none`: none). Not part of the config:
    it changes no output.
    Reasons: `empty_output` (nothing left after transliteration).
    """

    name: ClassVar[str] = "transliterate"
    schemes: str | tuple[str, ...] = "chartx"
    normalize: str | None = None
    keep_original: bool = False
    analysis_cache: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "schemes", _names(self.schemes, "schemes"))

    def config(self) -> dict[str, Any]:
        signatures = [self._transliterator(scheme).signature for scheme in self.schemes]
        config = {**dataclasses.asdict(self), "schemes": list(self.schemes), "signatures": signatures}
        del config["analysis_cache"]
        return config

    def process(self, batch: list[Record]) -> StageOutput:
        kept, dropped = [], []
        for record in batch:
            if self.keep_original:
                kept.append(record)
            for scheme in self.schemes:
                output = self._one(record, scheme)
                empty = not (output.get("text") or "").strip() and not any(output.get("tokens") or [])
                (dropped.append((output, "empty_output")) if empty else kept.append(output))
        for scheme in self.schemes:
            self._transliterator(scheme).flush()  # the new analyses reach the shared cache before a worker stops
        return StageOutput(kept, dropped)

    def _transliterator(self, scheme: str):
        from augment.transliterate import get_transliterator  # cached per (scheme, normalize, analysis_cache)

        return get_transliterator(scheme, self.normalize, self.analysis_cache)

    def _one(self, record: Record, scheme: str) -> Record:
        transliterator = self._transliterator(scheme)
        fields: dict[str, Any] = {"lang": transliterator.scheme.target}
        if record.get("text") is not None:
            fields["text"] = transliterator.transliterate(record["text"])
        if record.get("tokens") is not None:
            fields["tokens"] = transliterator.transliterate_tokens(record["tokens"])
        return derive(record, f"{record['id']}/{transliterator.scheme.name}", [record["id"]],
                      meta={"scheme": transliterator.signature}, **fields)


@register
@dataclass(frozen=True)
class Translate(Stage):
    """Machine-translate records with CTranslate2 (`augment.translate`), with its output filters.

    Each input gives one new record per hypothesis, id `<id>/<tgt>` (`#<n>` appended when
    `num_hypotheses` > 1), `lang` = `tgt`, `meta["parents"]`, `meta["translation"]` (signature,
    source) and the source side in `meta["translations"]`, so the pair can feed `format_sft`.
    Text is split into sentences and re-joined; records with BIO `labels` are translated with
    markers and their labels projected (augment.translate.markers). A token record without BIO
    labels is translated as text and loses its tokens (UPOS does not carry over a translation).
    A rejected translation is dropped with the filter's reason (`empty`, `copy`, `length_ratio`,
    `repeated_ngrams`, `wrong_language`, `wrong_script`, `markers_lost`).

    model: a CTranslate2 model folder, or a Hugging Face model (local folder, or hub id when online),
      converted once into the cache. src, tgt: language codes.
    quantization, device, beam_size, num_hypotheses, max_batch_tokens: as `augkit translate`.
    language_check: `langid`, `script` or `none`; min_ratio, max_ratio, max_repeats: the filters.
    cache: augkit's cache folder (converted models, the translation cache), default ~/.cache/augkit.
    keep_original: keep the input record as well.
    """

    name: ClassVar[str] = "translate"
    loads_model: ClassVar[bool] = True  # one CTranslate2 translator per worker (per GPU on a cluster)
    model: str = ""
    src: str = ""
    tgt: str = ""
    quantization: str = "int8"
    device: str = "auto"
    beam_size: int = 4
    num_hypotheses: int = 1
    max_batch_tokens: int = 4096
    language_check: str = "langid"
    min_ratio: float = 0.2
    max_ratio: float = 5.0
    max_repeats: int = 3
    cache: str | None = None
    keep_original: bool = False

    def __post_init__(self):
        if not self.model or not self.src or not self.tgt:
            raise ValueError("translate needs `model`, `src` and `tgt`")
        object.__setattr__(self, "src", to_flores(self.src))
        object.__setattr__(self, "tgt", to_flores(self.tgt))

    def config(self) -> dict[str, Any]:
        from augment.translate.models import prepare_model

        # The model's content hash, not the loaded model: the parent process must not open the
        # translation cache (an SQLite connection) before forking the workers.
        files = prepare_model(self.model, quantization=self.quantization, cache=self.cache)
        return {**dataclasses.asdict(self), "model_fingerprint": files.fingerprint[:16]}

    def process(self, batch: list[Record]) -> StageOutput:
        from augment.translate.filters import default_filters
        from augment.translate.stream import translate_records

        translator = _translator(self.model, self.src, self.tgt, self.quantization, self.device, self.beam_size,
                                 self.num_hypotheses, self.max_batch_tokens, self.cache)
        filters = default_filters(self.tgt, self.language_check, min_ratio=self.min_ratio,
                                  max_ratio=self.max_ratio, max_repeats=self.max_repeats)
        inputs = [_translatable(record) for record in batch]
        kept = list(batch) if self.keep_original else []
        dropped = []
        results = translate_records(inputs, translator, filters=filters, window=max(1, len(inputs)))
        for output, reason in results:
            parent, _, hypothesis = output["id"].partition("#")
            meta = {**output["meta"], "translations": {**output["meta"].get("translations", {}),
                                                       self.src: output["meta"]["translation"]["source"]}}
            meta.pop("parents", None)
            record = derive(output, f"{parent}/{self.tgt}" + (f"#{hypothesis}" if hypothesis else ""), [parent],
                            meta=meta)
            (dropped.append((record, reason)) if reason else kept.append(record))
        return StageOutput(kept, dropped)


def _translatable(record: Record) -> Record:
    """What augment.translate expects: `text` only when there is text; tokens only with BIO labels."""
    if record.get("labels") is not None:
        return {key: value for key, value in record.items() if key != "upos"}
    if record.get("text") is None:
        return {**{k: v for k, v in record.items() if k not in ("tokens", "upos")},
                "text": " ".join(record.get("tokens") or [])}
    return {key: value for key, value in record.items() if key not in ("tokens", "upos")}


@lru_cache(maxsize=4)
def _translator(model, src, tgt, quantization, device, beam_size, num_hypotheses, max_batch_tokens, cache):
    from augment.translate import Decoding, Translator

    return Translator(model, src, tgt, quantization=quantization, device=device, cache=cache,
                      decoding=Decoding(beam_size=beam_size, num_hypotheses=num_hypotheses),
                      max_batch_tokens=max_batch_tokens)


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
