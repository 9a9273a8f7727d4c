"""Recipes: one YAML file that says what to read, what to do to it, and what to write.

    name: demo
    seed: 13
    shard_size: 500                 # records per shard: the unit of parallelism and of resume
    variables: {SAMPLES: ../samples}
    sources:
      - {name: arabic, format: txt, path: "${SAMPLES}/ar_sample.txt", lang: ar}
    stages:
      - {stage: normalize}
      - {stage: transliterate, schemes: [chartx], apply_to: {lang: ar}}
    outputs:
      - {format: jsonl, path: data, split_field: split}

`${NAME}` (or `${NAME:-default}`) in any string is replaced by a variable the recipe declares under
`variables:` (the environment variable NAME, when set, overrides the declared value; a variable
declared as `null` must come from the environment or a default) or by a built-in: `AUGKIT_SHARED`
(the real corpora folder, by default `shared/` beside the checkout, as in the tests; the environment
may override it) and `RECIPE_DIR`. Any other `${...}` is an error: a recipe cannot copy an
environment variable it does not declare (a token, a key) into the manifest and the dataset card.
Relative paths are relative to the recipe file. Unknown keys anywhere are errors naming the file and
the key.

`apply_to` is the one engine-level key of a step: `{source: [...], lang: [...]}` restricts the stage to
matching records; the others pass through it untouched (and are counted as passed through).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from augment.errors import AugkitError
from augment.languages import to_flores
from corpora.readers import Source
from corpora.stage import Record, Stage, StageOutput
from corpora.stages.registry import build_stage
from corpora.writers import Output

TOP_LEVEL_KEYS = {"name", "description", "seed", "shard_size", "variables", "sources", "stages", "outputs"}
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)
_ENVIRONMENT_BUILT_INS = ("AUGKIT_SHARED",)  # built-ins the environment may override
DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared"


class Reiterable:
    """Batches that can be read more than once (each pass reads the shards again from disk)."""

    def __init__(self, make: Callable[[], Iterable[list[Record]]]):
        self.make = make

    def __iter__(self) -> Iterator[list[Record]]:
        return iter(self.make())


@dataclass(frozen=True)
class Step:
    """A configured stage at its place in the recipe, with its `apply_to` selector."""

    index: int
    stage: Stage
    apply_to: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.index:02d}-{self.stage.name}"

    def selects(self, record: Record) -> bool:
        return all(record.get(key) in values for key, values in self.apply_to.items())

    def run(self, batch: list[Record]) -> StageOutput:
        """The stage's output for `batch`; records `apply_to` does not select pass through in place.

        Engine-agnostic: the local engine and a Ray `map_batches` call it the same way."""
        if not self.apply_to:
            return self.stage.process(batch)
        selected = [record for record in batch if self.selects(record)]
        output = self.stage.process(selected) if selected else StageOutput([], [])
        if len(selected) == len(batch):
            return output
        passed = [record for record in batch if not self.selects(record)]
        return StageOutput(_in_input_order(batch, passed + output.kept), output.dropped)

    def run_stream(self, read_batches: Callable[[], Iterable[list[Record]]]) -> Iterator[StageOutput]:
        """A global-view stage over every batch; bypassing records come first, in their order.

        The stage gets a re-iterable view of the batches, so it may make two passes."""
        if not self.apply_to:
            yield from self.stage.process_stream(Reiterable(read_batches))
            return
        for batch in read_batches():
            yield StageOutput([record for record in batch if not self.selects(record)], [])

        def selected() -> Iterator[list[Record]]:
            for batch in read_batches():
                yield [record for record in batch if self.selects(record)]

        yield from self.stage.process_stream(Reiterable(selected))

    def describe(self) -> dict[str, Any]:
        entry = {"step": self.index, "stage": self.stage.name, "config": self.stage.config()}
        if self.apply_to:
            entry["apply_to"] = {key: list(values) for key, values in self.apply_to.items()}
        return entry


@dataclass(frozen=True)
class Recipe:
    path: Path
    name: str
    seed: int
    shard_size: int
    sources: tuple[Source, ...]
    steps: tuple[Step, ...]
    outputs: tuple[Output, ...]
    description: str = ""
    text: str = ""  # the recipe file as written

    def resolved(self) -> dict[str, Any]:
        """Every setting after variables, defaults and seeds were filled in (stored in the manifest)."""
        return {
            "name": self.name, "seed": self.seed, "shard_size": self.shard_size,
            "sources": [_plain(dataclasses.asdict(source)) for source in self.sources],
            "stages": [step.describe() for step in self.steps],
            "outputs": [_plain(dataclasses.asdict(output)) for output in self.outputs],
        }


def _in_input_order(batch: list[Record], records: list[Record]) -> list[Record]:
    """`records` sorted by where they (or, for a derived record, their first parent) stood in `batch`."""
    position = {record["id"]: index for index, record in enumerate(batch)}

    def place(record: Record) -> int:
        if record["id"] in position:
            return position[record["id"]]
        parents = [position[p] for p in (record.get("meta") or {}).get("parents", ()) if p in position]
        return min(parents, default=len(batch))

    return sorted(records, key=place)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def load_recipe(path: str | os.PathLike) -> Recipe:
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AugkitError(f"{path}: no such recipe file") from None
    except UnicodeDecodeError as error:
        raise AugkitError(f"{path}: not UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise AugkitError(f"{path}: invalid YAML: {error}") from None
    if not isinstance(data, dict):
        raise AugkitError(f"{path}: a recipe is a YAML mapping with keys {sorted(TOP_LEVEL_KEYS)}")
    _no_unknown(data, TOP_LEVEL_KEYS, f"{path}")
    declared = data.get("variables") or {}
    if not isinstance(declared, dict):
        raise AugkitError(f"{path}: `variables` is a mapping {{NAME: value}}")
    variables: dict[str, str | None] = {"RECIPE_DIR": str(path.resolve().parent)}
    for name in _ENVIRONMENT_BUILT_INS:
        variables[name] = os.environ.get(name, str(DEFAULT_SHARED))
    for key, value in declared.items():
        if not isinstance(key, str) or not _VARIABLE.fullmatch(key) or ":" in key:
            raise AugkitError(f"{path}: variables: {key!r} is not a variable name (letters, digits, _)")
        if key in os.environ:
            variables[key] = os.environ[key]
        else:  # may use the ones above it
            variables[key] = None if value is None else _substitute(str(value), variables, path)
    data = _substitute({name: value for name, value in data.items() if name != "variables"}, variables, path)
    seed = _integer(data.get("seed", 0), f"{path}: seed")
    shard_size = _integer(data.get("shard_size", 10_000), f"{path}: shard_size")
    if shard_size < 1:
        raise AugkitError(f"{path}: shard_size must be >= 1")
    sources = tuple(_source(spec, index, path) for index, spec in enumerate(_list(data, "sources", path)))
    names = [source.name for source in sources]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AugkitError(f"{path}: source name(s) used twice: {duplicates}")
    steps = tuple(_step(spec, index, path, seed) for index, spec in enumerate(data.get("stages") or [], start=1))
    outputs = tuple(_output(spec, index, path) for index, spec in enumerate(_list(data, "outputs", path)))
    folders = [output.path for output in outputs]
    if len(set(folders)) != len(folders):
        raise AugkitError(f"{path}: two outputs write to the same path; give each its own `path`")
    return Recipe(path=path, name=str(data.get("name") or path.stem), seed=seed, shard_size=shard_size,
                  sources=sources, steps=steps, outputs=outputs, description=str(data.get("description") or ""),
                  text=text)


def _no_unknown(data: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise AugkitError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(known)}")


def _integer(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise AugkitError(f"{where} must be an integer, not {value!r}")
    return value


def _list(data: dict, key: str, path: Path) -> list:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise AugkitError(f"{path}: `{key}` must be a non-empty list")
    return value


def _substitute(value: Any, variables: dict[str, str | None], path: Path) -> Any:
    if isinstance(value, dict):
        return {key: _substitute(item, variables, path) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, variables, path) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        reference = _VARIABLE.fullmatch(match.group(1))
        name = reference.group(1) if reference else match.group(1)
        if reference is None or name not in variables:
            raise AugkitError(f"{path}: ${{{match.group(1)}}} is not a declared variable; declare it under "
                              "`variables:` (the environment may then override it); built-ins: "
                              f"{', '.join(sorted(('RECIPE_DIR', *_ENVIRONMENT_BUILT_INS)))}")
        if variables[name] is not None:
            return variables[name]
        if reference.group(2) is not None:
            return reference.group(2)
        raise AugkitError(f"{path}: variable ${{{name}}} is declared without a value: set the environment "
                          f"variable {name}")

    return _REFERENCE.sub(replace, value)


def _resolve_path(value: str, path: Path, where: str) -> str:
    resolved = Path(value) if Path(value).is_absolute() else path.resolve().parent / value
    if not resolved.exists():
        hint = ""
        shared = os.environ.get("AUGKIT_SHARED", str(DEFAULT_SHARED))
        if str(resolved).startswith(shared):
            hint = (f"; the real corpora are expected in {shared} (place shared/ beside the checkout or set "
                    "AUGKIT_SHARED)")
        raise AugkitError(f"{where}: no such file or folder {resolved}{hint}")
    return str(resolved)


def _source(spec: Any, index: int, path: Path) -> Source:
    where = f"{path}: sources[{index}]"
    if not isinstance(spec, dict):
        raise AugkitError(f"{where}: a source is a mapping")
    _no_unknown(spec, {f.name for f in dataclasses.fields(Source)}, where)
    spec = dict(spec)
    if spec.get("path"):
        spec["path"] = _resolve_path(str(spec["path"]), path, where)
    if spec.get("paths"):
        spec["paths"] = tuple(_resolve_path(str(item), path, where) for item in spec["paths"])
    for key in ("langs", "columns", "meta_fields"):
        if key in spec:
            spec[key] = tuple(spec[key])
    try:
        return Source(**spec)
    except TypeError as error:
        raise AugkitError(f"{where}: {error}") from None
    except AugkitError as error:
        raise AugkitError(f"{path}: {error}") from None


def _step(spec: Any, index: int, path: Path, seed: int) -> Step:
    where = f"{path}: stages[{index - 1}]"
    if not isinstance(spec, dict) or "stage" not in spec:
        raise AugkitError(f"{where}: a step is a mapping with a `stage` key")
    spec = dict(spec)
    selector = _selector(spec.pop("apply_to", None) or {}, where)
    return Step(index=index, stage=build_stage(spec, where, seed=seed), apply_to=selector)


def _selector(apply_to: Any, where: str) -> dict[str, tuple[str, ...]]:
    """`{source: [a, b], lang: ar}` -> `{"source": ("a", "b"), "lang": ("arb_Arab",)}`."""
    if not isinstance(apply_to, dict):
        raise AugkitError(f"{where}: apply_to is a mapping such as {{source: [a, b]}} or {{lang: ar}}")
    _no_unknown(apply_to, {"source", "lang"}, f"{where}: apply_to")
    selector = {}
    for key, values in apply_to.items():
        values = [values] if isinstance(values, str) else list(values)
        selector[key] = tuple(to_flores(value) for value in values) if key == "lang" else tuple(values)
    return selector


def _output(spec: Any, index: int, path: Path) -> Output:
    where = f"{path}: outputs[{index}]"
    if not isinstance(spec, dict):
        raise AugkitError(f"{where}: an output is a mapping")
    _no_unknown(spec, {f.name for f in dataclasses.fields(Output)}, where)
    spec = dict(spec)
    if "fields" in spec:
        spec["fields"] = tuple(spec["fields"])
    if "apply_to" in spec:
        spec["apply_to"] = _selector(spec["apply_to"], where)
    try:
        return Output(**spec)
    except TypeError as error:
        raise AugkitError(f"{where}: {error}") from None
    except AugkitError as error:
        raise AugkitError(f"{path}: {error}") from None
