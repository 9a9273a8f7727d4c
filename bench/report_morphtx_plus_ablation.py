"""Measure each morphtx-plus orthography fix alone on Arabic PUD (issue 12 §7).

    .venv/bin/python bench/report_morphtx_plus_ablation.py [--shared ../shared/data] [--max-lines N]

Fix letters are those of schemes/morphtx-plus (the comment column of tag_map.tsv and
rules_before.tsv): T tanwin al-fath is not a dual, W و + vowel is w, R relative pronouns are `li`.
Measured and rejected (docs/morphtx.md), so only here: Q quotes and brackets attached to what they
enclose (a last post-processing step); P proper nouns from pyarabic's list of place names
(`pyarabic.propernouns`, the only offline proper-noun lexicon on PyPI we found) marked for
capitalisation, P+ also from its personal names.

Every variant's output is scored by `augkit transliterate-report`'s own code (the text is written
to a file and reported as scheme `none`), against MUDT train. All variants share one analyzer:
its analyses do not depend on what it analysed before, so sharing only saves time.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from augment.analyzers import Analysis, Morpheme, get_analyzer
from augment.morphtx import MorphPreprocessor, TagMap
from augment.report import build_report, read_texts
from augment.schemes import SCHEMES_DIR
from augment.transliterate import Transliterator

PLUS = SCHEMES_DIR / "morphtx-plus"
CHARTX_PLUS = SCHEMES_DIR / "chartx-plus"
FIXES = "TWRQ"
# Q: straight double quotes pair up within a line and hug what they enclose; an opening bracket or
# quote mark loses the space after it, a closing one the space before it.
_QUOTED = re.compile(r'"\s*([^"]*?)\s*"')
_AFTER_OPENER = re.compile(r"([(\[{«“‘])\s+")
_BEFORE_CLOSER = re.compile(r"\s+([)\]}»”’])")


def attach_enclosers(text: str) -> str:
    return _BEFORE_CLOSER.sub(r"\1", _AFTER_OPENER.sub(r"\1", _QUOTED.sub(r'"\1"', text)))
COLUMNS = ("cross_entropy", "coverage", "fertility", "maltese_share")


def rows_without_fixes(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if "\tfix " not in line]


def fix_rows(path: Path, fixes: str) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines()
            if any(f"\tfix {fix}" in line for fix in fixes)]


def write_variant(folder: Path, name: str, fixes: str) -> Path:
    variant = folder / name
    variant.mkdir()
    (variant / "tag_map.tsv").write_text("\n".join(rows_without_fixes(PLUS / "tag_map.tsv")
                                                   + fix_rows(PLUS / "tag_map.tsv", fixes)) + "\n", encoding="utf-8")
    (variant / "before.tsv").write_text("\n".join(["pattern\toutput\tcomment"]
                                                  + fix_rows(PLUS / "rules_before.tsv", fixes)) + "\n", encoding="utf-8")
    rules = [CHARTX_PLUS / "rules_before.tsv", variant / "before.tsv", SCHEMES_DIR / "chartx" / "rules.tsv",
             CHARTX_PLUS / "rules_overrides.tsv"]
    (variant / "manifest.yaml").write_text(
        f"name: {name}\nversion: 1\ndescription: morphtx-plus fixes {fixes or 'none'}\ncitation: ''\n"
        "source_script: Arab\ntarget: mlt_Latn\ntokenizer: punct\ntransform: rules\n"
        f"rules: [{', '.join(str(r) for r in rules)}]\n"
        "postprocess: maltese\nanalyzer: offline\ntag_map: tag_map.tsv\n",
        encoding="utf-8")
    return variant / "manifest.yaml"


def pyarabic_proper_nouns(persons: bool) -> frozenset[str]:
    """Place names (pyarabic's TEXT2, `اسم علم - مكان ...`), and with `persons` its personal names
    (TEXT, label `nom`). The module's own PROPER_NOUNS dict is empty (it splits on tabs; the
    lines use spaces), so the lines are read here."""
    from pyarabic import propernouns

    names = set()
    for line in propernouns.TEXT2.split("\n"):
        lexeme, marker, _ = line.strip().partition("اسم علم")
        if marker and lexeme.strip():
            names.add(lexeme.strip())
    if persons:
        for line in propernouns.TEXT.split("\n"):
            parts = line.strip().rsplit(None, 1)
            if len(parts) == 2 and parts[1] == "nom":
                names.add(parts[0].strip())
    return frozenset(names)


class ProperNounAnalyzer:
    """The offline analyzer, with the stem of a listed name (alone, or with its article) tagged NOUN_PROP."""

    def __init__(self, inner, names: frozenset[str]):
        from pyarabic.araby import strip_tashkeel

        self.inner, self.names, self.strip = inner, names, strip_tashkeel

    def analyze(self, tokens: list[str]) -> list[Analysis | None]:
        return [self.mark(analysis) for analysis in self.inner.analyze(tokens)]

    def mark(self, analysis: Analysis | None) -> Analysis | None:
        if analysis is None:
            return None
        stem = analysis.morphemes[analysis.stem_index]
        bare = self.strip(stem.form)
        definite = any(m.tag == "DET" for m in analysis.morphemes[:analysis.stem_index])
        if bare not in self.names and not (definite and "ال" + bare in self.names):
            return analysis
        morphemes = list(analysis.morphemes)
        morphemes[analysis.stem_index] = Morpheme(stem.form, "NOUN_PROP")
        return Analysis(analysis.diac, tuple(morphemes), analysis.lemma, analysis.state, analysis.stem_index)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--max-lines", type=int)
    parser.add_argument("--output", type=Path, default=Path("morphtx_plus_ablation"))
    args = parser.parse_args()
    pud = read_texts(args.shared / "arabic" / "ar_pud-ud-test.conllu", args.max_lines)
    reference = args.shared / "maltese" / "mt_mudt-ud-train.conllu"
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        variants = {"morphtx": ("morphtx", None), "morphtx-plus v1 (no fix)": (write_variant(folder, "none", ""), None)}
        for fix in FIXES:
            variants[f"+{fix}"] = (write_variant(folder, fix, fix), None)
        variants["+P (places)"] = (write_variant(folder, "P", ""), pyarabic_proper_nouns(False))
        variants["+P+ (places, persons)"] = (write_variant(folder, "Pplus", ""), pyarabic_proper_nouns(True))
        variants["morphtx +P (places)"] = ("morphtx", pyarabic_proper_nouns(False))
        variants["+T +W +R"] = (write_variant(folder, "TWR", "TWR"), None)
        variants["morphtx-plus (the manifest)"] = (str(PLUS / "manifest.yaml"), None)
        outputs = {}
        for label, (scheme, names) in variants.items():  # all first: build_report starts a fresh analyzer
            transliterator = Transliterator(str(scheme))
            if names is not None:
                analyzer = ProperNounAnalyzer(get_analyzer("offline"), names)
                tag_map = TagMap.load(transliterator.scheme.tag_map)
                transliterator._preprocess = MorphPreprocessor(analyzer, tag_map).map_tokens
            outputs[label] = output = args.output / f"{label.replace(' ', '_').replace('/', '')}.txt"
            lines = [transliterator.transliterate(line) for line in pud]
            if "+Q" in label:
                lines = [attach_enclosers(line) for line in lines]
            output.write_text("\n".join(lines) + "\n", encoding="utf-8")
        table = ["| variant | cross-entropy (bits/char) ↓ | coverage ↑ | fertility | labelled Maltese ↑ |",
                 "|---|---|---|---|---|"]
        for label, output in outputs.items():
            row = next(r for r in build_report(output, reference, ["none"]).rows if r.scheme == "none")
            table.append(f"| {label} | {row.cross_entropy:.3f} | {100 * row.coverage:.1f}% | {row.fertility:.2f} | "
                         f"{100 * row.maltese_share:.1f}% |")
            print(table[-1], file=sys.stderr, flush=True)
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
