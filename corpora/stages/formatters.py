"""`format_cpt` and `format_sft`: turn cleaned records into training examples."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

from augment.errors import AugkitError
from augment.languages import language_name, to_flores
from corpora.stage import Record, Stage, StageOutput, register
from corpora.stages.common import KeyedGlobalStage, natural_order, record_text, stable_hash, unit_interval

_STYLES = ("messages", "prompt_response")

# {auxiliary} is empty or one line, "<language>: <text>\n", placed right after the source.
DEFAULT_TEMPLATES = (
    "Translate the following {source_lang} text into {target_lang}.\n{source_lang}: {source}\n{auxiliary}"
    "{target_lang}:",
    "{source_lang}: {source}\n{auxiliary}Translate the {source_lang} text above into {target_lang}.",
    "Render this {source_lang} sentence in {target_lang}.\n{source_lang}: {source}\n{auxiliary}"
    "{target_lang} translation:",
)
_FIELDS = {"source_lang", "target_lang", "source", "auxiliary"}
AUTO = "auto"  # an auxiliary language chosen per record by URIEL+ distance (augment.uriel)


@dataclass(frozen=True)
class _Plan:
    """One direction of format_sft, resolved to FLORES codes."""

    source: str
    target: str
    templates: tuple[str, ...]
    auxiliary: str | None  # a FLORES code, AUTO, or None
    downsampled: bool
    names: dict[str, str]  # English names of the languages above, for the prompt

    @property
    def direction(self) -> str:
        return f"{self.source}-{self.target}"


@register
@dataclass(frozen=True)
class FormatCpt(KeyedGlobalStage, Stage):
    """Text for continual pre-training, one record per document, optionally packed.

    The records of one document (same `meta["split"]`, `source` and `doc`) are joined with
    `separator` in natural id order (`s:2` before `s:10`, so lines and sentences keep their order
    whatever order they arrive in) into one record with id `<source>:<doc>` (`<source>:<doc>@<split>`
    after a `split` stage) and `meta["parents"]`.
    A record without a `doc` is a document by itself and keeps its id. Token records read as their
    tokens joined by spaces.
    With `pack_chars`, documents are then concatenated, in the order of their first record in the
    batch and without mixing splits, with `document_separator` between them into records of at most
    `pack_chars` characters (a longer document is never cut and stands alone); a pack has the id
    `pack:<id of its first document>` and `meta["documents"]` lists its documents. Drops nothing.

    separator: between the records of one document (default newline).
    pack_chars: None (no packing) or the largest pack, in characters.
    document_separator: between packed documents (default blank line; e.g. "<|endoftext|>")."""

    name: ClassVar[str] = "format_cpt"

    separator: str = "\n"
    pack_chars: int | None = None
    document_separator: str = "\n\n"

    def __post_init__(self):
        for key in ("separator", "document_separator"):
            if not isinstance(getattr(self, key), str):
                raise ValueError(f"{key} must be a string, not {getattr(self, key)!r}")
        if self.pack_chars is not None and (
            isinstance(self.pack_chars, bool) or not isinstance(self.pack_chars, int) or self.pack_chars < 1
        ):
            raise ValueError(f"pack_chars must be a positive integer or null, not {self.pack_chars!r}")

    def group_key(self, record: Record) -> str:
        if record.get("doc") is None:
            return stable_hash("record", record["id"]).hex()
        split = (record.get("meta") or {}).get("split")
        return stable_hash("doc", split, record.get("source"), record["doc"]).hex()

    @property
    def grouped(self) -> bool:
        return self.pack_chars is None  # packing joins documents in batch order: one group

    def process_group(self, records: list[Record], plan: object = None) -> StageOutput:
        if len(records) == 1 and records[0].get("doc") is None:
            return StageOutput(kept=[_as_text(records[0], record_text(records[0]))], dropped=[])
        ordered = sorted(records, key=lambda r: natural_order(r["id"]))
        first = ordered[0]
        split = (first.get("meta") or {}).get("split")
        document = _document(
            f"{first.get('source')}:{first['doc']}" + (f"@{split}" if split is not None else ""),
            self.separator.join(record_text(r) for r in ordered),
            first,
            [r["id"] for r in ordered],
        )
        return StageOutput(kept=[document], dropped=[])

    def process(self, batch: list[Record]) -> StageOutput:
        documents = super().process(batch)
        if self.pack_chars is None:
            return documents
        input_ids = {record["id"] for record in batch}
        return StageOutput(kept=self._pack(documents.kept, input_ids), dropped=documents.dropped)

    def _pack(self, documents: list[Record], input_ids: set[str]) -> list[Record]:
        by_split: dict[object, list[list[Record]]] = {}
        length: dict[object, int] = {}  # characters in each split's open pack
        for document in documents:
            split = (document.get("meta") or {}).get("split")
            packs = by_split.setdefault(split, [[]])
            grown = length.get(split, 0) + len(self.document_separator) + len(document["text"])
            if packs[-1] and grown > self.pack_chars:
                packs.append([document])
                length[split] = len(document["text"])
            else:
                packs[-1].append(document)
                length[split] = grown if len(packs[-1]) > 1 else len(document["text"])
        packed = []
        for packs in by_split.values():
            for pack in packs:
                if len(pack) == 1 and pack[0].get("doc") is None:
                    packed.append(pack[0])  # a record that stays whole keeps its id
                    continue
                parents = [p for d in pack for p in ([d["id"]] if d["id"] in input_ids else d["meta"]["parents"])]
                record = _document(f"pack:{pack[0]['id']}", self.document_separator.join(d["text"] for d in pack),
                                   pack[0], parents)
                record["doc"] = None
                record["meta"]["documents"] = [d["id"] for d in pack]
                packed.append(record)
        return packed


def _as_text(record: Record, text: str) -> Record:
    """`record` with `text`, without token-level fields (they do not align with joined text)."""
    plain = {key: value for key, value in record.items() if key not in ("tokens", "upos", "labels")}
    plain["text"] = text
    return plain


def _document(new_id: str, text: str, first: Record, parents: list[str]) -> Record:
    meta = {"parents": parents}
    if "split" in (first.get("meta") or {}):
        meta["split"] = first["meta"]["split"]
    return {"id": new_id, "text": text, "lang": first.get("lang"), "source": first.get("source"),
            "doc": first.get("doc"), "meta": meta}


@lru_cache(maxsize=4096)
def nearest_language(target: str, candidates: tuple[str, ...], by: str) -> tuple[str | None, str]:
    """(the candidate nearest to `target` by URIEL+ distance `by`, or None when no candidate has a
    distance; the distance's signature). Ties go to the candidate that comes first."""
    from augment.uriel import load, parse_by

    uriel = load()
    ranking = uriel.rank(target, list(candidates), parse_by(by))
    return (ranking.ranked[0].code if ranking.ranked else None), ranking.signature


def _name(plan: _Plan, code: str) -> str:
    return plan.names[code] if code in plan.names else language_name(code)


@register
@dataclass(frozen=True)
class FormatSft(Stage):
    """Translation instructions from parallel records, one example per direction.

    A parallel record has `text` in `lang` and the other side(s) in `meta["translations"]`
    (`{FLORES code: text}`). For each direction `src-tgt` for which the record has both sides, it
    makes an example with id `<id>/<src>-<tgt>` (FLORES codes), `meta["parents"] = [id]`,
    `meta["direction"]`, `meta["template"]` (index of the template used) and `meta["auxiliary"]`
    (the auxiliary language used, or None). `lang` becomes the target language and `text` is
    removed; the example is in `messages` (chat: optional system turn, user prompt, assistant
    answer) or in `prompt` and `response`.

    directions: list of "src-tgt" (any codes augment.languages accepts, e.g. "zh-bo", "bo-en").
    templates: {direction or "*": [template, ...]}; each example uses one template of its direction
      (or of "*"), chosen by seeded hash. Placeholders: {source_lang}, {target_lang} (English names),
      {source}, and {auxiliary} (empty, or a line "<language>: <text>" with the auxiliary version).
    high_resource, reverse_fraction: LMT's Strategic Downsampling: of the directions whose target
      is one of the high_resource languages, only this fraction of examples is kept (seeded;
      e.g. 0.5); the rest are dropped with reason `strategic_downsampling`.
    auxiliary: {direction: language}: LMT's Parallel Multilingual Prompting: when the record also
      has the source in this related language, the prompt includes it ({auxiliary}). `auto`: of the
      record's other languages, the one nearest to the direction's target by `auxiliary_by`
      (ties: the smaller FLORES code; none when no distance is known), and `meta["auxiliary_by"]`
      records the distance's signature (`uriel+:1.3.2|by:genetic|...`).
    auxiliary_by: the URIEL+ distance that `auto` uses (`augkit languages rank --by`): genetic
      (default), geographic, syntactic, phonological, inventory, featural, morphological, script, or
      a weighted mean such as "genetic=0.5,script=0.5".
    style: messages (default) or prompt_response. system: optional system message (messages style).
    seed: decides templates and downsampling.
    Reasons: `no_translation_pair` (the record has no direction's two sides; the record itself is
    dropped), `strategic_downsampling` (an example, with its parent in `meta["parents"]`)."""

    name: ClassVar[str] = "format_sft"

    directions: tuple[str, ...] = ()
    templates: dict[str, list[str]] = field(default_factory=lambda: {"*": list(DEFAULT_TEMPLATES)})
    high_resource: tuple[str, ...] = ()
    reverse_fraction: float = 1.0
    auxiliary: dict[str, str] = field(default_factory=dict)
    auxiliary_by: str = "genetic"
    style: str = "messages"
    system: str | None = None
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.directions, str) or not self.directions:
            raise ValueError('directions must be a non-empty list such as ["zh-bo", "bo-zh"]')
        if isinstance(self.high_resource, str):
            raise ValueError(f"high_resource must be a list of languages, not {self.high_resource!r}")
        object.__setattr__(self, "directions", tuple(self.directions))
        object.__setattr__(self, "high_resource", tuple(self.high_resource))
        pairs = [self._pair(direction) for direction in self.directions]
        if len(set(pairs)) != len(pairs):
            raise ValueError(f"directions {list(self.directions)} name the same direction twice")
        if not isinstance(self.templates, dict) or not isinstance(self.auxiliary, dict):
            raise ValueError('templates and auxiliary must be mappings keyed by direction (templates also by "*")')
        for key, templates in self.templates.items():
            if key != "*":
                self._pair(key)
            if isinstance(templates, str) or not templates:
                raise ValueError(f"templates for {key!r} must be a non-empty list of strings")
            for template in templates:
                self._check_template(key, template)
        if isinstance(self.reverse_fraction, bool) or not isinstance(self.reverse_fraction, int | float) or not (
            0 <= self.reverse_fraction <= 1
        ):
            raise ValueError(f"reverse_fraction must be a number between 0 and 1, not {self.reverse_fraction!r}")
        for direction, language in self.auxiliary.items():
            if language != AUTO and self._flores(language, "auxiliary") in self._pair(direction):
                raise ValueError(f"auxiliary language of {direction!r} must differ from its source and target")
        if not isinstance(self.auxiliary_by, str):
            raise ValueError(f"auxiliary_by must be a distance name such as genetic, not {self.auxiliary_by!r}")
        if AUTO in self.auxiliary.values():
            from augment.uriel import load, parse_by

            try:
                parse_by(self.auxiliary_by)
            except AugkitError as error:
                raise ValueError(f"auxiliary_by: {error}") from error
            for direction, language in self.auxiliary.items():
                if language == AUTO and load().code(self._pair(direction)[1]) is None:
                    raise ValueError(f"auxiliary of {direction!r} is auto, but URIEL+ does not know its target "
                                     "language; name the auxiliary language instead")
        templates = {("*" if key == "*" else self._pair(key)): value for key, value in self.templates.items()}
        auxiliary = {self._pair(key): value if value == AUTO else self._flores(value, "auxiliary")
                     for key, value in self.auxiliary.items()}
        high_resource = {self._flores(code, "high_resource") for code in self.high_resource}
        plans = []
        for direction in self.directions:
            pair = self._pair(direction)
            chosen = templates.get(pair) or templates.get("*")
            if chosen is None:
                raise ValueError(f'templates have no entry for direction {direction!r} and no "*" entry')
            if pair in auxiliary and not all("{auxiliary}" in template for template in chosen):
                raise ValueError(f"direction {direction!r} has an auxiliary language, so its templates "
                                 "must contain {auxiliary}")
            languages = [*pair, auxiliary[pair]] if auxiliary.get(pair, AUTO) != AUTO else list(pair)
            names = {code: language_name(code) for code in languages}
            plans.append(_Plan(*pair, tuple(chosen), auxiliary.get(pair), pair[1] in high_resource, names))
        object.__setattr__(self, "_plans", tuple(plans))
        if self.style not in _STYLES:
            raise ValueError(f"style must be one of {', '.join(_STYLES)}, not {self.style!r}")
        if self.system is not None and not isinstance(self.system, str):
            raise ValueError("system must be a string or null")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, not {self.seed!r}")

    def process(self, batch: list[Record]) -> StageOutput:
        kept, dropped = [], []
        for record in batch:
            sides = self._sides(record)
            plans = [plan for plan in self._plans if sides.get(plan.source) and sides.get(plan.target)]
            if not plans:
                dropped.append((record, "no_translation_pair"))
            for plan in plans:
                example = self._example(record, sides, plan)
                if plan.downsampled and unit_interval(
                    "strategic_downsampling", self.seed, record["id"], plan.direction
                ) >= self.reverse_fraction:
                    dropped.append((example, "strategic_downsampling"))
                else:
                    kept.append(example)
        return StageOutput(kept=kept, dropped=dropped)

    def _example(self, record: Record, sides: dict[str, str], plan: _Plan) -> Record:
        choice = int(unit_interval("template", self.seed, record["id"], plan.direction) * len(plan.templates))
        chosen_by = {}
        if plan.auxiliary == AUTO:
            others = tuple(sorted(code for code, text in sides.items() if text and code not in (plan.source, plan.target)))
            auxiliary_language, signature = nearest_language(plan.target, others, self.auxiliary_by)
            chosen_by = {"auxiliary_by": signature}
        else:
            auxiliary_language = plan.auxiliary if plan.auxiliary and sides.get(plan.auxiliary) else None
        auxiliary = f"{_name(plan, auxiliary_language)}: {sides[auxiliary_language]}\n" if auxiliary_language else ""
        prompt = plan.templates[choice].format(
            source_lang=plan.names[plan.source], target_lang=plan.names[plan.target],
            source=sides[plan.source], auxiliary=auxiliary,
        )
        example = {key: value for key, value in record.items() if key not in ("text", "tokens", "upos", "labels")}
        example["id"] = f"{record['id']}/{plan.direction}"
        example["lang"] = plan.target
        example["meta"] = {
            **{k: v for k, v in (record.get("meta") or {}).items() if k != "translations"},
            "parents": [record["id"]], "direction": plan.direction, "template": choice,
            "auxiliary": auxiliary_language, **chosen_by,
        }
        if self.style == "messages":
            system = [{"role": "system", "content": self.system}] if self.system else []
            example["messages"] = [*system, {"role": "user", "content": prompt},
                                   {"role": "assistant", "content": sides[plan.target]}]
        else:
            example["prompt"], example["response"] = prompt, sides[plan.target]
        return example

    def _sides(self, record: Record) -> dict[str, str]:
        sides = {to_flores(code): text for code, text in ((record.get("meta") or {}).get("translations") or {}).items()}
        if record.get("lang"):
            sides[to_flores(record["lang"])] = record_text(record)
        return sides

    @staticmethod
    def _flores(code: str, where: str) -> str:
        try:
            return to_flores(code)
        except AugkitError as error:
            raise ValueError(f"{where}: {error}") from error

    def _pair(self, direction: str) -> tuple[str, str]:
        if not isinstance(direction, str) or direction.count("-") != 1:
            raise ValueError(f'a direction is written "src-tgt" (e.g. "zh-bo"), not {direction!r}')
        source, target = (self._flores(code, f"direction {direction!r}") for code in direction.split("-"))
        if source == target:
            raise ValueError(f"direction {direction!r} translates a language into itself")
        return source, target

    @staticmethod
    def _check_template(key: str, template: str) -> None:
        if not isinstance(template, str):
            raise ValueError(f"templates for {key!r} must be strings, not {template!r}")
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        except ValueError as error:
            raise ValueError(f"template {template!r} for {key!r}: {error}") from error
        unknown = names - _FIELDS
        if unknown:
            raise ValueError(f"template {template!r} for {key!r} uses unknown placeholder(s) {sorted(unknown)}; "
                             f"known: {sorted(_FIELDS)}")
        if "source" not in names:
            raise ValueError(f"template {template!r} for {key!r} must contain {{source}}")
