"""Transliteration schemes are data: a YAML manifest plus ordered TSV rule tables.

A scheme folder holds `manifest.yaml`::

    name: chartx                 # how users select it (--scheme chartx)
    version: 1                   # bump when the output of any input changes
    description: one line
    citation: the paper, or "" for none
    source_script: Arab          # ISO 15924
    target: mlt_Latn             # FLORES-style code of the output orthography
    tokenizer: punct             # punct (augment.text.tokenize) | none (text passes as one piece)
    transform: rules             # rules | buckwalter | uroman | identity
    rules: [rules.tsv]           # transform `rules` only; paths relative to the manifest, in order
    postprocess: maltese         # maltese | detokenize | none (augment.engine.postprocess)
    notes: free text             # optional
    source_language: ara         # optional; ISO 639-3 code passed to uroman
    analyzer: qalsadi            # optional; a morphology backend (augment.morphtx)
    tag_map: tags.tsv            # optional; path relative to the manifest, used by the analyzer
    token_test: published        # optional; transforms buckwalter/uroman: which tokens they change
                                 # (published: the published quirky test, the default; arabic-letters)

Unknown fields are errors. A rule table is UTF-8 TSV: a header line `pattern<TAB>output<TAB>comment`,
then one rule per line; lines starting with `#` and blank lines are ignored. The comment column is
free text (our tables give the literal glyphs and the published rule number). Pattern and output
may spell any character as `\\uXXXX` or `\\UXXXXXXXX`, so code points survive any editor; `\\\\` is a
backslash, `\\t` a tab, and the two word markers are written `\\A` (word start, only at the
pattern's start) and `\\Z` (word end, only at its end). Outputs may not contain markers.

A pattern listed twice keeps the position of its first entry and the output of its last one (the
published CharTx table was a Python dict built that way); the loader reports each such case with
the effective rule in `Scheme.warnings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import regex

from augment.errors import AugkitError, InputError

SCHEMES_DIR = Path(__file__).resolve().parents[1] / "schemes"
MANIFEST_NAME = "manifest.yaml"

# Private word-boundary markers: Unicode noncharacters, reserved for internal use and never valid
# in interchanged text, so they cannot collide with real input.
START = "\ufdd0"
END = "\ufdd1"

TOKENIZERS = ("punct", "none")
TRANSFORMS = ("rules", "buckwalter", "uroman", "identity")
POSTPROCESS = ("maltese", "detokenize", "none")  # augment.engine.POSTPROCESS_RULE_SETS
REQUIRED_FIELDS = ("name", "version", "description", "citation", "source_script", "target", "tokenizer",
                   "transform", "postprocess")
OPTIONAL_FIELDS = ("rules", "notes", "source_language", "analyzer", "tag_map", "token_test")
TOKEN_TESTS = ("published", "arabic-letters")  # augment.engine.token_test
TSV_HEADER = ["pattern", "output", "comment"]

_ESCAPE = regex.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(\\)|(t)|(A)|(Z)|(.?))")


@dataclass(frozen=True)
class Rule:
    pattern: str  # with START/END marker characters
    output: str
    file: str
    line: int
    comment: str = ""

    def describe(self) -> str:
        return f"{spell(self.pattern)} -> {self.output!r}"


@dataclass
class Scheme:
    name: str
    version: str
    description: str
    citation: str
    source_script: str
    target: str
    tokenizer: str
    transform: str
    postprocess: str
    path: Path  # the manifest
    rule_files: list[Path] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    notes: str = ""
    source_language: str | None = None
    analyzer: str | None = None
    tag_map: Path | None = None
    token_test: str = "published"
    warnings: list[str] = field(default_factory=list)


def spell(text: str) -> str:
    """A pattern for humans: glyphs plus code points, markers as ⟨start⟩/⟨end⟩."""
    shown = text.replace(START, "⟨start⟩").replace(END, "⟨end⟩")
    points = " ".join("⟨start⟩" if c == START else "⟨end⟩" if c == END else f"{ord(c):04X}" for c in text)
    return f"{shown} ({points})"


def available_schemes() -> list[str]:
    """Names of the schemes bundled in `schemes/`."""
    return sorted(p.parent.name for p in SCHEMES_DIR.glob(f"*/{MANIFEST_NAME}"))


def load_scheme(name_or_path: str | os.PathLike) -> Scheme:
    """A bundled scheme by name, or a user's scheme by manifest path (or the folder holding it).

    A bare name (`chartx`) is looked up among the bundled schemes first, then as a folder.
    """
    text = str(name_or_path)
    is_path = isinstance(name_or_path, os.PathLike) or "/" in text or os.sep in text or text.endswith(
        (".yaml", ".yml"))
    bundled = SCHEMES_DIR / text / MANIFEST_NAME
    if not is_path and bundled.is_file():
        return _load_manifest(bundled)
    candidate = Path(text)
    if candidate.is_dir():
        candidate = candidate / MANIFEST_NAME
    if candidate.is_file():
        return _load_manifest(candidate)
    if is_path:
        raise InputError(text, "no such scheme manifest")
    raise AugkitError(f"unknown scheme {text!r}; known schemes: {', '.join(available_schemes())} "
                      "(or pass the path of a manifest.yaml)")


def _load_manifest(path: Path) -> Scheme:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InputError(path, f"not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise InputError(path, "a scheme manifest must be a YAML mapping")
    unknown = sorted(set(data) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise InputError(path, f"unknown field(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(REQUIRED_FIELDS + OPTIONAL_FIELDS)}")
    missing = [name for name in REQUIRED_FIELDS if name not in data]
    if missing:
        raise InputError(path, f"missing field(s) {', '.join(missing)}")
    for name, allowed in (("tokenizer", TOKENIZERS), ("transform", TRANSFORMS), ("postprocess", POSTPROCESS)):
        if data[name] not in allowed:
            raise InputError(path, f"{name} must be one of {', '.join(allowed)}, not {data[name]!r}")
    for name in ("name", "description", "source_script", "target"):
        if not isinstance(data[name], str) or not data[name].strip():
            raise InputError(path, f"{name} must be a non-empty string")
    if "token_test" in data:
        if data["transform"] not in ("buckwalter", "uroman"):
            raise InputError(path, f"'token_test' is only used by transforms buckwalter and uroman, "
                             f"not {data['transform']!r}")
        if data["token_test"] not in TOKEN_TESTS:
            raise InputError(path, f"token_test must be one of {', '.join(TOKEN_TESTS)}, not {data['token_test']!r}")
    rule_paths = data.get("rules") or []
    if isinstance(rule_paths, str):
        rule_paths = [rule_paths]
    if data["transform"] == "rules" and not rule_paths:
        raise InputError(path, "transform 'rules' needs a non-empty 'rules' list of TSV files")
    if data["transform"] != "rules" and rule_paths:
        raise InputError(path, f"'rules' is only used by transform 'rules', not {data['transform']!r}")
    scheme = Scheme(
        name=data["name"], version=str(data["version"]), description=data["description"].strip(),
        citation=str(data["citation"] or "").strip(), source_script=data["source_script"], target=data["target"],
        tokenizer=data["tokenizer"], transform=data["transform"], postprocess=data["postprocess"],
        path=path, notes=str(data.get("notes") or "").strip(), source_language=data.get("source_language"),
        analyzer=data.get("analyzer"), token_test=data.get("token_test", "published"),
    )
    if data.get("tag_map"):
        scheme.tag_map = (path.parent / data["tag_map"]).resolve()
        if not scheme.tag_map.is_file():
            raise InputError(path, f"tag_map {data['tag_map']!r} not found at {scheme.tag_map}")
    for relative in rule_paths:
        rule_file = (path.parent / relative).resolve()
        if not rule_file.is_file():
            raise InputError(path, f"rule table {relative!r} not found at {rule_file}")
        scheme.rule_files.append(rule_file)
    scheme.rules, scheme.warnings = merge_rules([rule for f in scheme.rule_files for rule in read_rule_table(f)])
    return scheme


def merge_rules(rules: list[Rule]) -> tuple[list[Rule], list[str]]:
    """Dict semantics for repeated patterns: first position, last output; one warning per repeat."""
    effective: dict[str, Rule] = {}
    warnings = []
    for rule in rules:
        first = effective.get(rule.pattern)
        if first is None:
            effective[rule.pattern] = rule
            continue
        position = list(effective).index(rule.pattern) + 1
        merged = Rule(rule.pattern, rule.output, first.file, first.line, first.comment)
        effective[rule.pattern] = merged
        warnings.append(
            f"{rule.file}:{rule.line}: pattern {spell(rule.pattern)} repeats {first.file}:{first.line}; "
            f"effective rule {position}: {merged.describe()} (the last output wins, at the first position)")
    return list(effective.values()), warnings


def read_rule_table(path: Path) -> list[Rule]:
    """The rules of one TSV file, validated; problems raise `file:line: problem`."""
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError as error:
        raise InputError(path, f"invalid UTF-8 at byte {error.start}") from None
    rules = []
    header_seen = False
    for number, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if not header_seen:
            if cells != TSV_HEADER[:len(cells)] or len(cells) < 2:
                raise InputError(path, f"the first line must be the header {chr(9).join(TSV_HEADER)!r}", line=number)
            header_seen = True
            continue
        if len(cells) not in (2, 3):
            raise InputError(path, f"expected pattern<TAB>output[<TAB>comment], found {len(cells)} fields",
                             line=number)
        pattern = _unescape(cells[0], path, number, "pattern")
        output = _unescape(cells[1], path, number, "output")
        _check_rule(pattern, output, path, number)
        rules.append(Rule(pattern, output, str(path), number, cells[2] if len(cells) == 3 else ""))
    if not header_seen:
        raise InputError(path, f"empty rule table (expected the header {chr(9).join(TSV_HEADER)!r})")
    return rules


def _unescape(cell: str, path: Path, line: int, column: str) -> str:
    def replace(match: regex.Match) -> str:
        short, long, backslash, tab, start, end, other = match.groups()
        if short or long:
            code = int(short or long, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise InputError(path, f"{column}: \\u escape {match.group()} is not a Unicode scalar value", line=line)
            return chr(code)
        if backslash:
            return "\\"
        if tab:
            return "\t"
        if start:
            return START
        if end:
            return END
        raise InputError(path, f"{column}: unknown escape {match.group()!r} (use \\uXXXX, \\UXXXXXXXX, \\\\, \\t, "
                         "\\A for word start, \\Z for word end)", line=line)

    for literal in (START, END):
        if literal in cell:
            raise InputError(path, f"{column}: U+{ord(literal):04X} is reserved for the word markers; "
                             "write \\A or \\Z", line=line)
    return _ESCAPE.sub(replace, cell)


def _check_rule(pattern: str, output: str, path: Path, line: int) -> None:
    if not pattern:
        raise InputError(path, "empty pattern", line=line)
    if START in pattern[1:] or END in pattern[:-1]:
        raise InputError(path, "\\A may only start a pattern and \\Z only end it", line=line)
    if START in output or END in output:
        raise InputError(path, "an output may not contain the word markers \\A or \\Z", line=line)
